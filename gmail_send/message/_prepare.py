"""Prepare a ready `email.message.Message` for sending: a validated copy, its envelope, its bytes.

The caller's object is never modified. A copy of it is serialized with its own policy (so
legacy `Message`, `email.mime` and Django-style objects come out as their code meant); the copy
shares with the original what nothing changes (policies, header objects, payload strings), so
copying costs little. Only the header block is parsed back, and every change happens there:
Bcc and Resent-Bcc removed, Message-ID, Date and From added when missing; the body goes out as
serialized. A message whose body is 8-bit or has lines over 998 octets takes the longer way:
parsed back whole, and those bodies re-encoded as base64, so `data` is 7-bit except for headers
that need SMTPUTF8.

The envelope follows `smtplib.send_message`: with one Resent- block (one Resent-Date) the
Resent-Sender/Resent-From and Resent-To/Cc/Bcc headers are used, else Sender/From and
To/Cc/Bcc; `sender=` and `recipients=` override them, and `account` is the sender of last resort.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import email
import email.errors
import email.header
import email.utils
import io
import re
from collections.abc import Iterator, Sequence
from email.generator import BytesGenerator
from email.headerregistry import BaseHeader
from email.message import EmailMessage, Message
from email.policy import EmailPolicy
from typing import Any, Protocol, TypedDict

from ..errors import BlockedAttachmentError, InvalidAddressError, MessageError
from ._addresses import Mailbox, dedupe_addresses, parse_address_list, parse_mailbox
from ._attachments import blocked_extension, check_zip_members, is_zip
from ._headers import (
    MAX_LINE_OCTETS,
    check_encoded_words,
    check_field_name,
    check_source_header_value,
)
from ._outgoing import (
    OUTPUT_POLICY,
    OutgoingMessage,
    check_recipients,
    finalize,
    format_date,
    make_message_id,
    normalize_thread_id,
    package,
)
from ._splice import SPLICE_AT, TextSplice, longest_line, longest_text_line

__all__ = ["prepare_message", "stored_blind_recipients"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _check_source_headers(message: Message) -> None:
    """Refuse header names or values in the caller's object that would forge header lines."""
    try:
        parts = list(message.walk())
    except (AttributeError, TypeError) as exc:
        raise MessageError(f"the message's structure is not valid: {exc}") from exc
    for part in parts:
        for name, value in part.raw_items():
            if not isinstance(name, str):
                raise MessageError(f"header name {name!r} is not a string")
            check_field_name(name)
            if isinstance(value, BaseHeader | email.header.Header):
                # Decoded text: a line break here can only come from an encoded word, and some
                # Python versions write it back out raw.
                check_source_header_value(str(value), name, folded_ok=False)
            elif isinstance(value, str):
                check_source_header_value(value, name, folded_ok=True)
                check_encoded_words(value, f"header {name}")
            else:
                raise MessageError(f"header {name} has a value of type {type(value).__name__}")


def _copy(message: Message) -> Message:
    """A deep copy of `message` that shares what flattening never changes: each part's policy
    and header values, and (being immutable) the payload strings. Flattening the copy cannot
    touch the caller's object (the generator sets a policy for the time it runs and a boundary
    where one is missing)."""
    memo: dict[int, Any] = {}
    for part in message.walk():
        memo[id(part.policy)] = part.policy
        for _, value in part.raw_items():
            memo[id(value)] = value
    try:
        return copy.deepcopy(message, memo)
    except Exception as exc:  # any object graph may refuse to be copied
        raise MessageError(f"the message cannot be copied: {exc}") from exc


def _set_aside(duplicate: Message) -> list[TextSplice]:
    """Give each large payload of the copy a placeholder, to be spliced in after flattening
    (see `_splice`): the generator would split its text into a list of lines. Only 7-bit
    text with no line over 998 octets, which goes out as it is, is set aside."""
    splices: list[TextSplice] = []
    for part in duplicate.walk():
        payload = part.get_payload() if not part.is_multipart() else None
        if (
            isinstance(payload, str)
            and len(payload) >= SPLICE_AT
            and payload.isascii()
            and longest_text_line(payload) <= MAX_LINE_OCTETS
        ):
            splices.append(TextSplice(payload))
            part.set_payload(splices[-1].placeholder)
    return splices


