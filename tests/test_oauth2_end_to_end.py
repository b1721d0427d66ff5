"""The whole OAuth2 path: token file -> local token endpoint -> XOAUTH2 at the local Gmail.

The local Gmail accepts only access tokens the local token endpoint issued (`exclusive`), so
every successful send below went through a real refresh grant or a token it minted.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gmail_send import AuthenticationError, OAuth2Token, TokenError, send
from gmail_send.auth import OAuth2Credentials
from gmail_send.testing import LocalGmail, LocalTokenEndpoint

from .local_helpers import ACCESS_TOKEN, ACCOUNT


@pytest.fixture
async def endpoint(gmail: LocalGmail) -> AsyncIterator[LocalTokenEndpoint]:
    async with LocalTokenEndpoint(gmail=gmail, exclusive=True) as server:
        yield server


async def _send(gmail: LocalGmail, credentials: object, subject: str = "hello") -> None:
    await send(
        credentials,  # type: ignore[arg-type]
        host=gmail.host,
        port=gmail.port,
        tls_context=gmail.client_tls_context(),
        to="you@example.com",
        subject=subject,
        text="sent with a refreshed token",
    )


async def test_only_tokens_from_the_endpoint_are_accepted(
    gmail: LocalGmail, endpoint: LocalTokenEndpoint, tmp_path: Path
) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await _send(gmail, OAuth2Token(ACCOUNT, ACCESS_TOKEN))  # known to the server's list only
    assert caught.value.code == 535
    path = tmp_path / "token.json"
    endpoint.issue_token_file(path, ACCOUNT)
    await _send(gmail, OAuth2Credentials.from_file(path))
    assert len(gmail.messages) == 1
    assert gmail.messages[0].session_user == ACCOUNT
    assert endpoint.refresh_count == 1


async def test_expired_token_refreshes_and_sends(
    gmail: LocalGmail, endpoint: LocalTokenEndpoint, tmp_path: Path
) -> None:
    path = tmp_path / "token.json"
    old = endpoint.issue_token_file(path, ACCOUNT, access_token_lifetime=-60)
    await _send(gmail, OAuth2Credentials.from_file(path))
    assert endpoint.refresh_count == 1
    assert len(gmail.messages) == 1
    assert json.loads(path.read_text())["token"] != old["token"]


async def test_token_rejected_mid_life_forces_one_refresh(
    gmail: LocalGmail, endpoint: LocalTokenEndpoint
) -> None:
    info = endpoint.token_info(ACCOUNT, access_token_lifetime=3000)
    gmail.revoke_access_token(info["token"])  # looks valid here, Gmail says 535
    credentials = OAuth2Credentials.from_info(info)
    await _send(gmail, credentials)
    assert endpoint.refresh_count == 1
    assert len(gmail.messages) == 1
    assert [a.success for a in gmail.auth_attempts] == [False, True]


async def test_revoked_refresh_token_fails_with_the_invalid_grant_hint(
    gmail: LocalGmail, endpoint: LocalTokenEndpoint
) -> None:
    info = endpoint.token_info(ACCOUNT, access_token_lifetime=-60)
    endpoint.revoke(info["refresh_token"])
    with pytest.raises(TokenError) as caught:
        await _send(gmail, OAuth2Credentials.from_info(info))
    error = caught.value
    assert "invalid_grant" in error.message
    assert error.hint is not None and "Testing" in error.hint and "7 days" in error.hint
    assert gmail.messages == []
    for secret in (info["refresh_token"], info["client_secret"], info["token"]):
        assert secret not in str(error)


async def test_100_concurrent_sends_with_an_expired_token_one_refresh(
    gmail: LocalGmail, endpoint: LocalTokenEndpoint
) -> None:
    endpoint.delay = 0.1
    credentials = OAuth2Credentials.from_info(
        endpoint.token_info(ACCOUNT, access_token_lifetime=-60)
    )
    await asyncio.gather(*(_send(gmail, credentials, f"message {n}") for n in range(100)))
    assert endpoint.refresh_count == 1
    assert len(gmail.messages) == 100


async def test_100_concurrent_sends_rejected_mid_life_one_refresh(
    gmail: LocalGmail, endpoint: LocalTokenEndpoint
) -> None:
    info = endpoint.token_info(ACCOUNT, access_token_lifetime=3000)
    gmail.revoke_access_token(info["token"])
    credentials = OAuth2Credentials.from_info(info)
    await asyncio.gather(*(_send(gmail, credentials, f"message {n}") for n in range(100)))
    assert endpoint.refresh_count == 1
    assert len(gmail.messages) == 100
