"""Our end of the connection once a session is signed in: every reply, in order, and flow control.

aiosmtplib connects, secures the connection and signs in, through its public API. Its protocol
reads one reply per command and drops replies that arrive while one waits to be picked up, so
it cannot carry commands written ahead of their replies. `take_over()` therefore puts a `Wire`
of ours under the same transport, with asyncio's public `BaseTransport.set_protocol`: from then
on the session's writes and reads go through the `Wire`, and aiosmtplib's protocol receives
nothing more. What that relies on (aiosmtplib's protocol is the transport's protocol, and holds
nothing unread once a command has its reply) is checked by `handover_problems()`, which
tests/test_pipelining.py runs so that an aiosmtplib upgrade that changes it fails loudly.

The `Wire` parses each complete reply as it arrives and hands it to its listener (the
`CommandStream`, which matches replies to commands); it never drops one.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Protocol, cast

import aiosmtplib
from aiosmtplib import SMTPResponse

__all__ = [
    "MAX_REPLY_LENGTH",
    "SUPPORTED_AIOSMTPLIB_MAJOR",
    "Wire",
    "WireListener",
    "handover_problems",
    "take_over",
]

SUPPORTED_AIOSMTPLIB_MAJOR = 5
"""The aiosmtplib major version whose hand-over behaviour this module was written against."""

MAX_LINE_LENGTH = 8192
MAX_REPLY_LENGTH = 4 * MAX_LINE_LENGTH
"""A reply (all its lines) longer than this is unreadable: it bounds memory, as aiosmtplib does."""


class WireListener(Protocol):
    """Who receives what the `Wire` reads: each reply in order, then at most one end."""

    def on_reply(self, reply: SMTPResponse) -> None: ...

    def on_end(self, reason: str) -> None: ...


class Wire(asyncio.Protocol):
    """The asyncio protocol of a signed-in session: replies parsed in order, writes paced."""

    def __init__(self, transport: asyncio.Transport, listener: WireListener) -> None:
        self._transport = transport
        self._listener = listener
        self._buffer = bytearray()
        self._ended = False
        self._paused = False
        self._drain_waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    # -- reading ------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._ended:
            return
        self._buffer.extend(data)
        while not self._ended:
            try:
                reply = self._next_reply()
            except ValueError as exc:
                self._end(f"the server sent an unreadable reply ({exc})")
                return
            if reply is None:
                break
            self._listener.on_reply(reply)
        if len(self._buffer) > MAX_REPLY_LENGTH:
            self._end("the server sent an unreadable reply (too long)")

    def _next_reply(self) -> SMTPResponse | None:
        """The first complete reply in the buffer (removed from it), or None if none is whole."""
        lines: list[str] = []
        offset = 0
        code = 0
        while True:
            end = self._buffer.find(b"\n", offset)
            if end < 0:
                if len(self._buffer) - offset > MAX_LINE_LENGTH:
                    raise ValueError("a line is too long")
                return None
            line = bytes(self._buffer[offset : end + 1])
            if len(line) > MAX_LINE_LENGTH:
                raise ValueError("a line is too long")
            head = line[:3]
            if not head.isdigit() or line[3:4] not in (b" ", b"-", b"\r", b"\n"):
                raise ValueError(f"malformed line {line[:40]!r}")
            if lines and int(head) != code:
                raise ValueError("the lines of one reply have different codes")
            code = int(head)
            lines.append(line[4:].strip(b" \t\r\n").decode("utf-8", "surrogateescape"))
            offset = end + 1
            if line[3:4] != b"-":
                del self._buffer[:offset]
                return SMTPResponse(code, "\n".join(lines))

    def eof_received(self) -> bool:
        self._end("the server closed the connection")
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self._end("the connection was lost" + (f" ({exc})" if exc else ""))
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_exception(ConnectionResetError("the connection was lost"))
                waiter.exception()

    def _end(self, reason: str) -> None:
        if self._ended:
            return
        self._ended = True
        del self._buffer[:]
        self._listener.on_end(reason)
        self._transport.close()

    # -- writing ------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return not self._ended and not self._transport.is_closing()

    def write(self, data: bytes | memoryview) -> None:
        if not self.is_open:
            raise ConnectionResetError("the connection is closed")
        self._transport.write(data)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def drain(self) -> None:
        """Wait while the transport holds more than its high-water mark of unsent data."""
        if not self.is_open:
            raise ConnectionResetError("the connection is closed")
        if not self._paused:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._drain_waiters.append(waiter)
        try:
            await waiter
        finally:
            self._drain_waiters.remove(waiter)

    def close(self) -> None:
        """End the session from our side (what is already written is still sent)."""
        self._end("the session was closed")


def handover_problems(smtp: aiosmtplib.SMTP) -> list[str]:
    """What differs from what `take_over()` relies on (empty: all is well)."""
    problems: list[str] = []
    major = aiosmtplib.__version__.split(".", 1)[0]
    if major != str(SUPPORTED_AIOSMTPLIB_MAJOR):
        problems.append(
            f"aiosmtplib {aiosmtplib.__version__} is not major version {SUPPORTED_AIOSMTPLIB_MAJOR}"
        )
    transport = smtp.transport
    if transport is None or smtp.protocol is None:
        problems.append("the session is not connected")
    elif transport.is_closing():
        problems.append("the connection is closing")
    elif transport.get_protocol() is not smtp.protocol:
        problems.append("aiosmtplib's protocol is not the transport's protocol")
    elif not isinstance(transport, asyncio.Transport):
        problems.append(f"the transport is a {type(transport).__name__}, not an asyncio.Transport")
    return problems


def take_over(smtp: aiosmtplib.SMTP, listener: WireListener) -> Wire:
    """Put a `Wire` under a connected, idle aiosmtplib session; from now on it reads every reply.

    Raises ConnectionResetError when the connection is gone, RuntimeError when aiosmtplib no
    longer works the way this module expects (see `handover_problems`).
    """
    problems = handover_problems(smtp)
    transport = smtp.transport
    if transport is None or transport.is_closing():
        raise ConnectionResetError("the connection was lost")
    if problems:
        raise RuntimeError("cannot take the session over from aiosmtplib: " + "; ".join(problems))
    wire = Wire(cast(asyncio.Transport, transport), listener)
    transport.set_protocol(wire)
    return wire
