"""The write/read order of one session: commands written in turn, replies matched in order.

A `CommandStream` owns a signed-in session's `Wire`. Each `exchange()` writes its commands (and
a message body, paced by the transport's flow control) after every earlier exchange's, and gets
back exactly the replies to those commands: replies arrive in the order the commands were
written (RFC 2920), so the first waiting exchange takes each reply as it comes. Several
exchanges may be in flight at once, up to `window`: that is how BDAT transactions are streamed
on one session without waiting for each other's replies.

Each reply must fit the command it answers (no 3xx where none is asked for, a 354 only to
DATA); one that does not, an unreadable one, a timeout, or the connection going, ends the
stream: every exchange still waiting gets `SessionEnded` with the replies it had, and later
exchanges get `NotSent`. A 421 ends the stream too, but tells more: the server closes after
it and reads nothing further, so the exchanges written after the command it answered get
`SessionEnded(closed_by=<the 421>)`, which the transaction layer retries safely.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import aiosmtplib
from aiosmtplib import SMTPResponse

from ._wire import Wire, take_over

__all__ = ["BODY_CHUNK", "CommandStream", "NotSent", "SessionEnded", "Slot"]

Slot = Literal["MAIL", "RCPT", "DATA", "BODY", "BDAT", "RSET", "NOOP", "QUIT"]
"""What a reply answers: a command, or BODY (the final reply after DATA's body)."""

BODY_CHUNK = 256 * 1024
"""A message body is written in pieces of this size, each after the transport could take the
last: the transport then never holds a second copy of a large body."""


class NotSent(Exception):
    """The commands were not written: the session had already ended. Sending again is safe."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SessionEnded(Exception):
    """The session ended before every reply to an exchange's commands had come.

    `replies` are those that came, in order. `closed_by` is the 421 the server sent before
    closing when these commands were written after the command it answered: the server read
    none of them.
    """

    def __init__(
        self, reason: str, replies: list[SMTPResponse], closed_by: SMTPResponse | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.replies = replies
        self.closed_by = closed_by


@dataclass
class _Pending:
    slots: tuple[Slot, ...]
    future: asyncio.Future[list[SMTPResponse]]
    replies: list[SMTPResponse] = field(default_factory=list)


def fits(slot: Slot, reply: SMTPResponse) -> bool:
    """Whether `reply` can answer `slot` at all (the transaction layer judges its meaning)."""
    kind = reply.code // 100
    if slot == "DATA":
        return reply.code == 354 or kind in (4, 5)
    return kind in (2, 4, 5)


class CommandStream:
    """Exchanges on one signed-in session, in order, at most `window` awaiting replies."""

    def __init__(self, smtp: aiosmtplib.SMTP, *, window: int, timeout: float | None) -> None:
        self._timeout = timeout
        self._window = asyncio.Semaphore(window)
        self._write_lock = asyncio.Lock()
        self._pending: collections.deque[_Pending] = collections.deque()
        self._ended: str | None = None
        self._closed_by: SMTPResponse | None = None
        self._wire: Wire = take_over(smtp, self)

    @property
    def is_open(self) -> bool:
        return self._ended is None and self._wire.is_open

    @property
    def in_flight(self) -> int:
        """Exchanges written whose replies have not all come."""
        return len(self._pending)

    async def exchange(
        self,
        commands: bytes,
        slots: tuple[Slot, ...],
        *,
        body: bytes | None = None,
        on_last_write: Callable[[], None] | None = None,
    ) -> list[SMTPResponse]:
        """Write `commands` (then `body`, if any) and return one reply per slot, in order.

        `on_last_write` is called just before the last byte is handed to the transport: from
        then on the server may have the whole message. Raises `NotSent` (nothing written),
        `SessionEnded`, or the caller's cancellation. A cancelled caller leaves its exchange in
        the stream (its replies are still read, in turn) unless the cancellation interrupted
        a write: then the server's view of the session is unknown, and the stream ends.
        """
        if self._ended is not None:
            raise NotSent(self._ended)
        await self._window.acquire()
        try:
            async with self._write_lock:
                if self._ended is not None:
                    raise NotSent(self._ended)
                pending = _Pending(slots, asyncio.get_running_loop().create_future())
                self._pending.append(pending)
                pending.future.add_done_callback(lambda _: self._window.release())
                try:
                    await self._write(commands, body, on_last_write)
                except asyncio.CancelledError:
                    self.end("a write was interrupted")
                    raise
                except (ConnectionError, asyncio.TimeoutError) as exc:
                    self.end(f"the connection failed while writing ({exc or type(exc).__name__})")
        except NotSent:
            self._window.release()
            raise
        try:
            return await asyncio.wait_for(asyncio.shield(pending.future), self._timeout)
        except asyncio.TimeoutError:
            self.end(f"no reply came within {self._timeout} s")
            return pending.future.result()  # raises the SessionEnded just set

    async def _write(
        self, commands: bytes, body: bytes | None, on_last_write: Callable[[], None] | None
    ) -> None:
        wire = self._wire
        if not wire.is_open:
            raise ConnectionResetError("the connection is closed")
        if body is None:
            if on_last_write is not None:
                on_last_write()
            wire.write(commands)
            return
        view = memoryview(body)
        offset = min(BODY_CHUNK, len(view))
        if offset == len(view) and on_last_write is not None:
            on_last_write()
        # The commands and the first piece in one write: one TLS record, one read for the server.
        wire.write(commands + view[:offset])
        while offset < len(view):
            await asyncio.wait_for(wire.drain(), self._timeout)  # raises if it closed
            piece = view[offset : offset + BODY_CHUNK]
            offset += len(piece)
            if offset == len(view) and on_last_write is not None:
                on_last_write()
            wire.write(piece)

    def write_and_close(self, commands: bytes) -> None:
        """Write `commands` without waiting for replies, then close (QUIT on the way out)."""
        if self.is_open and not self._pending:
            self._wire.write(commands)
        self.end("the session was closed")

    # -- the Wire's listener ------------------------------------------------------------------

    def on_reply(self, reply: SMTPResponse) -> None:
        if self._ended is not None:
            return
        if not self._pending:
            if reply.code == 421:  # the server is closing an idle session
                self.end(f"the server closed the session: {reply.code} {reply.message}")
            else:
                self.end(f"the server sent a reply nothing asked for: {reply.code}")
            return
        head = self._pending[0]
        slot = head.slots[len(head.replies)]
        if not fits(slot, reply):
            self.end(f"the reply {reply.code} cannot answer {slot}")
            return
        head.replies.append(reply)
        if reply.code == 421 or len(head.replies) == len(head.slots):
            self._pending.popleft()
            if not head.future.done():
                head.future.set_result(head.replies)
        if reply.code == 421:
            self.end(
                f"the server closed the session: {reply.code} {reply.message}", closed_by=reply
            )

    def on_end(self, reason: str) -> None:
        self.end(reason)

    def end(self, reason: str, *, closed_by: SMTPResponse | None = None) -> None:
        """End the stream: every exchange still waiting gets `SessionEnded`; close the wire."""
        if self._ended is not None:
            return
        self._ended = reason
        self._closed_by = closed_by
        waiting = list(self._pending)
        self._pending.clear()
        for pending in waiting:
            if not pending.future.done():
                pending.future.set_exception(SessionEnded(reason, pending.replies, closed_by))
                pending.future.exception()  # retrieved: a cancelled caller may never look
        self._wire.close()
