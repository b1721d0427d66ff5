"""IMAP's text as the Sent Mail lookup writes and reads it: quoting, LIST and SEARCH replies,
and what a refusal's text says. Pure functions, no I/O.

Replies come from a server, so every parser here takes any bytes and either returns a value or
raises `IMAPReplyError` (a ValueError): never another exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "IMAPReplyError",
    "ListedMailbox",
    "Refusal",
    "check_message_id",
    "parse_list",
    "parse_search",
    "quote",
    "refusal_of",
    "safe_text",
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
        ValueError: not a string, empty, too long, or holding a control character.
    """
    if not isinstance(message_id, str):
        raise ValueError(f"a Message-ID is a string, not {type(message_id).__name__}")
    text = message_id.strip()
    if not text or len(text) > _MAX_MESSAGE_ID:
        raise ValueError("a Message-ID is between 1 and 998 characters long")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ValueError("a Message-ID holds no control characters (CR, LF, NUL, ...)")
    return text


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


Refusal = str
"""What a tagged NO to a sign-in means: "imap_disabled", "app_password" or "credentials"."""


def refusal_of(text: str) -> Refusal:
    """What Gmail's refusal of a sign-in says: IMAP off for the account or the domain
    ("imap_disabled"), a normal password where an app password is needed ("app_password"),
    or anything else about the credentials ("credentials")."""
    lowered = text.lower()
    if "imap" in lowered and ("not enabled" in lowered or "disabled" in lowered):
        return "imap_disabled"
    if "application-specific password" in lowered:
        return "app_password"
    return "credentials"


def safe_text(text: str, *, limit: int = 300) -> str:
    """A server's text as it may go into an error message: one line, printable, bounded."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "..."
