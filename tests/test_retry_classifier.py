"""One classifier decides what may follow any failure: retry on the same session, on a new
one, or not at all. Unit cases here, and what the decisions do against the local server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gmail_send import (
    AuthenticationError,
    ConfigurationError,
    DeadlineExceededError,
    GmailConnectionError,
    GmailSendError,
    LoginThrottledError,
    PermanentError,
    QuotaExceededError,
    RecipientsRefusedError,
    TLSError,
    TokenError,
    UnknownOutcomeError,
)
from gmail_send._retry import Action, classify
from gmail_send.errors import MessageTooLargeError, SMTPReply
from gmail_send.smtp._replies import error_for_reply, parse_reply
from gmail_send.testing import LocalGmail

from .local_helpers import SERVER_MODES, sender_for

NEW = Action.RETRY_NEW_SESSION
SAME = Action.RETRY_SAME_SESSION
NO = Action.DO_NOT_RETRY


def _reply(code: int, text: str, stage: str) -> GmailSendError:
    return error_for_reply(parse_reply(code, text), stage=stage)  # type: ignore[arg-type]


def _refused(*replies: SMTPReply) -> RecipientsRefusedError:
    from gmail_send.smtp._transaction import all_refused

    error = all_refused({f"r{n}@example.com": reply for n, reply in enumerate(replies)})
    assert isinstance(error, RecipientsRefusedError)
    return error


@pytest.mark.parametrize(
    ("error", "action"),
    [
        (GmailConnectionError("refused", after_greeting=False), NO),
        (GmailConnectionError("dropped during EHLO", after_greeting=True), NEW),
        (TLSError("does not offer STARTTLS", after_greeting=True), NO),
        (TLSError("certificate"), NO),
        (_reply(421, "4.7.0 Try again later, closing connection.", "connect"), NEW),
        (_reply(454, "4.7.0 TLS not available due to temporary reason", "starttls"), NEW),
        (_reply(451, "4.3.0 Mail server temporarily rejected message.", "mail"), NEW),
        (_reply(451, "4.3.0 Mail server temporarily rejected message.", "data"), NEW),
        (_reply(454, "4.7.0 Too many login attempts, please try again later.", "auth"), NO),
        (LoginThrottledError("held off"), NO),
        (_reply(452, "4.5.3 Your message has too many recipients.", "mail"), NO),
        (_refused(SMTPReply(450, "4.2.1", "receiving mail too quickly")), SAME),
        (_refused(SMTPReply(452, "4.5.3", "Your message has too many recipients.")), NO),
        (
            _refused(SMTPReply(553, "5.1.3", "bad"), SMTPReply(451, "4.3.0", "later")),
            SAME,
        ),
        (_reply(550, "5.7.1 rejected by policy", "rcpt"), NO),
        (_reply(535, "5.7.8 Username and Password not accepted.", "auth"), NO),
        (_reply(550, "5.4.5 Daily user sending limit exceeded.", "mail"), NO),
        (QuotaExceededError("client-side daily limit"), NO),
        (PermanentError("no 8BITMIME"), NO),
        (TokenError("refresh failed"), NO),
        (ConfigurationError("closed"), NO),
        (MessageTooLargeError("big", size=2, limit=1), NO),
        (UnknownOutcomeError("lost", message_id="<a@b>"), NO),
    ],
    ids=lambda value: getattr(value, "message", None) or str(value),
)
def test_each_failure_has_one_decision(error: GmailSendError, action: Action) -> None:
    decision = classify(error)
    assert decision.action is action
    assert decision.reason
    assert decision.retry is (action is not NO)
    assert decision.keep_session is (action is not NEW)


@pytest.mark.parametrize(
    ("error", "later"),
    [
        (GmailConnectionError("refused", after_greeting=False), True),
        (GmailConnectionError("dropped during EHLO", after_greeting=True), True),
        (TLSError("certificate"), False),
        (_reply(421, "4.7.0 Try again later, closing connection.", "connect"), True),
        (_reply(451, "4.3.0 Mail server temporarily rejected message.", "data"), True),
        (_reply(454, "4.7.0 Too many login attempts, please try again later.", "auth"), True),
        (LoginThrottledError("held off"), True),
        (_reply(550, "5.4.5 Daily user sending limit exceeded.", "mail"), True),
        (QuotaExceededError("client-side daily limit"), True),
        (_refused(SMTPReply(450, "4.2.1", "receiving mail too quickly")), True),
        (_refused(SMTPReply(550, "5.1.1", "no such user")), False),
        (_reply(452, "4.5.3 Your message has too many recipients.", "mail"), False),
        (_reply(550, "5.7.1 rejected by policy", "rcpt"), False),
        (_reply(535, "5.7.8 Username and Password not accepted.", "auth"), False),
        (TokenError("token endpoint unreachable"), True),
        (DeadlineExceededError("not sent in time"), True),
        (PermanentError("no 8BITMIME"), False),
        (ConfigurationError("closed"), False),
        (MessageTooLargeError("big", size=2, limit=1), False),
        (UnknownOutcomeError("lost", message_id="<a@b>"), False),
    ],
    ids=lambda value: getattr(value, "message", None) or str(value),
)
def test_the_queue_sends_again_later_only_where_nothing_can_have_been_accepted(
    error: GmailSendError, later: bool
) -> None:
    assert classify(error).later is later


def test_an_unknown_outcome_is_resent_only_when_opted_in() -> None:
    error = UnknownOutcomeError("lost", message_id="<a@b>")
    assert classify(error, retry_unknown_outcome=True).action is NEW
    assert not classify(error, retry_unknown_outcome=True).idle_close


def test_a_kept_session_is_replaced_at_once_only_after_a_drop_or_a_421() -> None:
    assert classify(GmailConnectionError("dropped", after_greeting=True)).idle_close
    assert classify(_reply(421, "4.7.0 Try again later, closing connection.", "mail")).idle_close
    assert not classify(_reply(451, "4.3.0 try later", "mail")).idle_close


def test_only_a_rejected_access_token_asks_for_a_new_one() -> None:
    bad = parse_reply(535, "5.7.8 Username and Password not accepted.")
    token = error_for_reply(bad, stage="auth", mechanism="xoauth2", oauth_status="401")
    password = error_for_reply(bad, stage="auth", mechanism="login")
    assert isinstance(token, AuthenticationError) and isinstance(password, AuthenticationError)
    assert classify(token).new_token
    assert not classify(token).retry  # sign-in's own rule, never a resend of the message
    assert not classify(password).new_token
    assert not classify(TokenError("endpoint down")).new_token


def test_452_recipients_refused_is_not_retryable() -> None:
    error = _refused(SMTPReply(452, "4.5.3", "Your message has too many recipients."))
    assert not error.retryable
    assert _refused(SMTPReply(450, "4.2.1", "receiving mail too quickly")).retryable


@pytest.fixture(params=list(SERVER_MODES))
async def server(request: pytest.FixtureRequest, start_gmail: Callable[..., Any]) -> LocalGmail:
    started: LocalGmail = await start_gmail(**SERVER_MODES[request.param])
    return started


def _mail_per_session(server: LocalGmail) -> list[int]:
    return [sum(c.startswith("MAIL") for c in s.commands) for s in server.sessions]


async def test_recipients_refused_for_the_moment_are_retried_on_the_same_session(
    server: LocalGmail,
) -> None:
    server.inject("rcpt", (450, "4.2.1 The user you are trying to contact is receiving mail"))
    async with sender_for(server) as sender:
        result = await sender.send(to="a@example.com", subject="x", text="x")
    assert result.accepted == ("a@example.com",)
    assert _mail_per_session(server) == [2]  # no second login for a refused recipient
    assert len(server.auth_attempts) == 1


async def test_a_final_refusal_leaves_the_session_to_the_next_message(
    server: LocalGmail,
) -> None:
    server.inject("mail", (553, "5.1.7 The sender address is invalid."))
    async with sender_for(server) as sender:
        with pytest.raises(PermanentError):
            await sender.send(to="a@example.com", subject="1", text="x")
        await sender.send(to="a@example.com", subject="2", text="x")
    assert _mail_per_session(server) == [2]


async def test_a_transient_reply_to_the_message_retires_the_session(server: LocalGmail) -> None:
    server.inject("data_end", (451, "4.3.0 Mail server temporarily rejected message."))
    async with sender_for(server) as sender:
        await sender.send(to="a@example.com", subject="1", text="x")
        await sender.send(to="a@example.com", subject="2", text="x")
    assert _mail_per_session(server) == [1, 2]


async def test_452_too_many_recipients_is_raised_as_not_retryable(server: LocalGmail) -> None:
    server.inject("rcpt", (452, "4.5.3 Your message has too many recipients."))
    async with sender_for(server) as sender:
        with pytest.raises(RecipientsRefusedError) as caught:
            await sender.send(to="a@example.com", subject="x", text="x")
    assert caught.value.retryable is False
    assert caught.value.code == 452
    assert _mail_per_session(server) == [1]
