"""Helpers for the composition tests: parse produced bytes back and check the wire format."""

from __future__ import annotations

import email
import email.policy
import re
from email.header import decode_header, make_header
from email.message import EmailMessage, MIMEPart
from typing import Any


def parse(data: bytes) -> EmailMessage:
    """The message as a receiving Python program would read it."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parse_utf8(data: bytes) -> EmailMessage:
    """An SMTPUTF8 message as a receiver that knows its headers are UTF-8 reads it."""
    message = email.message_from_string(data.decode("utf-8"), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def children(part: MIMEPart) -> list[Any]:
    """The subparts of a multipart, typed loosely for the assertions that follow."""
    return list(part.iter_parts())


def text_of(part: MIMEPart) -> str:
    """A text part's content with line endings as Python writes them (LF)."""
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def assert_wire_format(data: bytes) -> None:
    """CRLF line endings only, no line over 998 octets, ends with a line ending."""
    assert data.endswith(b"\r\n")
    assert data.count(b"\n") == data.count(b"\r\n") == data.count(b"\r")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998


def header_section(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0] + b"\r\n"


def raw_header(data: bytes, name: str) -> str | None:
    """A top-level header's value as written (unfolded), or None."""
    text = header_section(data).decode("utf-8")
    match = re.search(rf"(?im)^{re.escape(name)}:[ \t]?([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", text)
    return None if match is None else re.sub(r"\r\n", "", match.group(1))


def decode_phrase(raw: str) -> str:
    """Decode a display name the RFC 2047 way: whitespace between encoded words is dropped.

    The stdlib's modern parser keeps a space between adjacent encoded words in a display name
    (its own output of long names does not round-trip either), so long names are read with the
    legacy decoder, which follows the RFC.
    """
    if raw.startswith('"') and raw.endswith('"'):
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    return str(make_header(decode_header(raw)))


def display_names(data: bytes, name: str) -> list[str]:
    """Display names in an address header written by compose_message (one address per item)."""
    raw = raw_header(data, name)
    assert raw is not None
    names = []
    for item in re.findall(r'((?:"(?:[^"\\]|\\.)*"|[^,"])+)', raw):
        item = item.strip()
        names.append(decode_phrase(item.rsplit(" <", 1)[0]) if item.endswith(">") else "")
    return names
