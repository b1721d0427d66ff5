"""Sign-in failures come back typed, with Gmail's reply, the decoded XOAUTH2 reason and a hint."""

from __future__ import annotations

import pytest

from gmail_send import (
    AppPassword,
    AuthenticationError,
    GmailSender,
    LoginThrottledError,
    OAuth2Token,
    TokenFunction,
    send,
)
from gmail_send.smtp._replies import find_rule, parse_reply
from gmail_send.testing import LocalGmail

from .local_helpers import ACCESS_TOKEN, ACCOUNT, NORMAL_PASSWORD


async def _send(gmail: LocalGmail, credentials: object) -> None:
    await send(
        credentials,  # type: ignore[arg-type]
        host=gmail.host,
        port=gmail.port,
        tls_context=gmail.client_tls_context(),
        to="you@example.com",
        subject="x",
        text="x",
    )


async def test_wrong_app_password_is_535_with_hint(gmail: LocalGmail) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await _send(gmail, AppPassword(ACCOUNT, "wrongwrongwrongw"))
    error = caught.value
    assert (error.code, error.enhanced_code) == (535, "5.7.8")
    assert error.hint and "16-letter app password" in error.hint
    assert "not the account's normal password" in error.hint
    assert "gmail-send doctor" in error.hint
    assert "BadCredentials" in (error.server_message or "")
    assert gmail.messages == []


async def test_normal_password_is_534_app_password_required(gmail: LocalGmail) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await _send(gmail, AppPassword(ACCOUNT, NORMAL_PASSWORD))
    error = caught.value
    assert (error.code, error.enhanced_code) == (534, "5.7.9")
    assert error.hint and "apppasswords" in error.hint
    assert "gmail-send doctor" in error.hint


def test_a_password_not_shaped_like_an_app_password_is_warned_about_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING", logger="gmail_send.auth"):
        AppPassword("shape@gmail.com", "correct horse battery")
        AppPassword("shape@gmail.com", "correct horse battery")
        AppPassword("shape@gmail.com", "abcd efgh ijkl mnop")  # the real shape: no warning
    warnings = [r for r in caplog.records if getattr(r, "event", None) == "app_password_shape"]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "16-letter app password, not the account password" in text
    assert "gmail-send doctor" in text
    assert "correct horse" not in caplog.text  # the password itself never


async def test_one_login_attempt_only(gmail: LocalGmail) -> None:
    with pytest.raises(AuthenticationError):
        await _send(gmail, AppPassword(ACCOUNT, "wrongwrongwrongw"))
    assert len(gmail.auth_attempts) == 1


async def test_xoauth2_failure_carries_decoded_challenge(gmail: LocalGmail) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await _send(gmail, OAuth2Token(ACCOUNT, "ya29.not-a-token-gmail-knows"))
    error = caught.value
    assert (error.code, error.enhanced_code) == (535, "5.7.8")
    assert error.oauth_status in ("400", "401")
    assert error.oauth_scope == "https://mail.google.com/"
    assert error.hint
    # The decoded reason is in the text too, not only in attributes.
    assert f"the XOAUTH2 challenge said status {error.oauth_status}" in str(error)
    assert "scope https://mail.google.com/" in str(error)
    # Gmail rejected the fixed token. It cannot be replaced, so it is not tried a second time:
    # every failed login counts toward Gmail's throttle.
    assert len(gmail.auth_attempts) == 1
    assert len(gmail.sessions) == 1
    assert "the token source had no other token" in error.message


async def test_rejected_token_refreshed_once_then_accepted(gmail: LocalGmail) -> None:
    calls: list[bool] = []

    async def tokens(force_refresh: bool) -> str:
        calls.append(force_refresh)
        return ACCESS_TOKEN if force_refresh else "ya29.stale"

    async with GmailSender(
        TokenFunction(ACCOUNT, tokens),
        host=gmail.host,
        port=gmail.port,
        tls_context=gmail.client_tls_context(),
    ) as sender:
        result = await sender.send(to="you@example.com", subject="x", text="x")
    assert result.auth_method == "xoauth2"
    assert calls[:2] == [False, True]
    assert len(gmail.messages) == 1


async def test_token_source_failure_is_a_typed_error(gmail: LocalGmail) -> None:
    async def broken(force_refresh: bool) -> str:
        raise RuntimeError("boom")

    with pytest.raises(AuthenticationError, match="token source failed"):
        await _send(gmail, TokenFunction(ACCOUNT, broken))
    assert gmail.auth_attempts == []


async def test_too_many_login_attempts(gmail: LocalGmail) -> None:
    rule = find_rule(parse_reply(454, "4.7.0 Too many login attempts"))
    assert rule is not None
    gmail.inject("auth", rule)
    with pytest.raises(LoginThrottledError) as caught:
        await _send(gmail, AppPassword(ACCOUNT, "abcdefghijklmnop"))
    assert caught.value.retryable is False
    assert caught.value.hint and "reuse one connection" in caught.value.hint
