"""Lookups that cannot run, against the local Gmail on real SQLite files and a real PostgreSQL
server: a Message-ID `find_sent` refuses parks the mail for `resolve`, a sender that cannot
look (a sink) parks it for `reconcile`, an unexpected error is recorded and tried again after a
back-off (no tight loop), and `reconcile` pages through every unknown mail, the oldest first.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from gmail_send import AppPassword, GmailSender, MailQueue, RetryPolicy
from gmail_send.queue import _reconcile
from gmail_send.testing import LocalGmail, Outbox

from .local_helpers import ACCOUNT, APP_PASSWORD
from .queue_helpers import raw_query
from .test_queue_reconcile import copies, sender, work


class BrokenLookup(GmailSender):
    """A sender whose Sent Mail lookup fails with an error that is no GmailSendError (a bug)."""

    looked = 0

    async def find_sent(self, message_id: str, **options: Any) -> bool:
        BrokenLookup.looked += 1
        raise KeyError("no such thing")


async def unknown_mail(gmail: LocalGmail, url: str, subject: str) -> str:
    """A mail whose body went out over SMTP without an answer, awaiting a lookup."""
    gmail.drop_connection("data_end_stored")
    async with MailQueue(url, account=ACCOUNT, settle_unknown=False) as queue:
        mail = await queue.enqueue(to="you@example.com", subject=subject, text="t")
        async with sender(gmail) as gmail_sender:
            await work(queue, gmail_sender)
        assert (await queue.get(mail.id)).awaiting == "lookup"
    return mail.id


async def test_a_message_id_find_sent_refuses_awaits_resolve(
    gmail: LocalGmail, queue_url: str
) -> None:
    async with MailQueue(queue_url, account=ACCOUNT, settle_unknown=False) as queue:
        mail_id = await unknown_mail(gmail, queue_url, "too long")
        raw_query(
            queue_url,
            "UPDATE gmail_send_mails SET message_id = %s WHERE id = %s",
            (f"<{'x' * 1000}@example.com>", mail_id),
        )
        async with sender(gmail) as gmail_sender:
            [done] = await queue.reconcile(gmail_sender, ids=[mail_id])
        parked = await queue.get(mail_id)
    assert done.outcome == "unavailable" and type(done.error).__name__ == "MessageError"
    assert parked.status == "unknown" and parked.awaiting == "resolve"
    assert parked.last_error is not None and parked.last_error.hint is not None
    assert parked.last_error.type == "MessageError"
    assert f"queue resolve --sent {mail_id}" in parked.last_error.hint
    assert not gmail.imap_sessions


async def test_a_sink_sender_parks_it_for_reconcile(gmail: LocalGmail, queue_url: str) -> None:
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        mail_id = await unknown_mail(gmail, queue_url, "sink")
        async with GmailSender(AppPassword(ACCOUNT, APP_PASSWORD), sink=Outbox()) as sink:
            [done] = await queue.reconcile(sink)
        parked = await queue.get(mail_id)
    assert done.outcome == "unavailable" and type(done.error).__name__ == "ConfigurationError"
    assert parked.awaiting == "reconcile" and parked.next_attempt_at is None
    assert parked.last_error is not None and parked.last_error.hint is not None
    assert f"queue reconcile --id {mail_id}" in parked.last_error.hint
    assert copies(gmail, parked.message_id) == 1


async def test_an_unexpected_error_is_tried_again_after_a_back_off(
    gmail: LocalGmail, queue_url: str
) -> None:
    retry = RetryPolicy(retries=3, backoff=30.0)
    async with MailQueue(queue_url, account=ACCOUNT, retry=retry, lease=1.0) as queue:
        mail_id = await unknown_mail(gmail, queue_url, "bug")
        BrokenLookup.looked = 0
        broken = BrokenLookup(
            AppPassword(ACCOUNT, APP_PASSWORD),
            host=gmail.host,
            port=gmail.port,
            tls_context=gmail.client_tls_context(),
        )
        async with broken:
            worker = asyncio.create_task(queue.work(broken))
            await asyncio.sleep(3.0)  # three leases: a tight loop would look it up again
            queue.stop()
            await asyncio.wait_for(worker, 30)
        waiting = await queue.get(mail_id)
    assert BrokenLookup.looked == 1
    assert waiting.status == "unknown" and waiting.awaiting == "lookup"
    assert waiting.next_attempt_at is not None
    assert (waiting.next_attempt_at - waiting.updated_at).total_seconds() > 10
    assert waiting.last_error is not None and waiting.last_error.type == "KeyError"
    [(lookups, lease_until)] = raw_query(
        queue_url, "SELECT lookups, lease_until FROM gmail_send_mails WHERE id = %s", (mail_id,)
    )
    assert lookups == 1 and lease_until is None


async def test_one_mails_unexpected_error_leaves_the_others_settled(
    gmail: LocalGmail, queue_url: str
) -> None:
    """reconcile() returns an outcome for every mail though one lookup failed unexpectedly
    (here its row turned unreadable while the lookup waited for its window)."""
    async with MailQueue(queue_url, account=ACCOUNT, settle_unknown=False) as queue:
        delay = gmail.sent_copy_delay
        gmail.sent_copy_delay = None  # no copy: the lookup waits for its whole window
        first = await unknown_mail(gmail, queue_url, "first")
        gmail.sent_copy_delay = delay
        second = await unknown_mail(gmail, queue_url, "second")
        async with sender(gmail, find_sent_wait=3.0) as gmail_sender:
            running = asyncio.create_task(queue.reconcile(gmail_sender))
            deadline = time.monotonic() + 30
            while not raw_query(
                queue_url,
                "SELECT 1 FROM gmail_send_mails WHERE id = %s AND lease_until IS NOT NULL",
                (first,),
            ):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            raw_query(
                queue_url,
                "UPDATE gmail_send_mails SET last_error = 'not json' WHERE id = %s",
                (first,),
            )
            done = await asyncio.wait_for(running, 60)
        assert [r.mail.id for r in done] == [first, second]
        assert done[0].outcome == "unavailable" and done[0].error is not None
        assert "JSONDecodeError" in done[0].error.message
        assert done[1].outcome == "found"
        raw_query(
            queue_url, "UPDATE gmail_send_mails SET last_error = NULL WHERE id = %s", (first,)
        )
        assert (await queue.get(first)).status == "unknown"  # nothing was written
        assert (await queue.get(second)).status == "sent"


async def test_reconcile_pages_through_every_unknown_mail_oldest_first(
    queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_reconcile, "PAGE", 2)
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        ids = []
        for n in range(5):
            mail = await queue.enqueue(to="you@example.com", subject=f"m{n}", text="t")
            ids.append(mail.id)
        now = time.time()
        for n, mail_id in enumerate(ids):  # two share a created_at: the id breaks the tie
            raw_query(
                queue_url,
                "UPDATE gmail_send_mails SET status = 'unknown', awaiting = 'resolve', "
                "created_at = %s WHERE id = %s",
                (now - 100 + min(n, 3), mail_id),
            )
        async with GmailSender(AppPassword(ACCOUNT, APP_PASSWORD), sink=Outbox()) as sink:
            done = await queue.reconcile(sink)
    tied = sorted(ids[3:])
    assert [r.mail.id for r in done] == [*ids[:3], *tied]
    assert {r.outcome for r in done} == {"not_looked_up"}
