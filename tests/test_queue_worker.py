"""MailQueue.work(): what the worker does with each mail and each failure, against the local
Gmail, on real SQLite files and a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from gmail_send import (
    AccountQuotas,
    AppPassword,
    ConfigurationError,
    GmailSender,
    MailQueue,
    RetryPolicy,
    SendingLimits,
)
from gmail_send.testing import LocalAccount, LocalGmail

from .local_helpers import ACCOUNT, APP_PASSWORD
from .queue_helpers import raw_query

OTHER = "other@gmail.com"
NO_RETRY = RetryPolicy(retries=0)


def sender(server: LocalGmail, account: str = ACCOUNT, **options: Any) -> GmailSender:
    options.setdefault("retry", RetryPolicy(backoff=0.01))
    return GmailSender(
        AppPassword(account, APP_PASSWORD),
        host=server.host,
        port=server.port,
        tls_context=server.client_tls_context(),
        **options,
    )


async def work(queue: MailQueue, *senders: GmailSender) -> None:
    await asyncio.wait_for(queue.work(*senders, until_empty=True), 120)


async def wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_due_mail_is_sent_once_and_its_result_kept(gmail: LocalGmail, queue_url: str) -> None:
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        mails = [
            await queue.enqueue(to="you@example.com", bcc="hidden@example.com", subject=str(n))
            for n in range(5)
        ]
        async with sender(gmail) as gmail_sender:
            await work(queue, gmail_sender)
            assert gmail_sender.store is not None  # the queue's database, shared by workers
            assert await gmail_sender.store.sent_today(ACCOUNT) == 5
        for mail in mails:
            done = await queue.get(mail.id)
            assert done.status == "sent" and done.attempts == 1
            assert done.result is not None
            assert done.result.accepted == ("you@example.com", "hidden@example.com")
            assert done.result.message_id == mail.message_id
            assert done.next_attempt_at is None
    assert sorted(m.parsed()["Subject"] for m in gmail.messages) == ["0", "1", "2", "3", "4"]
    assert all(m.rcpt_tos == ("you@example.com", "hidden@example.com") for m in gmail.messages)
    assert all(b"hidden@example.com" not in m.data for m in gmail.messages)


async def test_a_temporary_failure_backs_off_then_sends(gmail: LocalGmail, queue_url: str) -> None:
    gmail.inject("mail", (451, "4.3.0 Mail server temporarily rejected message."))
    retry = RetryPolicy(retries=3, backoff=0.3, max_backoff=0.3)
    async with MailQueue(queue_url, account=ACCOUNT, retry=retry) as queue:
        mail = await queue.enqueue(to="you@example.com", text="t")
        async with sender(gmail, retry=NO_RETRY) as gmail_sender:
            await work(queue, gmail_sender)  # returns: the mail is not due yet
            waiting = await queue.get(mail.id)
            assert waiting.status == "queued" and waiting.attempts == 1
            assert waiting.next_attempt_at is not None
            assert waiting.next_attempt_at > waiting.updated_at
            assert waiting.last_error is not None
            assert (waiting.last_error.type, waiting.last_error.code) == ("TemporaryError", 451)
            await asyncio.sleep(0.4)
            await work(queue, gmail_sender)
        sent = await queue.get(mail.id)
        assert sent.status == "sent" and sent.attempts == 2
        assert sent.last_error is not None  # the failed attempt stays on record
    assert len(gmail.messages) == 1


async def test_temporary_failures_end_failed_after_the_last_retry(
    gmail: LocalGmail, queue_url: str
) -> None:
    gmail.inject("mail", (451, "4.3.0 Mail server temporarily rejected message."))
    async with MailQueue(queue_url, account=ACCOUNT, retry=RetryPolicy(retries=0)) as queue:
        mail = await queue.enqueue(to="you@example.com", text="t")
        async with sender(gmail, retry=NO_RETRY) as gmail_sender:
            await work(queue, gmail_sender)
        assert (await queue.get(mail.id)).status == "failed"


async def test_a_permanent_failure_ends_failed(gmail: LocalGmail, queue_url: str) -> None:
    gmail.inject("rcpt", (550, "5.1.1 The email account that you tried to reach does not exist."))
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        mail = await queue.enqueue(to="nobody@example.com", text="t")
        async with sender(gmail) as gmail_sender:
            await work(queue, gmail_sender)
        failed = await queue.get(mail.id)
    assert failed.status == "failed" and failed.next_attempt_at is None
    assert failed.last_error is not None
    assert failed.last_error.type == "RecipientsRefusedError"
    assert (failed.last_error.code, failed.last_error.enhanced_code) == (550, "5.1.1")
    assert not gmail.messages


async def test_gmails_daily_limit_holds_the_accounts_mail_until_the_window_moves(
    start_gmail: Any, queue_url: str
) -> None:
    gmail: LocalGmail = await start_gmail(
        accounts=[
            LocalAccount(ACCOUNT, app_password=APP_PASSWORD),
            LocalAccount(OTHER, app_password=APP_PASSWORD),
        ]
    )
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        first = await queue.enqueue(to="you@example.com", subject="first")
        async with sender(gmail, max_connections=1) as mine, sender(gmail, OTHER) as other:
            await work(queue, mine, other)
            sent_at = (await queue.get(first.id)).updated_at
            gmail.inject("mail", (550, "5.4.5 Daily user sending limit exceeded."))
            held = [await queue.enqueue(to="you@example.com", subject=str(n)) for n in range(3)]
            elsewhere = await queue.enqueue(account=OTHER, to="you@example.com", subject="b")
            await work(queue, mine, other)
            states = [await queue.get(mail.id) for mail in held]
            assert {mail.status for mail in states} == {"held"}
            for mail in states:
                assert mail.next_attempt_at is not None and mail.attempts == 0
                # Until the oldest send of the rolling 24 hours has left the window.
                window = mail.next_attempt_at - (sent_at + timedelta(days=1))
                assert abs(window.total_seconds()) < 5
            assert {m.last_error.code for m in states if m.last_error} == {550}
            assert (await queue.get(elsewhere.id)).status == "sent"  # other accounts go on
            # `retry` on a held mail lifts the account's hold.
            await queue.retry(held[0].id)
            await work(queue, mine, other)
            assert {(await queue.get(m.id)).status for m in held} == {"sent"}
    assert len(gmail.messages) == 5


async def test_a_login_hold_off_holds_the_accounts_mail(gmail: LocalGmail, queue_url: str) -> None:
    gmail.inject("auth", (454, "4.7.0 Too many login attempts, please try again later."))
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        mail = await queue.enqueue(to="you@example.com", text="t")
        limits = SendingLimits(login_throttle_pause=600)
        async with sender(gmail, limits=limits) as gmail_sender:
            await work(queue, gmail_sender)
        held = await queue.get(mail.id)
    assert held.status == "held" and held.next_attempt_at is not None
    wait = (held.next_attempt_at - held.updated_at).total_seconds()
    assert 590 < wait < 610
    assert held.last_error is not None and held.last_error.type == "LoginThrottledError"


async def test_a_mail_whose_body_may_have_arrived_is_unknown_and_never_resent(
    gmail: LocalGmail, queue_url: str
) -> None:
    # Without the Sent Mail lookup (tests/test_queue_reconcile.py has it) the mail waits for
    # the operator: never sent again blindly.
    gmail.drop_connection("data_end_stored")  # Gmail stored it; the answer never came
    async with MailQueue(queue_url, account=ACCOUNT, settle_unknown=False) as queue:
        mail = await queue.enqueue(to="you@example.com", text="t")
        async with sender(gmail) as gmail_sender:
            await work(queue, gmail_sender)
            unknown = await queue.get(mail.id)
            assert unknown.status == "unknown"
            assert unknown.last_error is not None
            assert unknown.last_error.type == "UnknownOutcomeError"
            await work(queue, gmail_sender)  # nothing is due
            assert len(gmail.messages) == 1
            await queue.resolve(mail.id, sent=True)
        resolved = await queue.get(mail.id)
        assert resolved.status == "sent" and resolved.settled_by == "resolve"
        assert resolved.result is None


async def test_not_after_ends_an_unsent_mail_expired(gmail: LocalGmail, queue_url: str) -> None:
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        soon = datetime.now(timezone.utc) + timedelta(seconds=0.5)
        mail = await queue.enqueue(to="you@example.com", text="reset link", not_after=soon)
        await asyncio.sleep(0.6)
        async with sender(gmail) as gmail_sender:
            await work(queue, gmail_sender)
        expired = await queue.get(mail.id)
    assert expired.status == "expired"
    assert not gmail.messages


async def test_bodies_are_deleted_after_the_retention_time(
    gmail: LocalGmail, queue_url: str
) -> None:
    async with MailQueue(queue_url, account=ACCOUNT, retention=0.3) as queue:
        sent = await queue.enqueue(to="you@example.com", text="secret reset link")
        async with sender(gmail) as gmail_sender:
            await work(queue, gmail_sender)
            waiting = await queue.enqueue(to="you@example.com", text="t", not_before=_in(3600))
            await asyncio.sleep(0.4)
            await work(queue, gmail_sender)
        assert (await queue.get(sent.id)).status == "sent"  # the row stays for audit
    bodies = raw_query(queue_url, "SELECT id FROM gmail_send_mail_bodies")
    assert bodies == [(waiting.id,)]


def _in(seconds: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


async def test_sends_run_at_once_up_to_the_senders_pool(gmail: LocalGmail, queue_url: str) -> None:
    pauses = [gmail.pause("mail") for _ in range(3)]
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        for n in range(6):
            await queue.enqueue(to="you@example.com", subject=str(n))
        async with sender(gmail, max_connections=3) as gmail_sender:
            worker = asyncio.create_task(queue.work(gmail_sender, until_empty=True))
            for pause in pauses:
                await pause.wait_async()
            assert gmail.open_sessions == 3
            counts = await queue.counts()
            assert counts["sending"] == 3 and counts["queued"] == 3
            for pause in pauses:
                pause.release()
            await asyncio.wait_for(worker, 60)
    assert len(gmail.messages) == 6
    assert gmail.max_concurrent_sessions == 3


async def test_an_idle_worker_wakes_within_a_second(gmail: LocalGmail, queue_url: str) -> None:
    async with MailQueue(queue_url, account=ACCOUNT) as queue, sender(gmail) as gmail_sender:
        worker = asyncio.create_task(queue.work(gmail_sender))
        await asyncio.sleep(1.0)  # idle
        async with MailQueue(queue_url, account=ACCOUNT) as elsewhere:
            mail = await elsewhere.enqueue(to="you@example.com", text="t")
            enqueued = time.monotonic()

            async def claimed() -> bool:
                return (await elsewhere.get(mail.id)).status != "queued"

            await wait_for(claimed)
            assert time.monotonic() - enqueued < 3.0  # polls every 0.5 s; generous bound
        queue.stop()
        await asyncio.wait_for(worker, 30)
    assert len(gmail.messages) == 1


async def test_stop_lets_the_mail_held_finish(gmail: LocalGmail, queue_url: str) -> None:
    pause = gmail.pause("data")
    async with MailQueue(queue_url, account=ACCOUNT) as queue, sender(gmail) as gmail_sender:
        mail = await queue.enqueue(to="you@example.com", text="t")
        waiting = await queue.enqueue(to="you@example.com", text="t", not_before=_in(0.5))
        worker = asyncio.create_task(queue.work(gmail_sender, until_empty=True))
        await pause.wait_async()
        queue.stop()
        await asyncio.sleep(0.6)  # the second is due now, but nothing more is claimed
        pause.release()
        await asyncio.wait_for(worker, 30)
        assert (await queue.get(mail.id)).status == "sent"
        assert (await queue.get(waiting.id)).status == "queued"


@pytest.mark.parametrize(("stage", "after"), [("mail", "queued"), ("data_end", "unknown")])
async def test_cancelling_releases_the_mail_held(
    gmail: LocalGmail, queue_url: str, stage: Any, after: str
) -> None:
    pause = gmail.pause(stage)
    async with MailQueue(queue_url, account=ACCOUNT) as queue, sender(gmail) as gmail_sender:
        mail = await queue.enqueue(to="you@example.com", text="t")
        worker = asyncio.create_task(queue.work(gmail_sender))
        await pause.wait_async()
        worker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker
        released = await queue.get(mail.id)
        assert released.status == after
        assert released.attempts == (0 if after == "queued" else 1)
        pause.release()


async def test_a_dead_workers_claim_runs_out(gmail: LocalGmail, queue_url: str) -> None:
    async with MailQueue(queue_url, account=ACCOUNT, lease=1.0) as queue:
        before_body = await queue.enqueue(to="you@example.com", subject="again")
        after_body = await queue.enqueue(to="you@example.com", subject="maybe sent")
        past = time.time() - 1
        for mail, body_out in ((before_body, 0), (after_body, 1)):
            raw_query(
                queue_url,
                "UPDATE gmail_send_mails SET status = 'sending', claim = 'dead', attempts = 1, "
                "lease_until = %s, body_out = %s WHERE id = %s",
                (past, body_out, mail.id),
            )
        async with sender(gmail) as gmail_sender:
            await work(queue, gmail_sender)
        assert (await queue.get(before_body.id)).status == "sent"
        unknown = await queue.get(after_body.id)
        assert unknown.status == "unknown" and unknown.last_error is not None
    assert [m.parsed()["Subject"] for m in gmail.messages] == ["again"]


async def test_a_lost_claim_keeps_the_body_back(gmail: LocalGmail, queue_url: str) -> None:
    # The envelope is in; the body, which goes with BDAT, is not written yet.
    pause = gmail.pause("rcpt")
    async with MailQueue(queue_url, account=ACCOUNT) as queue, sender(gmail) as gmail_sender:
        mail = await queue.enqueue(to="you@example.com", text="t")
        worker = asyncio.create_task(queue.work(gmail_sender, until_empty=True))
        await pause.wait_async()
        # Meanwhile its lease ran out and another worker took it.
        raw_query(queue_url, "UPDATE gmail_send_mails SET claim = 'another worker'")
        pause.release()
        await asyncio.sleep(0.5)
        raw_query(
            queue_url,
            "UPDATE gmail_send_mails SET status = 'sent', ended_at = %s WHERE id = %s",
            (time.time(), mail.id),
        )  # ... and settled it
        await asyncio.wait_for(worker, 30)
    assert not gmail.messages


async def test_senders_are_checked(gmail: LocalGmail, tmp_path: Path) -> None:
    queue = MailQueue(f"sqlite:///{tmp_path / 'queue.db'}", account=ACCOUNT)
    with pytest.raises(ConfigurationError, match="another store"):
        await queue.work(sender(gmail, store=f"sqlite:///{tmp_path / 'other.db'}"))
    with pytest.raises(ConfigurationError, match="retry_unknown_outcome"):
        await queue.work(sender(gmail, retry=RetryPolicy(retry_unknown_outcome=True)))
    with pytest.raises(ConfigurationError, match="two senders"):
        await queue.work(sender(gmail), sender(gmail))
    with pytest.raises(ConfigurationError, match="quotas"):
        await queue.work(sender(gmail, limits=SendingLimits(quotas=AccountQuotas())))
    with pytest.raises(ConfigurationError, match="at least one"):
        await queue.work()
    same = sender(gmail, store=f"sqlite:///{tmp_path / 'queue.db'}")
    await queue.work(same, until_empty=True)  # the queue's own database is fine
    await same.aclose()
    await queue.aclose()


async def test_the_outcome_is_json_in_the_row(gmail: LocalGmail, queue_url: str) -> None:
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        mail = await queue.enqueue(to="you@example.com", text="t")
        async with sender(gmail) as gmail_sender:
            await work(queue, gmail_sender)
    [(result, worker)] = raw_query(
        queue_url, "SELECT result, worker FROM gmail_send_mails WHERE id = %s", (mail.id,)
    )
    assert json.loads(result)["accepted"] == ["you@example.com"]
    assert worker == queue.worker_name
