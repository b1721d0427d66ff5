"""Gmail's sender rewriting, applied to a received message's From header.

Gmail does not refuse a sender the account may not use: it replaces the address with the
account's own (keeping the display name) unless it is a verified "Send mail as" alias. The
local server does the same to the stored bytes, touching nothing but that header.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable

__all__ = ["rewrite_from_header"]

_FOLD = re.compile(r"\r?\n(?=[ \t])")


def _header_end(data: bytes) -> int:
    """Index just past the header block's last line break (0 if there is no header block)."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        found = data.find(separator)
        if found != -1:
            return found + len(separator) // 2
    return len(data)


def _find_from(header: bytes) -> tuple[int, int] | None:
    """Start and end (past its line breaks) of the From field, continuation lines included."""
    lines = header.splitlines(keepends=True)
    position = 0
    start = end = None
    for line in lines:
        if start is None:
            if line[:5].lower() == b"from:":
                start, end = position, position + len(line)
        elif line[:1] in (b" ", b"\t"):
            end = position + len(line)
        else:
            break
        position += len(line)
    if start is None or end is None:
        return None
    return start, end


def rewrite_from_header(
    data: bytes, may_send_as: Callable[[str], bool], account: str
) -> tuple[bytes, str | None]:
    """Replace From addresses the account may not send as by `account`.

    Returns the (possibly) new bytes and the original header value, or None when nothing
    changed.
    """
    head_end = _header_end(data)
    found = _find_from(data[:head_end])
    if found is None:
        return data, None
    start, end = found
    field = data[start:end].decode("utf-8", "surrogateescape")
    name, value = field[:5], field[5:]
    unfolded = _FOLD.sub("", value).strip()
    pairs = email.utils.getaddresses([unfolded])
    foreign = [address for _, address in pairs if address and not may_send_as(address)]
    if not foreign:
        return data, None
    new_value = value
    for address in foreign:
        pattern = re.compile(re.escape(address), re.IGNORECASE)
        new_value, count = pattern.subn(lambda _: account, new_value, count=1)
        if count == 0:
            display = next((n for n, a in pairs if a == address), "")
            line_end = "\r\n" if value.endswith("\r\n") else "\n"
            new_value = " " + email.utils.formataddr((display, account), "utf-8") + line_end
            break
    replaced = (name + new_value).encode("utf-8", "surrogateescape")
    return data[:start] + replaced + data[end:], unfolded
