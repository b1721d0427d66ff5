"""IMAP's modified UTF-7 for mailbox names (RFC 3501 5.1.3), as the local Gmail speaks it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gmail_send.testing._imap_utf7 import decode_mailbox_name, encode_mailbox_name


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("INBOX", "INBOX"),
        ("[Gmail]/Sent Mail", "[Gmail]/Sent Mail"),
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501's example
        ("Tom & Jerry", "Tom &- Jerry"),
        ("[Gmail]/送信済みメール", "[Gmail]/&kAFP4W4IMH8w4TD8MOs-"),
        ("😀", "&2D3eAA-"),
    ],
)
def test_names_go_on_the_wire_in_modified_utf7(name: str, wire: str) -> None:
    assert encode_mailbox_name(name) == wire
    assert decode_mailbox_name(wire) == name


@pytest.mark.parametrize(
    "wire",
    [
        "&U,BTFw",  # no closing '-'
        "&AGE-",  # printable ASCII ("a") encoded
        "caf\u00e9",  # 8-bit character
        "a\tb",  # control character
        "&U/BTFw-",  # '/' instead of ','
        "&U,BTFx-",  # non-zero trailing bits
        "&AGEA-",  # an odd number of bytes
    ],
)
def test_malformed_names_are_refused(wire: str) -> None:
    with pytest.raises(ValueError, match=r"UTF-7|base64|'-'"):
        decode_mailbox_name(wire)


@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=30))
def test_any_name_survives_the_round_trip(name: str) -> None:
    wire = encode_mailbox_name(name)
    assert wire.isascii()
    assert all(" " <= char <= "~" for char in wire)
    assert decode_mailbox_name(wire) == name
