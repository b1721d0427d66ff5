"""SEARCH on the local Gmail: the keys a Sent Mail lookup needs, matched as RFC 3501 and
Gmail do.

- `ALL`;
- `HEADER <field> <string>`: the field name case-insensitive, the string a case-insensitive
  substring of the unfolded value (or of its RFC 2047-decoded form); an empty string matches
  every message that has the field;
- `X-GM-RAW "rfc822msgid:<id>"` (only with Gmail's extensions): Gmail's search syntax, here
  only the one term that finds a Message-ID, matched exactly, angle brackets optional;
- a leading `CHARSET UTF-8` (or `US-ASCII`).

Several keys must all match. Anything else (OR, NOT, parentheses, other keys, other Gmail
search terms) is a `SearchSyntaxError`, which the session answers with `BAD`.
"""

from __future__ import annotations

import email.header
import email.parser
import email.policy
import re
from collections.abc import Callable

from ._imap_syntax import Token
from ._records import ReceivedMessage

__all__ = ["SearchSyntaxError", "parse_search"]

Criterion = Callable[[ReceivedMessage], bool]

_FOLD = re.compile(r"\r?\n(?=[ \t])")
_MESSAGE_ID_TERM = re.compile(r"rfc822msgid:(\S+)", re.IGNORECASE)
_CHARSETS = ("UTF-8", "US-ASCII")


class SearchSyntaxError(ValueError):
    """A search the local Gmail cannot read (or does not implement)."""


def parse_search(args: list[Token], *, gmail_extensions: bool) -> Criterion:
    """The test a message must pass for this SEARCH.

    Args:
        args: the SEARCH command's arguments (after `SEARCH`).
        gmail_extensions: whether X-GM-RAW is understood.
    """
    if args and args[0].keyword() == "CHARSET":
        if len(args) < 2 or args[1].text.upper() not in _CHARSETS:
            raise SearchSyntaxError("unsupported CHARSET")
        args = args[2:]
    tests: list[Criterion] = []
    index = 0
    while index < len(args):
        key = args[index].keyword()
        if key == "ALL":
            tests.append(lambda _message: True)
            index += 1
        elif key == "HEADER":
            field, value = _strings(args, index + 1, 2)
            tests.append(_header_test(field, value))
            index += 3
        elif key == "X-GM-RAW" and gmail_extensions:
            (query,) = _strings(args, index + 1, 1)
            tests.append(_message_id_test(query))
            index += 2
        else:
            raise SearchSyntaxError(f"unsupported search key {args[index].text!r}")
    if not tests:
        raise SearchSyntaxError("no search key")
    return lambda message: all(test(message) for test in tests)


def _strings(args: list[Token], start: int, count: int) -> list[str]:
    taken = args[start : start + count]
    if len(taken) < count or any(token.opens or token.closes for token in taken):
        raise SearchSyntaxError("a search key lacks its arguments")
    return [token.text for token in taken]


def _header_values(message: ReceivedMessage, field: str) -> list[str]:
    parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    headers = parser.parsebytes(message.data)
    return [_FOLD.sub("", str(value)) for value in headers.get_all(field, [])]


def _decoded(value: str) -> str:
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return value


def _header_test(field: str, wanted: str) -> Criterion:
    needle = wanted.casefold()

    def test(message: ReceivedMessage) -> bool:
        return any(
            needle in value.casefold() or needle in _decoded(value).casefold()
            for value in _header_values(message, field)
        )

    return test


def _message_id_test(query: str) -> Criterion:
    match = _MESSAGE_ID_TERM.fullmatch(query.strip())
    if match is None:
        raise SearchSyntaxError("X-GM-RAW: only rfc822msgid:<id> is implemented")
    wanted = match.group(1).strip("<>")

    def test(message: ReceivedMessage) -> bool:
        return any(
            value.strip().strip("<>") == wanted for value in _header_values(message, "Message-ID")
        )

    return test
