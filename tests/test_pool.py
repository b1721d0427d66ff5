"""The connection pool: bounded sessions shared by concurrent sends, reuse, expiry, aclose."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from gmail_send import AppPassword, ConfigurationError, GmailSender
from gmail_send.limits import AccountQuotas
from gmail_send.testing import LocalGmail

from .conftest import ACCOUNT, APP_PASSWORD


def sender_for(server: LocalGmail, **options: Any) -> GmailSender:
    options.setdefault("quotas", AccountQuotas())
    options.setdefault("backoff", 0.01)
    return GmailSender(
        AppPassword(ACCOUNT, APP_PASSWORD),
        host=server.host,
        port=server.port,
        tls_context=server.client_tls_context(),
        **options,
    )


def subjects(server: LocalGmail) -> list[str]:
    return sorted(str(m.parsed()["Subject"]) for m in server.messages)


@pytest.mark.parametrize("pipelining", [True, False])
async def test_concurrent_sends_share_a_bounded_pool(
    start_gmail: Callable[..., Any], pipelining: bool
) -> None:
    server: LocalGmail = await start_gmail(pipelining=pipelining)
    async with sender_for(server, max_connections=3) as sender:
        results = await asyncio.gather(
            *(sender.send(to="you@example.com", subject=f"m{n:02}", text="x") for n in range(40))
        )
    assert subjects(server) == [f"m{n:02}" for n in range(40)]
    assert len({r.message_id for r in results}) == 40
    assert server.max_concurrent_sessions <= 3
    assert 1 <= len(server.sessions) <= 3
    assert len(server.auth_attempts) == len(server.sessions)
    assert server.open_sessions == 0 or all(
        s.commands[-1] == "QUIT" for s in server.sessions if not s.open
    )


async def test_sessions_closed_by_the_server_are_replaced(gmail: LocalGmail) -> None:
    async with sender_for(gmail, max_connections=2) as sender:
        await asyncio.gather(
            *(sender.send(to="a@example.com", subject=f"before{n}", text="x") for n in range(4))
        )
        await gmail.close_all()  # Gmail ends idle sessions (e.g. when the token expires)
        await asyncio.gather(
            *(sender.send(to="a@example.com", subject=f"after{n}", text="x") for n in range(4))
        )
    assert subjects(gmail) == sorted(
        [f"before{n}" for n in range(4)] + [f"after{n}" for n in range(4)]
    )  # nothing lost, nothing twice
    assert gmail.max_concurrent_sessions <= 2


async def test_max_messages_per_connection(gmail: LocalGmail) -> None:
    async with sender_for(gmail, max_connections=1, max_messages_per_connection=2) as sender:
        for n in range(5):
            await sender.send(to="a@example.com", subject=f"{n}", text="x")
    assert len(gmail.messages) == 5
    assert [s.messages_accepted for s in gmail.sessions] == [2, 2, 1]
    assert len(gmail.sessions) == 3
    assert all("QUIT" in s.commands for s in gmail.sessions)


async def test_idle_sessions_are_closed_politely(gmail: LocalGmail) -> None:
    async with sender_for(gmail, idle_timeout=0.1) as sender:
        await sender.send(to="a@example.com", subject="1", text="x")
        for _ in range(200):
            if gmail.open_sessions == 0:
                break
            await asyncio.sleep(0.02)
        assert gmail.open_sessions == 0
        assert gmail.sessions[0].commands[-1] == "QUIT"
        await sender.send(to="a@example.com", subject="2", text="x")
    assert len(gmail.sessions) == 2


async def test_aclose_lets_sends_in_flight_finish_then_quits(gmail: LocalGmail) -> None:
    sender = sender_for(gmail, max_connections=2)
    sends = [
        asyncio.ensure_future(sender.send(to="a@example.com", subject=f"{n}", text="x"))
        for n in range(6)
    ]
    await asyncio.sleep(0)  # the sends have started
    await sender.aclose()
    results = await asyncio.gather(*sends)
    assert len(results) == 6
    assert len(gmail.messages) == 6
    assert all(s.commands[-1] == "QUIT" for s in gmail.sessions)
    with pytest.raises(ConfigurationError):
        await sender.send(to="a@example.com", subject="late", text="x")


def test_pool_options_are_checked() -> None:
    with pytest.raises(ConfigurationError):
        GmailSender(AppPassword(ACCOUNT, APP_PASSWORD), max_connections=0)
    with pytest.raises(ConfigurationError):
        GmailSender(AppPassword(ACCOUNT, APP_PASSWORD), idle_timeout=0)
    with pytest.raises(ConfigurationError):
        GmailSender(AppPassword(ACCOUNT, APP_PASSWORD), retries=-1)
    with pytest.raises(ConfigurationError):
        GmailSender(AppPassword(ACCOUNT, APP_PASSWORD), rate_limit=0)
    with pytest.raises(ConfigurationError):
        GmailSender(AppPassword(ACCOUNT, APP_PASSWORD), deadline=0)