def _flatten(message: Message) -> bytes:
    """`message` serialized as its own policy says, with CRLF line ends."""
    policy = message.policy
    if isinstance(policy, EmailPolicy):
        policy = policy.clone(linesep="\r\n", refold_source="none")
    else:
        policy = policy.clone(linesep="\r\n")
    buffer = io.BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False, policy=policy).flatten(message)
    except (
        UnicodeError,
        LookupError,
        TypeError,
        ValueError,
        AttributeError,
        email.errors.MessageError,
    ) as exc:
        raise MessageError(
            f"the message cannot be serialized: {exc}",
            hint="set a charset on text parts that hold non-ASCII text",
        ) from exc
    return buffer.getvalue()


_EIGHT_BIT = re.compile(rb"[\x80-\xff]")


def _body_is_transport_safe(flat: bytes, start: int) -> bool:
    """Whether the body from `start` on is 7-bit with no line over 998 octets."""
    return _EIGHT_BIT.search(flat, start) is None and longest_line(flat, start) <= MAX_LINE_OCTETS


class _Headers(Protocol):
    """What the envelope code needs of a header set: a Message, or a `_HeaderBlock`."""

    def raw_items(self) -> Iterator[tuple[str, Any]]: ...

    def __delitem__(self, name: str) -> None: ...

    def set_raw(self, name: str, value: Any) -> None: ...


class _HeaderBlock:
    """The header block of a serialized message, read and edited as its own bytes: parsing the
    block and writing it again through the stdlib costs more than the rest of a send."""

    def __init__(self, head: bytes) -> None:
        """`head`: the header lines, CRLF after each (the blank line not included)."""
        self._fields: list[tuple[str, bytes]] = []
        for line in head.split(b"\r\n")[:-1]:
            if line[:1] in (b" ", b"\t") and self._fields:
                known, field = self._fields[-1]
                self._fields[-1] = (known, field + b"\r\n" + line)
                continue
            raw, colon, _ = line.partition(b":")
            if not colon or not raw.strip() or raw[:1] in (b" ", b"\t"):
                raise ValueError("not a header line")
            self._fields.append((raw.decode("ascii", "surrogateescape"), line))

    def raw_items(self) -> Iterator[tuple[str, str]]:
        for name, field in self._fields:
            value = field[len(name) + 1 :].decode("ascii", "surrogateescape").lstrip(" \t")
            yield name, value

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._fields)

    def __delitem__(self, name: str) -> None:
        self._fields = [f for f in self._fields if f[0].lower() != name.lower()]

    def set_raw(self, name: str, value: str) -> None:
        line = f"{name}: {value}".encode("utf-8", "surrogateescape")
        self._fields.append((name, line))

    def as_bytes(self) -> bytes:
        """The header lines and the blank line that ends them."""
        return b"".join(field + b"\r\n" for _, field in self._fields) + b"\r\n"


def _raw_values(message: _Headers, name: str) -> list[str]:
    """Unfolded values of a header, 8-bit (RFC 6532) text decoded as UTF-8 where it is."""
    values = []
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            text = _UNKNOWN_8BIT.sub(_undo_unknown_8bit, _LINE_BREAK.sub("", str(value)))
            with contextlib.suppress(UnicodeError):
                text = text.encode("ascii", "surrogateescape").decode("utf-8")
            values.append(text)
    return values


_UNKNOWN_8BIT = re.compile(r"=\?unknown-8bit\?([qQbB])\?([^?]*)\?=")


def _undo_unknown_8bit(found: re.Match[str]) -> str:
    """Python 3.13 hands raw 8-bit header bytes back as `unknown-8bit` encoded words: restore
    the bytes (UTF-8 per RFC 6532, else kept as surrogates for the checks that follow)."""
    kind, payload = found.group(1), found.group(2)
    try:
        if kind in "bB":
            raw = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
        else:
            raw = binascii.a2b_qp(payload.encode("ascii"), header=True)
    except (ValueError, binascii.Error):
        return found.group(0)
    return raw.decode("utf-8", "surrogateescape")


def _header_mailboxes(message: _Headers, name: str) -> list[Mailbox]:
    mailboxes: list[Mailbox] = []
    for value in _raw_values(message, name):
        mailboxes += parse_address_list(value, what=f"header {name}", allow_groups=True)
    return mailboxes


