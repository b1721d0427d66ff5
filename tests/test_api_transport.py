"""The Gmail API transport against the local Gmail API: what SMTP has no counterpart for.

Each fault of the local API is met by a real sender over HTTPS (test CA): the 401 that
refreshes once, the scope and project errors, rate limits honouring Retry-After, the daily
limit, 5xx and dropped connections after the body (unknown outcomes, never resent), threads,
Bcc, a 30 MB upload, and the options the API cannot take.
"""

from __future__ import annotations

import asyncio
import email.message
import logging
from collections.abc import Callable
from typing import Any

import pytest

from gmail_send import (
    AccountQuotas,
    AppPassword,
    Attachment,
    AuthenticationError,
    ConfigurationError,
    GmailSender,
    OAuth2Credentials,
    OAuth2Token,
    PermanentError,
    QuotaExceededError,
    SendingLimits,
    TemporaryError,
    TLSError,
    TokenError,
    UnknownOutcomeError,
)
from gmail_send.auth._scopes import SEND_SCOPE
from gmail_send.events import QuotaReached, SendEvent, SendRetried
from gmail_send.testing import LocalGmail, LocalGmailAPI, LocalTokenEndpoint, TestCertificates

from .local_helpers import ACCESS_TOKEN, ACCOUNT, APP_PASSWORD
from .transports import Mail


@pytest.fixture
async def api_mail(gmail: LocalGmail, start_api: Callable[..., Any]) -> Mail:
    return Mail("api", gmail, await start_api(gmail))


def api_sender(mail: Mail, credentials: Any = None, **options: Any) -> GmailSender:
    return mail.sender(credentials, **options)


async def test_a_401_refreshes_the_token_once(api_mail: Mail) -> None:
    with LocalTokenEndpoint(gmail=api_mail.gmail, signed_in_user=ACCOUNT) as endpoint:
        credentials = OAuth2Credentials.from_info(
            endpoint.token_info(scopes=[SEND_SCOPE], access_token_lifetime=3600)
        )
        api_mail.api.fail_next("unauthorized")
        async with api_sender(api_mail, credentials) as sender:
            result = await sender.send(to="a@example.com", subject="x", text="x")
        assert endpoint.refresh_count == 1
        assert result.transport == "api"
        assert len(api_mail.messages) == 1
        assert [r.status for r in api_mail.api.requests] == [401, 200]

        api_mail.api.fail_next("unauthorized", times=2)
        async with api_sender(api_mail, credentials) as sender:
            with pytest.raises(AuthenticationError) as caught:
                await sender.send(to="a@example.com", subject="x", text="x")
        assert endpoint.refresh_count == 2  # one refresh for this send, never a second
        assert caught.value.code == 401 and caught.value.mechanism == "bearer"
        assert len(api_mail.messages) == 1


async def test_a_fixed_token_rejected_is_not_sent_twice(api_mail: Mail) -> None:
    api_mail.gmail.revoke_access_token(ACCESS_TOKEN)
    async with api_sender(api_mail) as sender:
        with pytest.raises(AuthenticationError, match="no other token"):
            await sender.send(to="a@example.com", subject="x", text="x")
    assert [r.status for r in api_mail.api.requests] == [401]


async def test_insufficient_scope_names_the_scope(api_mail: Mail) -> None:
    api_mail.gmail.add_access_token(ACCOUNT, "ya29.openid-only", scope="openid email")
    async with api_sender(api_mail, OAuth2Token(ACCOUNT, "ya29.openid-only")) as sender:
        with pytest.raises(TokenError) as caught:
            await sender.send(to="a@example.com", subject="x", text="x")
    assert caught.value.hint is not None and SEND_SCOPE in caught.value.hint
    assert caught.value.api_reply is not None
    assert caught.value.api_reply.reason == "insufficientPermissions"
    assert len(api_mail.api.requests) == 1


async def test_access_not_configured_says_where_to_enable_the_api(api_mail: Mail) -> None:
    api_mail.api.fail_next("access_not_configured")
    async with api_sender(api_mail) as sender:
        with pytest.raises(ConfigurationError) as caught:
            await sender.send(to="a@example.com", subject="x", text="x")
    assert caught.value.hint is not None
    assert "console.developers.google.com/apis/api/gmail.googleapis.com" in caught.value.hint
    assert caught.value.code == 403
    assert len(api_mail.api.requests) == 1


