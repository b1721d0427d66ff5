"""What the local Gmail remembers for tests to assert on: messages, sessions, login attempts.

Records never hold a secret: AUTH payloads appear as `***` in the command list.
"""

from __future__ import annotations

import email
import email.policy
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal, NamedTuple

__all__ = ["AuthAttempt", "ReceivedMessage", "SessionRecord", "redact_command"]


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the server accepted (`250 2.0.0 OK`, or the API's 200), as Gmail would
    deliver it.

    `data` is the message as received (dot-unstuffed), except that a From header naming an
    address the account may not send as is rewritten to the account, display name kept, as
    Gmail does; `mail_from` likewise. The client's originals are kept in `original_mail_from`
    and `original_from_header` (None when the header was left alone).

    `via` says which door it came through: "smtp", or "api" for the local Gmail API, which
    takes the recipients (`rcpt_tos`) from the To, Cc and Bcc headers and removes Bcc from
    `data`, as Gmail does; `gmail_id` and `thread_id` are the ids the API answered with.
    """

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes = field(repr=False)
    session_user: str | None
    mail_options: tuple[str, ...]
    original_mail_from: str = ""
    original_from_header: str | None = None
    smtputf8: bool = False
    session_id: str = ""
    transaction_id: str = ""
    received_at: float = field(default_factory=time.time, compare=False)
    via: Literal["smtp", "api"] = "smtp"
    gmail_id: str | None = None
    thread_id: str | None = None

    @property
    def sender_rewritten(self) -> bool:
        """Whether the envelope sender or the From header was rewritten to the account."""
        return self.original_mail_from != self.mail_from or self.original_from_header is not None

    def parsed(self) -> EmailMessage:
        """The message parsed with the modern e-mail policy, as a mail client would see it.

        CRLF line ends become `\n` first, so text parts read back as they were composed.
        """
        text = self.data.replace(b"\r\n", b"\n")
        message = email.message_from_bytes(text, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


class AuthAttempt(NamedTuple):
    """One AUTH exchange: mechanism, the user it named (None if unreadable), and the outcome."""

    mechanism: str
    user: str | None
    success: bool


@dataclass
class SessionRecord:
    """One client connection, updated while it lives.

    `commands` lists the commands in order, AUTH payloads as `***`; `auth_reason` says why the
    last login attempt ended as it did ("accepted", "wrong-password", "normal-password",
    "unknown-user", "unknown-token", "expired", "revoked", "wrong-scope", "wrong-user",
    "malformed" (refused before any credential check: bad base64, unknown mechanism, a
    malformed XOAUTH2 string), "validator" (the token_validator hook gave no reason),
    "injected" (a fault answered)). `authenticated` says whether any login succeeded.
    """

    session_id: str
    peer: tuple[str, int] | None
    opened_at: float = field(default_factory=time.time)
    closed_at: float | None = None
    ehlo_name: str | None = None
    tls: bool = False
    auth_mechanism: str | None = None
    auth_user: str | None = None
    auth_reason: str | None = None
    authenticated: bool = False
    commands: list[str] = field(default_factory=list)
    messages_accepted: int = 0

    @property
    def open(self) -> bool:
        """Whether the connection is still up."""
        return self.closed_at is None


def redact_command(command: str, arg: str | None) -> str:
    """The command line as recorded: `AUTH <mechanism> ***` when a payload followed."""
    if arg is None:
        return command
    if command == "AUTH":
        mechanism, _, payload = arg.strip().partition(" ")
        return f"AUTH {mechanism} ***" if payload.strip() else f"AUTH {mechanism}"
    return f"{command} {arg}"
