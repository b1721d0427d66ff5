"""Client-side limits: rolling 24-hour quota per account, Gmail's 550 5.4.5 pause, rate limit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import pytest

from gmail_send import (
    AppPassword,
    ConfigurationError,
    GmailSender,
    QuotaExceededError,
    SendingLimits,
)
from gmail_send._limits import (
    DAY,
    AccountQuotas,
    RateLimiter,
    SendWindow,
    api_window,
    default_daily_limit,
)
from gmail_send.events import QuotaReached
from gmail_send.testing import LocalGmail

from .local_helpers import ACCOUNT, APP_PASSWORD, sender_for


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_default_daily_limit_by_account_domain() -> None:
    assert default_daily_limit("me@gmail.com") == 500
    assert default_daily_limit("me@GoogleMail.com") == 500
    assert default_daily_limit("me@company.example") == 2000
    assert default_daily_limit(None) is None
    assert GmailSender(AppPassword("me@gmail.com", APP_PASSWORD)).daily_limit == 500
    assert GmailSender(AppPassword("a@shop.example", APP_PASSWORD)).daily_limit == 2000
    assert (
        GmailSender(
            AppPassword(ACCOUNT, APP_PASSWORD),
            limits=SendingLimits(daily_limit=None),
        ).daily_limit
        is None
    )
    assert (
        GmailSender(
            AppPassword(ACCOUNT, APP_PASSWORD),
            limits=SendingLimits(daily_limit=7),
        ).daily_limit
        == 7
    )


async def test_daily_limit_refuses_before_connecting(gmail: LocalGmail) -> None:
    async with sender_for(
        gmail,
        limits=SendingLimits(daily_limit=2, quotas=AccountQuotas()),
    ) as sender:
        for n in range(2):
            await sender.send(to="a@example.com", subject=f"{n}", text="x")
        sessions = len(gmail.sessions)
        with pytest.raises(QuotaExceededError) as caught:
            await sender.send(to="a@example.com", subject="third", text="x")
    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= DAY
    assert len(gmail.messages) == 2
    assert len(gmail.sessions) == sessions


async def test_concurrent_sends_never_pass_the_limit(gmail: LocalGmail) -> None:
    async with sender_for(
        gmail,
        limits=SendingLimits(daily_limit=3, quotas=AccountQuotas()),
    ) as sender:
        outcomes = await asyncio.gather(
            *(sender.send(to="a@example.com", subject=f"{n}", text="x") for n in range(8)),
            return_exceptions=True,
        )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 3
    assert all(isinstance(o, QuotaExceededError) for o in outcomes if isinstance(o, BaseException))
    assert len(gmail.messages) == 3


async def test_senders_of_one_account_count_together(gmail: LocalGmail) -> None:
    quotas = AccountQuotas()
    async with (
        sender_for(
            gmail,
            limits=SendingLimits(daily_limit=2, quotas=quotas),
        ) as first,
        sender_for(
            gmail,
            limits=SendingLimits(daily_limit=2, quotas=quotas),
        ) as second,
    ):
        await first.send(to="a@example.com", subject="1", text="x")
        await second.send(to="a@example.com", subject="2", text="x")
        with pytest.raises(QuotaExceededError):
            await first.send(to="a@example.com", subject="3", text="x")
    assert quotas.sent_today(ACCOUNT) == 2


async def test_gmail_daily_limit_reply_stops_the_account(gmail: LocalGmail) -> None:
    gmail.inject("mail", (550, "5.4.5 Daily user sending limit exceeded."))
    async with sender_for(
        gmail,
        limits=SendingLimits(quota_pause=600.0, quotas=AccountQuotas()),
    ) as sender:
        with pytest.raises(QuotaExceededError) as first:
            await sender.send(to="a@example.com", subject="1", text="x")
        assert first.value.retry_after == 600.0
        with pytest.raises(QuotaExceededError) as second:
            await sender.send(to="a@example.com", subject="2", text="x")
        assert second.value.retry_after is not None and second.value.retry_after <= 600.0
        mails = sum(c.startswith("MAIL") for s in gmail.sessions for c in s.commands)
        assert mails == 1  # the second send never reached the server
        await sender.reset_quota()
        await sender.send(to="a@example.com", subject="3", text="x")
    assert [m.parsed()["Subject"] for m in gmail.messages] == ["3"]


def test_block_ends_after_retry_after_and_window_rolls() -> None:
    clock = Clock()
    quotas = AccountQuotas(clock=clock)
    quotas.block("me@gmail.com", 60.0)
    with pytest.raises(QuotaExceededError):
        quotas.reserve("ME@gmail.com", None)
    clock.now += 61
    quotas.reserve("me@gmail.com", 1)
    quotas.commit("me@gmail.com")
    with pytest.raises(QuotaExceededError) as caught:
        quotas.reserve("me@gmail.com", 1)
    assert caught.value.retry_after == pytest.approx(DAY)
    clock.now += DAY
    quotas.reserve("me@gmail.com", 1)  # the first message left the 24-hour window
    quotas.release("me@gmail.com")
    assert quotas.sent_today("me@gmail.com") == 0
    quotas.block("me@gmail.com", 60.0)
    quotas.clear()
    assert quotas.blocked_for("me@gmail.com") is None


async def test_rate_limit_spaces_messages(gmail: LocalGmail) -> None:
    async with sender_for(
        gmail,
        limits=SendingLimits(rate_limit=20.0, quotas=AccountQuotas()),
    ) as sender:
        started = time.monotonic()
        await asyncio.gather(
            *(sender.send(to="a@example.com", subject=f"{n}", text="x") for n in range(5))
        )
        elapsed = time.monotonic() - started
    assert elapsed >= 4 / 20.0 * 0.9  # five messages at 20/s need at least four gaps
    assert len(gmail.messages) == 5


async def test_rate_limiter_hands_out_slots_in_order() -> None:
    clock = Clock()
    limiter = RateLimiter(1000.0, clock=clock)
    for _ in range(3):
        await limiter.wait()
    assert limiter._next == pytest.approx(clock.now + 3 / 1000.0)


async def test_reset_quota_keeps_the_daily_count_unless_asked(gmail: LocalGmail) -> None:
    async with sender_for(
        gmail,
        limits=SendingLimits(daily_limit=2, quotas=AccountQuotas()),
    ) as sender:
        await sender.send(to="a@example.com", subject="1", text="x")
        gmail.inject("mail", (550, "5.4.5 Daily user sending limit exceeded."))
        with pytest.raises(QuotaExceededError):
            await sender.send(to="a@example.com", subject="2", text="x")
        await sender.reset_quota()  # lifts Gmail's pause; message 1 still counts
        await sender.send(to="a@example.com", subject="3", text="x")
        with pytest.raises(QuotaExceededError, match="daily_limit is 2"):
            await sender.send(to="a@example.com", subject="4", text="x")
        await sender.reset_quota(count=True)
        await sender.send(to="a@example.com", subject="5", text="x")
    assert [m.parsed()["Subject"] for m in gmail.messages] == ["1", "3", "5"]


async def test_daily_limit_among_partial_refusals_pauses_the_account(
    gmail: LocalGmail, caplog: pytest.LogCaptureFixture
) -> None:
    gmail.inject(
        "rcpt", (550, "5.4.5 Daily user sending limit exceeded."), recipient="b@example.com"
    )
    events: list[object] = []
    async with sender_for(
        gmail,
        limits=SendingLimits(quota_pause=600.0, quotas=AccountQuotas()),
        on_event=events.append,
    ) as sender:
        result = await sender.send(to=["a@example.com", "b@example.com"], subject="1", text="x")
        assert result.accepted == ("a@example.com",)
        with (
            caplog.at_level(logging.WARNING, logger="gmail_send"),
            pytest.raises(QuotaExceededError),
        ):
            await sender.send(to="a@example.com", subject="2", text="x")
    assert [m.parsed()["Subject"] for m in gmail.messages] == ["1"]
    quota_events = [e for e in events if isinstance(e, QuotaReached)]
    assert [e.source for e in quota_events] == ["server", "server"]
    records = [r for r in caplog.records if getattr(r, "event", None) == QuotaReached.name]
    assert [r.source for r in records] == ["server", "server"]  # type: ignore[attr-defined]


async def test_client_side_daily_limit_is_logged(
    gmail: LocalGmail, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[object] = []
    async with sender_for(
        gmail, limits=SendingLimits(daily_limit=1, quotas=AccountQuotas()), on_event=events.append
    ) as sender:
        await sender.send(to="a@example.com", subject="1", text="x")
        with (
            caplog.at_level(logging.WARNING, logger="gmail_send"),
            pytest.raises(QuotaExceededError),
        ):
            await sender.send(to="a@example.com", subject="2", text="x")
    [record] = [r for r in caplog.records if getattr(r, "event", None) == "quota_reached"]
    assert record.source == "daily_limit"  # type: ignore[attr-defined]
    assert [e.source for e in events if isinstance(e, QuotaReached)] == ["daily_limit"]


async def test_the_api_send_window_lets_a_burst_through_then_waits_for_the_minute() -> None:
    now = [1000.0]
    window = SendWindow(2, window=60.0, clock=lambda: now[0])
    await window.wait()
    await window.wait()  # a burst of `count` goes through at once
    third = asyncio.ensure_future(window.wait())
    await asyncio.sleep(0.05)
    assert not third.done()  # the window is full: it sleeps until the first send is 60 s old
    third.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await third
    now[0] += 60.0
    await asyncio.wait_for(window.wait(), 5)  # the first two left the window
    assert api_window("Me@Gmail.com", 150) is api_window("me@gmail.com", 150)
    with pytest.raises(ConfigurationError):
        SendWindow(0)
    with pytest.raises(ConfigurationError, match="api_sends_per_minute"):
        SendingLimits(api_sends_per_minute=0)