@pytest.mark.parametrize("fault", ["rate_limit", "user_rate_limit", "unavailable"])
async def test_slow_down_answers_are_retried_after_retry_after(api_mail: Mail, fault: Any) -> None:
    events: list[SendEvent] = []
    api_mail.api.fail_next(fault, retry_after=1)
    loop = asyncio.get_running_loop()
    async with api_sender(api_mail, on_event=events.append) as sender:
        started = loop.time()
        result = await sender.send(to="a@example.com", subject="x", text="x")
        elapsed = loop.time() - started
    [retried] = [e for e in events if isinstance(e, SendRetried)]
    assert retried.delay >= 1.0  # QUICK_RETRY's own backoff is 0.01 s
    assert isinstance(retried.error, TemporaryError) and retried.error.retry_after == 1.0
    assert elapsed >= 0.9
    assert [m.gmail_id for m in api_mail.messages] == [result.gmail_id]


async def test_the_daily_limit_pauses_the_account(api_mail: Mail) -> None:
    events: list[SendEvent] = []
    api_mail.api.fail_next("daily_limit", retry_after=600)
    async with api_sender(api_mail, on_event=events.append) as sender:
        with pytest.raises(QuotaExceededError) as caught:
            await sender.send(to="a@example.com", subject="x", text="x")
        assert caught.value.api_reply is not None
        assert caught.value.retry_after is not None and 590 <= caught.value.retry_after <= 600
        with pytest.raises(QuotaExceededError):  # paused: no request at all
            await sender.send(to="a@example.com", subject="y", text="y")
    assert len(api_mail.api.requests) == 1
    assert [e.source for e in events if isinstance(e, QuotaReached)] == ["server", "server"]


async def test_a_500_after_the_body_is_an_unknown_outcome(api_mail: Mail) -> None:
    api_mail.api.fail_next("server_error")
    async with api_sender(api_mail) as sender:
        with pytest.raises(UnknownOutcomeError) as caught:
            await sender.send(to="a@example.com", subject="x", text="x", message_id="<u@x.example>")
    assert caught.value.message_id == "<u@x.example>"
    assert caught.value.code == 500
    assert len(api_mail.api.requests) == 1  # never resent blindly


async def test_a_bad_request_is_permanent(api_mail: Mail) -> None:
    api_mail.api.fail_next("bad_request")
    async with api_sender(api_mail) as sender:
        with pytest.raises(PermanentError) as caught:
            await sender.send(to="a@example.com", subject="x", text="x")
    assert caught.value.code == 400 and not caught.value.retryable
    assert len(api_mail.api.requests) == 1


async def test_replies_go_into_a_thread(api_mail: Mail) -> None:
    async with api_sender(api_mail) as sender:
        first = await sender.send(to="a@example.com", subject="Order 42", text="x")
        assert first.thread_id is not None and first.gmail_id is not None
        reply = await sender.send(
            to="a@example.com",
            subject="Re: Order 42",
            text="y",
            in_reply_to=first.message_id,
            references=[first.message_id],
            thread_id=first.thread_id,
        )
    assert reply.thread_id == first.thread_id
    assert reply.gmail_id != first.gmail_id
    assert [r.upload_type for r in api_mail.api.requests] == ["media", "multipart"]
    parsed = api_mail.messages[1].parsed()
    assert parsed["In-Reply-To"] == first.message_id
    assert parsed["References"] == first.message_id


async def test_what_one_transport_cannot_carry_is_refused_before_sending(
    gmail: LocalGmail, api_mail: Mail
) -> None:
    smtp = Mail("smtp", gmail, api_mail.api)
    async with smtp.sender() as sender:
        with pytest.raises(ConfigurationError, match="thread_id"):
            await sender.send(to="a@example.com", subject="x", text="x", thread_id="18c0ffee")
    message = email.message.EmailMessage()
    message["To"] = "a@example.com, b@example.com"
    message.set_content("x")
    async with api_sender(api_mail, limits=SendingLimits(daily_limit=1)) as sender:
        with pytest.raises(ConfigurationError, match="To, Cc and Bcc"):
            await sender.send_message(message, recipients=["a@example.com"])
        await sender.send(to="c@example.com", subject="quota untouched", text="x")
    async with smtp.sender() as sender:
        await sender.send_message(message, recipients=["a@example.com"])  # SMTP can
    assert [m.rcpt_tos for m in gmail.messages] == [("c@example.com",), ("a@example.com",)]


