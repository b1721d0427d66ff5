"""Talking IMAP to the local Gmail in tests: stdlib imaplib in a worker thread, and a raw
line-level client for what imaplib hides (continuations, literals, hostile input)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import imaplib
from collections.abc import Callable
from typing import TypeVar

from gmail_send.testing import LocalGmail

T = TypeVar("T")


def xoauth2(user: str, token: str) -> bytes:
    """The XOAUTH2 SASL string (not yet base64)."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


async def with_imaplib(gmail: LocalGmail, work: Callable[[imaplib.IMAP4_SSL], T]) -> T:
    """Run `work(client)` in a thread on an imaplib connection to `gmail` (closed after)."""

    def run() -> T:
        client = imaplib.IMAP4_SSL(
            gmail.host, gmail.imap_port, ssl_context=gmail.client_tls_context(), timeout=10
        )
        try:
            return work(client)
        finally:
            with contextlib.suppress(Exception):
                client.shutdown()

    return await asyncio.to_thread(run)


class RawIMAP:
    """A line-level IMAP client over TLS, for the exchanges imaplib does not show."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, gmail: LocalGmail) -> RawIMAP:
        reader, writer = await asyncio.open_connection(
            gmail.host, gmail.imap_port, ssl=gmail.client_tls_context(), limit=2**22
        )
        client = cls(reader, writer)
        greeting = await client.line()
        assert greeting.startswith("* OK Gimap ready for requests from 127.0.0.1 ")
        return client

    async def send(self, data: str | bytes) -> None:
        self.writer.write(data if isinstance(data, bytes) else data.encode() + b"\r\n")
        await self.writer.drain()

    async def line(self) -> str:
        """The next line from the server without its CRLF; "" at the end of the stream."""
        data = await asyncio.wait_for(self.reader.readline(), 10)
        return data.decode().removesuffix("\r\n")

    async def until_tagged(self, tag: str) -> list[str]:
        """Every line up to and with the one tagged `tag`."""
        lines = []
        while True:
            line = await self.line()
            assert line, f"the server hung up before answering {tag}: {lines}"
            lines.append(line)
            if line.startswith(f"{tag} "):
                return lines

    async def command(self, tag: str, text: str) -> list[str]:
        await self.send(f"{tag} {text}")
        return await self.until_tagged(tag)

    async def sign_in(self, user: str, token: str) -> None:
        blob = base64.b64encode(xoauth2(user, token)).decode()
        lines = await self.command("s1", f"AUTHENTICATE XOAUTH2 {blob}")
        assert lines[-1] == f"s1 OK {user} authenticated (Success)", lines

    async def rest(self) -> bytes:
        """What the server still sends before it ends the stream (fails if it does not)."""
        try:
            return await asyncio.wait_for(self.reader.read(), 10)
        except ConnectionError:
            return b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
