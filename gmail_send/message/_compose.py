"""Compose a message from typed parts: validated `EmailMessage`, exact bytes and envelope.

`compose_message` builds a new message; `prepare_message` (in `_prepare`, re-exported here)
takes a ready one. Both check everything Gmail would refuse before any connection is opened,
and neither touches the network.

Decisions, so callers know what they get:

- Bodies: text only -> text/plain; html only -> text/html; both -> multipart/alternative (text
  first); neither -> an empty text/plain body. Inline images (`inline=True` and a `content_id`)
  go with the HTML into multipart/related; other attachments make the top multipart/mixed.
- Bodies are 7-bit safe: ASCII with short lines as 7bit, else quoted-printable or base64
  (whichever is shorter). `encoding="iso-2022-jp"` writes text and HTML as ISO-2022-JP in 7bit
  (base64 only for a line over 998 octets) and Subject and display names as
  `=?iso-2022-jp?b?...?=`; a character ISO-2022-JP lacks raises MessageError.
- Addresses: `to`, `cc`, `bcc` and `reply_to` take one string holding an address list
  ("a@x.example, B <b@y.example>") or a sequence of strings holding one mailbox each; `from_`
  is one mailbox and defaults to `account`. See `gmail_send.message` (addresses) for the grammar.
- Display names: a run of whitespace that starts with a space or tab counts as one space and
  outer spaces are dropped (as receivers read them); attachment filenames lose surrounding
  whitespace. Long non-ASCII names become several encoded words (RFC 2047 caps each at 75).
- A non-ASCII address (local part or domain) is kept as typed, and the message is marked
  `smtputf8` (Gmail offers SMTPUTF8); pass an xn-- domain yourself to stay ASCII.
- The envelope sender is the From address; recipients are To, Cc and Bcc, bare addresses,
  case-insensitive repeats dropped. Bcc is never written into the message.
- `attachments` items are `Attachment` objects or paths (`str` or `os.PathLike`) of files to
  read. A message/rfc822 attachment is embedded as such when it is 7-bit clean, otherwise sent
  as application/octet-stream.
- `headers` adds headers; ASCII values are written as given (folded at spaces), others as
  RFC 2047 text. Headers the arguments or the MIME structure own cannot be given there.
- `template` and `context` render a message template (`Templates`, given as `templates`):
  its subject, text and HTML, each unless given explicitly (an empty subject counts as not
  given); with no text from either, the text part is derived from the HTML. Images the
  template shows with `inline_image(...)` are attached inline, once each.
"""

from __future__ import annotations

import base64
import email
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from email.message import EmailMessage, MIMEPart
from typing import Any, NamedTuple

from .._types import Addresses, AttachmentInput, Encoding
from ..errors import InvalidAddressError, MessageError, MessageTooLargeError
from ._addresses import Mailbox, dedupe_addresses, parse_addresses, parse_mailbox
from ._attachments import (
    BLOCKED_EXTENSIONS,
    Attachment,
    LoadedAttachment,
    base64_size,
    load_attachment,
)
from ._headers import (
    MAX_LINE_OCTETS,
    HeaderCharset,
    check_encoded_words,
    check_field_name,
    check_header_text,
    encode_strict,
    encode_unstructured,
    format_address_header,
    format_disposition,
    format_raw_header,
    is_printable_ascii,
)
from ._outgoing import (
    MAX_MESSAGE_SIZE,
    MAX_RECIPIENTS,
    OUTPUT_POLICY,
    OutgoingMessage,
    check_recipients,
    finalize,
    format_date,
    make_message_id,
    normalize_message_id,
)
from ._prepare import prepare_message
from ._splice import SPLICE_AT, Splice
from ._templates import RenderedTemplate, Templates, apply_template

__all__ = [
    "BLOCKED_EXTENSIONS",
    "MAX_MESSAGE_SIZE",
    "MAX_RECIPIENTS",
    "Attachment",
    "OutgoingMessage",
    "RenderedTemplate",
    "Templates",
    "compose_message",
    "prepare_message",
]

