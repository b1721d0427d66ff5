"""The local Gmail's bookkeeping and life cycle: session records, concurrency, shutdown.

Raw aiosmtplib clients over real STARTTLS (trustme CA, verification on).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from email.message import EmailMessage

import aiosmtplib
import pytest

from gmail_send.testing import LocalAccount, LocalGmail, TestCertificates

APP_PASSWORD = "abcd efgh ijkl mnop"
ME = LocalAccount("me@gmail.com", app_password=APP_PASSWORD)


@pytest.fixture
async def gmail(certificates: TestCertificates) -> AsyncIterator[LocalGmail]:
    async with LocalGmail(accounts=[ME], certificates=certificates) as server:
        yield server


def client(server: LocalGmail) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=server.host,
        port=server.port,
        tls_context=server.client_tls_context(),
        start_tls=True,
        timeout=10,
    )


def message(to: str = "you@example.com") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "me@gmail.com"
    msg["To"] = to
    msg["Subject"] = "Hello"
    msg.set_content("Hi there.\n")
    return msg


async def _wait_until(condition: Callable[[], bool], *, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def test_sessions_are_recorded_and_peak_concurrency_counted(gmail: LocalGmail) -> None:
    clients = [client(gmail) for _ in range(6)]
    await asyncio.gather(*(smtp.connect() for smtp in clients))
    await asyncio.gather(*(smtp.login("me@gmail.com", APP_PASSWORD) for smtp in clients))
    await asyncio.gather(*(smtp.send_message(message()) for smtp in clients))
    assert gmail.open_sessions == 6
    await asyncio.gather(*(smtp.quit() for smtp in clients))
    await _wait_until(lambda: gmail.open_sessions == 0)
    assert gmail.max_concurrent_sessions == 6
    assert len(gmail.messages) == 6
    assert len(gmail.sessions) == 6
    for record in gmail.sessions:
        assert not record.open
        assert record.tls and record.authenticated
        assert record.peer is not None and record.peer[0] == "127.0.0.1"
        assert record.auth_user == "me@gmail.com"
        assert record.messages_accepted == 1
        assert record.commands[:3] == [f"EHLO {record.ehlo_name}", "STARTTLS", record.commands[2]]
        assert f"AUTH {record.auth_mechanism} ***" in record.commands
        assert not any(APP_PASSWORD.replace(" ", "") in line for line in record.commands)


async def test_many_sessions_at_once(gmail: LocalGmail) -> None:
    async def one(index: int) -> None:
        smtp = client(gmail)
        await smtp.connect()
        await smtp.login("me@gmail.com", APP_PASSWORD)
        await smtp.send_message(message(to=f"r{index}@example.com"))
        await smtp.quit()

    await asyncio.gather(*(one(index) for index in range(25)))
    assert sorted(m.rcpt_tos[0] for m in gmail.messages) == sorted(
        f"r{index}@example.com" for index in range(25)
    )
    assert 1 <= gmail.max_concurrent_sessions <= 25


def _server_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if "_handle_client" in repr(t.get_coro())]


async def test_stop_closes_connections_and_the_listener_idempotently(
    certificates: TestCertificates,
) -> None:
    server = LocalGmail(accounts=[ME], certificates=certificates)
    await server.start()
    port = server.port
    assert port > 0 and server.running
    smtp = client(server)
    await smtp.connect()
    await smtp.login("me@gmail.com", APP_PASSWORD)
    assert server.open_sessions == 1 and _server_tasks()

    await server.stop()
    await server.stop()
    assert not server.running
    assert server.open_sessions == 0
    assert not server.sessions[0].open
    assert _server_tasks() == []
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await smtp.noop()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
