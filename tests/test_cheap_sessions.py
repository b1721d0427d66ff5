"""Sessions cost as few round trips as Gmail allows: AUTH PLAIN in one line, no wait for QUIT's
reply on a one-shot send, no new login every 100 messages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from gmail_send import PoolOptions, send
from gmail_send.testing import LocalGmail

from .local_helpers import sender_for


async def test_an_app_password_signs_in_with_plain_in_one_line(
    start_gmail: Callable[..., Any],
) -> None:
    server: LocalGmail = await start_gmail(pipelining=True)
    async with sender_for(server) as sender:
        result = await sender.send(to="a@example.com", subject="x", text="x")
    assert result.auth_method == "plain"
    [session] = server.sessions
    auth = [c for c in session.commands if c.startswith("AUTH")]
    assert auth == ["AUTH PLAIN ***"]  # the credentials came with the command: one round trip
    assert [(a.mechanism, a.success) for a in server.auth_attempts] == [("PLAIN", True)]


class _QuitSwallower:
    """Forwards both ways, but once the client has written QUIT nothing reaches it again: no
    reply, and not the server's hanging up either (the connection stays open until stop())."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.quit_seen = asyncio.Event()
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> asyncio.Server:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(server.sockets[0].getsockname()[1])
        return server

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        for coro in (self._pipe(reader, up_writer, up=True), self._pipe(up_reader, writer)):
            task = asyncio.ensure_future(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, up: bool = False
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                if up and b"QUIT\r\n" in data:
                    self.quit_seen.set()
                if not up and self.quit_seen.is_set():
                    continue
                writer.write(data)
                await writer.drain()
        if up or not self.quit_seen.is_set():
            writer.close()

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def test_a_one_shot_send_does_not_wait_for_the_reply_to_quit(
    start_gmail: Callable[..., Any],
) -> None:
    relay: LocalGmail = await start_gmail(security="none", allow_relay_by_ip=True)
    proxy = _QuitSwallower(relay.port)
    listener = await proxy.start()
    try:
        # The reply to QUIT never comes; waiting for it would take the 60 s timeout.
        result = await asyncio.wait_for(
            send(
                None,
                host="127.0.0.1",
                port=proxy.port,
                security="none",
                from_="app@example.com",
                to="a@example.com",
                subject="x",
                text="x",
            ),
            10,
        )
    finally:
        listener.close()
        await proxy.stop()
    assert result.reply.code == 250
    assert proxy.quit_seen.is_set()  # QUIT was still said
    assert len(relay.messages) == 1


async def test_the_default_pool_keeps_one_session_past_a_hundred_messages(
    start_gmail: Callable[..., Any],
) -> None:
    assert PoolOptions().max_messages_per_connection is None
    server: LocalGmail = await start_gmail(pipelining=True)
    async with sender_for(server, max_connections=1) as sender:
        await asyncio.gather(
            *(sender.send(to="a@example.com", subject=f"{n}", text="x") for n in range(120))
        )
    assert len(server.messages) == 120
    assert len(server.sessions) == 1
    assert len(server.auth_attempts) == 1