# cte_type="7bit" makes the stdlib choose quoted-printable or base64 over 8bit for text bodies.
_BUILD_POLICY = OUTPUT_POLICY.clone(cte_type="7bit")

_STRUCTURAL_HEADERS = {
    "content-type",
    "content-transfer-encoding",
    "mime-version",
    "content-disposition",
    "content-id",
}
_ARGUMENT_HEADERS = {
    "from": "from_",
    "to": "to",
    "cc": "cc",
    "bcc": "bcc",
    "reply-to": "reply_to",
    "subject": "subject",
    "message-id": "message_id",
    "date": "date",
}


class _TextBody(NamedTuple):
    content: str
    subtype: str


class _Multipart(NamedTuple):
    subtype: str
    children: list[_Node]


_Node = _TextBody | _Multipart | LoadedAttachment


def _charset(encoding: str) -> HeaderCharset:
    lowered = encoding.lower() if isinstance(encoding, str) else encoding
    if lowered == "utf-8":
        return "utf-8"
    if lowered == "iso-2022-jp":
        return "iso-2022-jp"
    raise MessageError(
        f"encoding must be 'utf-8' or 'iso-2022-jp', not {encoding!r}",
        hint="utf-8 suits every current mail program; iso-2022-jp is for old Japanese systems",
    )


def _sender(from_: str | None, account: str | None) -> Mailbox:
    if from_ is not None:
        return parse_mailbox(from_, what="from_")
    if account:
        return parse_mailbox(account, what="account")
    raise InvalidAddressError(
        "the message has no sender",
        hint="pass from_=... (required when the relay authenticates by IP address)",
    )


def _extra_headers(
    headers: Mapping[str, str] | None, charset: HeaderCharset
) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if not isinstance(headers, Mapping):
        raise MessageError(
            f"headers must be a mapping of names to values, not {type(headers).__name__}"
        )
    result: list[tuple[str, str]] = []
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise MessageError(f"header names and values must be strings: {name!r}: {value!r}")
        check_header_text(name, "header name")
        check_field_name(name)
        check_header_text(value, f"header {name}")
        check_encoded_words(value, f"header {name}")
        lowered = name.lower()
        if lowered in _STRUCTURAL_HEADERS:
            raise MessageError(
                f"header {name!r} is set by the message structure and cannot be given",
                hint="describe content with text=, html= and attachments= instead",
            )
        if lowered in _ARGUMENT_HEADERS:
            argument = _ARGUMENT_HEADERS[lowered]
            raise MessageError(
                f"header {name!r} cannot be given in headers", hint=f"use the {argument}= argument"
            )
        if is_printable_ascii(value.replace("\t", " ")):
            folded = format_raw_header(name, value, what=f"header {name}")
        else:
            folded = encode_unstructured(name, value, charset, what=f"header {name}")
        result.append((name, folded))
    return result


def _load_attachments(attachments: Sequence[AttachmentInput]) -> list[LoadedAttachment]:
    if isinstance(attachments, str | bytes | os.PathLike | Attachment) or not isinstance(
        attachments, Iterable
    ):
        raise MessageError(
            "attachments must be a list of Attachment objects or paths, "
            f"not {type(attachments).__name__}"
        )
    loaded: list[LoadedAttachment] = []
    total = 0
    for item in attachments:
        attachment = load_attachment(item, limit=MAX_MESSAGE_SIZE)
        total += base64_size(len(attachment.data))
        if total > MAX_MESSAGE_SIZE:
            raise MessageTooLargeError(
                f"the attachments make the message at least {total:,} bytes; "
                f"Gmail accepts {MAX_MESSAGE_SIZE:,}",
                size=total,
                limit=MAX_MESSAGE_SIZE,
                hint="Gmail takes about 25 MB of attachments; share a link instead",
            )
        loaded.append(attachment)
    return loaded


def _body_tree(text: str | None, html: str | None, loaded: list[LoadedAttachment]) -> _Node:
    related = [a for a in loaded if a.inline and a.content_id] if html is not None else []
    others = [a for a in loaded if not any(a is r for r in related)]
    html_node: _Node | None = None
    if html is not None:
        html_node = _TextBody(html, "html")
        if related:
            html_node = _Multipart("related", [html_node, *related])
    body: _Node
    if text is not None and html_node is not None:
        body = _Multipart("alternative", [_TextBody(text, "plain"), html_node])
    else:
        body = html_node or _TextBody(text or "", "plain")
    return _Multipart("mixed", [body, *others]) if others else body