def _envelope_sender(message: _Headers, prefix: str, account: str | None) -> str:
    for name in (f"{prefix}Sender", f"{prefix}From"):
        if _raw_values(message, name):
            mailboxes = _header_mailboxes(message, name)
            if mailboxes:
                return mailboxes[0].addr_spec
    if account:
        return parse_mailbox(account, what="account").addr_spec
    raise InvalidAddressError(
        "the message has no sender: no Sender or From header, and no account",
        hint="add a From header or pass sender=...",
    )


def _resent_prefix(message: _Headers) -> str:
    dates = _raw_values(message, "Resent-Date")
    if len(dates) > 1:
        raise MessageError(
            "the message has more than one Resent- header block",
            hint="pass sender= and recipients= to say who the envelope is for",
        )
    return "Resent-" if dates else ""


def _filenames(part: Message) -> list[str]:
    names: list[str] = []
    try:
        filename = part.get_filename()
        name = part.get_param("name")
    except Exception:  # the stdlib's parameter parser fails on some malformed headers
        return names
    if filename:
        names.append(filename)
    if name:
        names.append(email.utils.collapse_rfc2231_value(name))
    return names


def _check_attachments(message: Message) -> None:
    for part in message.walk():
        if part.is_multipart():
            continue
        names = _filenames(part)
        for name in names:
            extension = blocked_extension(name)
            if extension:
                raise BlockedAttachmentError(
                    f"Gmail does not accept {extension} attachments: {name!r}",
                    hint="remove it, or upload it (e.g. to Google Drive) and send a link",
                )
        content_type = part.get_content_type()
        zipped = [name for name in names if is_zip(name, content_type)]
        if zipped or is_zip("", content_type):
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                check_zip_members(data, (zipped or names or ["(unnamed zip)"])[0])


def _make_transport_safe(message: Message) -> None:
    """Re-encode leaf bodies that are 8-bit or have over-long lines as base64."""
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload()
        if not isinstance(payload, str):
            continue
        longest = max(map(len, _LINE_BREAK.split(payload)), default=0)
        if payload.isascii() and longest <= MAX_LINE_OCTETS:
            continue
        raw = part.get_payload(decode=True)
        if not isinstance(raw, bytes):
            continue
        part.set_payload(base64.encodebytes(raw).decode("ascii"))
        if "Content-Transfer-Encoding" in part:
            part.replace_header("Content-Transfer-Encoding", "base64")
        else:
            part["Content-Transfer-Encoding"] = "base64"


def prepare_message(
    message: Message,
    *,
    account: str | None,
    sender: str | None = None,
    recipients: Sequence[str] | None = None,
    thread_id: str | None = None,
) -> OutgoingMessage:
    """Validate a copy of `message` and derive its envelope; the caller's object is untouched.

    `sender` and `recipients` (addresses, "Name <addr>" allowed) replace what the headers say.
    The Gmail API takes the recipients from the headers: there, envelope recipients the To and
    Cc headers leave out go as Bcc, and an envelope that leaves out a To or Cc address cannot
    be sent (`envelope_from_headers` is False). Raises the same MessageError subclasses as
    `compose_message`.

    Args:
        message: the message to send, as built by the `email` package (or parsed from a file).
        account: the signed-in mailbox: the envelope sender when the headers name none; None
            for a relay that authorizes by IP address.
        sender: the envelope sender (MAIL FROM) instead of the one the headers give.
        recipients: the envelope recipients instead of the To, Cc and Bcc headers (Resent-
            ones for a resent message): one string holding an address list, or a sequence of
            one mailbox each.
        thread_id: the Gmail thread to file the message in (the Gmail API only).

    Returns:
        The validated `OutgoingMessage`, without the Bcc header.
    """
    if not isinstance(message, Message):
        raise MessageError(
            f"expected an email.message.Message, not {type(message).__name__}",
            hint="use compose_message() to build a message from parts",
        )
    thread = normalize_thread_id(thread_id)
    _check_source_headers(message)
    _check_attachments(message)
    duplicate = _copy(message)
    splices = _set_aside(duplicate)
    flat = _flatten(duplicate)
    split = flat.find(b"\r\n\r\n")
    headers: _HeaderBlock | None = None
    if split >= 0 and _body_is_transport_safe(flat, split + 4):
        with contextlib.suppress(ValueError):
            headers = _HeaderBlock(flat[: split + 2])
    if headers is None:
        whole: EmailMessage = email.message_from_bytes(flat, policy=OUTPUT_POLICY)
        envelope = _envelope(whole, account, sender, recipients)
        _make_transport_safe(whole)
        return finalize(whole, **envelope, splices=splices, thread_id=thread)
    envelope = _envelope(headers, account, sender, recipients)
    data = headers.as_bytes() + memoryview(flat)[split + 4 :]
    if not data.endswith(b"\r\n"):
        data += b"\r\n"  # what SMTP adds before the final "." anyway
    names = [name.strip().lower() for name in headers]
    return package(data, names, **envelope, splices=splices, thread_id=thread)


