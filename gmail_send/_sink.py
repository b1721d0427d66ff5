"""The seam that lets a `GmailSender` deliver somewhere other than an SMTP server.

An application's tests point their sender at a sink (for example the in-memory outbox in
`gmail_send.testing`): messages are still composed and validated exactly as for Gmail, then
handed to the sink instead of the network.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ._result import SendResult
from .message._outgoing import OutgoingMessage

__all__ = ["MessageSink"]


@runtime_checkable
class MessageSink(Protocol):
    """Takes a composed, validated message and says what became of it."""

    async def deliver(self, outgoing: OutgoingMessage) -> SendResult:
        """Deliver the message or raise a `GmailSendError`."""
        ...
