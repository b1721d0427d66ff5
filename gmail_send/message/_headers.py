"""Header text for composed messages: RFC 2047 encoded words, folding, RFC 2231 filenames, and
the checks that keep a header value from forging header lines.

Why not leave this to the stdlib: its modern policy always re-encodes header text as UTF-8 (so
ISO-2022-JP headers are impossible), its folding differs between Python 3.10 and 3.13, and some
versions write an encoded word that decodes to CR LF back out as a raw line break. The few headers
that carry user text are composed here and stored with `Message.set_raw`, which the generator
writes out unchanged (policy `refold_source="none"`), so the bytes are the same on every version.

Encoded words always use the "B" encoding with the charset label in lower case
(`=?utf-8?b?...?=`, `=?iso-2022-jp?b?...?=`); each word holds whole characters and, for
ISO-2022-JP, starts and ends in ASCII mode, as RFC 1468 requires.
"""

from __future__ import annotations

import base64
import re
import unicodedata
import urllib.parse
from collections.abc import Iterable
from typing import Literal

from ..errors import HeaderInjectionError, MessageError

__all__ = [
    "FOLD_WIDTH",
    "MAX_LINE_OCTETS",
    "HeaderCharset",
    "check_encoded_words",
    "check_field_name",
    "check_header_text",
    "check_source_header_value",
    "encode_strict",
    "encode_unstructured",
    "format_address_header",
    "format_disposition",
    "format_raw_header",
    "is_printable_ascii",
]

HeaderCharset = Literal["utf-8", "iso-2022-jp"]

FOLD_WIDTH = 76
"""Target width of a folded header line (RFC 2047 limits lines holding encoded words to 76)."""

MAX_LINE_OCTETS = 998
"""RFC 5322's hard limit for a line, CRLF not counted."""

# CR, LF and NUL forge lines on the wire; the others are line boundaries for str.splitlines(),
# which the stdlib's generator uses on raw header values (so "a\x0bBcc: x" would become a line).
_LINE_BREAKERS = "\r\n\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_FORBIDDEN_IN_TEXT = re.compile(r"[\r\n\x00]")
_FIELD_NAME = re.compile(r"[!-9;-~]+")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_Q_ESCAPE = re.compile(r"=([0-9A-Fa-f]{2})")
_PRINTABLE_ASCII = re.compile(r"[ -~]*")
_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
# A line break inside a stored (source) value is only legitimate as folding: followed by
# whitespace and then something visible on the same line.
_BAD_SOURCE_BREAK = re.compile(r"(?:\r\n|\r(?!\n)|\n)(?![ \t]+[^ \t\r\n])")
_RFC2231_SAFE = "!#$&+-.^_`|~"


def _shorten(value: str, limit: int = 80) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


def check_header_text(value: str, what: str) -> None:
    """Refuse CR, LF or NUL in text that will end up in a header (subject, name, address...)."""
    if _FORBIDDEN_IN_TEXT.search(value):
        raise HeaderInjectionError(
            f"{what} contains a line break or NUL character: {_shorten(value)}",
            hint="header values must be a single line; remove CR, LF and NUL characters",
        )


def check_encoded_words(value: str, what: str) -> None:
    """Refuse an RFC 2047 encoded word that a reader would decode to CR, LF or NUL.

    For values written as given (custom headers, a ready message's headers): text that
    gmail_send encodes itself (subject, display names) carries such a word only literally.
    """
    if "=?" in value and any(_FORBIDDEN_IN_TEXT.search(w) for w in _decoded_words(value)):
        raise HeaderInjectionError(
            f"{what} holds an encoded word that decodes to a line break or NUL: {_shorten(value)}",
            hint="a mail program decoding it would see a new header line (e.g. a forged Bcc); "
            "pass the text itself and let gmail_send encode it",
        )


def _decoded_words(value: str) -> Iterable[str]:
    """The text of each RFC 2047 encoded word in `value`, decoded as leniently as readers do."""
    for charset, kind, payload in _ENCODED_WORD.findall(value):
        if kind in "bB":
            try:
                raw = base64.b64decode(payload + "=" * (-len(payload) % 4))
            except ValueError:
                continue
        else:
            raw = _Q_ESCAPE.sub(
                lambda m: bytes([int(m.group(1), 16)]).decode("latin-1"),
                payload.replace("_", " "),
            ).encode("latin-1", errors="replace")
        try:
            yield raw.decode(charset.split("*")[0], errors="replace")
        except LookupError:
            yield raw.decode("latin-1")