class _Envelope(TypedDict):
    sender: str
    recipients: list[str]
    message_id: str
    utf8: bool
    bcc: list[str]
    envelope_from_headers: bool


def _envelope(
    message: _Headers,
    account: str | None,
    sender: str | None,
    recipients: Sequence[str] | None,
) -> _Envelope:
    """Read the envelope from `message`'s headers, then complete them for sending: Bcc and
    Resent-Bcc removed; From, Date and Message-ID added where missing."""
    prefix = _resent_prefix(message)
    if sender is not None:
        envelope_sender = parse_mailbox(sender, what="sender").addr_spec
    else:
        envelope_sender = _envelope_sender(message, prefix, account)
    if recipients is None:
        mailboxes = [
            mailbox
            for name in ("To", "Cc", "Bcc")
            for mailbox in _header_mailboxes(message, f"{prefix}{name}")
        ]
    elif isinstance(recipients, str):
        mailboxes = parse_address_list(recipients, what="recipients")
    else:
        mailboxes = [parse_mailbox(item, what="recipients") for item in recipients]
    envelope_recipients = dedupe_addresses(m.addr_spec for m in mailboxes)
    check_recipients(envelope_recipients)
    bcc, from_headers = _blind_recipients(message, prefix, envelope_recipients)

    del message["Bcc"]
    del message["Resent-Bcc"]
    if not _raw_values(message, "From"):
        message.set_raw("From", envelope_sender)
    if not _raw_values(message, "Date"):
        message.set_raw("Date", format_date(None))
    message_ids = _raw_values(message, "Message-ID")
    if message_ids:
        message_id = message_ids[0].strip()
    else:
        message_id = make_message_id(envelope_sender.rpartition("@")[2])
        message.set_raw("Message-ID", message_id)
    utf8 = not envelope_sender.isascii() or not all(r.isascii() for r in envelope_recipients)
    return {
        "sender": envelope_sender,
        "recipients": envelope_recipients,
        "message_id": message_id,
        "utf8": utf8,
        "bcc": bcc,
        "envelope_from_headers": from_headers,
    }


def stored_blind_recipients(data: bytes, recipients: Sequence[str]) -> tuple[tuple[str, ...], bool]:
    """For a message kept as its bytes and envelope (the mail queue's), what `prepare_message`
    found when it was made: the recipients the To and Cc headers leave out (the Gmail API's
    Bcc), and whether the headers plus those reach exactly the envelope."""
    end = data.find(b"\r\n\r\n")
    headers: _Headers
    try:
        headers = _HeaderBlock(data[: end + 2] if end >= 0 else data)
    except ValueError:
        headers = email.message_from_bytes(data, policy=OUTPUT_POLICY)
    bcc, from_headers = _blind_recipients(headers, _resent_prefix(headers), recipients)
    return tuple(bcc), from_headers


def _blind_recipients(
    message: _Headers, prefix: str, envelope: Sequence[str]
) -> tuple[list[str], bool]:
    """The envelope recipients the To and Cc headers leave out (what the Gmail API, which
    takes recipients from the headers, must get as Bcc), and whether the headers plus those
    reach exactly the envelope: False when the envelope leaves out a To or Cc address, or
    comes from Resent- headers."""
    shown = {
        m.addr_spec.casefold() for name in ("To", "Cc") for m in _header_mailboxes(message, name)
    }
    wanted = {address.casefold() for address in envelope}
    blind = [address for address in envelope if address.casefold() not in shown]
    return blind, not prefix and shown <= wanted
