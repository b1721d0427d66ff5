"""A scripted IMAP server over TLS on 127.0.0.1, for replies the local Gmail never gives.

`ScriptedIMAP(script)` answers each command line with `script(tag, line)`: the bytes to write
(tagged reply included), or None to hang up. AUTHENTICATE's continuation lines are passed to the
script too, with the tag of the AUTHENTICATE command.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable

from gmail_send.testing import TestCertificates

Script = Callable[[str, bytes], "bytes | None"]

GREETING = b"* OK Gimap ready for requests from 127.0.0.1\r\n"
CAPABILITY = b"* CAPABILITY IMAP4rev1 X-GM-EXT-1 AUTH=XOAUTH2 AUTH=PLAIN\r\n"


class ScriptedIMAP:
    """An implicit-TLS server whose every answer a test writes."""

    def __init__(
        self, script: Script, certificates: TestCertificates, *, greeting: bytes = GREETING
    ) -> None:
        self.script = script
        self.certificates = certificates
        self.greeting = greeting
        self.lines: list[bytes] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def __aenter__(self) -> ScriptedIMAP:
        context = self.certificates.server_context()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=context)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 5)

    def client_context(self) -> ssl.SSLContext:
        return self.certificates.client_context()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        tag = "*"
        try:
            writer.write(self.greeting)
            await writer.drain()
            for _ in range(50):  # a bounded conversation
                line = await asyncio.wait_for(reader.readline(), 10)
                if not line:
                    break
                self.lines.append(line)
                if b" " in line.strip():  # a command; continuation lines hold no space
                    tag = line.split(b" ", 1)[0].decode("ascii", "replace")
                answer = self.script(tag, line)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 2)
            self._tasks.discard(task)
