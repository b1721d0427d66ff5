"""OAuth2Credentials against a real local token endpoint, through google-auth's own transport."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import stat
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from gmail_send.auth import MAIL_SCOPE, OAuth2Credentials
from gmail_send.errors import ConfigurationError, TokenError
from gmail_send.testing import LocalTokenEndpoint

GMAIL_SEND_SCOPE = "https://www.googleapis.com/auth/gmail.send"


@pytest.fixture
def endpoint() -> Iterator[LocalTokenEndpoint]:
    with LocalTokenEndpoint() as server:
        yield server


def secrets_of(info: dict[str, Any]) -> list[str]:
    return [info[k] for k in ("refresh_token", "client_secret", "token") if info.get(k)]


def assert_no_secret(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text


async def test_refresh_grant_then_cached(endpoint: LocalTokenEndpoint, tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    endpoint.issue_token_file(path, "me@gmail.com")
    credentials = OAuth2Credentials.from_file(path)
    assert credentials.user == "me@gmail.com"
    assert credentials.token_uri == endpoint.token_uri  # not reset to Google's

    token = await credentials.get_token()
    assert token == endpoint.issued_tokens[-1].access_token
    assert await credentials.get_token() == token
    assert endpoint.refresh_count == 1
    assert credentials.expiry is not None
    assert credentials.expiry > datetime.now(timezone.utc) + timedelta(minutes=55)


async def test_refreshed_token_is_written_back(
    endpoint: LocalTokenEndpoint, tmp_path: Path
) -> None:
    path = tmp_path / "token.json"
    original = endpoint.issue_token_file(path, "me@gmail.com")
    data = json.loads(path.read_text())
    data["note"] = "kept"
    path.write_text(json.dumps(data))
    os.chmod(path, 0o644)

    token = await OAuth2Credentials.from_file(path).get_token()

    stored = json.loads(path.read_text())
    assert stored["token"] == token
    assert stored["account"] == "me@gmail.com"
    assert stored["refresh_token"] == original["refresh_token"]
    assert stored["token_uri"] == endpoint.token_uri
    assert stored["note"] == "kept"
    assert stored["expiry"].endswith("Z")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # The written file loads again and its token is used without a refresh.
    again = OAuth2Credentials.from_file(path)
    assert await again.get_token() == token
    assert endpoint.refresh_count == 1


async def test_valid_cached_token_is_used_and_near_expiry_refreshes(
    endpoint: LocalTokenEndpoint,
) -> None:
    fresh = endpoint.token_info("me@gmail.com", access_token_lifetime=3000)
    credentials = OAuth2Credentials.from_info(fresh)
    assert await credentials.get_token() == fresh["token"]
    assert endpoint.refresh_count == 0

    nearly = endpoint.token_info("me@gmail.com", access_token_lifetime=60)
    credentials = OAuth2Credentials.from_info(nearly)
    assert await credentials.get_token() != nearly["token"]
    assert endpoint.refresh_count == 1


async def test_force_refresh_and_its_window(endpoint: LocalTokenEndpoint) -> None:
    info = endpoint.token_info("me@gmail.com", access_token_lifetime=3000)
    credentials = OAuth2Credentials.from_info(info)
    first = await credentials.get_token(force_refresh=True)
    assert first != info["token"]
    # Right after a refresh, forcing again returns that refresh's token.
    assert await credentials.get_token(force_refresh=True) == first
    assert endpoint.refresh_count == 1
    credentials.forced_refresh_window = 0
    second = await credentials.get_token(force_refresh=True)
    assert second not in (first, info["token"])
    assert endpoint.refresh_count == 2


async def test_caller_token_uri_wins_over_the_file(
    endpoint: LocalTokenEndpoint, tmp_path: Path
) -> None:
    info = endpoint.token_info("me@gmail.com")
    info["token_uri"] = "http://127.0.0.1:9/token"  # nothing listens there
    credentials = OAuth2Credentials.from_info(info, token_uri=endpoint.token_uri)
    assert await credentials.get_token()
    assert endpoint.refresh_count == 1


async def test_revoked_refresh_token_explains_invalid_grant(endpoint: LocalTokenEndpoint) -> None:
    info = endpoint.token_info("me@gmail.com")
    endpoint.revoke(info["refresh_token"])
    credentials = OAuth2Credentials.from_info(info)
    with pytest.raises(TokenError) as caught:
        await credentials.get_token()
    error = caught.value
    assert "invalid_grant" in error.message
    assert "Token has been expired or revoked." in error.message
    assert error.hint is not None
    for words in ("Testing", "7 days", "In production", "6 months", "gmail-send auth"):
        assert words in error.hint
    assert_no_secret(str(error) + repr(error), secrets_of(info))
    assert credentials.refresh_stats.failures == 1


async def test_wrong_client_secret_is_invalid_client(endpoint: LocalTokenEndpoint) -> None:
    info = endpoint.token_info("me@gmail.com")
    info["client_secret"] = "GOCSPX-not-the-right-secret"
    with pytest.raises(TokenError) as caught:
        await OAuth2Credentials.from_info(info).get_token()
    assert "invalid_client" in caught.value.message
    assert caught.value.hint is not None and "client secret" in caught.value.hint
    assert_no_secret(str(caught.value), secrets_of(info))


async def test_the_granted_scope_is_known_and_must_be_one_that_sends(
    endpoint: LocalTokenEndpoint,
) -> None:
    info = endpoint.token_info("me@gmail.com", scopes=[GMAIL_SEND_SCOPE])
    credentials = OAuth2Credentials.from_info(info)
    assert credentials.granted_scopes == {GMAIL_SEND_SCOPE}  # from the file, before a refresh
    await credentials.get_token()  # gmail.send sends, through the Gmail API
    assert credentials.granted_scopes == {GMAIL_SEND_SCOPE}  # from the grant

    info = endpoint.token_info("me@gmail.com", scopes=["openid", "email"])
    with pytest.raises(TokenError) as caught:
        await OAuth2Credentials.from_info(info).get_token()
    assert MAIL_SCOPE in caught.value.message
    assert caught.value.hint is not None and "gmail.send" in caught.value.hint

    # Without "scopes" in the file the request names none; the answer's scope is checked.
    info = endpoint.token_info("me@gmail.com", scopes=["openid"])
    del info["scopes"]
    credentials = OAuth2Credentials.from_info(info)
    assert credentials.granted_scopes is None
    with pytest.raises(TokenError, match=re.escape("lacks the https://mail.google.com/ scope")):
        await credentials.get_token()


async def test_unreachable_endpoint_then_recovery(endpoint: LocalTokenEndpoint) -> None:
    credentials = OAuth2Credentials.from_info(endpoint.token_info("me@gmail.com"))
    endpoint.down()
    with pytest.raises(TokenError) as caught:
        await credentials.get_token()
    assert "token endpoint unreachable" in caught.value.message
    assert f"127.0.0.1:{endpoint.port}" in caught.value.message
    endpoint.up()
    assert await credentials.get_token()  # failures are not cached


async def test_transient_503_is_retried_by_google_auth(endpoint: LocalTokenEndpoint) -> None:
    credentials = OAuth2Credentials.from_info(endpoint.token_info("me@gmail.com"))
    endpoint.fail_next(1, status=503)
    assert await credentials.get_token()
    assert endpoint.refresh_count == 2


async def test_read_only_location_warns_once_and_goes_on(
    endpoint: LocalTokenEndpoint, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret_dir = tmp_path / "secret"
    secret_dir.mkdir()
    path = secret_dir / "token.json"
    info = endpoint.issue_token_file(path, "me@gmail.com")
    credentials = OAuth2Credentials.from_file(path)
    credentials.forced_refresh_window = 0
    if os.geteuid() != 0:
        secret_dir.chmod(0o500)  # a mounted secret: readable, not writable
    else:  # root writes anywhere: make the directory vanish instead
        path.unlink()
        secret_dir.rmdir()
    caplog.set_level(logging.DEBUG)
    try:
        assert await credentials.get_token()
        assert await credentials.get_token(force_refresh=True)
    finally:
        if secret_dir.exists():
            secret_dir.chmod(0o700)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "cannot write the refreshed token back" in warnings[0].getMessage()
    assert endpoint.refresh_count == 2
    assert_no_secret(caplog.text, secrets_of(info))


async def test_write_back_false_leaves_the_file_alone(
    endpoint: LocalTokenEndpoint, tmp_path: Path
) -> None:
    path = tmp_path / "token.json"
    endpoint.issue_token_file(path, "me@gmail.com")
    before = path.read_bytes()
    credentials = OAuth2Credentials.from_file(path, write_back=False)
    assert credentials.token_path is None
    assert await credentials.get_token()
    assert path.read_bytes() == before


async def test_on_refresh_sync_and_async(endpoint: LocalTokenEndpoint) -> None:
    seen: list[dict[str, Any]] = []
    sync = OAuth2Credentials.from_info(endpoint.token_info("me@gmail.com"), on_refresh=seen.append)
    token = await sync.get_token()
    for _ in range(100):  # the callback runs in the worker thread after the waiters resume
        if seen:
            break
        await asyncio.sleep(0.01)
    assert seen[0]["token"] == token
    assert seen[0]["account"] == "me@gmail.com"
    assert seen[0]["token_uri"] == endpoint.token_uri

    loop_thread = threading.get_ident()
    stored: asyncio.Queue[tuple[dict[str, Any], int]] = asyncio.Queue()

    async def store(info: dict[str, Any]) -> None:
        await stored.put((info, threading.get_ident()))

    credentials = OAuth2Credentials.from_info(endpoint.token_info("me@gmail.com"), on_refresh=store)
    token = await credentials.get_token()
    info, thread = await asyncio.wait_for(stored.get(), 10)
    assert info["token"] == token
    assert thread == loop_thread  # an async callback runs on the caller's loop


async def test_failing_on_refresh_is_logged_without_secrets(
    endpoint: LocalTokenEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    done = asyncio.Event()
    info = endpoint.token_info("me@gmail.com")

    async def broken(fresh: dict[str, Any]) -> None:
        done.set()
        raise RuntimeError(f"database down while storing {fresh['token']}")

    caplog.set_level(logging.DEBUG)
    credentials = OAuth2Credentials.from_info(info, on_refresh=broken)
    token = await credentials.get_token()
    await asyncio.wait_for(done.wait(), 10)
    for _ in range(100):
        if any("on_refresh" in r.getMessage() for r in caplog.records):
            break
        await asyncio.sleep(0.01)
    assert any("raised RuntimeError" in r.getMessage() for r in caplog.records)
    assert_no_secret(caplog.text, [*secrets_of(info), token])


async def test_repr_and_logs_show_no_secrets(
    endpoint: LocalTokenEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, google-auth's and urllib3's included
    info = endpoint.token_info("me@gmail.com")
    credentials = OAuth2Credentials.from_info(info)
    token = await credentials.get_token()
    endpoint.revoke(info["refresh_token"])
    credentials.forced_refresh_window = 0
    with pytest.raises(TokenError):
        await credentials.get_token(force_refresh=True)
    text = repr(credentials)
    assert "me@gmail.com" in text and "***" in text
    assert_no_secret(text + caplog.text, [*secrets_of(info), token])


def test_sync_callers_share_the_machinery(endpoint: LocalTokenEndpoint) -> None:
    credentials = OAuth2Credentials.from_info(endpoint.token_info("me@gmail.com"))
    token = credentials.get_token_sync(timeout=30)
    assert credentials.get_token_sync() == token
    assert credentials.refresh_stats.last_thread_id != threading.get_ident()

    async def inside_a_loop() -> None:
        with pytest.raises(RuntimeError, match="await get_token"):
            credentials.get_token_sync()

    asyncio.run(inside_a_loop())


def test_constructor_and_from_info_validation(endpoint: LocalTokenEndpoint) -> None:
    with pytest.raises(ConfigurationError, match="client_secret"):
        OAuth2Credentials(user="me@gmail.com", refresh_token="r", client_id="c", client_secret="")
    with pytest.raises(ConfigurationError, match="mailbox address"):
        OAuth2Credentials(user="me", refresh_token="r", client_id="c", client_secret="s")
    info = endpoint.token_info("me@gmail.com", with_account=False)
    with pytest.raises(ConfigurationError, match="account") as caught:
        OAuth2Credentials.from_info(info)
    assert caught.value.hint is not None and "gmail-send auth" in caught.value.hint
    assert_no_secret(str(caught.value), secrets_of(info))
    assert OAuth2Credentials.from_info(info, user="me@gmail.com").user == "me@gmail.com"
    aware = datetime.now(timezone(timedelta(hours=9))) + timedelta(hours=1)
    credentials = OAuth2Credentials(
        user="me@gmail.com",
        refresh_token="r",
        client_id="c",
        client_secret="s",
        access_token="a",
        expiry=aware,
    )
    assert credentials.expiry is not None
    assert abs((credentials.expiry - aware).total_seconds()) < 1
