"""Strict parsing of e-mail addresses into display name + bare address.

The envelope (MAIL FROM / RCPT TO) must get exactly the bare address meant: Gmail answers
`555 5.5.2` to `MAIL FROM:<Name <a@b>>`, and a lenient parser can turn a typo into a different
recipient. The stdlib's parsers are lenient, and on some versions raise IndexError for input such
as "a@", so this module parses the common grammar itself:

- a mailbox is `addr-spec` or `[display name] <addr-spec>`; a trailing comment is ignored;
- `addr-spec` is `local@domain`: a dot-atom or quoted-string local part (UTF-8 allowed, RFC 6531)
  and a host name (LDH labels, or non-ASCII labels that IDNA can encode); no domain literals,
  no source routes, local part at most 64 octets, address at most 254;
- a display name may be quoted; unquoted, its encoded words are decoded (so strings made by
  `email.utils.formataddr` work), runs of whitespace count as one space and parentheses are
  kept as typed ("Sales (Tokyo) <a@b.example>");
- an address list is mailboxes separated by commas; empty items are skipped (RFC 5322 obs-syntax);
  groups (`name: a@x, b@y;`) are only accepted where messages are read (`allow_groups=True`).
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from ..errors import InvalidAddressError, MessageError
from ._headers import check_header_text

__all__ = ["Mailbox", "dedupe_addresses", "parse_address_list", "parse_addresses", "parse_mailbox"]

_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff"
_DOT_ATOM = re.compile(rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*")
_QUOTED_LOCAL = re.compile(r'"((?:[^"\\\r\n]|\\.)*)"')
_LDH_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=")
_WSP = re.compile(r"[ \t]+")


class Mailbox(NamedTuple):
    """One parsed mailbox: `display_name` ("" when absent), unquoted local part, domain."""

    display_name: str
    local_part: str
    domain: str

    @property
    def addr_spec(self) -> str:
        """The bare address for the envelope, the local part quoted only when it must be."""
        local = self.local_part
        if not _DOT_ATOM.fullmatch(local):
            local = '"' + local.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{local}@{self.domain}"


def _invalid(text: str, what: str, reason: str) -> InvalidAddressError:
    hint = "write it as name@example.com or Name <name@example.com>"
    if "\uff20" in text:
        hint = "replace the full-width '＠' with '@'"

    shown = text if len(text) <= 100 else text[:100] + "..."
    return InvalidAddressError(
        f"{what}: {shown!r} is not a valid e-mail address: {reason}", hint=hint
    )


def _scan(text: str, stops: str) -> list[tuple[int, str]]:
    """Positions of characters from `stops` outside quoted strings, comments and <...>."""
    found: list[tuple[int, str]] = []
    quote = angle = False
    depth = 0
    index = 0
    while index < len(text):
        ch = text[index]
        if ch == "\\" and (quote or depth):
            index += 2
            continue
        if quote:
            quote = ch != '"'
        elif depth:
            depth += {"(": 1, ")": -1}.get(ch, 0)
        elif ch == '"':
            quote = True
        elif ch == "(":
            depth = 1
        elif angle:
            angle = ch != ">"
            if not angle and ">" in stops:
                found.append((index, ch))
        elif ch == "<":
            angle = True
            if "<" in stops:
                found.append((index, ch))
        elif ch in stops:
            found.append((index, ch))
        index += 1
    if quote or depth or angle:
        found.append((len(text), "unterminated"))
    return found


def _strip_comments(text: str) -> str:
    """Drop comments (nested parentheses) outside quoted strings."""
    out: list[str] = []
    quote = False
    depth = 0
    index = 0
    while index < len(text):
        ch = text[index]
        if ch == "\\" and (quote or depth):
            if not depth:
                out.append(text[index : index + 2])
            index += 2
            continue
        if depth:
            depth += {"(": 1, ")": -1}.get(ch, 0)
        elif ch == "(" and not quote:
            depth = 1
            out.append(" ")
        else:
            if ch == '"':
                quote = not quote
            out.append(ch)
        index += 1
    return "".join(out)


def _decode_encoded_words(text: str) -> str:
    """Decode RFC 2047 words in an unquoted phrase; whitespace between two of them is dropped."""
    parts = _ENCODED_WORD.split(text)
    out: list[str] = []
    previous_was_word = False
    for index in range(0, len(parts), 4):
        literal = parts[index]
        if not (previous_was_word and literal.strip() == "" and index + 1 < len(parts)):
            out.append(literal)
        if index + 1 >= len(parts):
            break
        charset, kind, payload = parts[index + 1 : index + 4]
        try:
            if kind in "bB":
                raw = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
            else:
                raw = binascii.a2b_qp(payload.encode("ascii"), header=True)
            out.append(raw.decode(charset))
            previous_was_word = True
        except (ValueError, LookupError, binascii.Error):
            out.append(f"=?{charset}?{kind}?{payload}?=")
            previous_was_word = False
    return "".join(out)


def _display_name(phrase: str, what: str) -> str:
    """The display name a phrase stands for: quoted parts verbatim, the rest normalized."""
    pieces: list[str] = []
    index = 0
    while index < len(phrase):
        if phrase[index] == '"':
            match = _QUOTED_LOCAL.match(phrase, index)
            if match is None:
                raise _invalid(phrase, what, "unterminated quoted display name")
            pieces.append(re.sub(r"\\(.)", r"\1", match.group(1)))
            index = match.end()
        else:
            end = phrase.find('"', index)
            end = len(phrase) if end < 0 else end
            words = _decode_encoded_words(_WSP.sub(" ", phrase[index:end]))
            pieces.append(words)
            index = end
    name = re.sub(r"[ \t]\s*", " ", "".join(pieces)).strip(" ")
    check_header_text(name, f"display name in {what}")
    return name


def _check_domain(domain: str, text: str, what: str) -> None:
    if not domain:
        raise _invalid(text, what, "the domain after '@' is missing")
    if domain.startswith("["):
        raise _invalid(text, what, "address literals such as [192.0.2.1] are not supported")
    if len(domain.encode("utf-8")) > 253:
        raise _invalid(text, what, "the domain is longer than 253 octets")
    for label in domain.split("."):
        if label.isascii():
            if not _LDH_LABEL.fullmatch(label):
                raise _invalid(text, what, f"{label!r} is not a valid domain label")
            continue
        if any(unicodedata.category(ch)[0] in "CZ" for ch in label):
            raise _invalid(text, what, "the domain contains a space or control character")
        try:
            label.encode("idna")
        except UnicodeError:
            raise _invalid(
                text, what, f"{label!r} is not a valid internationalized label"
            ) from None


def _parse_addr_spec(spec: str, text: str, what: str) -> tuple[str, str]:
    if not spec:
        raise _invalid(text, what, "it is empty")
    quoted = _QUOTED_LOCAL.match(spec)
    if quoted:
        local = re.sub(r"\\(.)", r"\1", quoted.group(1))
        rest = spec[quoted.end() :]
    else:
        atom = _DOT_ATOM.match(spec)
        local = atom.group(0) if atom else ""
        rest = spec[len(local) :]
    if not rest.startswith("@"):
        if "@" not in spec:
            raise _invalid(text, what, "there is no '@'")
        bad = rest[:1] or spec[:1]
        raise _invalid(text, what, f"unexpected {bad!r} in the local part")
    if not local:
        raise _invalid(text, what, "the part before '@' is missing")
    if any(unicodedata.category(ch)[0] in "CZ" and ch != " " for ch in local):
        raise _invalid(text, what, "the local part contains a control or non-ASCII space character")
    domain = rest[1:]
    _check_domain(domain, text, what)
    if len(local.encode("utf-8")) > 64:
        raise _invalid(text, what, "the part before '@' is longer than 64 octets")
    if len(f"{local}@{domain}".encode()) > 254:
        raise _invalid(text, what, "the address is longer than 254 octets")
    return local, domain


def parse_mailbox(text: str, *, what: str) -> Mailbox:
    """Parse exactly one mailbox: `a@b.example` or `Name <a@b.example>`."""
    if not isinstance(text, str):
        raise MessageError(f"{what}: expected an address string, got {type(text).__name__}")
    check_header_text(text, what)
    marks = _scan(text, "<>,;:")
    for _, mark in marks:
        if mark == "unterminated":
            raise _invalid(text, what, "a quote, parenthesis or '<' is not closed")
        if mark in ",;":
            raise _invalid(text, what, f"{mark!r} separates addresses; give one address here")
        if mark == ":":
            raise _invalid(text, what, "':' is not allowed (group syntax); quote the display name")
    angles = [index for index, mark in marks if mark == "<"]
    if len(angles) > 1:
        raise _invalid(text, what, "it contains more than one <...>")
    if angles:
        start = angles[0]
        end = next(index for index, mark in marks if mark == ">" and index > start)
        trailer = _strip_comments(text[end + 1 :]).strip()
        if trailer:
            raise _invalid(text, what, f"unexpected {trailer!r} after '>'")
        spec = text[start + 1 : end].strip()
        if spec.startswith("@"):
            raise _invalid(text, what, "source routes (<@host:...>) are not supported")
        display = _display_name(text[:start], what)
    else:
        spec = _strip_comments(text).strip()
        display = ""
    local, domain = _parse_addr_spec(spec, text, what)
    return Mailbox(display, local, domain)


def parse_address_list(text: str, *, what: str, allow_groups: bool = False) -> list[Mailbox]:
    """Parse comma-separated mailboxes (zero or more); groups are flattened if allowed."""
    if not isinstance(text, str):
        raise MessageError(f"{what}: expected an address string, got {type(text).__name__}")
    check_header_text(text, what)
    items: list[str] = []
    start = 0
    in_group = False
    for index, mark in [*_scan(text, ",;:"), (len(text), "end")]:
        if mark == "unterminated":
            raise _invalid(text, what, "a quote, parenthesis or '<' is not closed")
        if mark == ":":
            if not allow_groups:
                raise _invalid(
                    text, what, "':' is not allowed (group syntax); quote the display name"
                )
            if in_group:
                raise _invalid(text, what, "groups cannot be nested")
            in_group = True
        elif mark == ";" and not in_group:
            raise _invalid(text, what, "';' does not separate addresses, ',' does")
        else:
            items.append(text[start:index])
            in_group = in_group and mark != ";"
        start = index + 1
    mailboxes = []
    for item in items:
        if _strip_comments(item).strip():
            try:
                mailboxes.append(parse_mailbox(item.strip(), what=what))
            except InvalidAddressError as exc:
                if len(items) == 1 or "@" in item or "\uff20" in item:
                    raise
                # "Doe, John <john@example.com>" split at its comma leaves "Doe" on its own.
                raise InvalidAddressError(
                    f"{exc.message} (in {text!r}, split at its commas)",
                    hint='quote a display name that holds a comma: "Doe, John" <john@example.com>',
                ) from None
    return mailboxes


def parse_addresses(value: str | Sequence[str] | None, *, what: str) -> list[Mailbox]:
    """Recipients given to the API: None, one string holding an address list, or a sequence
    of strings holding exactly one mailbox each."""
    if value is None:
        return []
    if isinstance(value, str):
        return parse_address_list(value, what=what)
    if not isinstance(value, Sequence):
        raise MessageError(
            f"{what}: expected a string or a list of strings, got {type(value).__name__}"
        )
    return [parse_mailbox(item, what=what) for item in value]


def dedupe_addresses(addresses: Iterable[str]) -> list[str]:
    """Drop repeats compared case-insensitively, keeping the first spelling and the order."""
    seen: set[str] = set()
    unique: list[str] = []
    for address in addresses:
        key = address.casefold()
        if key not in seen:
            seen.add(key)
            unique.append(address)
    return unique
