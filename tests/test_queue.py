"""MailQueue's enqueue, lookups and the operator's requests, on real SQLite files and a real
PostgreSQL server. (The worker: test_queue_worker.py.)"""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gmail_send import (
    Attachment,
    ConfigurationError,
    IdempotencyConflictError,
    InvalidAddressError,
    MailNotFoundError,
    MailQueue,
    MailStateError,
    MessageError,
    NoRecipientsError,
    RetryPolicy,
)
from gmail_send.store import SCHEMA_VERSION

from .queue_helpers import raw_query

ACCOUNT = "Shop@Gmail.com"


async def test_enqueue_composes_now_and_stores_bytes_envelope_and_message_id(
    queue_url: str,
) -> None:
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        mail = await queue.enqueue(
            to="You <you@example.com>",
            cc="copy@example.com",
            bcc="hidden@example.com",
            subject="Receipt",
            text="Thanks",
            attachments=[Attachment(b"%PDF-1.4", "receipt.pdf")],
        )
        assert mail.status == "queued" and mail.attempts == 0
        assert mail.account == ACCOUNT.lower()
        assert mail.message_id.endswith("@Gmail.com>") or mail.message_id.endswith("@gmail.com>")
        assert mail.next_attempt_at == mail.created_at
        assert mail.created_at.tzinfo is not None
        assert mail.last_error is None and mail.result is None
        assert await queue.get(mail.id) == mail
    [(sender, recipients, message_id, size)] = raw_query(
        queue_url,
        "SELECT sender, recipients, message_id, size FROM gmail_send_mails WHERE id = %s",
        (mail.id,),
    )
    assert sender == ACCOUNT
    assert json.loads(recipients) == ["you@example.com", "copy@example.com", "hidden@example.com"]
    assert message_id == mail.message_id
    [(data,)] = raw_query(
        queue_url, "SELECT data FROM gmail_send_mail_bodies WHERE id = %s", (mail.id,)
    )
    assert len(bytes(data)) == size
    parsed = email.message_from_bytes(bytes(data), policy=email.policy.default)
    assert parsed["Bcc"] is None and b"hidden@example.com" not in bytes(data)
    assert parsed["Message-ID"] == mail.message_id
    assert [part.get_filename() for part in parsed.iter_attachments()] == ["receipt.pdf"]


async def test_bad_input_fails_at_the_caller_and_stores_nothing(queue_url: str) -> None:
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        with pytest.raises(InvalidAddressError):
            await queue.enqueue(to="not an address", subject="s", text="t")
        with pytest.raises(NoRecipientsError):
            await queue.enqueue(subject="s", text="t")
        with pytest.raises(MessageError, match="timezone-aware"):
            await queue.enqueue(to="you@example.com", text="t", not_before=datetime(2030, 1, 1))
        past = datetime.now(timezone.utc) - timedelta(minutes=1)
        with pytest.raises(MessageError, match="already past"):
            await queue.enqueue(to="you@example.com", text="t", not_after=past)
        with pytest.raises(MessageError):
            await asyncio.to_thread(
                lambda: queue.enqueue_sync(to="you@example.com", subject="a\r\nBcc: x@ex.com")
            )
        assert sum((await queue.counts()).values()) == 0


async def test_the_account_is_the_default_from_and_a_mail_may_name_another(
    queue_url: str,
) -> None:
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        own = await queue.enqueue(to="you@example.com", text="t")
        other = await queue.enqueue(account="Other@Example.com", to="you@example.com", text="t")
        alias = await queue.enqueue(from_="alias@example.com", to="you@example.com", text="t")
    assert (own.account, other.account, alias.account) == (
        "shop@gmail.com",
        "other@example.com",
        "shop@gmail.com",
    )
    senders = dict(raw_query(queue_url, "SELECT id, sender FROM gmail_send_mails"))
    assert senders[other.id] == "Other@Example.com"
    assert senders[alias.id] == "alias@example.com"
    async with MailQueue(queue_url) as without:
        mail = await without.enqueue(from_="Me@Example.com", to="you@example.com", text="t")
        assert mail.account == "me@example.com"
        with pytest.raises(MessageError):
            await without.enqueue(to="you@example.com", text="t")  # nobody sends it


