"""IMAP's modified UTF-7 for mailbox names (RFC 3501 5.1.3), as the local Gmail puts them on
the wire: `[Gmail]/送信済みメール` is `[Gmail]/&kAFP4W4IMH8wojDrMFEw,TDr-`.

Printable ASCII stands for itself, except `&`, written `&-`; any other run of characters is
UTF-16BE in base64 with `,` for `/` and no padding, between `&` and `-`.
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["decode_mailbox_name", "encode_mailbox_name"]


def _printable(char: str) -> bool:
    return "\x20" <= char <= "\x7e"


def _shifted(run: str) -> str:
    data = base64.b64encode(run.encode("utf-16-be")).decode("ascii")
    return "&" + data.rstrip("=").replace("/", ",") + "-"


def encode_mailbox_name(name: str) -> str:
    """A mailbox name as IMAP sends it.

    Args:
        name: the name in Unicode, e.g. "[Gmail]/送信済みメール".
    """
    out: list[str] = []
    run: list[str] = []
    for char in name:
        if not _printable(char):
            run.append(char)
            continue
        if run:
            out.append(_shifted("".join(run)))
            run.clear()
        out.append("&-" if char == "&" else char)
    if run:
        out.append(_shifted("".join(run)))
    return "".join(out)


def decode_mailbox_name(wire: str) -> str:
    """The Unicode name a client's mailbox name stands for; ValueError if it is not modified
    UTF-7 (8-bit or control characters, a bare `&`, bad base64, printable ASCII encoded).

    Args:
        wire: the name as the client sent it.
    """
    out: list[str] = []
    index = 0
    while index < len(wire):
        char = wire[index]
        if not _printable(char):
            raise ValueError(f"not modified UTF-7: {wire!r}")
        if char != "&":
            out.append(char)
            index += 1
            continue
        end = wire.find("-", index + 1)
        if end < 0:
            raise ValueError(f"an '&' without its '-': {wire!r}")
        out.append(_unshift(wire[index + 1 : end], wire))
        index = end + 1
    return "".join(out)


def _unshift(encoded: str, wire: str) -> str:
    if not encoded:
        return "&"
    padded = encoded.replace(",", "/") + "=" * (-len(encoded) % 4)
    try:
        data = base64.b64decode(padded, validate=True)
        text = data.decode("utf-16-be")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ValueError(f"bad modified base64 in {wire!r}") from error
    if "/" in encoded or any(_printable(char) for char in text):
        raise ValueError(f"not modified UTF-7: {wire!r}")
    if _shifted(text) != f"&{encoded}-":  # trailing bits that are not zero
        raise ValueError(f"bad modified base64 in {wire!r}")
    return text
