"""PIPELINING (RFC 2920) on aiosmtplib 5.x: write several commands at once, read every reply.

aiosmtplib's `SMTPProtocol` keeps one reply at a time and drops data that arrives while a parsed
reply waits to be picked up, so commands written together lose their replies. `PipeliningProtocol`
subclasses it and, only while an `exchange()` expects replies, parses *every* complete reply in
the buffer into a queue, in order. Outside an exchange it behaves exactly like its parent.

`attach()` swaps it in for the protocol of an open `aiosmtplib.SMTP` session (the transport's
`set_protocol`). It depends on aiosmtplib internals, so it checks them first and returns None
when anything is not as expected (another major version, renamed attributes, unread data): the
caller then sends plain commands one by one. tests/test_pipelining.py fails loudly when an
aiosmtplib upgrade changes what this module relies on.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable

import aiosmtplib
from aiosmtplib import SMTPResponse
from aiosmtplib.errors import SMTPReadTimeoutError, SMTPResponseException, SMTPServerDisconnected
from aiosmtplib.protocol import MAX_RESPONSE_LENGTH, SMTPProtocol

__all__ = [
    "SUPPORTED_AIOSMTPLIB_MAJOR",
    "PipeliningProtocol",
    "attach",
    "incompatibilities",
]

log = logging.getLogger("gmail_send.smtp")

SUPPORTED_AIOSMTPLIB_MAJOR = 5
"""The aiosmtplib major version whose protocol internals this module was written against."""

_PROTOCOL_ATTRIBUTES = (
    "_buffer",
    "_command_lock",
    "_response_waiter",
    "_response_pending",
    "_over_ssl",
    "_quit_sent",
    "_loop",
    "transport",
)
_PROTOCOL_METHODS = ("_read_response_from_buffer", "data_received", "write", "read_response")


class PipeliningProtocol(SMTPProtocol):
    """aiosmtplib's protocol, plus `exchange()`: one write, several replies read in order."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        connection_lost_callback: Callable[[SMTPProtocol], None] | None = None,
    ) -> None:
        super().__init__(loop=loop, connection_lost_callback=connection_lost_callback)
        self._queued: collections.deque[SMTPResponse] = collections.deque()
        self._expected = 0
        self._arrived: asyncio.Event = asyncio.Event()
        self._failure: BaseException | None = None

    def data_received(self, data: bytes) -> None:
        if self._expected == 0:
            super().data_received(data)
            return
        self._buffer.extend(data)
        while self._expected > 0:
            try:
                response = self._read_response_from_buffer()
            except Exception as exc:  # a malformed or oversized reply
                self._fail(exc)
                return
            if response is None:
                break
            self._queued.append(response)
            self._expected -= 1
        if len(self._buffer) > MAX_RESPONSE_LENGTH:
            del self._buffer[:]
            self._fail(SMTPResponseException(-1, "Response too long"))
        self._arrived.set()

    def eof_received(self) -> bool:
        if self._expected:
            self._fail(SMTPServerDisconnected("Unexpected EOF received"))
        return super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._expected:
            self._fail(SMTPServerDisconnected("Connection lost"))
        super().connection_lost(exc)

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
        self._arrived.set()

    async def exchange(
        self, payload: bytes, replies: int, *, timeout: float | None
    ) -> list[SMTPResponse]:
        """Write `payload` (one or more commands, or a message body) and read `replies` replies.

        Raises `SMTPServerDisconnected` if the connection goes before they all came, and
        `SMTPReadTimeoutError` if they take longer than `timeout` seconds.
        """
        lock = self._command_lock
        if lock is None or self.transport is None:
            raise SMTPServerDisconnected("Server not connected")
        async with lock:
            self._queued.clear()
            self._failure = None
            self._arrived.clear()
            self._expected = replies
            try:
                self.write(payload)
                return await asyncio.wait_for(self._collect(replies), timeout)
            except asyncio.TimeoutError as exc:
                raise SMTPReadTimeoutError("Timed out waiting for server response") from exc
            finally:
                self._expected = 0
                self._queued.clear()
                del self._buffer[:]  # anything beyond the expected replies was unsolicited

    async def _collect(self, replies: int) -> list[SMTPResponse]:
        collected: list[SMTPResponse] = []
        while len(collected) < replies:
            while self._queued and len(collected) < replies:
                collected.append(self._queued.popleft())
            if len(collected) == replies:
                break
            if self._failure is not None:
                raise self._failure
            self._arrived.clear()
            await self._arrived.wait()
        return collected


def incompatibilities(smtp: aiosmtplib.SMTP | None = None) -> list[str]:
    """What differs from the aiosmtplib internals `attach()` relies on (empty: all is well).

    With `smtp` (a connected session) its protocol instance is checked too.
    """
    problems: list[str] = []
    major = aiosmtplib.__version__.split(".", 1)[0]
    if major != str(SUPPORTED_AIOSMTPLIB_MAJOR):
        problems.append(
            f"aiosmtplib {aiosmtplib.__version__} is not major version {SUPPORTED_AIOSMTPLIB_MAJOR}"
        )
    problems += [
        f"SMTPProtocol.{name} is missing"
        for name in _PROTOCOL_METHODS
        if not callable(getattr(SMTPProtocol, name, None))
    ]
    if not callable(getattr(aiosmtplib.SMTP, "_on_connection_lost", None)):
        problems.append("SMTP._on_connection_lost is missing")
    if smtp is not None:
        protocol = smtp.protocol
        if protocol is None or smtp.transport is None:
            problems.append("the session is not connected")
        else:
            problems += [
                f"the protocol has no attribute {name}"
                for name in _PROTOCOL_ATTRIBUTES
                if not hasattr(protocol, name)
            ]
    return problems


def attach(smtp: aiosmtplib.SMTP) -> PipeliningProtocol | None:
    """Put a `PipeliningProtocol` under a connected, idle session; None if that is not safe."""
    if isinstance(smtp.protocol, PipeliningProtocol):
        return smtp.protocol
    problems = incompatibilities(smtp)
    old = smtp.protocol
    transport = smtp.transport
    if not problems and old is not None and transport is not None:
        if type(old) is not SMTPProtocol:
            problems.append(f"the protocol is a {type(old).__name__}, not SMTPProtocol")
        elif old._buffer or old._response_pending:
            problems.append("the session has unread data or a reply outstanding")
        elif old._command_lock is None or old._command_lock.locked():
            problems.append("a command is in progress")
    if problems or old is None or transport is None:
        log.debug(
            "pipelining not attached: %s",
            "; ".join(problems),
            extra={"event": "pipelining_unavailable"},
        )
        return None
    new = PipeliningProtocol(old._loop, smtp._on_connection_lost)
    new.transport = old.transport
    new._over_ssl = old._over_ssl
    new._quit_sent = False
    new._response_waiter = old._loop.create_future()
    new._command_lock = asyncio.Lock()
    transport.set_protocol(new)
    smtp.protocol = new
    return new
