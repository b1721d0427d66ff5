"""What the local Gmail remembers for tests to assert on: messages, sessions, login attempts,
and how each mail transaction arrived on the wire.

Records never hold a secret: AUTH payloads appear as `***` in the command list.
"""

from __future__ import annotations

import bisect
import email
import email.policy
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal, NamedTuple

__all__ = [
    "AuthAttempt",
    "IMAPSessionRecord",
    "ReceivedMessage",
    "SessionRecord",
    "TransactionRecord",
    "WireLog",
    "redact_command",
]


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the server accepted (`250 2.0.0 OK`, or the API's 200), as Gmail would
    deliver it.

    A sender the signed-in account may not send as (neither itself nor an alias) is rewritten
    to the account, as Gmail does: in the envelope and in the From header (display name kept).
    The client's originals are kept, so a test can see both.

    `via` says which door it came through: "smtp", or "api" for the local Gmail API, which
    takes the recipients (`rcpt_tos`) from the To, Cc and Bcc headers and removes Bcc from
    `data`, as Gmail does; `gmail_id` and `thread_id` are the ids the API answered with.

    Attributes:
        mail_from: the envelope sender (MAIL FROM), after any rewriting.
        rcpt_tos: the envelope recipients (RCPT TO), in order; through the Gmail API, the To,
            Cc and Bcc headers' addresses.
        data: the message as received (dot-unstuffed), with the From header rewritten if needed.
        session_user: the account the session signed in as; None when it sent without AUTH
            (relay by IP).
        mail_options: the parameters of MAIL FROM as given, e.g. `("SIZE=1234", "BODY=8BITMIME")`.
        original_mail_from: the envelope sender the client gave, before any rewriting.
        original_from_header: the From header the client wrote, when it was rewritten; None
            when the header was left alone.
        smtputf8: whether the client asked for SMTPUTF8 (non-ASCII addresses).
        session_id: the `SessionRecord.session_id` of the connection it came on.
        transaction_id: this message's id, `<session_id>.<n>`, as at the end of the `250 2.0.0 OK`
            reply.
        received_at: when it was accepted, a `time.time()` value.
        via: the door it came through: "smtp", or "api" for the local Gmail API.
        gmail_id: the id the local Gmail API answered with (None over SMTP).
        thread_id: the thread id the local Gmail API answered with (None over SMTP).
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
    """One AUTH exchange, as `LocalGmail.auth_attempts` lists them.

    Attributes:
        mechanism: the SASL mechanism named, e.g. "PLAIN", "LOGIN" or "XOAUTH2".
        user: the user the client named; None when the payload could not be read.
        success: whether the server answered `235` (signed in).
    """

    mechanism: str
    user: str | None
    success: bool


@dataclass
class TransactionRecord:
    """How one mail transaction (MAIL to its final reply) arrived, in offsets of the session's
    byte stream (counted after TLS): where its MAIL line began, where its last byte (the body's,
    or the last command's) ended, and how many bytes had arrived when its final reply went out.
    `first_read` and `last_read` number the reads (`data_received` calls) that delivered its
    first and last byte; `reply` is the final reply's code.

    Attributes:
        start: the stream offset where its MAIL line began.
        mail_end: the offset just after its MAIL line.
        end: the offset after its last byte (the body's, or the last command's).
        replied_at: how many bytes had arrived when its final reply went out; None before.
        first_read: the number of the read that delivered its first byte.
        last_read: the number of the read that delivered its last byte.
        reply: the final reply's code; None before it.
    """

    start: int
    mail_end: int
    end: int = 0
    replied_at: int | None = None
    first_read: int = 0
    last_read: int = 0
    reply: int | None = None

    @property
    def in_one_read(self) -> bool:
        """Whether a single read carried the whole transaction: commands and body."""
        return self.replied_at is not None and self.first_read == self.last_read


@dataclass
class SessionRecord:
    """One client connection, updated while it lives.

    Attributes:
        session_id: a random id for the connection, also in the server's `250` replies.
        peer: the client's `(address, port)`; None until the connection is made.
        opened_at: when the connection was accepted, a `time.time()` value.
        closed_at: when it ended, a `time.time()` value; None while it is open.
        ehlo_name: the name the client gave in EHLO or HELO (the last one), or None.
        tls: whether the connection is encrypted (implicit TLS, or after STARTTLS).
        auth_mechanism: the mechanism of the last AUTH attempt, or None.
        auth_user: the user the last AUTH attempt named, or None.
        auth_reason: why the last login attempt ended as it did: "accepted",
            "wrong-password", "normal-password", "unknown-user", "unknown-token", "expired",
            "revoked", "wrong-scope", "wrong-user", "malformed" (refused before any credential
            check: bad base64, unknown mechanism, a malformed XOAUTH2 string), "injected" (a
            fault answered), or the `TokenVerdict.reason` of the token_validator hook
            ("validator" when it gave none).
        authenticated: whether any login on this connection succeeded.
        commands: the commands in order, AUTH payloads as `***`.
        messages_accepted: how many messages this connection delivered.
        read_ends: the stream offset after each read: `read_ends[n]` bytes had arrived after
            read n (counted after TLS).
        transactions: how each mail transaction of the connection arrived, in order.
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
    read_ends: list[int] = field(default_factory=list)
    transactions: list[TransactionRecord] = field(default_factory=list)

    def read_of(self, offset: int) -> int:
        """The number of the read that delivered the byte at `offset` of the stream.

        Args:
            offset: a position in the session's byte stream, counted after TLS.
        """
        return bisect.bisect_right(self.read_ends, offset)

    @property
    def max_in_flight(self) -> int:
        """The most transactions the client had in flight at once, as the server saw them:
        for each final reply, the transactions from that one on whose MAIL line had fully
        arrived before the reply went out."""
        most = 0
        for index, transaction in enumerate(self.transactions):
            if transaction.replied_at is None:
                continue
            arrived = sum(
                1 for later in self.transactions[index:] if later.mail_end <= transaction.replied_at
            )
            most = max(most, arrived)
        return most

    @property
    def open(self) -> bool:
        """Whether the connection is still up."""
        return self.closed_at is None


@dataclass
class IMAPSessionRecord:
    """One IMAP connection to the local Gmail, updated while it lives; never a secret.

    Attributes:
        session_id: a random id for the connection, also at the end of the greeting.
        peer: the client's `(address, port)`; None until the connection is made.
        opened_at: when the connection was accepted, a `time.time()` value.
        closed_at: when it ended, a `time.time()` value; None while it is open.
        user: the account signed in as; None before (or without) a successful sign-in.
        method: how the last sign-in attempt was made: "xoauth2", "plain" or "login"; None
            before any.
        sign_in_reason: why the last sign-in attempt ended as it did: "accepted", the
            reasons of `SessionRecord.auth_reason` ("wrong-password", "unknown-token", ...),
            "refused" (`refuse_imap_sign_in`), "imap-disabled", or "cancelled" (the client
            sent `*`).
        commands: the commands in order, without tags; AUTHENTICATE and LOGIN arguments as
            `***`, literals as `{size}`.
    """

    session_id: str
    peer: tuple[str, int] | None
    opened_at: float = field(default_factory=time.time)
    closed_at: float | None = None
    user: str | None = None
    method: str | None = None
    sign_in_reason: str | None = None
    commands: list[str] = field(default_factory=list)

    @property
    def open(self) -> bool:
        """Whether the connection is still up."""
        return self.closed_at is None


def redact_command(command: str, arg: str | None) -> str:
    """The command line as recorded: `AUTH <mechanism> ***` (SMTP) or `AUTHENTICATE
    <mechanism> ***` (IMAP) when a payload followed, `LOGIN ***` (IMAP)."""
    if arg is None:
        return command
    if command in ("AUTH", "AUTHENTICATE"):
        mechanism, _, payload = arg.strip().partition(" ")
        return f"{command} {mechanism} ***" if payload.strip() else f"{command} {mechanism}"
    if command == "LOGIN":
        return "LOGIN ***"
    return f"{command} {arg}"


class WireLog:
    """Keeps a session's `read_ends` and `transactions` as the server reads its stream.

    The protocol reports each read (`received`), each command line read (`command_read`, with
    the stream offset the session has read up to), each body read (`body_read`) and each final
    reply of a transaction (`final_reply`).
    """

    def __init__(self, record: SessionRecord) -> None:
        self.record = record
        self.total = 0
        """Bytes received so far."""
        self.mark = 0
        """The offset up to which commands and bodies have been read."""
        self._open: TransactionRecord | None = None

    def received(self, count: int) -> None:
        self.total += count
        self.record.read_ends.append(self.total)

    def command_read(self, consumed: int, *, starts_transaction: bool = False) -> None:
        start, self.mark = self.mark, consumed
        if starts_transaction:
            self._open = TransactionRecord(start=start, mail_end=consumed)
            self.record.transactions.append(self._open)

    def read_up_to(self, consumed: int) -> None:
        """Lines read outside commands (a login's answers) end here."""
        self.mark = consumed

    def body_read(self, consumed: int) -> None:
        self.mark = consumed
        if self._open is not None:
            self._open.end = consumed

    def final_reply(self, code: int | None) -> None:
        """The open transaction's final reply is going out now."""
        transaction, self._open = self._open, None
        if transaction is None:
            return
        transaction.end = transaction.end or self.mark
        transaction.replied_at = self.total
        transaction.reply = code
        transaction.first_read = self.record.read_of(transaction.start)
        transaction.last_read = self.record.read_of(max(transaction.end - 1, transaction.start))
