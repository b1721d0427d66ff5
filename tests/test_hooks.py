"""Observability: events for the application's hook, and structured log records without secrets."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from gmail_send import AccountQuotas, AppPassword, GmailSender, QuotaExceededError, SendingLimits
from gmail_send.auth import TokenFunction
from gmail_send.events import (
    MessageSent,
    OutcomeUnknown,
    QuotaReached,
    SendEvent,
    SendRetried,
    TokenRefreshed,
)
from gmail_send.testing import LocalGmail, Outbox

from .local_helpers import ACCESS_TOKEN, ACCOUNT, APP_PASSWORD, sender_for
from .transports import Mail


async def test_sent_and_retried_events(mail: Mail) -> None:
    events: list[SendEvent] = []
    mail.fail_transiently()
    async with mail.sender(on_event=events.append) as sender:
        result = await sender.send(to="a@example.com", subject="x", text="x")
    retried, sent = events
    assert isinstance(retried, SendRetried)
    assert retried.message_id == result.message_id
    assert retried.attempt == 1
    assert retried.error.code == (451 if mail.transport == "smtp" else 503)
    assert isinstance(sent, MessageSent)
    assert (sent.message_id, sent.attempts, sent.accepted, sent.account, sent.transport) == (
        result.message_id,
        2,
        1,
        ACCOUNT,
        mail.transport,
    )
    assert sent.connection_id is not None


async def test_quota_events(gmail: LocalGmail) -> None:
    events: list[SendEvent] = []
    async with sender_for(
        gmail,
        on_event=events.append,
        limits=SendingLimits(daily_limit=1, quotas=AccountQuotas()),
    ) as sender:
        await sender.send(to="a@example.com", subject="1", text="x")
        with pytest.raises(QuotaExceededError):
            await sender.send(to="a@example.com", subject="2", text="x")
        await sender.reset_quota(count=True)
        gmail.inject("mail", (550, "5.4.5 Daily user sending limit exceeded."))
        with pytest.raises(QuotaExceededError):
            await sender.send(to="a@example.com", subject="3", text="x")
        with pytest.raises(QuotaExceededError):  # refused by the pause Gmail's reply started
            await sender.send(to="a@example.com", subject="4", text="x")
    quota = [e for e in events if isinstance(e, QuotaReached)]
    assert [(e.source, e.account) for e in quota] == [
        ("daily_limit", ACCOUNT),
        ("server", ACCOUNT),
        ("server", ACCOUNT),
    ]


async def test_token_refreshed_event(gmail: LocalGmail) -> None:
    events: list[SendEvent] = []
    tokens = iter(["ya29.stale-token", ACCESS_TOKEN])

    async def next_token(force_refresh: bool) -> str:
        return next(tokens)

    async with sender_for(
        gmail, TokenFunction(ACCOUNT, next_token), on_event=events.append
    ) as sender:
        await sender.send(to="a@example.com", subject="x", text="x")
    refreshed = [e for e in events if isinstance(e, TokenRefreshed)]
    assert refreshed == [TokenRefreshed(ACCOUNT, forced=True)]
    assert "ya29" not in repr(events)


async def test_a_failing_hook_never_breaks_a_send(
    gmail: LocalGmail, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: SendEvent) -> None:
        raise RuntimeError("hook bug")

    async with sender_for(gmail, on_event=broken) as sender:
        result = await sender.send(to="a@example.com", subject="x", text="x")
    assert result.accepted == ("a@example.com",)
    assert any(getattr(r, "event", None) == "hook_failed" for r in caplog.records)


async def test_structured_log_records_without_secrets(
    gmail: LocalGmail, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gmail_send")
    gmail.inject("mail", (421, "4.7.0 Try again later, closing connection."))
    async with sender_for(gmail) as sender:
        result = await sender.send(to="a@example.com", subject="x", text="x")
    records = [r for r in caplog.records if r.name.startswith("gmail_send")]
    by_event = {getattr(r, "event", None): r for r in records}
    retry = by_event[SendRetried.name]
    assert SendRetried.name == "retried"
    assert retry.message_id == result.message_id  # type: ignore[attr-defined]
    assert retry.attempt == 1  # type: ignore[attr-defined]
    assert retry.connection_id is not None  # type: ignore[attr-defined]
    sent = by_event["sent"]
    assert sent.message_id == result.message_id  # type: ignore[attr-defined]
    assert sent.attempt == 2  # type: ignore[attr-defined]
    assert sent.connection_id is not None  # type: ignore[attr-defined]
    assert "attempt_failed" in by_event
    for record in records:
        text = f"{record.getMessage()} {record.__dict__}"
        assert APP_PASSWORD not in text


async def test_each_event_is_also_one_log_record_with_its_fields(
    gmail: LocalGmail, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gmail_send")
    events: list[SendEvent] = []
    gmail.inject("rcpt", (450, "4.2.1 receiving mail too quickly"), recipient="b@example.com")
    async with sender_for(gmail, on_event=events.append) as sender:
        await sender.send(to=["a@example.com", "b@example.com"], subject="x", text="x")
    assert [type(e) for e in events] == [SendRetried, MessageSent]
    for event in events:
        [record] = [r for r in caplog.records if getattr(r, "event", None) == event.name]
        for item in dataclasses.fields(event):
            value = getattr(event, item.name)
            if isinstance(value, BaseException):
                value = type(value).__name__
            assert getattr(record, item.name) == value, item.name
    retried = next(r for r in caplog.records if getattr(r, "event", None) == "retried")
    assert retried.error == "TemporaryError"  # type: ignore[attr-defined]
    assert retried.connection_id is not None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "kind", [MessageSent, SendRetried, TokenRefreshed, QuotaReached, OutcomeUnknown]
)
def test_event_fields_fit_in_a_log_record(kind: type[SendEvent]) -> None:
    reserved = set(logging.LogRecord("x", logging.INFO, "f", 1, "m", None, None).__dict__)
    reserved |= {"message", "asctime"}
    assert not {item.name for item in dataclasses.fields(kind)} & reserved


async def test_a_sink_send_is_reported_like_any_other(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gmail_send")
    events: list[SendEvent] = []
    outbox = Outbox()
    async with GmailSender(
        AppPassword(ACCOUNT, APP_PASSWORD), sink=outbox, on_event=events.append
    ) as sender:
        result = await sender.send(to="a@example.com", subject="x", text="x")
    [sent] = events
    assert isinstance(sent, MessageSent)
    assert (sent.message_id, sent.accepted, sent.connection_id) == (result.message_id, 1, None)
    [record] = [r for r in caplog.records if getattr(r, "event", None) == MessageSent.name]
    assert record.message_id == result.message_id  # type: ignore[attr-defined]


async def test_a_token_refresh_is_logged_as_well(
    gmail: LocalGmail, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gmail_send")
    tokens = iter(["ya29.stale-token", ACCESS_TOKEN])

    async def next_token(force_refresh: bool) -> str:
        return next(tokens)

    async with sender_for(gmail, TokenFunction(ACCOUNT, next_token)) as sender:  # no hook
        await sender.send(to="a@example.com", subject="x", text="x")
    [record] = [r for r in caplog.records if getattr(r, "event", None) == TokenRefreshed.name]
    assert record.forced is True  # type: ignore[attr-defined]
    assert "ya29" not in caplog.text
