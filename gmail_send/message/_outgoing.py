"""What composing produces: `OutgoingMessage` (exact bytes plus envelope), Gmail's limits, and
the last checks every message passes before it may be sent.

Both ways in (`compose_message` and `prepare_message`) end in `package`, so the rules hold
whatever the source: CRLF line endings only, no line over 998 octets, no Bcc header, header
lines exactly those of the message object (a forged line would show up as an extra one), and
no more than Gmail's SIZE. An `OutgoingMessage` holds the message once, as the bytes to send;
the message object is parsed back from them only when someone asks for it.
"""

from __future__ import annotations

import email
import email.errors
import email.policy
import email.utils
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from ..errors import (
    HeaderInjectionError,
    MessageError,
    MessageTooLargeError,
    NoRecipientsError,
    TooManyRecipientsError,
)
from ._headers import MAX_LINE_OCTETS, check_header_text
from ._splice import AnySplice, longest_line, splice, spliced_size

__all__ = [
    "MAX_MESSAGE_SIZE",
    "MAX_RECIPIENTS",
    "OUTPUT_POLICY",
    "OUTPUT_POLICY_UTF8",
    "OutgoingMessage",
    "check_recipients",
    "finalize",
    "format_date",
    "make_message_id",
    "normalize_message_id",
    "package",
    "serialize",
]

MAX_MESSAGE_SIZE = 35_882_577
"""Gmail's `SIZE`: the most bytes a message may have on the wire, CRLF line endings counted."""

MAX_RECIPIENTS = 100
"""Envelope recipients Gmail's SMTP accepts for one message (`452 4.5.3` beyond)."""

OUTPUT_POLICY = email.policy.SMTP.clone(refold_source="none")
"""CRLF line endings; header values stored raw are written exactly as stored."""

OUTPUT_POLICY_UTF8 = OUTPUT_POLICY.clone(utf8=True)
"""The same for SMTPUTF8 messages: UTF-8 addresses are written as UTF-8 (RFC 6532)."""

_MESSAGE_ID = re.compile(r"<[!-;=?-~]+@[!-;=?-~]+>")


