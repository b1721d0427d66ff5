"""The reply table: every Gmail reply becomes the right typed error with a hint."""

from __future__ import annotations

import pytest

from gmail_send.errors import (
    AuthenticationError,
    GmailSendError,
    LoginThrottledError,
    PermanentError,
    QuotaExceededError,
    SMTPReply,
    TemporaryError,
)
from gmail_send.smtp._replies import (
    GMAIL_REPLIES,
    error_for_reply,
    find_rule,
    parse_reply,
    reply_is_transient,
)


def test_parse_reply_splits_enhanced_code() -> None:
    reply = parse_reply(550, "5.4.5 Daily user sending limit exceeded. - gsmtp")
    assert reply == SMTPReply(550, "5.4.5", "Daily user sending limit exceeded. - gsmtp")
    assert parse_reply(250, "OK") == SMTPReply(250, None, "OK")


def test_multiline_reply_keeps_first_code() -> None:
    reply = parse_reply(
        535,
        "5.7.8 Username and Password not accepted. For more information, go to\n"
        "5.7.8  https://support.google.com/mail/?p=BadCredentials - gsmtp",
    )
    assert reply.enhanced_code == "5.7.8"
    assert "BadCredentials" in reply.message


@pytest.mark.parametrize("rule", GMAIL_REPLIES, ids=lambda r: f"{r.code}-{r.enhanced_code}")
def test_every_rule_round_trips_through_its_own_text(rule: object) -> None:
    from gmail_send.smtp import ReplyRule

    assert isinstance(rule, ReplyRule)
    reply = parse_reply(rule.code, f"{rule.enhanced_code} {rule.text}")
    assert find_rule(reply) == rule
    stage = "auth" if rule.kind in ("auth", "throttled") else "mail"
    error = error_for_reply(reply, stage=stage)
    assert isinstance(error, GmailSendError)
    assert error.hint == rule.hint
    assert rule.meaning in str(error)


@pytest.mark.parametrize(
    ("code", "text", "stage", "expected"),
    [
        (421, "4.7.0 Try again later, closing connection. - gsmtp", "mail", TemporaryError),
        (451, "4.3.0 Mail server temporarily rejected message.", "data", TemporaryError),
        (
            454,
            "4.7.0 Too many login attempts, please try again later.",
            "auth",
            LoginThrottledError,
        ),
        (534, "5.7.9 Application-specific password required.", "auth", AuthenticationError),
        (535, "5.7.8 Username and Password not accepted.", "auth", AuthenticationError),
        (550, "5.4.5 Daily user sending limit exceeded.", "rcpt", QuotaExceededError),
        (550, "5.4.5 Daily user sending limit exceeded.", "data", QuotaExceededError),
        (552, "5.7.0 This message was blocked", "data", PermanentError),
        (555, "5.5.2 Syntax error", "mail", PermanentError),
        (599, "5.9.9 something new", "auth", AuthenticationError),
        (499, "4.9.9 something new", "rcpt", TemporaryError),
        (599, "5.9.9 something new", "rcpt", PermanentError),
    ],
)
def test_classification(code: int, text: str, stage: str, expected: type) -> None:
    error = error_for_reply(parse_reply(code, text), stage=stage)  # type: ignore[arg-type]
    assert type(error) is expected


def test_same_code_told_apart_by_text() -> None:
    blocked = find_rule(parse_reply(552, "5.7.0 This message was blocked because ..."))
    size = find_rule(parse_reply(552, "5.3.4 Your message exceeded Google's message size limits"))
    assert blocked and "attachment" in blocked.meaning
    assert size and "larger" in size.meaning
    tls = error_for_reply(
        parse_reply(530, "5.7.0 Must issue a STARTTLS command first."), stage="mail"
    )
    auth = error_for_reply(parse_reply(530, "5.7.0 Authentication Required."), stage="mail")
    assert isinstance(tls, PermanentError) and "starttls" in (tls.hint or "")
    assert isinstance(auth, AuthenticationError)


def test_retryable_flags() -> None:
    too_many = error_for_reply(
        parse_reply(452, "4.5.3 Your message has too many recipients."), stage="rcpt"
    )
    assert isinstance(too_many, TemporaryError) and not too_many.retryable
    busy = error_for_reply(parse_reply(451, "4.3.0 try later"), stage="data")
    assert isinstance(busy, TemporaryError) and busy.retryable
    throttled = error_for_reply(parse_reply(454, "4.7.0 Too many login attempts"), stage="auth")
    assert isinstance(throttled, LoginThrottledError) and not throttled.retryable


def test_454_means_too_many_logins_only_as_the_answer_to_auth() -> None:
    reply = parse_reply(454, "4.7.0 TLS not available due to temporary reason")
    assert find_rule(reply, "auth") is not None
    assert find_rule(reply, "starttls") is None
    starttls = error_for_reply(reply, stage="starttls")
    assert type(starttls) is TemporaryError and starttls.retryable
    assert "STARTTLS" in starttls.message
    assert reply_is_transient(reply, "starttls")
    assert not reply_is_transient(reply, "auth")
    assert not reply_is_transient(parse_reply(452, "4.5.3 Your message has too many recipients."))
    assert reply_is_transient(parse_reply(450, "4.2.1 receiving mail too quickly"))
    assert not reply_is_transient(parse_reply(550, "5.1.1 no such user"))


def test_oauth_challenge_travels_with_the_error() -> None:
    error = error_for_reply(
        parse_reply(535, "5.7.8 Username and Password not accepted."),
        stage="auth",
        oauth_status="400",
        oauth_scope="https://mail.google.com/",
        hint="the token lacks the scope",
    )
    assert isinstance(error, AuthenticationError)
    assert (error.oauth_status, error.oauth_scope) == ("400", "https://mail.google.com/")
    assert error.hint == "the token lacks the scope"
    assert error.code == 535 and error.enhanced_code == "5.7.8"
