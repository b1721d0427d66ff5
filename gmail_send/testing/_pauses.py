"""Deterministic stops for crash tests: the local Gmail holds a session at a chosen stage.

`LocalGmail.pause(stage)` returns a `Pause`. The next session that reaches `stage` stops there
(nothing is answered, nothing more is read) until the test calls `release()`; meanwhile the
test knows exactly how far the client got, and can kill it (SIGKILL) at that point. The pause
is safe to wait on and release from any thread, so a test may drive a server that runs on
another loop (`LocalGmailThread`) or kill a worker process while the server waits.

Stages, in the order a client meets them:

- "connect": a TCP connection was accepted; no greeting yet (a mail queue's worker has claimed
  a mail and is opening a session for it);
- "ehlo", "auth", "mail", "rcpt", "data": the command arrived; no reply yet ("mail": a signed-in
  session starts a transaction; "data": the envelope was accepted, and DATA or BDAT came: with
  BDAT the client wrote the body with the command, and the server has not read it yet);
- "data_end": the whole body arrived and the message is stored (as Gmail keeps a message whose
  final dot, or `BDAT ... LAST` chunk, it received, whether or not the client stays); the
  reply is not sent yet;
- "data_end_replied": the message was stored and `250 2.0.0 OK` written to the client.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Literal, get_args

__all__ = ["Pause", "PausePlan", "PauseStage"]

PauseStage = Literal[
    "connect", "ehlo", "auth", "mail", "rcpt", "data", "data_end", "data_end_replied"
]
"""Where a session can be held; see the module docstring."""


class Pause:
    """One planned stop at `stage`: `wait()` until a session is held there, then `release()`.

    Args:
        stage: where a session is held (`PauseStage`; see `LocalGmail.pause`).
    """

    def __init__(self, stage: PauseStage) -> None:
        if stage not in get_args(PauseStage):
            raise ValueError(
                f"unknown stage {stage!r}; expected one of {', '.join(get_args(PauseStage))}"
            )
        self.stage = stage
        self._reached = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._wakers: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def __repr__(self) -> str:
        state = "released" if self.released else "held" if self.reached else "waiting"
        return f"<Pause {self.stage} {state}>"

    @property
    def reached(self) -> bool:
        """Whether a session has stopped here."""
        return self._reached.is_set()

    @property
    def released(self) -> bool:
        return self._released.is_set()

    def wait(self, timeout: float = 60.0) -> None:
        """Block until a session is held here.

        Args:
            timeout: seconds to wait at most; then `TimeoutError`.
        """
        if not self._reached.wait(timeout):
            raise TimeoutError(f"no session reached the pause at {self.stage!r} in {timeout} s")

    async def wait_async(self, timeout: float = 60.0) -> None:
        """`wait()` for async tests (the waiting happens in a worker thread).

        Args:
            timeout: seconds to wait at most; then `TimeoutError`.
        """
        await asyncio.to_thread(self.wait, timeout)

    def release(self) -> None:
        """Let the held session go on (and any that reaches this pause later pass through)."""
        with self._lock:
            self._released.set()
            wakers, self._wakers = self._wakers, []
        for loop, event in wakers:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    async def hold(self) -> None:
        """Called by the server at the stage: mark it reached and wait for `release()`."""
        event = asyncio.Event()
        with self._lock:
            self._reached.set()
            if self._released.is_set():
                return
            self._wakers.append((asyncio.get_running_loop(), event))
        await event.wait()


class PausePlan:
    """The pauses not yet used: each holds the first session that reaches its stage."""

    def __init__(self) -> None:
        self._pending: list[Pause] = []
        self._lock = threading.Lock()
        self._all: list[Pause] = []

    def add(self, stage: PauseStage) -> Pause:
        pause = Pause(stage)
        with self._lock:
            self._pending.append(pause)
            self._all.append(pause)
        return pause

    async def hold(self, stage: str) -> None:
        """Hold the calling session if a pause waits for `stage` (it is used up)."""
        with self._lock:
            pause = next((p for p in self._pending if p.stage == stage), None)
            if pause is None:
                return
            self._pending.remove(pause)
        await pause.hold()

    def release_all(self) -> None:
        """Release every pause (the server is stopping)."""
        with self._lock:
            pauses, self._pending = list(self._all), []
        for pause in pauses:
            pause.release()
