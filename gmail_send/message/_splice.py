"""Large bodies go straight into the wire bytes: one copy of the body, not three.

The stdlib keeps an attachment's base64 text in the message object (as long as the wire form
itself), then serializing copies it again through a buffer. For an attachment of `SPLICE_AT`
bytes or more, `compose_message` instead puts a one-line placeholder in the message object,
serializes that small skeleton, and `splice()` writes the real base64 lines in the
placeholder's place, into a buffer of the final size allocated once. The lines are exactly what
the stdlib writes for the same policy (57 bytes, 76 characters, per line), so the result is the
message the stdlib would have produced. `prepare_message` does the same with the large
payloads of a ready message's copy (`TextSplice`: their text, line ends made CRLF), so
flattening it never splits them into lists of lines.
"""

from __future__ import annotations

import base64
import io
import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

__all__ = [
    "SPLICE_AT",
    "AnySplice",
    "Splice",
    "TextSplice",
    "longest_line",
    "longest_text_line",
    "splice",
    "spliced_size",
]

SPLICE_AT = 64 * 1024
"""Attachments from this many bytes on are spliced in; smaller ones stay in the message object."""

_BYTES_PER_LINE = 57
"""What the stdlib puts on a base64 line for a max_line_length of 78: 76 characters."""
_BLOCK = _BYTES_PER_LINE * 1024
_WINDOW = 1 << 20
_TEXT_WINDOW = 1 << 16
_TEXT_BREAKS = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Splice:
    """Raw bytes to write base64-encoded where the skeleton holds the line `token`."""

    data: bytes = field(repr=False)
    token: bytes = field(
        default_factory=lambda: b"gmail-send-splice-" + secrets.token_hex(16).encode()
    )

    @property
    def placeholder(self) -> str:
        """The payload to give the message part instead of the encoded data."""
        return self.token.decode("ascii") + "\n"

    @property
    def size(self) -> int:
        """The encoded size, CRLF line ends included."""
        lines, rest = divmod(len(self.data), _BYTES_PER_LINE)
        return lines * 78 + (4 * -(-rest // 3) + 2 if rest else 0)

    def write_into(self, out: io.BytesIO) -> None:
        view = memoryview(self.data)
        for start in range(0, len(view), _BLOCK):
            out.write(base64.encodebytes(view[start : start + _BLOCK]).replace(b"\n", b"\r\n"))


@dataclass(frozen=True)
class TextSplice:
    """A part's payload text (ASCII, no line over 998) to write where the skeleton holds the
    line `token`, its line ends made CRLF as the stdlib's generator makes them."""

    text: str = field(repr=False)
    token: bytes = field(
        default_factory=lambda: b"gmail-send-splice-" + secrets.token_hex(16).encode()
    )

    @property
    def placeholder(self) -> str:
        return self.token.decode("ascii") + "\n"

    @property
    def size(self) -> int:
        text = self.text
        crlf = text.count("\r\n")
        return len(text) + (text.count("\n") - crlf) + (text.count("\r") - crlf)

    def write_into(self, out: io.BytesIO) -> None:
        for piece in _pieces(self.text):
            raw = piece.encode("ascii").replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            out.write(raw.replace(b"\n", b"\r\n"))


def _pieces(text: str) -> Iterator[str]:
    """`text` in windows that never split a CR from the LF after it."""
    position = 0
    while position < len(text):
        end = position + _TEXT_WINDOW
        if text[end - 1 : end] == "\r":
            end += 1
        yield text[position:end]
        position = end


def longest_text_line(text: str) -> int:
    """The longest line of `text` as the stdlib's generator breaks it (at CR, LF or CRLF)."""
    return max(max(map(len, _TEXT_BREAKS.split(piece)), default=0) for piece in _pieces(text))


AnySplice = Splice | TextSplice


def spliced_size(skeleton: bytes, splices: Sequence[AnySplice]) -> int:
    """The size of `splice(skeleton, splices)`, without building it."""
    return len(skeleton) + sum(s.size - len(s.token) - 2 for s in splices)


def splice(skeleton: bytes, splices: Sequence[AnySplice]) -> bytes:
    """`skeleton` with each placeholder line replaced by its splice's lines (in order)."""
    size = spliced_size(skeleton, splices)
    out = io.BytesIO()
    out.seek(size - 1)
    out.write(b"\0")  # the buffer, at its final size, allocated once
    out.seek(0)
    view = memoryview(skeleton)
    position = 0
    for each in splices:
        at = skeleton.index(each.token + b"\r\n", position)
        out.write(view[position:at])
        each.write_into(out)
        position = at + len(each.token) + 2
    out.write(view[position:])
    if out.tell() != size:  # pragma: no cover - the sizes are computed from the same rules
        raise AssertionError("spliced message has the wrong size")
    # CPython's BytesIO hands its buffer over when it is exactly filled: no second copy.
    return out.getvalue()


def longest_line(data: bytes, start: int = 0) -> int:
    """The longest line of `data` from `start` on, CRLF not counted, in bounded memory."""
    longest = 0
    position = start
    size = len(data)
    while position < size:
        limit = min(position + _WINDOW, size)
        end = data.rfind(b"\r\n", position, limit) if limit < size else size
        if end < 0:  # no line end in the window: one line longer than it
            end = data.find(b"\r\n", limit)
            end = size if end < 0 else end
            longest = max(longest, end - position)
        else:
            longest = max(longest, *map(len, data[position:end].split(b"\r\n")))
        position = end + 2
    return longest
