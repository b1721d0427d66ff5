"""What a successful send returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .errors import SMTPReply

__all__ = ["AuthMethod", "SendResult", "TransportName"]

AuthMethod = Literal["xoauth2", "login", "plain", "bearer"]
"""How the message was authorized: SASL XOAUTH2, an app password (LOGIN or PLAIN), or an
access token in the Gmail API's Authorization header ("bearer")."""

TransportName = Literal["smtp", "api"]
"""The transport that carried a message."""


@dataclass(frozen=True)
class SendResult:
    """Gmail accepted the message for at least one recipient.

    `refused` maps each recipient Gmail refused to its reply (the others got the message);
    `reply` is Gmail's final SMTP answer to the message body (None over the API, which answers
    with the ids instead); `auth_method` tells how the message was authorized (None for a
    relay that trusts the IP address).

    Over the Gmail API, `gmail_id` and `thread_id` are the ids Gmail gave the sent message and
    its thread (None over SMTP). `message_id` is always the Message-ID this library wrote;
    Gmail is reported to replace it on some messages sent through the API (unverified), so
    look a message up by Message-ID only when it went over SMTP.

    `transport` is the one that carried the message ("smtp" or "api"; None when a sink took
    it), and `transport_reason` why, when `transport="auto"` chose it.

    Attributes:
        message_id: the message's Message-ID, angle brackets included.
        accepted: the recipients Gmail accepted, bare addresses.
        refused: each recipient Gmail refused, mapped to its reply.
        reply: Gmail's final SMTP reply to the message body; None over the Gmail API.
        auth_method: how the message was authorized: "xoauth2", "login" or "plain" over SMTP,
            "bearer" over the Gmail API; None for a relay that trusts the IP address.
        gmail_id: the id Gmail gave the sent message (the Gmail API only).
        thread_id: the id of the Gmail thread it was filed in (the Gmail API only).
        transport: the transport that carried it, "smtp" or "api"; None when a sink took it.
        transport_reason: why `transport="auto"` chose that transport; None otherwise.
    """

    message_id: str
    accepted: tuple[str, ...]
    refused: Mapping[str, SMTPReply] = field(default_factory=dict)
    reply: SMTPReply | None = field(default_factory=lambda: SMTPReply(250, "2.0.0", "OK"))
    auth_method: AuthMethod | None = None
    gmail_id: str | None = None
    thread_id: str | None = None
    transport: TransportName | None = None
    transport_reason: str | None = None
