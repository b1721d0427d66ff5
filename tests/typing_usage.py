"""Checked by `mypy --strict` in CI, never run: every public send function called with every
message field and the option groups, as an application would write them."""

from __future__ import annotations

import ssl
from datetime import datetime, timedelta, timezone
from pathlib import Path

from gmail_send import (
    AccountQuotas,
    AppPassword,
    Attachment,
    GmailSender,
    MailQueue,
    MailStatus,
    MessageFields,
    OAuth2Token,
    PoolOptions,
    QueuedMail,
    Reconciliation,
    RecordedError,
    RetryPolicy,
    SenderOptions,
    SendEvent,
    SendingLimits,
    SendResult,
    SyncGmailSender,
    Templates,
    UnknownOutcomeError,
    from_env,
    send,
    send_sync,
    workspace_relay,
)

CREDENTIALS = AppPassword("me@gmail.com", "abcd efgh ijkl mnop")

FIELDS: MessageFields = {
    "to": ["a@example.com", "B <b@example.com>"],
    "cc": "c@example.com",
    "bcc": None,
    "reply_to": "support@example.com",
    "from_": "Shop <me@gmail.com>",
    "subject": "Your receipt",
    "text": "Thank you!",
    "html": "<p>Thank you!</p>",
    "attachments": ["report.pdf", Path("receipt.pdf"), Attachment(b"%PDF", filename="a.pdf")],
    "headers": {"X-Order": "42"},
    "encoding": "iso-2022-jp",
    "message_id": "<order-42@example.com>",
    "date": datetime(2026, 12, 1, tzinfo=timezone.utc),
    "in_reply_to": "<order-41@example.com>",
    "references": ["<order-40@example.com>", "<order-41@example.com>"],
    "thread_id": None,
    "template": "receipt",
    "context": {"order": 42, "items": ["tea"]},
}


def hook(event: SendEvent) -> None:
    print(event.name)


OPTIONS: SenderOptions = {
    "host": "smtp.gmail.com",
    "port": 587,
    "security": "starttls",
    "tls_context": ssl.create_default_context(),
    "timeout": 30.0,
    "max_connections": 2,
    "sink": None,
    "on_event": hook,
    "templates": Templates("templates"),
    "retry": RetryPolicy(retries=2, backoff=0.5, max_backoff=10, deadline=60),
    "pool": PoolOptions(max_messages_per_connection=50, idle_timeout=30, pipelining=True),
    "limits": SendingLimits(
        rate_limit=5, daily_limit="auto", quotas=AccountQuotas(), api_sends_per_minute=150
    ),
    "transport": "auto",
    "api_url": "https://gmail.googleapis.com",
    "imap_host": "imap.gmail.com",
    "imap_port": 993,
    "find_sent_wait": 120.0,
}


async def every_async_function() -> list[SendResult]:
    results = [
        await send(
            CREDENTIALS,
            to="you@example.com",
            cc=None,
            bcc=["archive@example.com"],
            reply_to=None,
            from_=None,
            subject="Hello",
            text="Hi",
            html="<p>Hi</p>",
            attachments=["report.pdf"],
            headers={"X-Note": "1"},
            encoding="utf-8",
            message_id=None,
            date=None,
            host="smtp.gmail.com",
            port=465,
            security="tls",
            timeout=10,
            retry=RetryPolicy(retries=1),
            pool=PoolOptions(pipelining=False),
            limits=SendingLimits(daily_limit=100),
        ),
        await send(CREDENTIALS, **FIELDS, **OPTIONS),
    ]
    async with GmailSender(CREDENTIALS, **OPTIONS) as gmail:
        results.append(await gmail.send(**FIELDS))
        results.append(await gmail.send(to="x@example.com", attachments=["report.pdf"]))
        unknown = UnknownOutcomeError("lost", message_id="<a@example.com>", sent_at=None)
        if unknown.transport in (None, "smtp"):
            taken: bool = await gmail.find_sent(unknown.message_id, sent_at=unknown.sent_at)
            assert taken in (True, False)
        results.append(await gmail.send(deadline=5.0, **FIELDS))
        results.append(await gmail.send(to="x@example.com", template="welcome", context=None))
    async with GmailSender(**from_env(), pool=PoolOptions(idle_timeout=None)) as gmail:
        results.append(await gmail.send(to="x@example.com", subject="s", text="t"))
    async with workspace_relay(OAuth2Token("me@example.com", "token"), **OPTIONS) as relay:
        results.append(await relay.send(**FIELDS))
    async with workspace_relay(None, pool=PoolOptions(local_hostname="mx.example.com")) as relay:
        results.append(await relay.send(from_="app@example.com", to="x@example.com"))
    token = OAuth2Token("me@gmail.com", "token")
    limits = SendingLimits(api_sends_per_minute=None)
    async with GmailSender(token, transport="api", limits=limits) as api:
        first = await api.send(to="x@example.com", subject="s", text="t")
        results.append(first)
        if first.thread_id is not None and first.gmail_id is not None:
            reply = await api.send(
                to="x@example.com",
                subject="Re: s",
                in_reply_to=first.message_id,
                references=first.message_id,
                thread_id=first.thread_id,
            )
            results.append(reply)
    return results


def every_sync_function() -> list[SendResult]:
    results = [
        send_sync(CREDENTIALS, to="you@example.com", attachments=["report.pdf"], port=465),
        send_sync(CREDENTIALS, to="you@example.com", template="welcome", templates=Path("t")),
        send_sync(CREDENTIALS, **FIELDS, **OPTIONS),
    ]
    with SyncGmailSender(CREDENTIALS, **OPTIONS) as gmail:
        results.append(gmail.send(**FIELDS))
        assert gmail.find_sent("<a@example.com>", wait=0) in (True, False)
        results.append(gmail.send(to="x@example.com", attachments=["report.pdf"], deadline=3))
    return results


async def the_mail_queue() -> list[QueuedMail]:
    queue = MailQueue("sqlite:///queue.db", account="me@gmail.com", retention=timedelta(days=3))
    later = datetime(2030, 1, 1, tzinfo=timezone.utc)
    mails = [
        await queue.enqueue(**FIELDS, idempotency_key="order-1", not_after=later),
        await queue.enqueue(account="other@example.com", to="x@example.com", not_before=later),
        queue.enqueue_sync(**FIELDS),
    ]
    status: MailStatus = mails[0].status
    mails.extend(await queue.mails(status=status, limit=10))
    error: RecordedError | None = mails[0].last_error
    counts: dict[MailStatus, int] = await queue.counts()
    assert error is None or counts
    await queue.resolve(mails[0].id, sent=False)
    async with GmailSender(CREDENTIALS, **OPTIONS) as gmail:
        await queue.work(gmail, until_empty=True)
        settled: list[Reconciliation] = await queue.reconcile(gmail, wait=0.0)
        assert all(r.outcome in ("found", "not_found") or r.error for r in settled)
    await queue.aclose()
    return mails
