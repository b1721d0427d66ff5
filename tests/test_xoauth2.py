"""The XOAUTH2 SASL string and the decoding of Gmail's 334 challenge."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gmail_send.auth._xoauth2 import MAIL_SCOPE, build_xoauth2, parse_xoauth2_challenge


def test_matches_googles_documented_example() -> None:
    # From Google's XOAUTH2 protocol page.
    blob = build_xoauth2("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")
    assert blob == (
        "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRj"
        "Mk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
    )


@given(
    user=st.emails(),
    token=st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=200
    ),
)
def test_round_trip(user: str, token: str) -> None:
    decoded = base64.b64decode(build_xoauth2(user, token)).decode()
    assert decoded == f"user={user}\x01auth=Bearer {token}\x01\x01"


@pytest.mark.parametrize("bad", ["a\x01b", "a\r\nb", "a\nb", "a\x00b"])
def test_control_characters_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="control characters"):
        build_xoauth2("me@gmail.com", bad)
    with pytest.raises(ValueError, match="control characters"):
        build_xoauth2(bad, "token")


def _challenge(payload: object) -> str:
    return base64.b64encode(json.dumps(payload).encode()).decode()


def test_gmail_challenge_decoded() -> None:
    challenge = parse_xoauth2_challenge(
        _challenge({"status": "400", "schemes": "Bearer", "scope": MAIL_SCOPE})
    )
    assert (challenge.status, challenge.schemes, challenge.scope) == ("400", "Bearer", MAIL_SCOPE)
    assert MAIL_SCOPE in challenge.hint


def test_wrong_scope_named_in_hint() -> None:
    scope = "https://www.googleapis.com/auth/gmail.send"
    challenge = parse_xoauth2_challenge(_challenge({"status": "400", "scope": scope}))
    assert "lacks" in challenge.hint and scope in challenge.hint


def test_expired_token_hint() -> None:
    challenge = parse_xoauth2_challenge(_challenge({"status": "401", "scope": MAIL_SCOPE}))
    assert "expired or revoked" in challenge.hint


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "not base64!",
        base64.b64encode(b"[1, 2]").decode(),
        base64.b64encode(b"\xff\xfe").decode(),
    ],
)
def test_garbage_never_raises(payload: str) -> None:
    challenge = parse_xoauth2_challenge(payload)
    assert challenge.status is None
    assert challenge.hint
