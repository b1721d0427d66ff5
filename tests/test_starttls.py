"""Failures while securing the session: which are final, which are retried, and how fast."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from gmail_send import (
    AccountQuotas,
    LoginThrottledError,
    RetryPolicy,
    SendingLimits,
    TemporaryError,
    TLSError,
)
from gmail_send.events import SendEvent, SendRetried
from gmail_send.testing import LocalGmail

from .local_helpers import sender_for


async def test_a_server_without_starttls_fails_at_once_with_its_hint(
    start_gmail: Callable[..., Any],
) -> None:
    plain = await start_gmail(security="none")  # offers no STARTTLS
    events: list[SendEvent] = []
    started = time.monotonic()
    async with sender_for(plain, retry=RetryPolicy(backoff=1.0), on_event=events.append) as sender:
        with pytest.raises(TLSError) as caught:
            await sender.send(to="a@example.com", subject="x", text="x")
    elapsed = time.monotonic() - started
    error = caught.value
    assert error.message == f"{plain.host}:{plain.port} does not offer STARTTLS"  # not re-wrapped
    assert error.hint and "refusing to continue unencrypted" in error.hint
    assert error.code is None
    assert len(plain.sessions) == 1  # not retried
    assert not any(isinstance(e, SendRetried) for e in events)
    assert plain.auth_attempts == []  # the password never went out
    assert elapsed < 3  # three retries with backoff=1.0 would take 3.5 s or more


async def test_454_to_starttls_is_temporary_and_retried_on_a_new_session(
    gmail: LocalGmail,
) -> None:
    gmail.inject("starttls", (454, "4.7.0 TLS not available due to temporary reason"))
    events: list[SendEvent] = []
    async with sender_for(gmail, on_event=events.append) as sender:
        result = await sender.send(to="a@example.com", subject="x", text="x")
    [received] = gmail.messages
    assert received.parsed()["Message-ID"] == result.message_id
    assert len(gmail.sessions) == 2
    [retried] = [e for e in events if isinstance(e, SendRetried)]
    assert type(retried.error) is TemporaryError  # not Gmail's login throttling
    assert (retried.error.code, retried.error.enhanced_code) == (454, "4.7.0")
    assert len(gmail.auth_attempts) == 1  # the failed session never tried to log in


async def test_454_to_starttls_starts_no_login_hold_off(gmail: LocalGmail) -> None:
    gmail.inject("starttls", (454, "4.7.0 TLS not available due to temporary reason"), times=2)
    async with sender_for(
        gmail,
        retry=RetryPolicy(retries=1, backoff=0.01),
        limits=SendingLimits(login_throttle_pause=300.0, quotas=AccountQuotas()),
    ) as sender:
        with pytest.raises(TemporaryError) as caught:
            await sender.send(to="a@example.com", subject="1", text="x")
        assert not isinstance(caught.value, LoginThrottledError)
        assert caught.value.retryable
        assert "STARTTLS" in caught.value.message
        started = time.monotonic()
        await sender.send(to="a@example.com", subject="2", text="x")  # signs in at once
        assert time.monotonic() - started < 5
    assert [m.parsed()["Subject"] for m in gmail.messages] == ["2"]
    assert len(gmail.auth_attempts) == 1
