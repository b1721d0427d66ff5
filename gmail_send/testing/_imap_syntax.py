"""Reading an IMAP command (RFC 3501 section 9) for the local Gmail: tag, name, arguments.

A command arrives as lines and literals: a line that ends in `{n}` is followed by n bytes,
then the command goes on in the next line. The session reads them (`LITERAL_AT_END`); here
they become tokens: atoms (`INBOX`, `\\Seen`, `[Gmail]/Sent`, `*`), strings (quoted, with
`\\"` and `\\\\` escapes, or literals) and parentheses. No I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._records import redact_command

__all__ = [
    "LITERAL_AT_END",
    "Command",
    "CommandSyntaxError",
    "Token",
    "parse_command",
    "quote",
]

LITERAL_AT_END = re.compile(rb"\{(\d+)(\+?)\}\Z")
"""A line that ends like this announces a literal of that many bytes (`+`: non-synchronizing,
RFC 7888's LITERAL-, sent without waiting for the server's `+`)."""

_SPECIAL = ' ()"{'


class CommandSyntaxError(ValueError):
    """The command cannot be read; `tag` is its tag when that much could be read."""

    def __init__(self, message: str, tag: str | None = None) -> None:
        super().__init__(message)
        self.tag = tag


@dataclass(frozen=True)
class Token:
    """One argument: `text` is the atom or the string's content; `string` tells a quoted
    string or literal (never a keyword) from an atom; "(" and ")" are atoms of their own."""

    text: str
    string: bool = False

    @property
    def opens(self) -> bool:
        return self.text == "(" and not self.string

    @property
    def closes(self) -> bool:
        return self.text == ")" and not self.string

    def keyword(self) -> str | None:
        """The atom in upper case; None for a string or a parenthesis."""
        if self.string or self.text in ("(", ")"):
            return None
        return self.text.upper()


@dataclass(frozen=True)
class Command:
    """A tagged command: `name` in upper case, the arguments after it, and how it is shown
    in records (secrets of AUTHENTICATE and LOGIN as `***`, literals as `{size}`)."""

    tag: str
    name: str
    args: list[Token]
    shown: str


def parse_command(lines: list[bytes], literals: list[bytes]) -> Command:
    """Read a command from its lines (each but the last followed by the literal of the same
    index, its `{n}` cut off) into tokens.

    Raises:
        CommandSyntaxError: a missing tag or name, an unclosed quote, a bad escape, a stray
            `{`.
    """
    texts = [line.decode("utf-8", "replace") for line in lines]
    tokens: list[Token] = []
    for index, text in enumerate(texts):
        tokens += _tokenize(text, tag=tokens[0].text if tokens else None)
        if index < len(literals):
            tokens.append(Token(literals[index].decode("utf-8", "replace"), string=True))
    if not tokens or tokens[0].keyword() is None or tokens[0].text == "*":
        raise CommandSyntaxError("no tag")
    tag = tokens[0].text
    if len(tokens) < 2 or tokens[1].keyword() is None:
        raise CommandSyntaxError("no command name", tag)
    name = tokens[1].keyword() or ""
    raw = "".join(
        text + (f"{{{len(literals[index])}}}" if index < len(literals) else "")
        for index, text in enumerate(texts)
    )
    parts = raw.split(None, 2)
    shown = redact_command(name, parts[2] if len(parts) > 2 else None)
    return Command(tag, name, tokens[2:], shown)


def _tokenize(text: str, *, tag: str | None) -> list[Token]:
    tokens: list[Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == " ":
            index += 1
        elif char in "()":
            tokens.append(Token(char))
            index += 1
        elif char == '"':
            value, index = _quoted(text, index + 1, tag=tag or _first(tokens))
            tokens.append(Token(value, string=True))
        elif char == "{" or char < " " or char == "\x7f":
            raise CommandSyntaxError(f"unexpected {char!r}", tag or _first(tokens))
        else:
            end = index
            while end < len(text) and text[end] not in _SPECIAL and text[end] >= " ":
                end += 1
            tokens.append(Token(text[index:end]))
            index = end
    return tokens


def _first(tokens: list[Token]) -> str | None:
    return tokens[0].text if tokens and tokens[0].keyword() is not None else None


def _quoted(text: str, index: int, *, tag: str | None) -> tuple[str, int]:
    out: list[str] = []
    while index < len(text):
        char = text[index]
        if char == '"':
            return "".join(out), index + 1
        if char == "\\":
            if index + 1 >= len(text) or text[index + 1] not in '"\\':
                raise CommandSyntaxError("bad escape in a quoted string", tag)
            char = text[index + 1]
            index += 1
        out.append(char)
        index += 1
    raise CommandSyntaxError("unclosed quoted string", tag)


def quote(text: str) -> str:
    """`text` as an IMAP quoted string (for mailbox names in LIST replies).

    Args:
        text: ASCII text without CR or LF (a mailbox name already in modified UTF-7).
    """
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
