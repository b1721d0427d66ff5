"""The mail queue over either transport: a worker sends through SMTP or the Gmail API alike.

The queue keeps a mail as its bytes and envelope; the Gmail API, which takes the recipients
from the headers, gets the Bcc recipients back from the envelope. The queue's hook runs before
the API request as before SMTP's body, and `classify` decides for the API's answers as for
SMTP's replies: a temporary answer comes back later, an unknown outcome is never resent.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gmail_send import (
    GmailSendError,
    MailQueue,
    MessageError,
    RetryPolicy,
    SendingLimits,
    TemporaryError,
    TokenError,
)
from gmail_send._retry import classify
from gmail_send.errors import APIReply
from gmail_send.message import compose_message

from .local_helpers import ACCOUNT
from .transports import Mail


def _sender(mail: Mail, **options: Any) -> Any:
    options.setdefault("retry", RetryPolicy(retries=0))
    return mail.sender(limits=SendingLimits(), **options)


async def _work(queue: MailQueue, *senders: Any) -> None:
    await asyncio.wait_for(queue.work(*senders, until_empty=True), 120)


async def test_queued_mail_goes_over_either_transport_with_its_bcc(
    mail: Mail, queue_url: str
) -> None:
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        queued = await queue.enqueue(
            to="you@example.com", bcc="hidden@example.com", subject="queued", text="t"
        )
        async with _sender(mail) as gmail:
            await _work(queue, gmail)
        done = await queue.get(queued.id)
    assert done.status == "sent" and done.result is not None
    assert done.result.transport == mail.transport
    assert done.result.accepted == ("you@example.com", "hidden@example.com")
    if mail.transport == "api":
        assert done.result.reply is None and done.result.gmail_id is not None
    [received] = mail.messages
    assert set(received.rcpt_tos) == {"you@example.com", "hidden@example.com"}
    assert b"hidden@example.com" not in received.data


async def test_a_narrowed_envelope_is_not_sent_through_the_api(mail: Mail, queue_url: str) -> None:
    message = compose_message(
        account=ACCOUNT, to="you@example.com, them@example.com", subject="s", text="t"
    ).message
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        queued = await queue.enqueue_message(message, recipients=["you@example.com"])
        async with _sender(mail) as gmail:
            await _work(queue, gmail)
        done = await queue.get(queued.id)
    if mail.transport == "smtp":
        assert done.status == "sent"
        assert [m.rcpt_tos for m in mail.messages] == [("you@example.com",)]
    else:
        assert done.status == "failed" and done.last_error is not None
        assert done.last_error.type == "ConfigurationError"
        assert not mail.messages


async def test_a_temporary_failure_comes_back_later(mail: Mail, queue_url: str) -> None:
    mail.fail_transiently()
    retry = RetryPolicy(retries=3, backoff=0.2, max_backoff=0.2)
    async with MailQueue(queue_url, account=ACCOUNT, retry=retry) as queue:
        queued = await queue.enqueue(to="you@example.com", subject="later", text="t")
        async with _sender(mail) as gmail:
            await _work(queue, gmail)  # returns: the mail is not due yet
            waiting = await queue.get(queued.id)
            assert waiting.status == "queued" and waiting.attempts == 1
            assert waiting.last_error is not None
            assert waiting.last_error.type == "TemporaryError"
            await asyncio.sleep(0.3)
            await _work(queue, gmail)
        done = await queue.get(queued.id)
    assert done.status == "sent" and done.attempts == 2
    assert len(mail.messages) == 1


async def test_an_unknown_outcome_is_not_sent_again(mail: Mail, queue_url: str) -> None:
    mail.drop_after_body(stored=True)
    retry = RetryPolicy(retries=3, backoff=0.01)
    # No Sent Mail lookup here (tests/test_queue_reconcile.py has it): it waits for resolve.
    async with MailQueue(queue_url, account=ACCOUNT, retry=retry, settle_unknown=False) as queue:
        queued = await queue.enqueue(to="you@example.com", subject="unknown", text="t")
        async with _sender(mail) as gmail:
            await _work(queue, gmail)
        done = await queue.get(queued.id)
    assert done.status == "unknown" and done.attempts == 1
    assert done.transport == mail.transport
    assert done.awaiting == ("lookup" if mail.transport == "smtp" else "resolve")
    assert len(mail.messages) == 1  # stored once, never resent


async def test_the_hook_runs_before_the_body_and_a_failing_one_keeps_it_back(
    mail: Mail,
) -> None:
    class Refused(GmailSendError):
        pass

    seen: list[int] = []

    async def before_body(transport: object) -> None:
        seen.append(len(mail.messages))

    async def refuse(transport: object) -> None:
        raise Refused("not now")

    outgoing = compose_message(account=ACCOUNT, to="you@example.com", subject="s", text="t")
    async with _sender(mail) as gmail:
        with pytest.raises(Refused):
            await gmail._send(outgoing, before_body=refuse)
        assert not mail.messages
        if mail.transport == "api":
            assert mail.attempts == 0  # no request was made
        await gmail._send(outgoing, before_body=before_body)
    assert seen == [0]
    assert len(mail.messages) == 1


async def test_thread_id_is_refused_by_the_queue(queue_url: str) -> None:
    async with MailQueue(queue_url, account=ACCOUNT) as queue:
        with pytest.raises(MessageError, match="thread_id"):
            await queue.enqueue(to="you@example.com", subject="s", text="t", thread_id="18c0ffee")
        assert (await queue.counts())["queued"] == 0


def test_later_for_the_apis_answers() -> None:
    slow = TemporaryError(
        "slow down", retryable=True, api_reply=APIReply(429, "rateLimitExceeded", "slow")
    )
    assert classify(slow).retry and classify(slow).later
    scopes = TokenError(
        "no scope",
        mechanism="bearer",
        api_reply=APIReply(403, "insufficientPermissions", "Insufficient Permission"),
    )
    assert not classify(scopes).later
    assert classify(TokenError("the token endpoint failed")).later
