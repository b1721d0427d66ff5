"""Errors are complete when raised: a server's reply fills `reply`/`code`, the library's own
decisions leave them None, and nothing is changed on an error after it was raised."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from gmail_send import (
    AccountQuotas,
    AppPassword,
    AuthenticationError,
    ConfigurationError,
    Fallback,
    GmailSender,
    LoginThrottledError,
    OAuth2Token,
    PermanentError,
    QuotaExceededError,
    SendingLimits,
    UnknownOutcomeError,
)
from gmail_send.errors import GmailConnectionError, SMTPReply, SMTPReplyError
from gmail_send.testing import LocalGmail

from .local_helpers import ACCOUNT, sender_for


def test_every_error_has_reply_fields_none_unless_a_reply_is_given() -> None:
    for error in (
        ConfigurationError("bad"),
        GmailConnectionError("gone"),
        QuotaExceededError("limit"),
        UnknownOutcomeError("lost", message_id="<a@b>"),
    ):
        assert (error.reply, error.code, error.enhanced_code, error.server_message) == (
            None,
            None,
            None,
            None,
        )
    reply = SMTPReply(451, "4.3.0", "later")
    error = SMTPReplyError("x", reply=reply)
    assert (error.code, error.enhanced_code, error.server_message) == (451, "4.3.0", "later")
    assert error.retryable
    assert not SMTPReplyError("the library's own refusal").retryable


async def test_client_side_daily_limit_has_no_made_up_reply(gmail: LocalGmail) -> None:
    async with sender_for(
        gmail,
        limits=SendingLimits(daily_limit=1, quotas=AccountQuotas()),
    ) as sender:
        await sender.send(to="a@example.com", subject="1", text="x")
        with pytest.raises(QuotaExceededError) as caught:
            await sender.send(to="a@example.com", subject="2", text="x")
    assert caught.value.reply is None
    assert caught.value.code is None
    assert caught.value.retry_after is not None
    assert not caught.value.retryable


async def test_gmail_daily_limit_reply_is_kept_and_the_pause_is_said_at_once(
    gmail: LocalGmail,
) -> None:
    gmail.inject("mail", (550, "5.4.5 Daily user sending limit exceeded."))
    async with sender_for(
        gmail,
        limits=SendingLimits(quota_pause=600.0, quotas=AccountQuotas()),
    ) as sender:
        with pytest.raises(QuotaExceededError) as from_gmail:
            await sender.send(to="a@example.com", subject="1", text="x")
        with pytest.raises(QuotaExceededError) as while_paused:
            await sender.send(to="a@example.com", subject="2", text="x")
    error = from_gmail.value
    assert (error.code, error.enhanced_code) == (550, "5.4.5")
    assert error.retry_after == 600.0
    # The error as the transaction raised it is chained, unchanged.
    assert isinstance(error.__cause__, QuotaExceededError)
    assert error.__cause__.retry_after is None
    assert error.__cause__.reply == error.reply
    # The pause Gmail's reply started is the library's decision: no reply of its own.
    assert while_paused.value.code is None and while_paused.value.reply is None
    assert while_paused.value.retry_after is not None
    assert 0 < while_paused.value.retry_after <= 600.0


async def test_login_hold_off_has_no_made_up_reply(gmail: LocalGmail) -> None:
    gmail.inject("auth", (454, "4.7.0 Too many login attempts, please try again later."))
    async with sender_for(
        gmail,
        limits=SendingLimits(login_throttle_pause=300.0, quotas=AccountQuotas()),
    ) as sender:
        with pytest.raises(LoginThrottledError) as from_gmail:
            await sender.send(to="a@example.com", subject="1", text="x")
        with pytest.raises(LoginThrottledError) as held_off:
            await sender.send(to="a@example.com", subject="2", text="x")
    assert from_gmail.value.code == 454
    assert held_off.value.reply is None and held_off.value.code is None
    assert not held_off.value.retryable
    assert held_off.value.hint
    assert len(gmail.auth_attempts) == 1


async def test_a_closed_sender_has_no_reply(gmail: LocalGmail) -> None:
    sender = sender_for(gmail)
    await sender.aclose()
    with pytest.raises(ConfigurationError) as caught:
        await sender.send(to="a@example.com", subject="x", text="x")
    assert caught.value.code is None and caught.value.reply is None


async def _seven_bit_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A bare relay (no TLS, no auth) that offers neither 8BITMIME nor SMTPUTF8."""
    writer.write(b"220 relay ESMTP\r\n")
    try:
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250-relay\r\n250 SIZE 1000000\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:
                writer.write(b"250 2.0.0 OK\r\n")
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@pytest.fixture
async def seven_bit_relay() -> AsyncIterator[int]:
    listener = await asyncio.start_server(_seven_bit_only, "127.0.0.1", 0)
    try:
        yield int(listener.sockets[0].getsockname()[1])
    finally:
        listener.close()
        await listener.wait_closed()


async def test_a_server_without_8bitmime_or_smtputf8_is_refused_without_a_made_up_reply(
    seven_bit_relay: int,
) -> None:
    async with GmailSender(
        None,
        host="127.0.0.1",
        port=seven_bit_relay,
        security="none",
        timeout=5,
        limits=SendingLimits(quotas=AccountQuotas()),
    ) as sender:
        with pytest.raises(PermanentError) as caught:  # a UTF-8 address needs both
            await sender.send(from_="app@example.com", to="ü@example.com", subject="x", text="x")
    error = caught.value
    assert error.reply is None and error.code is None
    assert not error.retryable
    assert "does not offer 8BITMIME" in error.message


async def test_fallback_builds_a_new_error_and_keeps_the_password_error(
    gmail: LocalGmail,
) -> None:
    fallback = Fallback(
        OAuth2Token(ACCOUNT, "ya29.unknown-to-gmail"), AppPassword(ACCOUNT, "wrongwrongwrongw")
    )
    async with GmailSender(
        fallback,
        host=gmail.host,
        port=gmail.port,
        tls_context=gmail.client_tls_context(),
        limits=SendingLimits(quotas=AccountQuotas()),
    ) as sender:
        with pytest.raises(AuthenticationError) as caught:
            await sender.send(to="a@example.com", subject="x", text="x")
    error = caught.value
    assert "OAuth2 had failed before" in error.message
    assert (error.code, error.mechanism) == (535, "plain")
    password_error = error.__cause__
    assert isinstance(password_error, AuthenticationError)
    assert "OAuth2 had failed before" not in password_error.message
