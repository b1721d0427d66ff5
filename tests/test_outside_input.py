"""Every parser of outside input allows only the library's typed errors.

Token files, GMAIL_SEND_* JSON variables, client secrets, the server's XOAUTH2 challenge, the
Gmail API's answers and IMAP's replies to the Sent Mail lookup come from outside: arbitrary
text, arbitrary JSON structures and absurdly deep nesting must end in a `ConfigurationError`
(or, for the challenge, an undecoded challenge; for an API answer, one of the library's errors;
for an IMAP reply, `IMAPReplyError`), never in a bare RecursionError, TypeError, KeyError or
ValueError. tests/test_imap_hostile.py feeds arbitrary IMAP replies to a whole lookup.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gmail_send import ConfigurationError, GmailSendError, OAuth2Credentials, from_env
from gmail_send.api._errors import error_for_answer, parse_retry_after, parse_send_answer
from gmail_send.auth._consent import load_client_config
from gmail_send.auth._token_file import read_token_file
from gmail_send.auth._xoauth2 import parse_xoauth2_challenge
from gmail_send.imap._wire import (
    IMAPReplyError,
    check_message_id,
    parse_list,
    parse_search,
    quote,
    refusal_of,
    safe_text,
)

from .local_helpers import ACCOUNT

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DEEP = ["[" * 100_000, "{" + '"a":{' * 50_000, '{"token": ' + "[" * 100_000 + "]" * 100_000 + "}"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
token_like = st.fixed_dictionaries(
    {},
    optional={
        key: json_values
        for key in (
            "refresh_token",
            "client_id",
            "client_secret",
            "token",
            "token_uri",
            "expiry",
            "account",
            "scopes",
            "installed",
            "type",
            "private_key",
            "client_email",
        )
    },
)
outside_text = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    token_like.map(json.dumps),
    st.sampled_from(DEEP),
)


def _file(text: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="gmail-send-outside-"))
    path = folder / "input.json"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


@SETTINGS
@given(outside_text)
def test_token_files(text: str) -> None:
    path = _file(text)
    with contextlib.suppress(ConfigurationError):
        read_token_file(path)
    with contextlib.suppress(ConfigurationError):
        OAuth2Credentials.from_file(path)


@SETTINGS
@given(outside_text)
def test_token_json_and_service_account_json_variables(text: str) -> None:
    for name in ("GMAIL_SEND_TOKEN_JSON", "GMAIL_SEND_SERVICE_ACCOUNT_JSON"):
        with contextlib.suppress(ConfigurationError):
            from_env({"GMAIL_SEND_USER": ACCOUNT, name: text})


@SETTINGS
@given(outside_text)
def test_client_secrets(text: str) -> None:
    with pytest.raises(ConfigurationError):
        load_client_config(_file(text))


@SETTINGS
@given(st.one_of(outside_text, st.binary(max_size=100).map(lambda b: b.decode("latin-1"))))
def test_xoauth2_challenge_never_fails(text: str) -> None:
    for payload in (text, base64.b64encode(text.encode("utf-8")).decode("ascii")):
        challenge = parse_xoauth2_challenge(payload)
        assert isinstance(challenge.hint, str)


google_like = st.fixed_dictionaries(
    {
        "error": st.fixed_dictionaries(
            {},
            optional={
                "code": json_values,
                "message": json_values,
                "status": json_values,
                "errors": st.lists(
                    st.fixed_dictionaries(
                        {}, optional={"reason": json_values, "message": json_values}
                    )
                    | json_values,
                    max_size=3,
                ),
                "details": json_values,
            },
        )
        | json_values
    }
)


@SETTINGS
@given(
    st.one_of(
        outside_text.map(str.encode),
        google_like.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
    ),
    st.integers(min_value=100, max_value=599),
    st.one_of(st.none(), st.text(max_size=40)),
    st.booleans(),
)
def test_gmail_api_answers_become_typed_errors(
    body: bytes, status: int, retry_after: str | None, body_sent: bool
) -> None:
    headers = {} if retry_after is None else {"retry-after": retry_after}
    error = error_for_answer(
        status, body, headers, sent_at=1.0 if body_sent else None, message_id="<a@b>"
    )
    assert isinstance(error, GmailSendError)
    assert error.api_reply is not None and error.code == status
    assert isinstance(str(error), str) and len(error.api_reply.message) <= 500
    asked = getattr(error, "retry_after", None)
    assert asked is None or 0 <= asked <= 24 * 3600
    assert parse_send_answer(body) is not None
    waited = parse_retry_after(retry_after, body.decode("utf-8", "replace"))
    assert waited is None or 0 <= waited <= 24 * 3600


@pytest.mark.parametrize("text", DEEP)
def test_deep_nesting_is_a_configuration_error(text: str) -> None:
    with pytest.raises(ConfigurationError, match="token file"):
        read_token_file(_file(text))
    with pytest.raises(ConfigurationError, match="GMAIL_SEND_TOKEN_JSON"):
        from_env({"GMAIL_SEND_USER": ACCOUNT, "GMAIL_SEND_TOKEN_JSON": text})
    with pytest.raises(ConfigurationError, match="client secrets"):
        load_client_config(_file(text))
    challenge = parse_xoauth2_challenge(base64.b64encode(text.encode()).decode())
    assert challenge.status is None
    error = error_for_answer(500, text.encode(), {}, sent_at=1.0, message_id="<a@b>")
    assert error.api_reply is not None and error.api_reply.reason is None


# -- IMAP replies (the Sent Mail lookup) and the Message-IDs it is asked for ---------------------


@SETTINGS
@given(
    st.one_of(
        st.binary(max_size=80),
        st.tuples(st.binary(max_size=60), st.binary(max_size=20)),
        st.builds(
            lambda attrs, name: b"(" + attrs + b') "/" ' + name,
            st.binary(max_size=20),
            st.binary(max_size=30),
        ),
    )
)
def test_list_replies_parse_or_raise_a_typed_error(item: bytes | tuple[bytes, bytes]) -> None:
    try:
        mailbox = parse_list(item)
    except IMAPReplyError:
        return
    assert mailbox.name and mailbox.name.isascii()
    assert all(ch.isprintable() for ch in mailbox.name)


@SETTINGS
@given(st.lists(st.one_of(st.none(), st.binary(max_size=40)), max_size=4))
def test_search_replies_parse_or_raise_a_typed_error(data: list[bytes | None]) -> None:
    try:
        numbers = parse_search(data)
    except IMAPReplyError:
        return
    assert all(number > 0 for number in numbers)


@SETTINGS
@given(st.text(max_size=120))
def test_texts_from_servers_and_callers_never_fail_untyped(text: str) -> None:
    assert refusal_of(text) in ("imap_disabled", "app_password", "credentials")
    cleaned = safe_text(text)
    assert "\r" not in cleaned and "\n" not in cleaned and len(cleaned) <= 303
    try:
        wanted = check_message_id(text)
    except ValueError:
        return
    try:
        quoted = quote(wanted)
    except ValueError:
        assert not wanted.isascii()
        return
    assert re.fullmatch(r'"([^"\\]|\\.)*"', quoted)