def _set_text(part: MIMEPart, node: _TextBody, charset: HeaderCharset) -> None:
    what = f"{node.subtype} body"
    encoded = encode_strict(node.content, charset, what)
    if charset == "iso-2022-jp":
        short = all(len(line) <= MAX_LINE_OCTETS for line in encoded.splitlines())
        cte: str | None = "7bit" if short else "base64"
    else:
        cte = "base64" if "\x00" in node.content else None  # NUL is not allowed in 7bit
    part.set_content(node.content, subtype=node.subtype, charset=charset, cte=cte)


def _seven_bit_clean(data: bytes) -> bool:
    lines = data.splitlines()
    return data.isascii() and b"\0" not in data and max(map(len, lines), default=0) <= 998


def _set_attachment(part: MIMEPart, attachment: LoadedAttachment, splices: list[Splice]) -> None:
    data = attachment.data
    if attachment.maintype == "message":
        if attachment.subtype == "rfc822" and _seven_bit_clean(data):
            embedded = email.message_from_bytes(data, policy=_BUILD_POLICY)
            part.set_content(embedded, cte="7bit")
            data = b""
        else:
            part.set_content(b"", "application", "octet-stream", cte="base64")
    else:
        part.set_content(
            b"", attachment.maintype, attachment.subtype, cte="base64", params=attachment.params
        )
    if len(data) >= SPLICE_AT:
        # Only a placeholder line in the object; the base64 lines go into the bytes once.
        splices.append(Splice(data))
        part.set_payload(splices[-1].placeholder)
    elif data:
        part.set_payload(_base64_lines(data))
    if attachment.content_id:
        part.set_raw("Content-ID", f"<{attachment.content_id}>")
    disposition = "inline" if attachment.inline else "attachment"
    part.set_raw("Content-Disposition", format_disposition(disposition, attachment.filename))


def _base64_lines(data: bytes) -> str:
    """What the stdlib's set_content writes for `data` with cte="base64" (57 bytes a line)."""
    return base64.encodebytes(data).decode("ascii")


def _materialize(
    node: _Node, part: MIMEPart, charset: HeaderCharset, splices: list[Splice]
) -> None:
    if isinstance(node, _Multipart):
        part["Content-Type"] = f"multipart/{node.subtype}"
        for child in node.children:
            subpart = MIMEPart(policy=_BUILD_POLICY)
            _materialize(child, subpart, charset, splices)
            part.attach(subpart)
    elif isinstance(node, _TextBody):
        _set_text(part, node, charset)
    else:
        _set_attachment(part, node, splices)


def _optional_str(value: object, what: str) -> None:
    if value is not None and not isinstance(value, str):
        raise MessageError(f"{what} must be a string, not {type(value).__name__}")


