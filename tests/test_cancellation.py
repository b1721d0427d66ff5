"""Deadlines and cancellation: half-used sessions are dropped, unknown outcomes reported.

A small TCP proxy on 127.0.0.1 stands between the sender and a plain-text relay-by-IP local
Gmail (plain text so the proxy can see the commands): once the client has written a chosen
byte string, it stops passing the server's replies on, so the client waits at that point.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from gmail_send import GmailSender, RetryPolicy, UnknownOutcomeError
from gmail_send.errors import DeadlineExceededError
from gmail_send.events import OutcomeUnknown, SendEvent
from gmail_send.testing import LocalGmail

from .local_helpers import QUICK_RETRY

ENVELOPE: dict[str, Any] = {"from_": "app@example.com", "to": "a@example.com"}
WITH_THE_BODY = b" LAST\r\n"
"""What the client writes with the body: the line `BDAT <size> LAST` (the relay offers CHUNKING)."""


class HoldingProxy:
    """Forwards bytes both ways until the client sent `hold_after`; then withholds replies."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.hold_after: bytes | None = None
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        held = asyncio.Event()
        for coro in (self._up(reader, up_writer, held), self._down(up_reader, writer, held)):
            task = asyncio.ensure_future(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _up(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, held: asyncio.Event
    ) -> None:
        while data := await reader.read(65536):
            if self.hold_after is not None and self.hold_after in data:
                held.set()
            writer.write(data)
            await writer.drain()
        writer.close()

    async def _down(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, held: asyncio.Event
    ) -> None:
        while data := await reader.read(65536):
            if held.is_set():
                continue  # withheld: the client waits for this reply forever
            writer.write(data)
            await writer.drain()
        writer.close()


@pytest.fixture
async def relay(start_gmail: Callable[..., Any]) -> LocalGmail:
    server: LocalGmail = await start_gmail(security="none", allow_relay_by_ip=True)
    return server


@pytest.fixture
async def proxy(relay: LocalGmail) -> AsyncIterator[HoldingProxy]:
    holding = HoldingProxy(relay.port)
    await holding.start()
    yield holding
    await holding.stop()


def sender_via(proxy: HoldingProxy, **options: Any) -> GmailSender:
    options.setdefault("retry", QUICK_RETRY)
    return GmailSender(None, host="127.0.0.1", port=proxy.port, security="none", **options)


async def test_deadline_after_the_body_is_unknown_outcome(
    relay: LocalGmail, proxy: HoldingProxy
) -> None:
    events: list[SendEvent] = []
    proxy.hold_after = WITH_THE_BODY
    async with sender_via(proxy, on_event=events.append) as sender:
        with pytest.raises(UnknownOutcomeError) as caught:
            await sender.send(
                **ENVELOPE,
                subject="x",
                text="x",
                message_id="<deadline-1@example.com>",
                deadline=2.0,
            )
        assert caught.value.message_id == "<deadline-1@example.com>"
        assert sender._pool.idle_connections == 0  # the half-used session was dropped
    assert [e.message_id for e in events if isinstance(e, OutcomeUnknown)] == [
        "<deadline-1@example.com>"
    ]
    assert len(relay.messages) == 1  # stored once, never resent


async def test_deadline_before_the_body_is_a_deadline_error(
    relay: LocalGmail, proxy: HoldingProxy
) -> None:
    proxy.hold_after = b"MAIL FROM"
    async with sender_via(proxy) as sender:
        with pytest.raises(DeadlineExceededError):
            await sender.send(**ENVELOPE, subject="x", text="x", deadline=0.5)
        assert sender._pool.idle_connections == 0
    assert relay.messages == []


async def test_cancelled_send_discards_its_session(relay: LocalGmail, proxy: HoldingProxy) -> None:
    events: list[SendEvent] = []
    async with sender_via(proxy, on_event=events.append) as sender:
        await sender.send(**ENVELOPE, subject="warm", text="x")
        proxy.hold_after = WITH_THE_BODY
        task = asyncio.ensure_future(sender.send(**ENVELOPE, subject="cut", text="x"))
        for _ in range(500):
            if len(relay.messages) == 2:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sender._pool.idle_connections == 0
        assert sender._pool.connections_in_use == 0
        assert any(isinstance(e, OutcomeUnknown) for e in events)
        proxy.hold_after = None
        await sender.send(**ENVELOPE, subject="after", text="x")
    assert [m.parsed()["Subject"] for m in relay.messages] == ["warm", "cut", "after"]
    assert len(relay.sessions) == 2  # the cancelled session was not reused


async def test_deadline_bounds_retries(start_gmail: Callable[..., Any]) -> None:
    server: LocalGmail = await start_gmail(security="none", allow_relay_by_ip=True)
    server.inject("mail", (451, "4.3.0 Mail server temporarily rejected message."), times=50)
    loop = asyncio.get_running_loop()
    async with GmailSender(
        None,
        host=server.host,
        port=server.port,
        security="none",
        retry=RetryPolicy(backoff=0.2, retries=50),
    ) as sender:
        started = loop.time()
        with pytest.raises(Exception) as caught:
            await sender.send(**ENVELOPE, subject="x", text="x", deadline=1.0)
        elapsed = loop.time() - started
    assert type(caught.value).__name__ in ("TemporaryError", "DeadlineExceededError")
    assert elapsed < 30  # far less than 50 retries with backoff would take
    assert server.messages == []