async def test_an_idempotency_key_gives_back_the_first_mail(queue_url: str) -> None:
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        fields = {"to": "you@example.com", "subject": "Order 7", "html": "<p>paid</p>"}
        first = await queue.enqueue(idempotency_key="order-7", **fields)  # type: ignore[arg-type]
        again = await queue.enqueue(idempotency_key="order-7", **fields)  # type: ignore[arg-type]
        assert again == first
        with pytest.raises(IdempotencyConflictError) as conflict:
            await queue.enqueue(
                idempotency_key="order-7", to="you@example.com", subject="Order 8", html="x"
            )
        assert conflict.value.mail_id == first.id
        sync_again = await asyncio.to_thread(
            lambda: queue.enqueue_sync(idempotency_key="order-7", **fields)  # type: ignore[arg-type]
        )
        assert sync_again.id == first.id
        # Concurrent callers with one key get one mail.
        racers = await asyncio.gather(
            *(
                queue.enqueue(idempotency_key="race", to="you@example.com", text="same")
                for _ in range(8)
            )
        )
        assert len({mail.id for mail in racers}) == 1
        assert (await queue.counts())["queued"] == 2


async def test_a_ready_message_is_stored_as_send_message_would_send_it(queue_url: str) -> None:
    message = email.message.EmailMessage()
    message["From"] = "Shop <shop@gmail.com>"
    message["To"] = "you@example.com"
    message["Bcc"] = "hidden@example.com"
    message["Subject"] = "Ready"
    message["Message-ID"] = "<ready-1@gmail.com>"
    message.set_content("made elsewhere")
    async with MailQueue(queue_url) as queue:
        mail = await queue.enqueue_message(message, idempotency_key="ready")
        assert mail.message_id == "<ready-1@gmail.com>" and mail.account == "shop@gmail.com"
        del message["Message-ID"]
        message["Message-ID"] = "<ready-2@gmail.com>"  # Django makes a new one per call
        again = await asyncio.to_thread(
            lambda: queue.enqueue_message_sync(message, idempotency_key="ready")
        )
        assert again.id == mail.id
        other = await queue.enqueue_message(message, recipients=["only@example.com"])
    assert message["Bcc"] == "hidden@example.com"  # the caller's message is untouched
    rows = dict(raw_query(queue_url, "SELECT id, recipients FROM gmail_send_mails"))
    assert json.loads(rows[mail.id]) == ["you@example.com", "hidden@example.com"]
    assert json.loads(rows[other.id]) == ["only@example.com"]
    [(data,)] = raw_query(
        queue_url, "SELECT data FROM gmail_send_mail_bodies WHERE id = %s", (mail.id,)
    )
    assert b"hidden@example.com" not in bytes(data)


async def test_not_before_schedules_a_mail(queue_url: str) -> None:
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        mail = await queue.enqueue(to="you@example.com", text="t", not_before=later)
    assert mail.next_attempt_at is not None
    assert abs((mail.next_attempt_at - later).total_seconds()) < 0.01


async def test_cancel_only_before_sending(queue_url: str) -> None:
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        mail = await queue.enqueue(to="you@example.com", text="t")
        cancelled = await queue.cancel(mail.id)
        assert cancelled.status == "cancelled" and cancelled.next_attempt_at is None
        with pytest.raises(MailStateError) as refused:
            await queue.cancel(mail.id)
        assert refused.value.status == "cancelled"
        with pytest.raises(MailNotFoundError):
            await queue.cancel("no-such-mail")
        with pytest.raises(MailNotFoundError):
            await queue.get("no-such-mail")
        with pytest.raises(MailNotFoundError):
            await asyncio.to_thread(queue.get_sync, "no-such-mail")


async def test_resolve_settles_an_unknown_outcome(queue_url: str) -> None:
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        first = await queue.enqueue(to="you@example.com", text="t")
        second = await queue.enqueue(to="you@example.com", text="t")
        with pytest.raises(MailStateError):
            await queue.resolve(first.id, sent=True)  # its outcome is not unknown
        raw_query(queue_url, "UPDATE gmail_send_mails SET status = 'unknown', body_out = 1")
        sent = await queue.resolve(first.id, sent=True)
        assert sent.status == "sent" and sent.result is None
        again = await queue.resolve(second.id, sent=False)
        assert again.status == "queued" and again.message_id == second.message_id
        assert again.next_attempt_at is not None


