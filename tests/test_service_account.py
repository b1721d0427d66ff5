"""ServiceAccount: the JWT bearer grant, verified by the local endpoint with the account's key."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gmail_send import from_env
from gmail_send.auth import MAIL_SCOPE, ServiceAccount
from gmail_send.auth._scopes import SEND_SCOPE
from gmail_send.errors import ConfigurationError, TokenError
from gmail_send.testing import LocalTokenEndpoint

BOSS = "boss@example.com"


@pytest.fixture
def endpoint() -> Iterator[LocalTokenEndpoint]:
    with LocalTokenEndpoint() as server:
        yield server


@pytest.fixture
def key_info(endpoint: LocalTokenEndpoint) -> dict[str, Any]:
    return endpoint.add_service_account(subjects=[BOSS])


async def test_jwt_grant_for_the_subject(
    endpoint: LocalTokenEndpoint, key_info: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(key_info))
    account = ServiceAccount.from_file(path, subject=BOSS)
    assert account.user == BOSS
    assert account.service_account_email == key_info["client_email"]

    token = await account.get_token()
    issued = endpoint.issued_tokens[-1]
    assert issued.access_token == token
    assert issued.account == BOSS  # the JWT's sub, checked by the endpoint
    assert issued.scope == MAIL_SCOPE
    assert await account.get_token() == token
    assert endpoint.grant_counts == {"urn:ietf:params:oauth:grant-type:jwt-bearer": 1}


async def test_concurrent_callers_share_one_grant(
    endpoint: LocalTokenEndpoint, key_info: dict[str, Any]
) -> None:
    endpoint.delay = 0.2
    account = ServiceAccount.from_info(key_info, subject=BOSS)
    tokens = await asyncio.gather(*(account.get_token() for _ in range(50)))
    assert len(set(tokens)) == 1
    assert sum(endpoint.grant_counts.values()) == 1


async def test_subject_without_delegation(
    endpoint: LocalTokenEndpoint, key_info: dict[str, Any]
) -> None:
    account = ServiceAccount.from_info(key_info, subject="intern@example.com")
    with pytest.raises(TokenError) as caught:
        await account.get_token()
    error = caught.value
    assert "unauthorized_client" in error.message
    assert error.hint is not None
    assert "domain-wide delegation" in error.hint
    assert key_info["client_id"] in error.hint
    assert MAIL_SCOPE in error.hint
    assert "Admin console" in error.hint


async def test_delegation_granted_later(
    endpoint: LocalTokenEndpoint, key_info: dict[str, Any]
) -> None:
    account = ServiceAccount.from_info(key_info, subject="intern@example.com")
    with pytest.raises(TokenError):
        await account.get_token()
    endpoint.grant_delegation(key_info["client_email"], "intern@example.com")
    assert await account.get_token()


async def test_signature_made_with_another_key_is_refused(
    endpoint: LocalTokenEndpoint, key_info: dict[str, Any]
) -> None:
    impostor = endpoint.add_service_account(subjects=[BOSS])
    forged = {**impostor, "client_email": key_info["client_email"]}
    with pytest.raises(TokenError) as caught:
        await ServiceAccount.from_info(forged, subject=BOSS).get_token()
    assert "Invalid JWT Signature" in caught.value.message
    assert caught.value.hint is not None and "new JSON key" in caught.value.hint


def _assertion(key_info: dict[str, Any], **claims: Any) -> str:
    key = serialization.load_pem_private_key(key_info["private_key"].encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    now = int(time.time())
    payload = {
        "iss": key_info["client_email"],
        "sub": BOSS,
        "scope": MAIL_SCOPE,
        "aud": "https://oauth2.googleapis.com/token",
        "iat": now,
        "exp": now + 3600,
        **claims,
    }

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(payload).encode())
    signature = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{b64(signature)}"


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ({}, None),
        ({"aud": "https://example.com/token"}, "invalid_grant"),
        ({"exp": int(time.time()) - 10}, "invalid_grant"),
        ({"exp": int(time.time()) + 7200}, "invalid_grant"),
        ({"scope": "https://www.googleapis.com/auth/gmail.send"}, "unauthorized_client"),
        ({"sub": "stranger@example.com"}, "unauthorized_client"),
    ],
)
def test_endpoint_checks_the_claims(
    endpoint: LocalTokenEndpoint,
    key_info: dict[str, Any],
    claims: dict[str, Any],
    error: str | None,
) -> None:
    answer = requests.post(
        endpoint.token_uri,
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": _assertion(key_info, **claims),
        },
        timeout=10,
    )
    if error is None:
        assert answer.status_code == 200
        assert answer.json()["access_token"].startswith("ya29.")
    else:
        assert answer.status_code in (400, 401)
        assert answer.json()["error"] == error


@pytest.mark.parametrize("subject", ["someone@gmail.com", "Someone@GoogleMail.com"])
def test_consumer_subject_is_refused_before_any_request(
    endpoint: LocalTokenEndpoint, key_info: dict[str, Any], subject: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ServiceAccount.from_info(key_info, subject=subject)
    assert "Workspace" in caught.value.message
    assert caught.value.hint is not None and "gmail-send auth" in caught.value.hint
    assert endpoint.grant_counts == {}


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ({"installed": {}}, "client secrets file"),
        ({"refresh_token": "r", "client_id": "c"}, "user token file"),
        ({"type": "authorized_user"}, "type 'authorized_user'"),
        ({"type": "service_account", "client_email": "a@b.c"}, "private_key"),
    ],
)
def test_wrong_files(tmp_path: Path, content: dict[str, Any], words: str) -> None:
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ConfigurationError, match=words):
        ServiceAccount.from_file(path, subject=BOSS)


def test_missing_corrupt_and_bad_key(tmp_path: Path, key_info: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        ServiceAccount.from_file(tmp_path / "sa.json", subject=BOSS)
    (tmp_path / "sa.json").write_text("{")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        ServiceAccount.from_file(tmp_path / "sa.json", subject=BOSS)
    broken = {**key_info, "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END"}
    with pytest.raises(ConfigurationError, match="private key could not be loaded") as caught:
        ServiceAccount.from_info(broken, subject=BOSS)
    assert "AAAA" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="mailbox address"):
        ServiceAccount.from_info(key_info, subject="boss")


async def test_token_uri_argument_wins(
    endpoint: LocalTokenEndpoint, key_info: dict[str, Any]
) -> None:
    info = {**key_info, "token_uri": "http://127.0.0.1:9/token"}
    account = ServiceAccount.from_info(info, subject=BOSS, token_uri=endpoint.token_uri)
    assert account.token_uri == endpoint.token_uri
    assert await account.get_token()


def test_repr_shows_no_key(key_info: dict[str, Any]) -> None:
    account = ServiceAccount.from_info(key_info, subject=BOSS)
    text = repr(account)
    assert BOSS in text and "***" in text
    assert "PRIVATE KEY" not in text and key_info["private_key_id"] not in text


async def test_a_grant_for_the_narrow_send_scope(
    endpoint: LocalTokenEndpoint, tmp_path: Path
) -> None:
    narrow = endpoint.add_service_account(subjects=[BOSS], scopes=[SEND_SCOPE])
    account = ServiceAccount.from_info(narrow, subject=BOSS, scope="send")
    await account.get_token()
    assert endpoint.issued_tokens[-1].scope == SEND_SCOPE
    assert account.granted_scopes == {SEND_SCOPE}
    # Asking for the scope that was not delegated is Google's unauthorized_client.
    with pytest.raises(TokenError, match="delegation"):
        await ServiceAccount.from_info(narrow, subject=BOSS).get_token()
    with pytest.raises(ConfigurationError, match="cannot send with the scope"):
        ServiceAccount.from_info(narrow, subject=BOSS, scope="openid")
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(narrow))
    settings = from_env(
        {
            "GMAIL_SEND_SERVICE_ACCOUNT_FILE": str(path),
            "GMAIL_SEND_SUBJECT": BOSS,
            "GMAIL_SEND_TRANSPORT": "api",
        }
    )
    assert isinstance(settings.credentials, ServiceAccount)
    assert settings.credentials.granted_scopes == {SEND_SCOPE}  # send is the API's default
    mail = from_env(
        {
            "GMAIL_SEND_SERVICE_ACCOUNT_FILE": str(path),
            "GMAIL_SEND_SUBJECT": BOSS,
            "GMAIL_SEND_SERVICE_ACCOUNT_SCOPE": "mail",
        }
    )
    assert mail.credentials is not None and mail.credentials.granted_scopes == {MAIL_SCOPE}  # type: ignore[union-attr]
