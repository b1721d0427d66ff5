"""What a successful send returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .errors import SMTPReply

__all__ = ["AuthMethod", "SendResult"]

AuthMethod = Literal["xoauth2", "login", "plain"]


@dataclass(frozen=True)
class SendResult:
    """Gmail accepted the message for at least one recipient.

    `refused` maps each recipient Gmail refused to its reply (the others got the message);
    `reply` is Gmail's final answer to the message body; `auth_method` tells how the session
    signed in (None for a relay that trusts the IP address).

    Attributes:
        message_id: the message's Message-ID, angle brackets included.
        accepted: the recipients Gmail accepted, bare addresses.
        refused: each recipient Gmail refused, mapped to its reply.
        reply: Gmail's final reply to the message body.
        auth_method: how the session signed in: "xoauth2", "login" or "plain"; None for a
            relay that trusts the IP address.
    """

    message_id: str
    accepted: tuple[str, ...]
    refused: Mapping[str, SMTPReply] = field(default_factory=dict)
    reply: SMTPReply = field(default_factory=lambda: SMTPReply(250, "2.0.0", "OK"))
    auth_method: AuthMethod | None = None
