"""Planned misbehaviour for the local Gmail: injected replies, dropped connections, pauses.

Tests queue faults with `LocalGmail.inject()` / `drop_connection()`; the protocol layer asks
`FaultPlan.take(stage)` at each point of the session and, when a fault is due, answers with its
reply or cuts the TCP connection. `LocalGmail.hold()` pauses a session at a chosen point until
the test releases it (a `Hold`), so a test can act, e.g. kill the client, at that moment.
Replies are built from gmail_send.smtp.GMAIL_REPLIES so the server and the client share one
table of Gmail's wording.
"""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass
from typing import Literal, get_args

from ..errors import SMTPReply
from ..smtp._replies import GMAIL_REPLIES, ReplyRule

__all__ = [
    "DropStage",
    "Fault",
    "FaultPlan",
    "Hold",
    "HoldStage",
    "InjectStage",
    "ReplyLike",
    "format_reply",
    "reply_code",
]

InjectStage = Literal["connect", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "data_end"]
"""Where a reply can be replaced: the greeting, a command's reply, or the final reply after DATA."""

DropStage = Literal[
    "connect", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "data_end", "data_end_stored"
]
"""Where the connection can be cut. "data_end": after the body, before storing it (the message
is lost); "data_end_stored": after storing it, before the reply (the server holds one copy and
the client cannot know)."""

HoldStage = Literal["data_end", "data_end_stored"]
"""Where a session can be paused: after the body arrived, before the message is stored
("data_end"), or after it was stored, before the reply ("data_end_stored")."""

ReplyLike = ReplyRule | SMTPReply | tuple[int, str] | int
"""A reply to inject: a table row, an `SMTPReply`, `(code, "x.y.z text")`, or a bare code (the
first table row with that code)."""

_ENHANCED = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}(?=\s|$)")


def format_reply(reply: ReplyLike) -> str:
    """The reply as it goes on the wire (without the final CRLF), multi-line where the text is.

    Each line of the text becomes `<code>-<enhanced> <line>`, the last `<code> <enhanced> ...`;
    a line that already starts with the enhanced code (Gmail's second lines do) keeps it.

    Args:
        reply: a row of `gmail_send.smtp.GMAIL_REPLIES`, an `SMTPReply`,
            `(code, "x.y.z text")` (lines separated by `\n`), or a bare code (the first table
            row with that code).

    Raises:
        ValueError: a code outside 200..599, a bare code not in the table, or CR or NUL in
            the text.
        TypeError: `reply` is none of these.
    """
    code: int
    enhanced: str | None
    if isinstance(reply, ReplyRule):
        code, enhanced, text = reply.code, reply.enhanced_code, reply.text
    elif isinstance(reply, SMTPReply):
        code, enhanced, text = reply.code, reply.enhanced_code, reply.message
    elif isinstance(reply, int):
        rule = next((r for r in GMAIL_REPLIES if r.code == reply), None)
        if rule is None:
            raise ValueError(f"no Gmail reply with code {reply} in gmail_send.smtp.GMAIL_REPLIES")
        return format_reply(rule)
    elif isinstance(reply, tuple) and len(reply) == 2:
        code, message = reply
        found = _ENHANCED.match(message.strip())
        enhanced = found.group(0) if found else None
        text = message.strip()[found.end() :].strip() if found else message.strip()
    else:
        raise TypeError(f"not a reply: {reply!r}")
    if not isinstance(code, int) or not 200 <= code <= 599:
        raise ValueError(f"an SMTP reply code is 200..599, not {code!r}")
    if any(ch in text for ch in "\r\x00"):
        raise ValueError("a reply text must not contain CR or NUL (use \\n between lines)")
    lines = text.split("\n") or [""]
    wire = []
    for index, line in enumerate(lines):
        separator = " " if index == len(lines) - 1 else "-"
        if enhanced and not line.startswith(enhanced):
            line = f"{enhanced} {line}"
        wire.append(f"{code}{separator}{line}".rstrip())
    return "\r\n".join(wire)


def reply_code(wire: str) -> int:
    """The code of a formatted reply."""
    return int(wire[:3])


@dataclass
class Fault:
    """One queued fault: a reply to send instead, or (reply None) a connection to cut."""

    stage: str
    reply: str | None
    remaining: int
    recipient: str | None = None
    skip: int = 0
    """Occasions of `stage` to let pass before this fault acts."""

    @property
    def drops(self) -> bool:
        """Whether this fault cuts the connection instead of replying."""
        return self.reply is None