def check_source_header_value(value: str, what: str, *, folded_ok: bool) -> None:
    """Check a header value stored in a caller's message object.

    `folded_ok` allows line breaks that are folding (followed by whitespace and text), as the
    legacy parser stores them. Other line boundaries Python recognizes are refused as well.
    """
    bad = any(ch in value for ch in _LINE_BREAKERS[2:])
    if folded_ok:
        bad = bad or _BAD_SOURCE_BREAK.search(value) is not None
    else:
        bad = bad or "\r" in value or "\n" in value
    if bad:
        raise HeaderInjectionError(
            f"header {what} holds a line break that would start a new header line: "
            f"{_shorten(value)}",
            hint="a header value must be one line; this is how extra headers (e.g. Bcc) are forged",
        )


def check_field_name(name: str) -> None:
    """A header field name must be printable ASCII without spaces or colons (RFC 5322 2.2)."""
    if not _FIELD_NAME.fullmatch(name):
        raise HeaderInjectionError(
            f"{_shorten(name)} is not a valid header field name",
            hint="field names are printable ASCII characters except space and ':'",
        )


def is_printable_ascii(text: str) -> bool:
    return _PRINTABLE_ASCII.fullmatch(text) is not None


def encode_strict(text: str, charset: HeaderCharset, what: str) -> bytes:
    """Encode `text` in `charset`, refusing (never replacing) characters it cannot hold."""
    try:
        return text.encode(charset)
    except UnicodeEncodeError as exc:
        char = exc.object[exc.start]
        name = unicodedata.name(char, "unnamed character")
        raise MessageError(
            f"{what}: {char!r} (U+{ord(char):04X} {name}) cannot be encoded as {charset.upper()}",
            hint=(
                'use encoding="utf-8", which every current mail program reads, or replace the '
                "character (ISO-2022-JP has no half-width katakana, circled numbers, "
                "vendor-specific kanji or emoji)"
            ),
        ) from None


class _Folder:
    """Lay tokens out on lines of at most FOLD_WIDTH characters, "Name: " counted."""

    def __init__(self, name: str) -> None:
        self._lines: list[str] = []
        self._current = ""
        self._offset = len(name) + 2

    def room(self) -> int:
        return FOLD_WIDTH - self._offset - len(self._current) - (1 if self._current else 0)

    def newline_if_needed(self, width: int) -> None:
        if self._current and width > self.room():
            self._lines.append(self._current)
            self._current = ""
            self._offset = 1  # the continuation line starts with a space

    def add(self, token: str) -> None:
        if not token:
            # An empty word (two spaces in a row) never starts a line: that line would be blank.
            self._current += " "
            return
        self.newline_if_needed(len(token))
        self._current = f"{self._current} {token}" if self._current else token

    def add_glued(self, token: str) -> None:
        """Append without a separating space (only on the current line)."""
        self._current += token

    def value(self) -> str:
        return "\r\n ".join([*self._lines, self._current])


def _encoded_word(chunk: bytes, charset: HeaderCharset) -> str:
    return f"=?{charset}?b?{base64.b64encode(chunk).decode('ascii')}?="