def test_the_api_takes_tokens_over_https_only() -> None:
    with pytest.raises(ConfigurationError, match="OAuth2 token source"):
        GmailSender(AppPassword(ACCOUNT, APP_PASSWORD), transport="api")
    with pytest.raises(ConfigurationError, match="OAuth2 token source"):
        GmailSender(None, transport="api")
    with pytest.raises(ConfigurationError, match="https://"):
        GmailSender(OAuth2Token(ACCOUNT, ACCESS_TOKEN), transport="api", api_url="http://x")
    with pytest.raises(ConfigurationError, match="transport must be one of"):
        GmailSender(OAuth2Token(ACCOUNT, ACCESS_TOKEN), transport="pigeon")  # type: ignore[typeddict-item]


async def test_the_certificate_is_checked(api_mail: Mail) -> None:
    other_ca = TestCertificates().client_context()
    async with api_sender(api_mail, tls_context=other_ca) as sender:
        with pytest.raises(TLSError, match="could not be verified"):
            await sender.send(to="a@example.com", subject="x", text="x")
    assert api_mail.api.requests == []


async def test_a_30_mb_message_goes_through_the_upload_endpoint(api_mail: Mail) -> None:
    blob = bytes(range(256)) * (22 * 1024 * 1024 // 256)  # 22 MiB, base64 makes it ~30 MB
    async with api_sender(api_mail, timeout=120) as sender:
        result = await sender.send(
            to="a@example.com",
            bcc="b@example.com",
            subject="big",
            text="see attachment",
            attachments=[Attachment(blob, filename="data.bin")],
        )
    [record] = api_mail.api.requests
    assert record.upload_type == "media" and record.status == 200
    assert 29_000_000 < record.size < 35_000_000
    [received] = api_mail.messages
    assert received.rcpt_tos == ("a@example.com", "b@example.com")
    [attachment] = list(received.parsed().iter_attachments())
    assert attachment.get_content() == blob
    assert result.gmail_id == received.gmail_id


async def test_both_transports_count_one_daily_quota(gmail: LocalGmail, api_mail: Mail) -> None:
    quotas = AccountQuotas()
    limits = SendingLimits(daily_limit=2, quotas=quotas)
    smtp = Mail("smtp", gmail, api_mail.api)
    async with smtp.sender(limits=limits) as over_smtp, api_sender(api_mail, limits=limits) as api:
        await over_smtp.send(to="a@example.com", subject="1", text="x")
        await api.send(to="a@example.com", subject="2", text="x")
        for sender in (over_smtp, api):
            with pytest.raises(QuotaExceededError, match="daily_limit is 2"):
                await sender.send(to="a@example.com", subject="3", text="x")
    assert quotas.sent_today(ACCOUNT) == 2
    assert [m.via for m in gmail.messages] == ["smtp", "api"]


async def test_a_stopped_api_cannot_be_reached(
    gmail: LocalGmail, start_api: Callable[..., Any]
) -> None:
    api: LocalGmailAPI = await start_api(gmail)
    mail = Mail("api", gmail, api)
    await api.stop()
    async with api_sender(mail) as sender:
        with pytest.raises(Exception) as caught:
            await sender.send(to="a@example.com", subject="x", text="x")
    assert type(caught.value).__name__ == "GmailConnectionError"
    assert "443" in str(caught.value)


async def test_no_token_in_any_log_record(api_mail: Mail, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    api_mail.api.fail_next("unauthorized")
    with LocalTokenEndpoint(gmail=api_mail.gmail, signed_in_user=ACCOUNT) as endpoint:
        info = endpoint.token_info(scopes=[SEND_SCOPE], access_token_lifetime=3600)
        async with api_sender(api_mail, OAuth2Credentials.from_info(info)) as sender:
            await sender.send(to="a@example.com", subject="x", text="x")
            tokens = [t.access_token for t in endpoint.issued_tokens]
            assert all(t not in repr(sender._router.api_transport()) for t in tokens)
    records = [f"{r.getMessage()} {r.__dict__}" for r in caplog.records]
    assert any("httpx" in r.name for r in caplog.records)  # the client did log, at DEBUG
    for secret in [*tokens, info["refresh_token"]]:
        assert not any(secret in text for text in records)
