"""The local Gmail API: Google's send endpoints, token and scope checks, error shapes, faults.

Requests go over real HTTPS (the test CA) with httpx, the client the API transport uses; what
the endpoint accepts lands in the local Gmail's one mailbox store.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from gmail_send.auth._scopes import MAIL_SCOPE, SEND_SCOPE
from gmail_send.testing import LocalGmail, LocalGmailAPI, LocalTokenEndpoint

from .local_helpers import ACCESS_TOKEN, ACCOUNT, ALIAS

SEND_TOKEN = "ya29.local-send-only-token"
OTHER_TOKEN = "ya29.local-openid-only-token"
UPLOAD = "/upload/gmail/v1/users/me/messages/send"
JSON_SEND = "/gmail/v1/users/me/messages/send"
MESSAGE = (
    b"From: Me <me@gmail.com>\r\n"
    b"To: A <a@example.com>\r\n"
    b"Cc: b@example.com\r\n"
    b"Bcc: hidden@example.com,\r\n c@example.com\r\n"
    b"Subject: hello\r\n"
    b"Message-ID: <one@gmail.com>\r\n"
    b"\r\n"
    b"body\r\n"
)


@pytest.fixture
async def gmail(start_gmail: Callable[..., Any]) -> LocalGmail:
    server: LocalGmail = await start_gmail()
    server.add_access_token(ACCOUNT, SEND_TOKEN, scope=SEND_SCOPE)
    server.add_access_token(ACCOUNT, OTHER_TOKEN, scope="openid")
    return server


@pytest.fixture
async def api(gmail: LocalGmail, start_api: Callable[..., Any]) -> LocalGmailAPI:
    started: LocalGmailAPI = await start_api(gmail)
    return started


@pytest.fixture
async def client(api: LocalGmailAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=api.url, verify=api.client_tls_context(), trust_env=False, timeout=30
    ) as http:
        yield http


def bearer(token: str = SEND_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def upload(
    client: httpx.AsyncClient, data: bytes = MESSAGE, token: str = SEND_TOKEN
) -> httpx.Response:
    return await client.post(
        UPLOAD,
        params={"uploadType": "media"},
        content=data,
        headers={**bearer(token), "Content-Type": "message/rfc822"},
    )


async def test_an_upload_lands_in_the_same_store_as_smtp(
    client: httpx.AsyncClient, gmail: LocalGmail, api: LocalGmailAPI
) -> None:
    response = await upload(client)
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"id", "threadId", "labelIds"}
    assert answer["labelIds"] == ["SENT"]
    [received] = gmail.messages
    assert api.messages is gmail.messages
    assert received.via == "api"
    assert received.gmail_id == answer["id"] == received.thread_id == answer["threadId"]
    assert received.rcpt_tos == (
        "a@example.com",
        "b@example.com",
        "hidden@example.com",
        "c@example.com",
    )
    assert received.mail_from == ACCOUNT
    assert received.session_user == ACCOUNT
    parsed = received.parsed()
    assert "Bcc" not in parsed
    assert parsed["Message-ID"] == "<one@gmail.com>"
    assert b"hidden@example.com" not in received.data
    assert received.data.endswith(b"\r\n\r\nbody\r\n")


async def test_the_json_raw_form_and_threads(client: httpx.AsyncClient, gmail: LocalGmail) -> None:
    raw = base64.urlsafe_b64encode(MESSAGE).decode("ascii").rstrip("=")
    first = await client.post(JSON_SEND, json={"raw": raw}, headers=bearer())
    assert first.status_code == 200
    thread = first.json()["threadId"]
    reply = await client.post(JSON_SEND, json={"raw": raw, "threadId": thread}, headers=bearer())
    assert reply.status_code == 200
    assert reply.json()["threadId"] == thread
    assert reply.json()["id"] != first.json()["id"]
    unknown = await client.post(JSON_SEND, json={"raw": raw, "threadId": "ffff"}, headers=bearer())
    assert unknown.status_code == 404
    assert unknown.json()["error"]["status"] == "NOT_FOUND"
    assert [m.thread_id for m in gmail.messages] == [thread, thread]


async def test_a_multipart_upload_carries_the_thread_id(
    client: httpx.AsyncClient, gmail: LocalGmail
) -> None:
    first = (await upload(client)).json()
    boundary = "b0undary"
    body = (
        (
            f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
            f"{json.dumps({'threadId': first['threadId']})}\r\n"
            f"--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n"
        ).encode()
        + MESSAGE
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = await client.post(
        UPLOAD,
        params={"uploadType": "multipart"},
        content=body,
        headers={**bearer(), "Content-Type": f"multipart/related; boundary={boundary}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["threadId"] == first["threadId"]
    assert gmail.messages[-1].data == gmail.messages[0].data


async def test_tokens_and_scopes_are_checked(client: httpx.AsyncClient, gmail: LocalGmail) -> None:
    missing = await client.post(UPLOAD, params={"uploadType": "media"}, content=MESSAGE)
    assert missing.status_code == 401
    assert missing.json()["error"]["errors"][0]["reason"] == "required"
    unknown = await upload(client, token="ya29.nobody-knows-this")
    assert unknown.status_code == 401
    assert unknown.json()["error"]["status"] == "UNAUTHENTICATED"
    assert unknown.headers["www-authenticate"].startswith("Bearer")
    narrow = await upload(client, token=OTHER_TOKEN)
    assert narrow.status_code == 403
    assert narrow.json()["error"]["errors"][0]["reason"] == "insufficientPermissions"
    assert 'error="insufficient_scope"' in narrow.headers["www-authenticate"]
    assert (await upload(client, token=ACCESS_TOKEN)).status_code == 200  # mail.google.com/
    gmail.revoke_access_token(SEND_TOKEN)
    revoked = await upload(client)
    assert revoked.status_code == 401
    assert len(gmail.messages) == 1


async def test_tokens_from_the_attached_token_endpoint(
    client: httpx.AsyncClient, gmail: LocalGmail
) -> None:
    with LocalTokenEndpoint(gmail=gmail, signed_in_user=ACCOUNT) as endpoint:
        info = endpoint.token_info(scopes=[SEND_SCOPE], access_token_lifetime=3600)
        assert (await upload(client, token=info["token"])).status_code == 200
        # exclusive: the fixture's own tokens are not the endpoint's
        assert (await upload(client)).status_code == 401
    assert gmail.messages[-1].session_user == ACCOUNT


async def test_gmail_rewrites_a_sender_the_account_may_not_use(
    client: httpx.AsyncClient, gmail: LocalGmail
) -> None:
    alias = MESSAGE.replace(b"Me <me@gmail.com>", f"Shop <{ALIAS}>".encode())
    assert (await upload(client, alias)).status_code == 200
    foreign = MESSAGE.replace(b"Me <me@gmail.com>", b"Boss <boss@example.com>")
    assert (await upload(client, foreign)).status_code == 200
    kept, rewritten = gmail.messages
    assert kept.mail_from == ALIAS and not kept.sender_rewritten
    assert rewritten.mail_from == ACCOUNT
    assert rewritten.parsed()["From"] == f"Boss <{ACCOUNT}>"
    assert rewritten.original_from_header == "Boss <boss@example.com>"


async def test_requests_are_refused_as_google_does(
    client: httpx.AsyncClient, gmail: LocalGmail
) -> None:
    wrong_type = await client.post(
        UPLOAD,
        params={"uploadType": "media"},
        content=MESSAGE,
        headers={**bearer(), "Content-Type": "text/plain"},
    )
    assert wrong_type.status_code == 400
    nobody = await upload(
        client,
        MESSAGE.replace(b"To: A <a@example.com>\r\nCc: b@example.com\r\n", b"").replace(
            b"Bcc: hidden@example.com,\r\n c@example.com\r\n", b""
        ),
    )
    assert nobody.status_code == 400
    assert nobody.json()["error"]["message"] == "Recipient address required"
    garbage = await client.post(JSON_SEND, content=b"{", headers=bearer())
    assert garbage.status_code == 400
    elsewhere = await client.post("/gmail/v1/users/me/drafts", headers=bearer())
    assert elsewhere.status_code == 404
    assert gmail.messages == []


async def test_an_upload_over_35_mb_is_too_large(
    gmail: LocalGmail, start_api: Callable[..., Any]
) -> None:
    small: LocalGmailAPI = await start_api(gmail, max_upload=1000)
    async with httpx.AsyncClient(base_url=small.url, verify=small.client_tls_context()) as http:
        response = await upload(http, MESSAGE + b"x" * 2000)
    assert response.status_code == 413
    assert gmail.messages == []


@pytest.mark.parametrize(
    ("fault", "status", "reason"),
    [
        ("unauthorized", 401, "authError"),
        ("insufficient_scope", 403, "insufficientPermissions"),
        ("access_not_configured", 403, "accessNotConfigured"),
        ("rate_limit", 429, "rateLimitExceeded"),
        ("user_rate_limit", 403, "userRateLimitExceeded"),
        ("daily_limit", 429, "rateLimitExceeded"),
        ("server_error", 500, "backendError"),
        ("unavailable", 503, "backendError"),
    ],
)
async def test_error_faults_answer_with_googles_json(
    client: httpx.AsyncClient,
    api: LocalGmailAPI,
    gmail: LocalGmail,
    fault: Any,
    status: int,
    reason: str,
) -> None:
    api.fail_next(fault, retry_after=7)
    response = await upload(client)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == status
    assert error["errors"][0]["reason"] == reason
    assert isinstance(error["message"], str) and isinstance(error["status"], str)
    if fault in ("rate_limit", "user_rate_limit", "daily_limit", "unavailable"):
        assert response.headers["retry-after"] == "7"
    if fault == "daily_limit":
        assert error["message"].endswith("(Mail sending)")
    assert gmail.messages == []
    assert api.pending_faults == []
    assert (await upload(client)).status_code == 200  # used up
    assert [r.fault for r in api.requests] == [fault, None]


@pytest.mark.parametrize(
    ("fault", "stored"),
    [("drop_before_body", 0), ("drop_after_body", 0), ("drop_after_stored", 1)],
)
async def test_dropped_connections(
    client: httpx.AsyncClient, api: LocalGmailAPI, gmail: LocalGmail, fault: Any, stored: int
) -> None:
    api.fail_next(fault)
    with pytest.raises(httpx.TransportError):
        await upload(client)
    assert len(gmail.messages) == stored
    assert api.requests[-1].status is None
    assert api.requests[-1].fault == fault


@pytest.mark.parametrize(("fault", "stored"), [("hang_after_body", 0), ("hang_after_stored", 1)])
async def test_silent_connections(
    api: LocalGmailAPI, gmail: LocalGmail, fault: Any, stored: int
) -> None:
    api.fail_next(fault)
    async with httpx.AsyncClient(
        base_url=api.url, verify=api.client_tls_context(), timeout=httpx.Timeout(30, read=0.5)
    ) as http:
        with pytest.raises(httpx.ReadTimeout):
            await upload(http)
    assert len(gmail.messages) == stored


async def test_a_kept_alive_connection_carries_many_requests(
    client: httpx.AsyncClient, api: LocalGmailAPI, gmail: LocalGmail
) -> None:
    for _ in range(3):
        assert (await upload(client)).status_code == 200
    assert api.connections_opened == 1
    assert {r.connection_id for r in api.requests} == {1}
    assert len(gmail.messages) == 3


async def test_the_smtp_door_still_wants_the_mail_scope(gmail: LocalGmail) -> None:
    from gmail_send import GmailSender, OAuth2Token
    from gmail_send.errors import AuthenticationError

    async with GmailSender(
        OAuth2Token(ACCOUNT, SEND_TOKEN),
        host=gmail.host,
        port=gmail.port,
        tls_context=gmail.client_tls_context(),
    ) as sender:
        with pytest.raises(AuthenticationError) as caught:
            await sender.send(to="a@example.com", subject="x", text="x")
    assert MAIL_SCOPE in str(caught.value)
