"""The rows of `unknown` mails on real SQLite files and a real PostgreSQL server: the sweep
starts a lookup's window no earlier than the lease that ran out, a heartbeat in flight does not
renew a mail the sweep made `unknown`, and `awaiting()` counts rows from before the migration.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from gmail_send import MailQueue, RetryPolicy
from gmail_send.queue import _claims
from gmail_send.testing import LocalGmail

from .local_helpers import ACCOUNT
from .queue_helpers import raw_query
from .test_queue_reconcile import sender


def mark_sending(url: str, mail_id: str, *, lease_until: float, body_out_at: float) -> None:
    """Make `mail_id` look like a mail a worker is sending over SMTP, its body gone out."""
    raw_query(
        url,
        "UPDATE gmail_send_mails SET status = 'sending', claim = 'live', attempts = 1, "
        "lease_until = %s, body_out = 1 WHERE id = %s",
        (lease_until, mail_id),
    )
    raw_query(
        url,
        "INSERT INTO gmail_send_attempts (mail_id, attempt, transport, body_out_at) "
        "VALUES (%s, 1, 'smtp', %s)",
        (mail_id, body_out_at),
    )


def body_out_at(url: str, mail_id: str) -> float:
    [(at,)] = raw_query(
        url, "SELECT body_out_at FROM gmail_send_attempts WHERE mail_id = %s", (mail_id,)
    )
    return float(at)


async def test_the_sweep_starts_the_window_at_the_lease_that_ran_out(
    gmail: LocalGmail, queue_url: str
) -> None:
    """A live worker whose heartbeat failed may still be sending: its last lease is the last
    moment it vouched for the mail, so the lookup waits its window from there."""
    async with MailQueue(queue_url, account=ACCOUNT, settle_unknown=False) as queue:
        stale = await queue.enqueue(to="you@example.com", subject="stale lease", text="t")
        late = await queue.enqueue(to="you@example.com", subject="late body", text="t")
        now = time.time()
        mark_sending(queue_url, stale.id, lease_until=now - 5, body_out_at=now - 60)
        # A body-out after the lease (an error that knew when the body went out) stays.
        mark_sending(queue_url, late.id, lease_until=now - 50, body_out_at=now - 10)
        async with sender(gmail) as gmail_sender:
            await asyncio.wait_for(queue.work(gmail_sender, until_empty=True), 60)
        for mail in (stale, late):
            assert (await queue.get(mail.id)).status == "unknown"
    assert body_out_at(queue_url, stale.id) == pytest.approx(now - 5, abs=0.01)
    assert body_out_at(queue_url, late.id) == pytest.approx(now - 10, abs=0.01)


async def test_a_lookup_after_the_sweep_waits_from_the_lease(
    gmail: LocalGmail, queue_url: str
) -> None:
    """The window (1.5 s) runs from the lease's end, not from the body-out a minute ago: the
    copy filed meanwhile is found, and the mail is not sent again."""
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        mail = await queue.enqueue(to="you@example.com", subject="lease", text="t")
        now = time.time()
        mark_sending(queue_url, mail.id, lease_until=now - 0.1, body_out_at=now - 60)
        gmail.sent_copy_delay = None
        async with sender(gmail, retry=RetryPolicy(backoff=0.01)) as gmail_sender:
            started = time.monotonic()
            await asyncio.wait_for(queue.work(gmail_sender, until_empty=True), 60)
            assert time.monotonic() - started >= 1.0  # the window ran from the lease's end
        done = await queue.get(mail.id)
    assert done.resends == 1 and done.status == "sent"


async def test_a_heartbeat_does_not_renew_a_mail_the_sweep_made_unknown(queue_url: str) -> None:
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        swept = await queue.enqueue(to="you@example.com", subject="swept", text="t")
        held = await queue.enqueue(to="you@example.com", subject="held", text="t")
        now = time.time()
        mark_sending(queue_url, swept.id, lease_until=now - 1, body_out_at=now - 60)
        mark_sending(queue_url, held.id, lease_until=now + 30, body_out_at=now - 1)
        raw_query(queue_url, "UPDATE gmail_send_mails SET claim = 'held' WHERE id = %s", (held.id,))
        await queue._run(lambda cursor, now: _claims.sweep(cursor, now=now))
        # The worker's heartbeat still names both send claims.
        await queue._run(
            lambda cursor, now: _claims.heartbeat(
                cursor, sending=["live", "held"], looking=[], lease=60.0, now=now
            )
        )
        rows = dict(
            raw_query(
                queue_url,
                "SELECT id, lease_until FROM gmail_send_mails WHERE id IN (%s, %s)",
                (swept.id, held.id),
            )
        )
        assert (await queue.get(swept.id)).status == "unknown"
    assert rows[swept.id] is None  # a lookup may take it at once
    assert rows[held.id] > now + 50


async def test_awaiting_counts_rows_from_before_the_migration(queue_url: str) -> None:
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        mails = [
            await queue.enqueue(to="you@example.com", subject=f"m{n}", text="t") for n in range(4)
        ]
        for mail, awaiting in zip(mails, [None, "resolve", "resolve", "lookup"], strict=True):
            raw_query(
                queue_url,
                "UPDATE gmail_send_mails SET status = 'unknown', awaiting = %s WHERE id = %s",
                (awaiting, mail.id),
            )
        assert await queue.awaiting() == {"lookup": 1, "reconcile": 0, "resolve": 3}


async def test_a_mail_with_no_transport_known_says_so(queue_url: str) -> None:
    """A mail from before the queue recorded each attempt's transport awaits `resolve`, with a
    hint that says the transport is not known (not that it went over the Gmail API)."""
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        mail = await queue.enqueue(to="you@example.com", subject="old", text="t")
        raw_query(
            queue_url,
            "UPDATE gmail_send_mails SET status = 'sending', claim = 'old', attempts = 1, "
            "lease_until = %s, body_out = 1 WHERE id = %s",
            (time.time() - 1, mail.id),
        )
        await queue._run(lambda cursor, now: _claims.sweep(cursor, now=now))
        swept = await queue.get(mail.id)
    assert swept.status == "unknown" and swept.awaiting == "resolve"
    assert swept.transport is None
    assert swept.last_error is not None and swept.last_error.hint is not None
    assert "transport" in swept.last_error.hint and "not known" in swept.last_error.hint
    assert "Gmail API" not in swept.last_error.hint