def compose_message(
    *,
    account: str | None,
    to: Addresses = None,
    cc: Addresses = None,
    bcc: Addresses = None,
    reply_to: Addresses = None,
    from_: str | None = None,
    subject: str = "",
    text: str | None = None,
    html: str | None = None,
    attachments: Sequence[AttachmentInput] = (),
    headers: Mapping[str, str] | None = None,
    encoding: Encoding = "utf-8",
    message_id: str | None = None,
    date: datetime | None = None,
    template: str | None = None,
    context: Mapping[str, Any] | None = None,
    templates: Templates | None = None,
) -> OutgoingMessage:
    """Build and validate a message; raise a MessageError subclass for anything Gmail refuses.

    `account` is the signed-in mailbox: the default From and the Message-ID's domain (None for
    a relay that authenticates by IP address, then `from_` is required). Attachment files are
    read here, so a missing file fails before any connection. `templates` renders `template`
    (a `ConfigurationError` when a template is asked for and there are none); the other
    keywords are the message fields (`MessageFields`), described in this module's docs.

    Args:
        account: the signed-in mailbox: the default From and the Message-ID's domain; None
            for a relay that authorizes by IP address (then `from_` is required).
        to: the To recipients: one string holding an address list, or a sequence of strings
            holding one mailbox each ("Name <addr>" allowed).
        cc: the Cc recipients, written like `to`.
        bcc: the Bcc recipients, written like `to`: in the envelope, never in a header.
        reply_to: the Reply-To addresses, written like `to`; not recipients.
        from_: the From mailbox ("Name <addr>" allowed) and envelope sender (default:
            `account`).
        subject: the Subject; a template's subject when empty and `template` gives one.
        text: the plain-text body; None for none (but an empty text body when `html` is None
            too). With a template, derived from the HTML when no text is given or rendered.
        html: the HTML body; with `text` too, the message is multipart/alternative.
        attachments: `Attachment`s or paths of files to attach, read here; inline ones with a
            `content_id` go beside the HTML when there is one.
        headers: extra header names and values; headers that arguments set (From, To,
            Subject, ...) or the MIME structure sets (Content-Type, ...) are refused.
        encoding: the charset of text, HTML, Subject and display names: "utf-8", or
            "iso-2022-jp" for old Japanese systems.
        message_id: the Message-ID ("<unique@domain>", brackets optional); default: a new one
            on the sender's domain.
        date: the Date header; default now, and a naive datetime is taken as local time.
        template: the name of the template in `templates` giving the subject and bodies;
            explicit `subject`, `text` and `html` win over it.
        context: the variables `template` is rendered with; only with `template`.
        templates: the `Templates` that `template` names (a sender passes its own).

    Returns:
        The validated `OutgoingMessage`: exact bytes and envelope.
    """
    parts = apply_template(templates, template, context, subject=subject, text=text, html=html)
    subject, text, html = parts.subject, parts.text, parts.html
    charset = _charset(encoding)
    for what, value in (("subject", subject), ("text", text), ("html", html)):
        _optional_str(value, what)
    if subject is None:
        raise MessageError("subject must be a string")
    check_header_text(subject, "subject")
    sender = _sender(from_, account)
    to_list = parse_addresses(to, what="to")
    cc_list = parse_addresses(cc, what="cc")
    bcc_list = parse_addresses(bcc, what="bcc")
    reply_list = parse_addresses(reply_to, what="reply_to")
    recipients = dedupe_addresses(m.addr_spec for m in [*to_list, *cc_list, *bcc_list])
    check_recipients(recipients)
    extra = _extra_headers(headers, charset)
    mid = make_message_id(sender.domain) if message_id is None else normalize_message_id(message_id)
    date_value = format_date(date)
    loaded = _load_attachments(attachments)
    loaded += [load_attachment(image, limit=MAX_MESSAGE_SIZE) for image in parts.inline_images]

    message = EmailMessage(policy=_BUILD_POLICY)
    message.set_raw(
        "From",
        format_address_header(
            "From", [(sender.display_name, sender.addr_spec)], charset, what="from_"
        ),
    )
    for name, mailboxes, what in (
        ("To", to_list, "to"),
        ("Cc", cc_list, "cc"),
        ("Reply-To", reply_list, "reply_to"),
    ):
        if mailboxes:
            pairs = [(m.display_name, m.addr_spec) for m in mailboxes]
            message.set_raw(name, format_address_header(name, pairs, charset, what=what))
    message.set_raw("Subject", encode_unstructured("Subject", subject, charset, what="subject"))
    message.set_raw("Date", date_value)
    message.set_raw("Message-ID", mid)
    for name, value in extra:
        message.set_raw(name, value)
    message["MIME-Version"] = "1.0"
    splices: list[Splice] = []
    _materialize(_body_tree(text, html, loaded), message, charset, splices)

    in_headers = [sender, *to_list, *cc_list, *reply_list]
    utf8 = not all(m.addr_spec.isascii() for m in in_headers)
    return finalize(
        message,
        sender=sender.addr_spec,
        recipients=recipients,
        message_id=mid,
        utf8=utf8,
        splices=splices,
    )
