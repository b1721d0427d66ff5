"""What the inbox page shows of one received message: envelope, headers, bodies, parts.

A `MessageView` reads a `ReceivedMessage` as a mail client would (the modern e-mail policy,
RFC 2047 words decoded) and gives the JSON the page's API returns. Its HTML body has the
message's own inline images (`cid:` references) turned into `data:` URLs, so the frame that
shows it needs no network at all and may be forbidden every remote load.
"""

from __future__ import annotations

import base64
import datetime
import re
import urllib.parse
from dataclasses import dataclass
from email.message import EmailMessage, Message
from functools import cached_property
from typing import Any

from ._records import ReceivedMessage

__all__ = ["MessagePart", "MessageView", "message_id_of"]

_CID = re.compile(r"""cid:([^\s"'()<>]+)""", re.IGNORECASE)


def message_id_of(message: ReceivedMessage, position: int) -> str:
    """The id the page gives a message: the server's transaction id, unique per server."""
    return message.transaction_id or f"m{position}"


@dataclass(frozen=True)
class MessagePart:
    """One leaf part of a message that is not its text or HTML body: an attachment or an
    inline image."""

    number: int
    content_type: str
    filename: str | None
    content_id: str | None
    inline: bool
    payload: bytes

    def summary(self, base: str) -> dict[str, Any]:
        return {
            "number": self.number,
            "filename": self.filename,
            "content_type": self.content_type,
            "content_id": self.content_id,
            "inline": self.inline,
            "size": len(self.payload),
            "url": f"{base}/parts/{self.number}",
        }


class MessageView:
    """One received message as the inbox page and its JSON API present it."""

    def __init__(self, message: ReceivedMessage, position: int) -> None:
        self.received = message
        self.id = message_id_of(message, position)
        self.url = f"/messages/{urllib.parse.quote(self.id)}"

    @cached_property
    def parsed(self) -> EmailMessage:
        return self.received.parsed()

    def header(self, name: str) -> str:
        """A header's decoded value, or "" when the message has none."""
        value = self.parsed.get(name)
        return "" if value is None else _text(value)

    @cached_property
    def headers(self) -> list[tuple[str, str]]:
        """Every header in order, decoded."""
        return [(name, _text(value)) for name, value in self.parsed.items()]

    @cached_property
    def text(self) -> str | None:
        return _body_text(self.parsed.get_body(preferencelist=("plain",)), "plain")

    @cached_property
    def html(self) -> str | None:
        return _body_text(self.parsed.get_body(preferencelist=("html",)), "html")

    @cached_property
    def parts(self) -> list[MessagePart]:
        """The leaf parts besides the bodies, numbered in the message's order."""
        bodies = {
            id(part)
            for part in (
                self.parsed.get_body(preferencelist=("plain",)),
                self.parsed.get_body(preferencelist=("html",)),
            )
            if part is not None
        }
        found = []
        leaves = (part for part in self.parsed.walk() if not part.is_multipart())
        for number, part in enumerate(leaves):
            if id(part) in bodies:
                continue
            payload = part.get_payload(decode=True)
            content_id = part.get("Content-ID")
            found.append(
                MessagePart(
                    number=number,
                    content_type=part.get_content_type(),
                    filename=part.get_filename(),
                    content_id=str(content_id).strip().strip("<>") if content_id else None,
                    inline=part.get_content_disposition() != "attachment"
                    and content_id is not None,
                    payload=payload if isinstance(payload, bytes) else b"",
                )
            )
        return found

    def part(self, number: int) -> MessagePart | None:
        return next((part for part in self.parts if part.number == number), None)

    def framed_html(self) -> str | None:
        """The HTML body with `cid:` references to the message's own parts as `data:` URLs."""
        if self.html is None:
            return None
        images = {part.content_id: part for part in self.parts if part.content_id}

        def inline(match: re.Match[str]) -> str:
            part = images.get(urllib.parse.unquote(match.group(1)))
            if part is None:
                return match.group(0)
            encoded = base64.b64encode(part.payload).decode("ascii")
            return f"data:{part.content_type};base64,{encoded}"

        return _CID.sub(inline, self.html)

    @property
    def received_at(self) -> str:
        moment = datetime.datetime.fromtimestamp(self.received.received_at, datetime.timezone.utc)
        return moment.isoformat(timespec="seconds")

    def summary(self) -> dict[str, Any]:
        """The JSON of the message list: envelope and the headers a list shows."""
        return {
            "id": self.id,
            "url": self.url,
            "received_at": self.received_at,
            "mail_from": self.received.mail_from,
            "rcpt_tos": list(self.received.rcpt_tos),
            "from": self.header("From"),
            "to": self.header("To"),
            "subject": self.header("Subject"),
            "message_id": self.header("Message-ID"),
            "size": len(self.received.data),
            "attachments": [part.filename or "" for part in self.parts if not part.inline],
        }

    def detail(self) -> dict[str, Any]:
        """The JSON of one message: the summary, the envelope, headers, bodies and parts."""
        return {
            **self.summary(),
            "envelope": {
                "mail_from": self.received.mail_from,
                "rcpt_tos": list(self.received.rcpt_tos),
                "signed_in_as": self.received.session_user,
                "sender_rewritten": self.received.sender_rewritten,
                "smtputf8": self.received.smtputf8,
            },
            "headers": [[name, value] for name, value in self.headers],
            "text": self.text,
            "html": self.html,
            "parts": [part.summary(self.url) for part in self.parts],
            "raw_url": f"{self.url}/raw",
        }


def _text(value: object) -> str:
    return str(value).replace("\r", "").replace("\n", " ")


def _body_text(part: Message | None, subtype: str) -> str | None:
    if part is None or part.get_content_subtype() != subtype:
        return None
    assert isinstance(part, EmailMessage)
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset: show what can be read
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else None
