"""The seam that lets a `GmailSender` deliver somewhere other than an SMTP server.

A sender given a sink composes and validates every message exactly as for Gmail, then hands
it to the sink instead of the network. `MemorySink` keeps them in memory and logs each: the
dev mode of `GMAIL_SEND_SINK=memory`, and the base of the test outbox in `gmail_send.testing`.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol, runtime_checkable

from ._result import SendResult
from .message._outgoing import OutgoingMessage

__all__ = ["DEV_SENDER", "MemorySink", "MessageSink", "sink_account"]

log = logging.getLogger("gmail_send.sink")

DEV_SENDER = "dev@gmail-send.invalid"
"""The From of messages kept by a `MemorySink` made without an account (`GMAIL_SEND_SINK=memory`
with no `GMAIL_SEND_USER`): an address under the reserved `.invalid` domain, never a real one."""


@runtime_checkable
class MessageSink(Protocol):
    """Takes a composed, validated message and says what became of it.

    A sink may also have an `account` attribute: the mailbox a sender without credentials
    uses as the default From (as `MemorySink` has).
    """

    async def deliver(self, outgoing: OutgoingMessage) -> SendResult:
        """Deliver the message or raise a `GmailSendError`.

        Args:
            outgoing: the composed message with its envelope and wire bytes.
        """
        ...


class MemorySink:
    """Keeps every message in memory, in order, and logs each at INFO: nothing is sent.

    `GMAIL_SEND_SINK=memory` makes `from_env()` give one, so an application runs in
    development with no credentials and no network, as Django's console backend does; each
    message is logged (logger `gmail_send.sink`) with its subject and recipients. Thread-safe.

    Args:
        account: the default From of a sender that has no credentials (default `DEV_SENDER`).
    """

    def __init__(self, account: str = DEV_SENDER) -> None:
        self.account = account
        self._lock = threading.Lock()
        self._kept: list[OutgoingMessage] = []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} messages={len(self)}>"

    async def deliver(self, outgoing: OutgoingMessage) -> SendResult:
        """Keep the message, log it, and report every recipient as accepted.

        Args:
            outgoing: the composed message.
        """
        with self._lock:
            self._keep(outgoing)
        log.info(
            "message kept in memory, not sent: subject %r to %s",
            str(outgoing.message.get("Subject", "")),
            ", ".join(outgoing.recipients),
            extra={"event": "kept", "message_id": outgoing.message_id},
        )
        return SendResult(message_id=outgoing.message_id, accepted=outgoing.recipients)

    def _keep(self, outgoing: OutgoingMessage) -> None:
        """Store one message (called with the lock held); subclasses may keep more."""
        self._kept.append(outgoing)

    @property
    def outgoing(self) -> list[OutgoingMessage]:
        """The messages kept so far, oldest first (a copy)."""
        with self._lock:
            return list(self._kept)

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept)

    def clear(self) -> None:
        """Forget the messages."""
        with self._lock:
            self._kept.clear()


def sink_account(sink: MessageSink | None) -> str | None:
    """The sink's `account`, the default From of a sender without credentials, if it has one."""
    account = getattr(sink, "account", None)
    return account if isinstance(account, str) else None
