"""What the delivery needs of a transport: `Transport`, `Carrier`, `Progress`, `Route`.

A transport lends a `Carrier` (an SMTP session of the pool, or the Gmail API client) that sends
one `OutgoingMessage` and records in a `Progress` whether its body may have reached Gmail; the
delivery (`_delivery.py`) decides everything else, the same way for both. Which transport a
message takes is `gmail_send.route`'s decision.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from ._result import SendResult, TransportName
    from .message._outgoing import OutgoingMessage

__all__ = [
    "API_UNKNOWN_HINT",
    "UNKNOWN_HINT",
    "BeforeBody",
    "Carrier",
    "Progress",
    "Route",
    "Transport",
]

UNKNOWN_HINT = (
    "Gmail files every message it takes in the account's Sent Mail: "
    "find_sent(message_id, sent_at=...) tells whether it did before you send it again"
)
"""The hint of an unknown outcome over SMTP, where Gmail keeps the client's Message-ID."""

API_UNKNOWN_HINT = (
    "check the account's Sent Mail for this message before sending it again (over the API, "
    "Gmail may give it a Message-ID of its own, so find_sent cannot settle it)"
)
"""The hint of an unknown outcome over the Gmail API."""


BeforeBody = Callable[["TransportName | None"], Awaitable[None]]
"""The mail queue's hook, awaited before each attempt writes the body, with the transport that
carries it (None: a sink). The delivery binds the transport into `Progress.before_body`."""


class Progress:
    """How far one attempt got: read by the delivery after a failure or cancellation.

    `before_body`, when set, is awaited just before the write that carries the body: over SMTP
    after DATA's 354; with BDAT, before the write of MAIL, RCPT, BDAT and the body, or of BDAT
    and the body without PIPELINING; over the Gmail API, before the request (its body may reach
    Google from the first byte written). The mail queue records there, durably, that the body
    may go out. If it raises, the body is not sent.
    """

    def __init__(self, before_body: Callable[[], Awaitable[None]] | None = None) -> None:
        self.connection_id: int | None = None
        self.body_sent_at: float | None = None
        """When (a `time.time()` value) the body may first have reached the server; None
        before. A lookup of the Sent copy measures its window from here."""
        self.before_body = before_body

    @property
    def body_sent(self) -> bool:
        """True from the moment the message body may have reached the server."""
        return self.body_sent_at is not None

    @body_sent.setter
    def body_sent(self, value: bool) -> None:
        if not value:
            self.body_sent_at = None
        elif self.body_sent_at is None:
            self.body_sent_at = time.time()

    def mark_body_sent(self) -> None:
        """The (whole) body may have reached the server from now on."""
        self.body_sent = True


class Carrier(Protocol):
    """One thing that carries messages: an SMTP session, or the Gmail API client's slot."""

    @property
    def id(self) -> int: ...

    @property
    def messages_sent(self) -> int: ...

    async def send(self, outgoing: OutgoingMessage, *, progress: Progress) -> SendResult: ...


CarrierT = TypeVar("CarrierT", bound=Carrier)


class Transport(Protocol[CarrierT]):
    """Lends carriers to the delivery: `acquire`, send, `release` (kept when `reusable`)."""

    @property
    def name(self) -> TransportName: ...

    async def acquire(self) -> CarrierT: ...

    def release(self, carrier: CarrierT, *, reusable: bool = True) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Route:
    """The transport for one message, and why (`reason` is None unless `auto` chose)."""

    transport: TransportName
    reason: str | None = None
