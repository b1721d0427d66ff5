"""IMAP's text as the Sent Mail lookup writes and reads it: quoting, LIST and SEARCH replies,
and what a refusal's text says. Pure functions, no I/O.

Replies come from a server, so every parser here takes any bytes and either returns a value or
raises `IMAPReplyError` (a ValueError): never another exception.
"""

from __future__ import annotations

import math
import re
from calendar import timegm
from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigurationError

__all__ = [
    "IMAPReplyError",
    "ListedMailbox",
    "Refusal",
    "SearchTerms",
    "check_message_id",
    "check_seconds",
    "parse_internal_dates",
    "parse_list",
    "parse_search",
    "quote",
    "refusal_of",
    "safe_text",
    "search_terms",
]

_MAX_MESSAGE_ID = 998
"""The longest line RFC 5322 allows; a Message-ID longer than that is no Message-ID."""


class IMAPReplyError(ValueError):
    """A server reply that does not parse as the IMAP the lookup expects."""


def quote(value: str) -> str:
    """`value` as an IMAP quoted string (RFC 3501 section 4.3), for ASCII without controls.

    Raises:
        ValueError: the value holds a control character or non-ASCII text (those go as a
            literal, or not at all).
    """
    if not value.isascii() or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("an IMAP quoted string holds printable ASCII only")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check_message_id(message_id: object) -> str:
    """The Message-ID to look for, stripped; refused when it cannot be one.

    Raises:
        ValueError: not a string, empty, too long, holding a control character, or not ASCII
            (an SMTPUTF8 Message-ID: the lookup searches ASCII ones only).
    """
    if not isinstance(message_id, str):
        raise ValueError(f"a Message-ID is a string, not {type(message_id).__name__}")
    text = message_id.strip()
    if not text or len(text) > _MAX_MESSAGE_ID:
        raise ValueError("a Message-ID is between 1 and 998 characters long")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ValueError("a Message-ID holds no control characters (CR, LF, NUL, ...)")
    if not text.isascii():
        raise ValueError("the lookup searches ASCII Message-IDs only (this one is UTF-8)")
    return text


def check_seconds(value: object, name: str, *, optional: bool = False) -> float | None:
    """`value` as seconds (a finite number >= 0; None when `optional`), for a window or a
    moment.

    Raises:
        ConfigurationError: anything else (NaN and infinity included).
    """
    if value is None and optional:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ConfigurationError(f"{name} must be a finite number of seconds >= 0, not {value!r}")
    return float(value)


_BRACKETED = re.compile(r"<([^<>\s]+)>")
_GMAIL_SAFE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`|~@\[\]][A-Za-z0-9.!#$%&'*+/=?^_`|~@\[\]-]*")


@dataclass(frozen=True)
class SearchTerms:
    """How to search for one Message-ID: `bracketed` (`<id>`, for SEARCH HEADER), `bare`
    (without brackets, for Gmail's `rfc822msgid:`), and whether `bare` is safe in Gmail's
    search syntax (no quote, space, parenthesis, brace or leading minus)."""

    bare: str
    bracketed: str
    gmail_safe: bool


def search_terms(message_id: str) -> SearchTerms:
    """The terms for a checked Message-ID (`check_message_id`): the `<...>` token when there
    is one (a comment or text around it is not part of the id), else the whole text."""
    token = _BRACKETED.search(message_id)
    bare = token.group(1) if token else message_id.strip().removeprefix("<").removesuffix(">")
    return SearchTerms(bare, f"<{bare}>", _GMAIL_SAFE.fullmatch(bare) is not None)


@dataclass(frozen=True)
class ListedMailbox:
    """One mailbox of a LIST reply: its attributes (lower case, e.g. `\\sent`) and its name as
    the server wrote it (modified UTF-7, passed back unchanged to EXAMINE)."""

    attributes: frozenset[str]
    name: str


_LIST_HEAD = re.compile(rb'^\(([^()]*)\) (?:NIL|"(?:[^"\\]|\\.)"|"") ?', re.IGNORECASE)
_LITERAL_MARK = re.compile(rb"\{(\d+)\+?\}$")