async def test_retry_and_purge(queue_url: str) -> None:
    async with MailQueue(queue_url, account=ACCOUNT, retention=3600) as queue:
        failed = await queue.enqueue(to="you@example.com", text="t")
        queued = await queue.enqueue(to="you@example.com", text="t")
        raw_query(
            queue_url,
            "UPDATE gmail_send_mails SET status = 'failed', attempts = 10, ended_at = %s "
            "WHERE id = %s",
            (failed.created_at.timestamp(), failed.id),
        )
        with pytest.raises(MailStateError):
            await queue.retry(queued.id)
        retried = await queue.retry(failed.id)
        assert retried.status == "queued" and retried.attempts == 0
        assert await queue.purge(older_than=1) == 0  # nothing has ended
        await queue.cancel(queued.id)
        raw_query(
            queue_url, "UPDATE gmail_send_mails SET ended_at = 1000 WHERE id = %s", (queued.id,)
        )
        assert await queue.purge(older_than=timedelta(days=1)) == 1
        with pytest.raises(MailNotFoundError):
            await queue.get(queued.id)
        assert [m.id for m in await queue.mails()] == [failed.id]
        assert raw_query(queue_url, "SELECT COUNT(*) FROM gmail_send_mail_bodies") == [(1,)]


async def test_mails_lists_the_newest_first_by_status_and_account(queue_url: str) -> None:
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        made = [await queue.enqueue(to="you@example.com", text=str(n)) for n in range(3)]
        other = await queue.enqueue(account="b@example.com", to="you@example.com", text="t")
        await queue.cancel(made[0].id)
        assert [m.id for m in await queue.mails()] == [other.id, made[2].id, made[1].id, made[0].id]
        assert [m.id for m in await queue.mails(status="cancelled")] == [made[0].id]
        assert [m.id for m in await queue.mails(account="B@example.com")] == [other.id]
        assert len(await queue.mails(status=("queued", "cancelled"), limit=2)) == 2
        with pytest.raises(ConfigurationError):
            await queue.mails(status="lost")  # type: ignore[arg-type]
        counts = await queue.counts()
        assert counts["queued"] == 3 and counts["cancelled"] == 1 and counts["sent"] == 0


async def test_the_schema_is_the_migrators(queue_url: str) -> None:
    async with MailQueue(queue_url) as queue:
        await queue.counts()
    assert raw_query(queue_url, "SELECT version FROM gmail_send_schema") == [(SCHEMA_VERSION,)]


def test_secrets_stay_out_of_reprs_and_errors(postgres_server: str) -> None:
    base = postgres_server.replace("postgres@", "postgres:s3cret-pass@")
    queue = MailQueue(base.rsplit("/", 1)[0] + "/no_such_database")
    assert "s3cret" not in repr(queue) and "s3cret" not in queue.name
    with pytest.raises(ConfigurationError) as failed:
        queue.get_sync("x")
    assert "s3cret" not in str(failed.value)


def test_options_are_checked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    with pytest.raises(ConfigurationError):
        MailQueue(url, retry=RetryPolicy(retry_unknown_outcome=True))
    with pytest.raises(ConfigurationError):
        MailQueue(url, retry=RetryPolicy(deadline=10))
    with pytest.raises(ConfigurationError):
        MailQueue(url, poll=5)
    with pytest.raises(ConfigurationError):
        MailQueue(url, lease=0)
    with pytest.raises(ConfigurationError):
        MailQueue(url, account="not-an-address")
    with pytest.raises(ConfigurationError):
        MailQueue("mysql://db/app")


async def test_sync_calls_refuse_an_event_loop_thread(tmp_path: Path) -> None:
    queue = MailQueue(f"sqlite:///{tmp_path / 'q.db'}", account=ACCOUNT)
    with pytest.raises(RuntimeError, match="await enqueue"):
        queue.enqueue_sync(to="you@example.com", text="t")
    mail = await asyncio.to_thread(
        lambda: queue.enqueue_sync(to="you@example.com", text="t")  # a worker thread is fine
    )
    assert (await asyncio.to_thread(queue.get_sync, mail.id)).status == "queued"
    await queue.aclose()