def _max_chunk_bytes(width: int, charset: HeaderCharset) -> int:
    overhead = len(f"=?{charset}?b??=")
    return max(0, (width - overhead) // 4 * 3)


def _add_encoded_words(folder: _Folder, text: str, charset: HeaderCharset, what: str) -> None:
    """Append `text` as encoded words, each filling what is left of the line (at most 75)."""
    encode_strict(text, charset, what)  # report the first unencodable character up front
    position = 0
    while position < len(text):
        room = min(folder.room(), 75)
        if _max_chunk_bytes(room, charset) < len(text[position].encode(charset)):
            folder.newline_if_needed(FOLD_WIDTH)
            room = min(folder.room(), 75)
        limit = _max_chunk_bytes(room, charset)
        end = position + 1
        chunk = text[position:end].encode(charset)
        while end < len(text):
            longer = text[position : end + 1].encode(charset)
            if len(longer) > limit:
                break
            chunk, end = longer, end + 1
        folder.add(_encoded_word(chunk, charset))
        position = end


def _raw_text_ok(text: str) -> bool:
    """Whether unstructured text can go out as is and parse back to exactly the same string."""
    return is_printable_ascii(text) and "=?" not in text and text == text.strip(" ")


def encode_unstructured(name: str, text: str, charset: HeaderCharset, *, what: str) -> str:
    """Fold unstructured text (Subject, an extra header) for `Message.set_raw`.

    Printable ASCII stays readable; anything else becomes encoded words in `charset`.
    """
    check_header_text(text, what)
    if _raw_text_ok(text):
        folder = _Folder(name)
        for word in text.split(" "):
            folder.add(word)
        value = folder.value()
        if _lines_fit(name, value):
            return value
    folder = _Folder(name)
    _add_encoded_words(folder, text, charset, what)
    return folder.value()


def format_raw_header(name: str, value: str, *, what: str) -> str:
    """Fold a printable-ASCII value at its spaces without changing it (for structured headers)."""
    check_header_text(value, what)
    folder = _Folder(name)
    words = value.split(" ")
    folder.add_glued(words[0])
    for word in words[1:]:
        folder.add(word)
    folded = folder.value()
    if not _lines_fit(name, folded):
        raise MessageError(
            f"{what} is too long to fit a header line of {MAX_LINE_OCTETS} octets",
            hint="shorten the value or put spaces in it where it may be folded",
        )
    return folded


def _lines_fit(name: str, value: str) -> bool:
    lines = f"{name}: {value}".split("\r\n")
    return all(len(line.encode("utf-8")) <= MAX_LINE_OCTETS for line in lines)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _add_display_name(folder: _Folder, name: str, charset: HeaderCharset, what: str) -> None:
    raw_ok = _raw_text_ok(name) and "  " not in name and len(name) <= 64
    if raw_ok and _ATOM_PHRASE.fullmatch(name):
        folder.add(name)
    elif raw_ok:
        folder.add(_quote(name))
    else:
        _add_encoded_words(folder, name, charset, what)


def format_address_header(
    name: str,
    mailboxes: Iterable[tuple[str, str]],
    charset: HeaderCharset,
    *,
    what: str,
) -> str:
    """Fold `(display_name, addr_spec)` pairs as an address list for `Message.set_raw`.

    Display names that are not plain ASCII become encoded words; the addresses themselves are
    written as given (UTF-8 addresses need the SMTPUTF8 serialization).
    """
    folder = _Folder(name)
    items = list(mailboxes)
    for index, (display_name, addr_spec) in enumerate(items):
        separator = "," if index < len(items) - 1 else ""
        if display_name:
            check_header_text(display_name, f"display name in {what}")
            _add_display_name(folder, display_name, charset, f"display name in {what}")
            folder.add(f"<{addr_spec}>{separator}")
        else:
            folder.add(f"{addr_spec}{separator}")
    return folder.value()


def format_disposition(disposition: str, filename: str) -> str:
    """A Content-Disposition value with the filename, RFC 2231 (`filename*=utf-8''...`) if needed.

    Printable ASCII names are quoted as they are; others are percent-encoded UTF-8, split into
    numbered continuations at character boundaries when long (decoders decode each section on
    its own, so a character must not straddle two).
    """
    check_header_text(filename, "attachment filename")
    if is_printable_ascii(filename) and len(filename) <= 900:
        return f"{disposition}; filename={_quote(filename)}"
    pieces = [urllib.parse.quote(ch.encode("utf-8"), safe=_RFC2231_SAFE) for ch in filename]
    sections: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + len(piece) > 60:
            sections.append(current)
            current = ""
        current += piece
    sections.append(current)
    if len(sections) == 1:
        return f"{disposition};\r\n filename*=utf-8''{sections[0]}"
    params = [f"filename*0*=utf-8''{sections[0]}"]
    params += [f"filename*{index}*={section}" for index, section in enumerate(sections[1:], 1)]
    return f"{disposition};\r\n " + ";\r\n ".join(params)