def parse_list(item: bytes | tuple[bytes, bytes]) -> ListedMailbox:
    """One untagged LIST item as imaplib hands it over: `b'(\\HasNoChildren \\Sent) "/"
    "[Gmail]/Sent Mail"'`, or a tuple of that line ending in `{n}` and the literal name.

    Raises:
        IMAPReplyError: the item is not a LIST reply.
    """
    literal: bytes | None = None
    if isinstance(item, tuple):
        if len(item) != 2 or not all(isinstance(part, bytes) for part in item):
            raise IMAPReplyError("a LIST reply with a literal is (line, literal)")
        line, literal = item
    elif isinstance(item, bytes):
        line = item
    else:
        raise IMAPReplyError(f"a LIST reply is bytes, not {type(item).__name__}")
    head = _LIST_HEAD.match(line)
    if head is None:
        raise IMAPReplyError("a LIST reply starts with (attributes) and a delimiter")
    attributes = frozenset(
        word.decode("ascii", "replace").lower() for word in head.group(1).split()
    )
    rest = line[head.end() :]
    if literal is not None:
        mark = _LITERAL_MARK.fullmatch(rest.strip())
        if mark is None or int(mark.group(1)) != len(literal):
            raise IMAPReplyError("a LIST reply's literal name does not match its {n}")
        name = literal
    elif rest.startswith(b'"'):
        name = _unquote(rest)
    elif rest and not any(ch in rest for ch in b' ()"{\\'):
        name = rest
    else:
        raise IMAPReplyError("a LIST reply ends with the mailbox name")
    if not name or any(ch < 32 or ch == 127 for ch in name):
        raise IMAPReplyError("a mailbox name holds no control characters")
    try:
        return ListedMailbox(attributes, name.decode("ascii"))
    except UnicodeDecodeError:
        raise IMAPReplyError("a mailbox name is sent in (modified UTF-7) ASCII") from None


def _unquote(text: bytes) -> bytes:
    out = bytearray()
    index = 1
    while index < len(text):
        char = text[index]
        if char == 0x5C:  # backslash: the next character as it is
            if index + 1 >= len(text):
                break
            out.append(text[index + 1])
            index += 2
            continue
        if char == 0x22:
            if index != len(text) - 1:
                raise IMAPReplyError("text after a quoted mailbox name")
            return bytes(out)
        out.append(char)
        index += 1
    raise IMAPReplyError("a quoted mailbox name is not closed")


def parse_search(data: list[bytes | None] | list[bytes] | list[None]) -> list[int]:
    """The numbers of the untagged SEARCH replies (imaplib gives `[b'3 7']`, `[b'']` or
    `[None]`).

    Raises:
        IMAPReplyError: a word that is not a positive number.
    """
    numbers: list[int] = []
    for item in data:
        if item is None:
            continue
        if not isinstance(item, bytes):
            raise IMAPReplyError("a SEARCH reply is bytes")
        for word in item.split():
            if not word.isdigit() or len(word) > 10 or int(word) == 0:
                raise IMAPReplyError("a SEARCH reply lists positive numbers")
            numbers.append(int(word))
    return numbers


Refusal = Literal["imap_disabled", "app_password", "busy", "credentials"]
"""What a tagged NO to a sign-in means (see `refusal_of`)."""

_BUSY = ("too many simultaneous", "[unavailable]", "[limit]", "[inuse]", "try again later")


def refusal_of(text: str) -> Refusal:
    """What Gmail's refusal of a sign-in says: IMAP off for the account or the domain
    ("imap_disabled"), a normal password where an app password is needed ("app_password"),
    the server or the account busy for now, e.g. too many simultaneous connections or an
    RFC 5530 UNAVAILABLE, LIMIT or INUSE code ("busy"), or anything else about the
    credentials ("credentials")."""
    lowered = text.lower()
    if "imap" in lowered and ("not enabled" in lowered or "disabled" in lowered):
        return "imap_disabled"
    if "application-specific password" in lowered:
        return "app_password"
    if any(word in lowered for word in _BUSY):
        return "busy"
    return "credentials"


_INTERNALDATE = re.compile(
    rb'INTERNALDATE "\s?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"'
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


def parse_internal_dates(data: list[bytes | tuple[bytes, bytes] | None]) -> list[float]:
    """The INTERNALDATE of each untagged FETCH reply, as `time.time()` values (imaplib gives
    `[b'1 (UID 1 INTERNALDATE "01-Dec-2026 17:43:13 +0000")', ...]`).

    Raises:
        IMAPReplyError: a FETCH reply without a well-formed INTERNALDATE.
    """
    dates: list[float] = []
    for item in data:
        if item is None:
            continue
        line = item[0] if isinstance(item, tuple) else item
        if not isinstance(line, bytes):
            raise IMAPReplyError("a FETCH reply is bytes")
        if not line.strip():
            continue
        found = _INTERNALDATE.search(line)
        if found is None:
            raise IMAPReplyError("a FETCH reply without INTERNALDATE")
        day, month, year, hour, minute, second, sign, zone_h, zone_m = found.groups()
        number = _MONTHS.get(month.decode("ascii").lower())
        values = [int(v) for v in (year, day, hour, minute, second, zone_h, zone_m)]
        if number is None or not (1 <= values[1] <= 31 and values[2] < 24 and values[3] < 60):
            raise IMAPReplyError("a FETCH reply with an impossible INTERNALDATE")
        if values[4] > 60 or values[5] > 23 or values[6] > 59:
            raise IMAPReplyError("a FETCH reply with an impossible INTERNALDATE")
        offset = (values[5] * 3600 + values[6] * 60) * (1 if sign == b"+" else -1)
        stamp = timegm((values[0], number, values[1], values[2], values[3], values[4]))
        dates.append(stamp - offset)
    return dates


def safe_text(text: str, *, limit: int = 300) -> str:
    """A server's text as it may go into an error message: one line, printable, bounded."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "..."
