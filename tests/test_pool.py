"""The connection pool: bounded sessions shared by concurrent sends, reuse, expiry, aclose."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from gmail_send import (
    AccountQuotas,
    AppPassword,
    ConfigurationError,
    GmailSender,
    PoolOptions,
    RetryPolicy,
    SendingLimits,
)
from gmail_send.testing import LocalGmail

from .local_helpers import ACCOUNT, APP_PASSWORD, sender_for
from .transports import Mail


def subjects(server: LocalGmail) -> list[str]:
    return sorted(str(m.parsed()["Subject"]) for m in server.messages)


@pytest.mark.parametrize("pipelining", [True, False])
async def test_concurrent_sends_share_a_bounded_pool(
    start_gmail: Callable[..., Any], pipelining: bool
) -> None:
    server: LocalGmail = await start_gmail(pipelining=pipelining)
    # Sessions wear out during the run: each is replaced while others are busy, and a worn-out
    # session saying QUIT still counts against max_connections until it is closed.
    async with sender_for(
        server,
        max_connections=2,
        pool=PoolOptions(max_messages_per_connection=3),
    ) as sender:
        results = await asyncio.gather(
            *(sender.send(to="you@example.com", subject=f"m{n:02}", text="x") for n in range(90))
        )
    assert subjects(server) == [f"m{n:02}" for n in range(90)]
    assert len({r.message_id for r in results}) == 90
    assert server.max_concurrent_sessions <= 2  # max_connections
    assert 30 <= len(server.sessions) <= 90
    assert len(server.auth_attempts) == len(server.sessions)
    assert server.open_sessions == 0 or all(
        s.commands[-1] == "QUIT" for s in server.sessions if not s.open
    )


async def test_concurrent_sends_share_a_bounded_set_of_connections(mail: Mail) -> None:
    async with mail.sender(max_connections=2) as sender:
        results = await asyncio.gather(
            *(sender.send(to="a@example.com", subject=f"m{n:02}", text="x") for n in range(12))
        )
        await sender.send(to="a@example.com", subject="later", text="x")
    assert len({r.message_id for r in results}) == 12
    assert subjects(mail.gmail) == sorted([f"m{n:02}" for n in range(12)] + ["later"])
    if mail.transport == "smtp":
        assert mail.gmail.max_concurrent_sessions <= 2
    else:
        assert mail.api.max_concurrent_connections <= 2
    assert mail.connections <= 2  # kept and reused, also for the later message


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
    async with sender_for(
        gmail,
        max_connections=1,
        pool=PoolOptions(max_messages_per_connection=2),
    ) as sender:
        for n in range(5):
            await sender.send(to="a@example.com", subject=f"{n}", text="x")
    assert len(gmail.messages) == 5
    assert [s.messages_accepted for s in gmail.sessions] == [2, 2, 1]
    assert len(gmail.sessions) == 3
    assert all("QUIT" in s.commands for s in gmail.sessions)


async def test_idle_sessions_are_closed_politely(gmail: LocalGmail) -> None:
    async with sender_for(
        gmail,
        pool=PoolOptions(idle_timeout=0.1),
    ) as sender:
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
        GmailSender(
            AppPassword(ACCOUNT, APP_PASSWORD),
            pool=PoolOptions(idle_timeout=0),
        )
    with pytest.raises(ConfigurationError):
        GmailSender(
            AppPassword(ACCOUNT, APP_PASSWORD),
            retry=RetryPolicy(retries=-1),
        )
    with pytest.raises(ConfigurationError):
        GmailSender(
            AppPassword(ACCOUNT, APP_PASSWORD),
            limits=SendingLimits(rate_limit=0),
        )
    with pytest.raises(ConfigurationError):
        GmailSender(
            AppPassword(ACCOUNT, APP_PASSWORD),
            retry=RetryPolicy(deadline=0),
        )


class _SlowQuitServer:
    """A bare SMTP server (no TLS, no auth) that answers QUIT only once `quit_gate` is set."""

    def __init__(self) -> None:
        self.quit_gate = asyncio.Event()
        self.quit_seen = asyncio.Event()
        self.sessions = 0
        self.live = 0
        self.max_live = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sessions += 1
        self.live += 1
        self.max_live = max(self.max_live, self.live)
        writer.write(b"220 local ESMTP\r\n")
        in_body = False
        try:
            for _ in range(10_000):
                line = await reader.readline()
                if not line:
                    break
                if in_body:
                    if line == b".\r\n":
                        in_body = False
                        writer.write(b"250 2.0.0 OK stored\r\n")
                elif line[:4].upper() == b"EHLO":
                    writer.write(b"250-local\r\n250 SIZE 1000000\r\n")
                elif line[:4].upper() == b"DATA":
                    writer.write(b"354 go ahead\r\n")
                    in_body = True
                elif line[:4].upper() == b"QUIT":
                    self.quit_seen.set()
                    await self.quit_gate.wait()
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(b"250 2.0.0 OK\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.live -= 1
            writer.close()


@pytest.mark.parametrize("ending", ["worn_out", "idle_expiry"])
async def test_a_session_saying_quit_still_holds_its_slot(ending: str) -> None:
    server = _SlowQuitServer()
    listener = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    pool = (
        PoolOptions(max_messages_per_connection=1)
        if ending == "worn_out"
        else PoolOptions(idle_timeout=0.05)
    )
    try:
        async with GmailSender(
            None,
            host="127.0.0.1",
            port=port,
            security="none",
            timeout=10,
            limits=SendingLimits(quotas=AccountQuotas()),
            max_connections=1,
            pool=pool,
        ) as sender:
            await sender.send(from_="app@example.com", to="a@example.com", subject="1", text="x")
            await asyncio.wait_for(server.quit_seen.wait(), 10)
            # The session is now waiting for its 221; a second send must wait for it.
            second = asyncio.create_task(
                sender.send(from_="app@example.com", to="a@example.com", subject="2", text="x")
            )
            for _ in range(20):
                await asyncio.sleep(0.01)
            assert server.sessions == 1
            server.quit_gate.set()
            await asyncio.wait_for(second, 10)
            assert server.sessions == 2
    finally:
        server.quit_gate.set()
        listener.close()
        await listener.wait_closed()
    assert server.max_live == 1
