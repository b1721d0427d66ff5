"""The queue settles `unknown` mails by itself: a worker looks the Message-ID up in the account's
Sent Mail over IMAP (the local Gmail's), on real SQLite files and a real PostgreSQL server.

Found, the mail is `sent` with no result and SMTP took it once; not there once the window
passed, Gmail did not take it and it goes again with the same Message-ID, counted, logged and
reported; a lookup that cannot run leaves it `unknown` with the reason's hint. Windows are a
second or two so the suite stays quick.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import tempfile
import time
from typing import Any

import pytest

from gmail_send import (
    AppPassword,
    GmailSender,
    MailNotFoundError,
    MailQueue,
    MailResent,
    MailSettled,
    MailStateError,
    RetryPolicy,
    SendEvent,
    SendingLimits,
)
from gmail_send.testing import LocalAccount, LocalGmail

from .cli_helpers import run_main
from .local_helpers import ACCOUNT, APP_PASSWORD
from .queue_helpers import raw_query
from .transports import Mail

WINDOW = 1.5
"""The lookup's window in these tests (Gmail's default is 120 s)."""


def sender(
    server: LocalGmail, events: list[SendEvent] | None = None, **options: Any
) -> GmailSender:
    options.setdefault("retry", RetryPolicy(backoff=0.01))
    options.setdefault("find_sent_wait", WINDOW)
    options.setdefault("imap_port", server.imap_port)
    return GmailSender(
        AppPassword(ACCOUNT, APP_PASSWORD),
        host=server.host,
        port=server.port,
        imap_host=server.host,
        tls_context=server.client_tls_context(),
        on_event=None if events is None else events.append,
        **options,
    )


def ca_file(server: LocalGmail) -> Any:
    """The local Gmail's CA as a PEM file (for the command's GMAIL_SEND_CA_FILE)."""
    return server.certificates.ca_pem_path(tempfile.mkdtemp())


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def copies(server: LocalGmail, message_id: str) -> int:
    """How many times SMTP accepted a message with this Message-ID."""
    return sum(str(m.parsed()["Message-ID"]) == message_id for m in server.messages)


async def work(queue: MailQueue, *senders: GmailSender) -> None:
    await asyncio.wait_for(queue.work(*senders, until_empty=True), 120)


async def test_a_copy_in_the_sent_mail_settles_it_as_sent(
    gmail: LocalGmail, queue_url: str
) -> None:
    gmail.drop_connection("data_end_stored")  # Gmail took it; the answer never came
    events: list[SendEvent] = []
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        mail = await queue.enqueue(to="you@example.com", subject="found", text="t")
        async with sender(gmail, events) as gmail_sender:
            await work(queue, gmail_sender)
        done = await queue.get(mail.id)
        assert await queue.resends() == 0
    assert done.status == "sent" and done.settled_by == "lookup"
    assert done.result is None and done.resends == 0 and done.attempts == 1
    assert done.transport == "smtp" and done.awaiting is None
    assert copies(gmail, mail.message_id) == 1  # no second acceptance
    settled = [e for e in events if isinstance(e, MailSettled)]
    assert settled == [MailSettled(ACCOUNT, mail_id=mail.id, message_id=mail.message_id)]
    assert not any(isinstance(e, MailResent) for e in events)


async def test_no_copy_after_the_window_sends_it_again_and_says_so(
    gmail: LocalGmail, queue_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    gmail.sent_copy_delay = None  # Gmail's copy is never filed: to the lookup, not taken
    gmail.drop_connection("data_end_stored")
    events: list[SendEvent] = []
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        mail = await queue.enqueue(to="you@example.com", subject="resent", text="t")
        async with sender(gmail, events) as gmail_sender:
            started = time.monotonic()
            with caplog.at_level(logging.WARNING, logger="gmail_send.queue"):
                await work(queue, gmail_sender)
            assert time.monotonic() - started >= WINDOW * 0.9  # the lookup waited the window
        done = await queue.get(mail.id)
        assert await queue.resends() == 1
    assert done.status == "sent" and done.settled_by == "smtp" and done.result is not None
    assert done.resends == 1 and done.attempts == 2
    assert copies(gmail, mail.message_id) == 2  # the same Message-ID, accepted twice
    [resent] = [e for e in events if isinstance(e, MailResent)]
    assert (resent.mail_id, resent.message_id, resent.resends) == (mail.id, mail.message_id, 1)
    assert resent.wait == WINDOW and resent.sent_at is not None
    assert abs(resent.sent_at - done.created_at.timestamp()) < 30
    [line] = [r for r in caplog.records if getattr(r, "event", None) == "mail_resent"]
    assert line.levelno == logging.WARNING
    assert mail.id in line.getMessage() and mail.message_id in line.getMessage()
    assert f"{WINDOW:g} s" in line.getMessage()


async def test_a_copy_filed_late_but_inside_the_window_is_not_resent(
    gmail: LocalGmail, queue_url: str
) -> None:
    gmail.sent_copy_delay = WINDOW / 2
    gmail.drop_connection("data_end_stored")
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        mail = await queue.enqueue(to="you@example.com", subject="late copy", text="t")
        async with sender(gmail) as gmail_sender:
            await work(queue, gmail_sender)
        done = await queue.get(mail.id)
    assert done.status == "sent" and done.settled_by == "lookup" and done.resends == 0
    assert copies(gmail, mail.message_id) == 1


async def test_imap_refusing_the_sign_in_leaves_it_unknown_for_the_operator(
    gmail: LocalGmail, queue_url: str
) -> None:
    gmail.refuse_imap_sign_in(times=1)
    gmail.drop_connection("data_end_stored")
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        mail = await queue.enqueue(to="you@example.com", subject="no imap", text="t")
        async with sender(gmail) as gmail_sender:
            await work(queue, gmail_sender)
            parked = await queue.get(mail.id)
            assert parked.status == "unknown" and parked.awaiting == "reconcile"
            assert parked.next_attempt_at is None
            assert parked.last_error is not None and parked.last_error.hint is not None
            assert parked.last_error.type == "ReconciliationUnavailableError"
            assert f"queue reconcile --id {mail.id}" in parked.last_error.hint
            assert await queue.awaiting() == {"lookup": 0, "reconcile": 1, "resolve": 0}
            await work(queue, gmail_sender)  # a worker does not look it up again by itself
            assert (await queue.get(mail.id)).status == "unknown"
            # The operator fixed the cause and asks again.
            [settled] = await queue.reconcile(gmail_sender)
        assert settled.outcome == "found" and settled.mail.status == "sent"
        assert settled.mail.settled_by == "lookup"
    assert copies(gmail, mail.message_id) == 1


async def test_imap_off_for_the_account_says_so(start_gmail: Any, queue_url: str) -> None:
    gmail: LocalGmail = await start_gmail(
        accounts=[LocalAccount(ACCOUNT, app_password=APP_PASSWORD, imap_enabled=False)]
    )
    gmail.drop_connection("data_end_stored")
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        mail = await queue.enqueue(to="you@example.com", subject="imap off", text="t")
        async with sender(gmail) as gmail_sender:
            await work(queue, gmail_sender)
            [again] = await queue.reconcile(gmail_sender, ids=[mail.id])
        done = await queue.get(mail.id)
    assert again.outcome == "unavailable" and again.error is not None
    assert getattr(again.error, "reason", None) == "imap_disabled"
    assert done.status == "unknown" and done.awaiting == "reconcile"
    assert done.last_error is not None and done.last_error.hint is not None
    assert "IMAP" in done.last_error.hint
    assert copies(gmail, mail.message_id) == 1


async def test_an_unreachable_imap_server_is_tried_again_later(
    gmail: LocalGmail, queue_url: str
) -> None:
    gmail.drop_connection("data_end_stored")
    retry = RetryPolicy(retries=3, backoff=30.0)
    async with MailQueue(queue_url, account=ACCOUNT, retry=retry) as queue:
        mail = await queue.enqueue(to="you@example.com", subject="unreachable", text="t")
        async with sender(gmail, imap_port=closed_port()) as gmail_sender:
            await work(queue, gmail_sender)  # returns: the next lookup is not due yet
        waiting = await queue.get(mail.id)
    assert waiting.status == "unknown" and waiting.awaiting == "lookup"
    assert waiting.next_attempt_at is not None
    assert 10 < (waiting.next_attempt_at - waiting.updated_at).total_seconds() < 40
    assert waiting.last_error is not None and waiting.last_error.hint is not None
    assert "looked up again later" in waiting.last_error.hint
    [(lookups,)] = raw_query(queue_url, "SELECT lookups FROM gmail_send_mails")
    assert lookups == 1


async def test_a_mail_sent_through_the_api_is_never_looked_up(mail: Mail, queue_url: str) -> None:
    mail.drop_after_body(stored=True)
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        queued = await queue.enqueue(to="you@example.com", subject="unknown", text="t")
        async with mail.sender(
            retry=RetryPolicy(retries=0),
            limits=SendingLimits(),
            find_sent_wait=WINDOW,
            imap_host=mail.gmail.host,
            imap_port=mail.gmail.imap_port,
        ) as gmail_sender:
            await work(queue, gmail_sender)
            if mail.transport == "api":
                [seen] = await queue.reconcile(gmail_sender)
                assert seen.outcome == "not_looked_up"
        done = await queue.get(queued.id)
    assert len(mail.messages) == 1
    if mail.transport == "smtp":
        assert done.status == "sent" and done.settled_by == "lookup"
        return
    assert done.status == "unknown" and done.awaiting == "resolve"
    assert done.transport == "api"
    assert done.last_error is not None and done.last_error.hint is not None
    assert "Gmail API" in done.last_error.hint and "resolve" in done.last_error.hint
    assert not mail.gmail.imap_sessions  # no lookup ran


async def test_a_dead_workers_mail_is_looked_up_from_its_recorded_body_out(
    gmail: LocalGmail, queue_url: str
) -> None:
    events: list[SendEvent] = []
    async with MailQueue(queue_url, account=ACCOUNT, lease=1.0) as queue:
        mail = await queue.enqueue(to="you@example.com", subject="maybe sent", text="t")
        body_out_at = time.time() - 60  # long ago: the window has passed
        raw_query(
            queue_url,
            "UPDATE gmail_send_mails SET status = 'sending', claim = 'dead', attempts = 1, "
            "lease_until = %s, body_out = 1 WHERE id = %s",
            (time.time() - 1, mail.id),
        )
        raw_query(
            queue_url,
            "INSERT INTO gmail_send_attempts (mail_id, attempt, transport, body_out_at) "
            "VALUES (%s, 1, 'smtp', %s)",
            (mail.id, body_out_at),
        )
        async with sender(gmail, events) as gmail_sender:
            started = time.monotonic()
            await work(queue, gmail_sender)
            assert time.monotonic() - started < WINDOW  # the window ran from the body-out
        done = await queue.get(mail.id)
    assert done.status == "sent" and done.resends == 1 and done.attempts == 2
    assert copies(gmail, mail.message_id) == 1  # the dead worker's body never arrived
    [resent] = [e for e in events if isinstance(e, MailResent)]
    assert resent.sent_at == pytest.approx(body_out_at)


async def test_resolve_wins_over_a_lookup_that_runs(gmail: LocalGmail, queue_url: str) -> None:
    gmail.sent_copy_delay = None
    gmail.drop_connection("data_end_stored")
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        mail = await queue.enqueue(to="you@example.com", subject="resolved", text="t")
        async with sender(gmail, find_sent_wait=3.0) as gmail_sender:
            worker = asyncio.create_task(queue.work(gmail_sender, until_empty=True))

            async def looking() -> bool:
                rows = raw_query(
                    queue_url,
                    "SELECT 1 FROM gmail_send_mails WHERE status = 'unknown' "
                    "AND lease_until IS NOT NULL",
                )
                return bool(rows)

            deadline = time.monotonic() + 30
            while not await looking():
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            await queue.resolve(mail.id, sent=True)
            await asyncio.wait_for(worker, 60)
        done = await queue.get(mail.id)
    assert done.status == "sent" and done.settled_by == "resolve" and done.resends == 0
    assert copies(gmail, mail.message_id) == 1


async def test_with_settle_unknown_off_it_waits_for_the_operator(
    gmail: LocalGmail, queue_url: str
) -> None:
    gmail.drop_connection("data_end_stored")
    async with MailQueue(queue_url, account=ACCOUNT, settle_unknown=False) as queue:
        mail = await queue.enqueue(to="you@example.com", subject="off", text="t")
        async with sender(gmail) as gmail_sender:
            await work(queue, gmail_sender)
            await work(queue, gmail_sender)  # nothing is due
            unknown = await queue.get(mail.id)
            assert unknown.status == "unknown" and unknown.awaiting == "lookup"
            assert not gmail.imap_sessions
            with pytest.raises(MailNotFoundError):
                await queue.reconcile(gmail_sender, ids=[mail.id, "nope"])
            [settled] = await queue.reconcile(gmail_sender, ids=[mail.id], wait=0)
            assert settled.outcome == "found" and settled.mail.status == "sent"
            with pytest.raises(MailStateError):
                await queue.reconcile(gmail_sender, ids=[mail.id])
    assert copies(gmail, mail.message_id) == 1


async def test_the_reconcile_command_and_status(
    gmail: LocalGmail, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    gmail.drop_connection("data_end_stored", times=2)
    async with MailQueue(queue_url, account=ACCOUNT, settle_unknown=False) as queue:
        found = await queue.enqueue(to="you@example.com", subject="found", text="t")
        async with sender(gmail) as gmail_sender:
            await work(queue, gmail_sender)
        gmail.sent_copy_delay = None
        lost = await queue.enqueue(to="you@example.com", subject="lost", text="t")
        async with sender(gmail) as gmail_sender:
            await work(queue, gmail_sender)
    env = {
        "GMAIL_SEND_QUEUE": queue_url,
        "GMAIL_SEND_USER": ACCOUNT,
        "GMAIL_SEND_APP_PASSWORD": APP_PASSWORD,
        "GMAIL_SEND_HOST": gmail.host,
        "GMAIL_SEND_PORT": str(gmail.port),
        "GMAIL_SEND_CA_FILE": str(ca_file(gmail)),
        "GMAIL_SEND_IMAP_HOST": gmail.host,
        "GMAIL_SEND_IMAP_PORT": str(gmail.imap_port),
    }
    before = await run_main(capsys, "queue", "status", env=env)
    assert "unknown: 2 awaiting a lookup, 0 awaiting the operator" in before.out
    missing = await run_main(capsys, "queue", "reconcile", "--id", "nope", env=env)
    assert missing.code == 1 and "no mail" in missing.err
    run = await run_main(capsys, "queue", "reconcile", "--wait", "1", env=env)
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert f"{found.id}  found in the Sent Mail: sent" in lines
    assert any(line.startswith(f"{lost.id}  not in the Sent Mail") for line in lines)
    assert "resend 1" in run.out
    after = await run_main(capsys, "queue", "status", "--json", env=env)
    shown = json.loads(after.out)
    assert shown["resends"] == 1 and shown["unknown"] == 0
    assert shown["unknown_awaiting"] == {"lookup": 0, "reconcile": 0, "resolve": 0}
    again = await run_main(capsys, "queue", "reconcile", "--id", found.id, env=env)
    assert again.code == 1 and "not unknown" in again.err
    assert copies(gmail, found.message_id) == 1 and copies(gmail, lost.message_id) == 1
    async with MailQueue(queue_url) as queue:
        assert (await queue.get(lost.id)).status == "queued"  # the worker sends it again


async def test_the_reconcile_command_says_why_a_lookup_cannot_run(
    gmail: LocalGmail, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    gmail.drop_connection("data_end_stored")
    async with MailQueue(queue_url, account=ACCOUNT, settle_unknown=False) as queue:
        mail = await queue.enqueue(to="you@example.com", subject="refused", text="t")
        async with sender(gmail) as gmail_sender:
            await work(queue, gmail_sender)
    gmail.refuse_imap_sign_in(times=1)
    env = {
        "GMAIL_SEND_QUEUE": queue_url,
        "GMAIL_SEND_USER": ACCOUNT,
        "GMAIL_SEND_APP_PASSWORD": APP_PASSWORD,
        "GMAIL_SEND_HOST": gmail.host,
        "GMAIL_SEND_PORT": str(gmail.port),
        "GMAIL_SEND_CA_FILE": str(ca_file(gmail)),
        "GMAIL_SEND_IMAP_HOST": gmail.host,
        "GMAIL_SEND_IMAP_PORT": str(gmail.imap_port),
    }
    run = await run_main(capsys, "queue", "reconcile", "--json", env=env)
    assert run.code == 1
    [item] = json.loads(run.out)
    assert (item["outcome"], item["reason"]) == ("unavailable", "sign_in")
    assert item["mail"]["id"] == mail.id and item["mail"]["awaiting"] == "reconcile"
    assert APP_PASSWORD not in run.out and APP_PASSWORD not in run.err