@dataclass(frozen=True, repr=False)
class OutgoingMessage:
    """A validated message ready for SMTP: `data` is exactly what is sent as the message.

    Attributes:
        data: the bytes to send, CRLF line endings; what Gmail's SIZE limit counts.
        sender: the envelope sender (MAIL FROM), a bare address.
        recipients: the envelope recipients (RCPT TO), bare addresses, without
            case-insensitive repeats.
        message_id: the Message-ID header, angle brackets included.
        smtputf8: True when an address or header needs SMTPUTF8 (RFC 6531) on the MAIL
            command.
    """

    data: bytes
    sender: str
    recipients: tuple[str, ...]
    message_id: str
    smtputf8: bool

    @functools.cached_property
    def message(self) -> EmailMessage:
        """The message as an `EmailMessage` (no Bcc header), parsed from `data` when first
        asked for: the bytes are the one copy kept while sending."""
        policy = OUTPUT_POLICY_UTF8 if self.smtputf8 else OUTPUT_POLICY
        parsed = email.message_from_bytes(self.data, policy=policy)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def size(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return (
            f"OutgoingMessage(message_id={self.message_id!r}, sender={self.sender!r}, "
            f"recipients=<{len(self.recipients)}>, size={len(self.data):,}, "
            f"smtputf8={self.smtputf8})"
        )


def check_recipients(recipients: Sequence[str]) -> None:
    """Refuse an envelope with nobody, or with more recipients than Gmail takes at once."""
    if not recipients:
        raise NoRecipientsError(
            "the message has no recipients", hint="give at least one address in to, cc or bcc"
        )
    if len(recipients) > MAX_RECIPIENTS:
        raise TooManyRecipientsError(
            f"the message has {len(recipients)} recipients; Gmail accepts {MAX_RECIPIENTS} "
            "per message",
            hint=f"split it into several messages of at most {MAX_RECIPIENTS} recipients each",
        )


def make_message_id(domain: str) -> str:
    """A new Message-ID on `domain` (IDNA-encoded if needed); never looks up the host name."""
    try:
        ascii_domain = domain if domain.isascii() else domain.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_domain = "gmail-send.invalid"
    return email.utils.make_msgid(domain=ascii_domain)


def normalize_message_id(value: str) -> str:
    """A caller's Message-ID with angle brackets, checked to be `<left@right>` ASCII."""
    if not isinstance(value, str):
        raise MessageError(f"message_id must be a string, not {type(value).__name__}")
    check_header_text(value, "message_id")
    candidate = value.strip()
    if not candidate.startswith("<"):
        candidate = f"<{candidate}>"
    if not _MESSAGE_ID.fullmatch(candidate):
        raise MessageError(
            f"message_id {value!r} is not a valid Message-ID",
            hint='write it as "<unique-part@your-domain>" in printable ASCII without spaces',
        )
    return candidate


def format_date(date: datetime | None) -> str:
    """RFC 5322 date; now in the local time zone when None, a naive datetime taken as local."""
    if date is None:
        date = datetime.now().astimezone()
    elif not isinstance(date, datetime):
        raise MessageError(f"date must be a datetime, not {type(date).__name__}")
    elif date.tzinfo is None:
        date = date.astimezone()
    return email.utils.format_datetime(date)


def _check_wire_format(expected: list[str], data: bytes) -> None:
    end = data.find(b"\r\n\r\n")
    head = data[: end if end >= 0 else len(data)]
    names = [
        line.split(b":", 1)[0].strip().decode("ascii", "replace").lower()
        for line in head.split(b"\r\n")
        if line and line[:1] not in (b" ", b"\t")
    ]
    if names != expected or "bcc" in names or "resent-bcc" in names:
        raise HeaderInjectionError(
            "a header value would add header lines to the message",
            hint="header values must be single lines; this is how extra headers are forged",
        )
    if data.count(b"\r") != data.count(b"\r\n") or data.count(b"\n") != data.count(b"\r\n"):
        raise MessageError("the message has a bare CR or LF outside CRLF line endings")
    longest = longest_line(data)
    if longest > MAX_LINE_OCTETS:
        raise MessageError(
            f"the message has a line of {longest} octets; the limit is {MAX_LINE_OCTETS}",
            hint="fold long header values, or use quoted-printable or base64 for the body",
        )


def serialize(message: EmailMessage, *, utf8: bool) -> bytes:
    """`message` as bytes with CRLF line ends, ending in CRLF; `utf8` selects the SMTPUTF8
    serialization (needed when a header holds a UTF-8 address)."""
    policy = OUTPUT_POLICY_UTF8 if utf8 else OUTPUT_POLICY
    try:
        data = message.as_bytes(policy=policy)
    except (UnicodeError, LookupError, TypeError, ValueError, email.errors.MessageError) as exc:
        raise MessageError(f"the message cannot be serialized: {exc}") from exc
    if not data.endswith(b"\r\n"):
        data += b"\r\n"  # what SMTP adds before the final "." anyway
    return data


def finalize(
    message: EmailMessage,
    *,
    sender: str,
    recipients: Sequence[str],
    message_id: str,
    utf8: bool,
    splices: Sequence[AnySplice] = (),
) -> OutgoingMessage:
    """Serialize `message`, check it against the wire rules and Gmail's size, and package it
    (with `splices`, the large attachments its placeholders stand for; see `_splice`)."""
    data = serialize(message, utf8=utf8)
    names = [name.strip().lower() for name in message]
    return package(
        data,
        names,
        sender=sender,
        recipients=recipients,
        message_id=message_id,
        utf8=utf8,
        splices=splices,
    )


def package(
    data: bytes,
    header_names: list[str],
    *,
    sender: str,
    recipients: Sequence[str],
    message_id: str,
    utf8: bool,
    splices: Sequence[AnySplice] = (),
) -> OutgoingMessage:
    """Check serialized `data` (whose header lines must be `header_names`, lowercase, in
    order) against the wire rules and Gmail's size, splice in large attachments, and package.

    Spliced bodies are not scanned: they are base64 lines of 76 characters by construction.
    """
    _check_wire_format(header_names, data)
    size = spliced_size(data, splices)
    if size > MAX_MESSAGE_SIZE:
        raise MessageTooLargeError(
            f"the message is {size:,} bytes once encoded; Gmail accepts {MAX_MESSAGE_SIZE:,}",
            size=size,
            limit=MAX_MESSAGE_SIZE,
            hint="Gmail takes about 25 MB of attachments; share a link (e.g. Google Drive) instead",
        )
    if splices:
        data = splice(data, splices)
    envelope_utf8 = not sender.isascii() or not all(r.isascii() for r in recipients)
    return OutgoingMessage(
        data=data,
        sender=sender,
        recipients=tuple(recipients),
        message_id=message_id,
        smtputf8=utf8 or envelope_utf8 or not data.isascii(),
    )
