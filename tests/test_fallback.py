"""OAuth2 first, the app password when the OAuth2 side is broken, OAuth2 again once repaired."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from gmail_send import (
    AppPassword,
    AuthenticationError,
    ConfigurationError,
    Fallback,
    GmailSender,
    OAuth2Credentials,
    OAuth2Token,
    SendResult,
    TokenError,
)
from gmail_send.testing import LocalGmail, LocalTokenEndpoint, TokenVerdict

from .local_helpers import ACCOUNT, APP_PASSWORD


@pytest.fixture
def endpoint(gmail: LocalGmail) -> Iterator[LocalTokenEndpoint]:
    with LocalTokenEndpoint(gmail=gmail, signed_in_user=ACCOUNT) as server:
        yield server


def oauth_for(endpoint: LocalTokenEndpoint) -> OAuth2Credentials:
    return OAuth2Credentials.from_info(endpoint.token_info(ACCOUNT))


async def send_once(gmail: LocalGmail, credentials: object) -> SendResult:
    async with GmailSender(
        credentials,  # type: ignore[arg-type]
        host=gmail.host,
        port=gmail.port,
        tls_context=gmail.client_tls_context(),
    ) as sender:
        return await sender.send(to="you@example.com", subject="x", text="x")


async def test_oauth_used_when_it_works(gmail: LocalGmail, endpoint: LocalTokenEndpoint) -> None:
    fallback = Fallback(oauth_for(endpoint), AppPassword(ACCOUNT, APP_PASSWORD))
    result = await send_once(gmail, fallback)
    assert result.auth_method == "xoauth2"
    assert not fallback.using_fallback


async def test_fallback_after_invalid_grant(
    gmail: LocalGmail, endpoint: LocalTokenEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    info = endpoint.token_info(ACCOUNT)
    endpoint.revoke(info["refresh_token"])
    fallback = Fallback(OAuth2Credentials.from_info(info), AppPassword(ACCOUNT, APP_PASSWORD))
    with caplog.at_level(logging.WARNING, logger="gmail_send"):
        first = await send_once(gmail, fallback)
        second = await send_once(gmail, fallback)
    assert (first.auth_method, second.auth_method) == ("plain", "plain")
    assert isinstance(fallback.last_oauth_error, TokenError)
    assert "invalid_grant" in str(fallback.last_oauth_error)
    warnings = [r for r in caplog.records if getattr(r, "event", None) == "auth_fallback"]
    assert len(warnings) == 1  # one warning, not one per message
    assert endpoint.refresh_count == 1  # OAuth2 rests: not retried on every message
    assert len(gmail.messages) == 2


async def test_fallback_when_endpoint_unreachable_then_oauth_again(
    gmail: LocalGmail, endpoint: LocalTokenEndpoint
) -> None:
    fallback = Fallback(
        oauth_for(endpoint), AppPassword(ACCOUNT, APP_PASSWORD), retry_oauth_after=0.0
    )
    endpoint.down()
    degraded = await send_once(gmail, fallback)
    assert degraded.auth_method == "plain"
    assert fallback.last_oauth_error is not None
    assert "unreachable" in (fallback.last_oauth_error.hint or "")
    endpoint.up()
    recovered = await send_once(gmail, fallback)
    assert recovered.auth_method == "xoauth2"
    assert not fallback.using_fallback
    assert fallback.last_oauth_error is None


async def test_fallback_after_gmail_rejects_xoauth2(
    gmail: LocalGmail, endpoint: LocalTokenEndpoint
) -> None:
    # A cached access token, still valid by its expiry, that Gmail no longer accepts.
    info = endpoint.token_info(ACCOUNT, access_token_lifetime=3000)
    fallback = Fallback(OAuth2Credentials.from_info(info), AppPassword(ACCOUNT, APP_PASSWORD))
    gmail.token_validator = lambda user, token: TokenVerdict.reject("401", "revoked")
    result = await send_once(gmail, fallback)
    assert result.auth_method == "plain"
    xoauth2 = [a for a in gmail.auth_attempts if a.mechanism == "XOAUTH2"]
    assert len(xoauth2) == 2  # the cached token, one forced refresh, then the password
    assert endpoint.refresh_count == 1
    assert isinstance(fallback.last_oauth_error, AuthenticationError)
    assert fallback.last_oauth_error.oauth_status == "401"


async def test_both_failing_raise_the_password_error(
    gmail: LocalGmail, endpoint: LocalTokenEndpoint
) -> None:
    endpoint.down()
    fallback = Fallback(oauth_for(endpoint), AppPassword(ACCOUNT, "wrongwrongwrongw"))
    with pytest.raises(AuthenticationError) as caught:
        await send_once(gmail, fallback)
    assert caught.value.code == 535
    assert "OAuth2 had failed before" in str(caught.value)


async def test_no_fallback_without_app_password(
    gmail: LocalGmail, endpoint: LocalTokenEndpoint
) -> None:
    endpoint.down()
    with pytest.raises(TokenError) as caught:
        await send_once(gmail, oauth_for(endpoint))
    assert caught.value.hint
    assert gmail.auth_attempts == []


def test_fallback_refuses_two_accounts() -> None:
    with pytest.raises(ConfigurationError, match="two accounts"):
        Fallback(OAuth2Token("a@gmail.com", "t"), AppPassword("b@gmail.com", APP_PASSWORD))
    with pytest.raises(ConfigurationError, match="AppPassword"):
        Fallback(OAuth2Token("a@gmail.com", "t"), OAuth2Token("a@gmail.com", "u"))  # type: ignore[arg-type]


async def test_long_lived_sender_returns_to_oauth(
    gmail: LocalGmail, endpoint: LocalTokenEndpoint
) -> None:
    fallback = Fallback(
        oauth_for(endpoint), AppPassword(ACCOUNT, APP_PASSWORD), retry_oauth_after=0.0
    )
    endpoint.down()
    async with GmailSender(
        fallback,
        host=gmail.host,
        port=gmail.port,
        tls_context=gmail.client_tls_context(),
        max_connections=1,
    ) as sender:
        degraded = await sender.send(to="you@example.com", subject="1", text="x")
        endpoint.up()
        # The kept session signed in with the app password is retired, not reused.
        recovered = await sender.send(to="you@example.com", subject="2", text="x")
    assert (degraded.auth_method, recovered.auth_method) == ("plain", "xoauth2")
    # The app-password session, then the new OAuth2 session. (Sign-in asks for the token
    # before connecting, so the OAuth2 try that found no token opened no connection.)
    assert [s.auth_mechanism for s in gmail.sessions] == ["PLAIN", "XOAUTH2"]