class Hold:
    """A pause of the local Gmail at one point of one session, from `LocalGmail.hold()`.

    The session that reaches the point waits there until `release()` (or until the server
    stops); `wait()` blocks the caller until then, from any thread.

    Args:
        stage: where the session pauses: "data_end" or "data_end_stored" (see `HoldStage`).
        after: how many sessions still pass the point before one is paused (counted down).
    """

    def __init__(self, stage: str, after: int) -> None:
        self.stage = stage
        self.after = after
        self._reached = threading.Event()
        self._released = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None

    def __repr__(self) -> str:
        state = "released" if self.released else "reached" if self.reached else "waiting"
        return f"<Hold {self.stage} {state}>"

    @property
    def reached(self) -> bool:
        """Whether a session is (or was) paused here."""
        return self._reached.is_set()

    @property
    def released(self) -> bool:
        """Whether `release()` was called."""
        return self._released.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a session is paused here; False if `timeout` seconds passed first.

        Args:
            timeout: the most seconds to wait; None waits as long as it takes.
        """
        return self._reached.wait(timeout)

    def release(self) -> None:
        """Let the paused session go on (or let it pass, if none has arrived yet)."""
        self._released.set()
        loop, wakeup = self._loop, self._wakeup
        if loop is not None and wakeup is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wakeup.set)

    async def pause(self) -> None:
        """Called by the server at the point: wait there until released."""
        self._loop, self._wakeup = asyncio.get_running_loop(), asyncio.Event()
        self._reached.set()
        if not self._released.is_set():
            await self._wakeup.wait()


class FaultPlan:
    """The queue of faults, consumed in the order they were added."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._holds: list[Hold] = []

    def __repr__(self) -> str:
        return f"<FaultPlan {self._faults!r}>"

    def add_reply(
        self,
        stage: str,
        reply: ReplyLike,
        *,
        times: int = 1,
        recipient: str | None = None,
        after: int = 0,
    ) -> None:
        """Answer `times` commands at `stage` with `reply`, once `after` of them have passed."""
        _check_stage(stage, get_args(InjectStage))
        if recipient is not None and stage != "rcpt":
            raise ValueError("recipient= only applies to the 'rcpt' stage")
        self._faults.append(
            Fault(stage, format_reply(reply), _check_times(times), recipient, _check_after(after))
        )

    def add_drop(self, stage: str, *, times: int = 1, after: int = 0) -> None:
        """Cut the connection at `times` occasions of `stage`, once `after` of them have passed."""
        _check_stage(stage, get_args(DropStage))
        self._faults.append(Fault(stage, None, _check_times(times), skip=_check_after(after)))

    def take(self, stage: str, *, recipient: str | None = None) -> Fault | None:
        """The fault due at `stage` (counted as used), or None."""
        for fault in self._faults:
            if fault.stage != stage:
                continue
            if fault.recipient is not None and (
                recipient is None or fault.recipient.lower() != recipient.lower()
            ):
                continue
            if fault.skip:
                fault.skip -= 1
                return None
            fault.remaining -= 1
            if fault.remaining == 0:
                self._faults.remove(fault)
            return fault
        return None

    def add_hold(self, stage: str, *, after: int = 0) -> Hold:
        """Pause the session that reaches `stage` after `after` others passed it."""
        _check_stage(stage, get_args(HoldStage))
        if not isinstance(after, int) or after < 0:
            raise ValueError(f"after must be a whole number >= 0, not {after!r}")
        hold = Hold(stage, after)
        self._holds.append(hold)
        return hold

    def take_hold(self, stage: str) -> Hold | None:
        """The hold due at `stage` (then no longer queued), or None."""
        for hold in self._holds:
            if hold.stage != stage:
                continue
            if hold.after:
                hold.after -= 1
                return None
            self._holds.remove(hold)
            return hold
        return None

    def pending(self) -> list[Fault]:
        """Faults not yet used up."""
        return list(self._faults)

    def clear(self) -> None:
        """Forget every queued fault and hold."""
        self._faults.clear()
        self._holds.clear()


def _check_stage(stage: str, allowed: tuple[str, ...]) -> None:
    if stage not in allowed:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(allowed)}")


def _check_times(times: int) -> int:
    if not isinstance(times, int) or times < 1:
        raise ValueError(f"times must be a positive integer, not {times!r}")
    return times


def _check_after(after: int) -> int:
    if not isinstance(after, int) or after < 0:
        raise ValueError(f"after must be a whole number >= 0, not {after!r}")
    return after
