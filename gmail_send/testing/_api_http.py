"""A small HTTP/1.1 server on asyncio streams, for the local Gmail API (the inbox page has
its own, `_http`).

It runs on the event loop of the local Gmail it serves with (so the two share their records
without locks), over real TLS with the test CA. It reads one request at a time per connection
(keep-alive, `Content-Length` or chunked bodies, bounded sizes), hands it to the application,
and writes the answer, or does what a fault asks instead: cut the connection, or never answer.
It is a test server: it speaks enough HTTP/1.1 for HTTP clients, nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

__all__ = ["DROP", "HANG", "HTTPRequest", "HTTPResponse", "HTTPServer", "Outcome"]

_MAX_HEAD = 64 * 1024
_MAX_HEADERS = 100


@dataclass(frozen=True)
class HTTPRequest:
    """One request as received; header names in lower case (a repeated header: the last)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = field(repr=False)
    connection_id: int


@dataclass(frozen=True)
class HTTPResponse:
    """An answer to write; `close` ends the connection after it."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False


class _Action:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


DROP = _Action("DROP")
"""Cut the TCP connection without an answer."""
HANG = _Action("HANG")
"""Never answer (until the client gives up or the server stops)."""

Outcome = HTTPResponse | _Action
Head = Callable[[str, str, dict[str, str], int], Outcome | None]
"""`on_head(method, path, headers, connection_id)`: an answer or action before the body is
read (a body that is then not read), or None to read it and go on."""
App = Callable[[HTTPRequest], Awaitable[Outcome]]


class _BadRequest(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class HTTPServer:
    """Serves `app` on `host`:`port` (0: a free port) with TLS `context`."""

    def __init__(
        self,
        app: App,
        *,
        context: ssl.SSLContext,
        on_head: Head | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        max_body: int = 64 * 1024 * 1024,
        idle_timeout: float = 120.0,
    ) -> None:
        self._app = app
        self._on_head = on_head
        self._context = context
        self.host = host
        self.port = port
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self._server: asyncio.Server | None = None
        self._ids = itertools.count(1)
        self._live: dict[int, asyncio.StreamWriter] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections_opened = 0
        self.max_concurrent_connections = 0

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def open_connections(self) -> int:
        return len(self._live)

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("already running")
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, ssl=self._context
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._live.values()):
            writer.transport.abort()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 5.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        connection_id = next(self._ids)
        self._live[connection_id] = writer
        self.connections_opened += 1
        self.max_concurrent_connections = max(self.max_concurrent_connections, len(self._live))
        try:
            while await self._one_request(reader, writer, connection_id):
                pass
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            writer.transport.abort()  # stop(): this connection's handler simply ends
        finally:
            self._live.pop(connection_id, None)
            self._tasks.discard(task)
            if not writer.transport.is_closing():
                writer.transport.abort()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, connection_id: int
    ) -> bool:
        """Serve one request; False when the connection is to end."""
        try:
            line = await asyncio.wait_for(reader.readline(), self.idle_timeout)
        except asyncio.TimeoutError:
            return False
        if not line:
            return False
        try:
            method, target, headers = await self._read_head(line, reader)
        except _BadRequest as bad:
            await _write(writer, HTTPResponse(bad.status, close=True))
            return False
        parts = urlsplit(target)
        early = self._on_head(method, parts.path, headers, connection_id) if self._on_head else None
        if early is not None:
            return await self._finish(reader, writer, early, keep_alive=False)
        try:
            body = await self._read_body(reader, headers)
        except _BadRequest as bad:
            await _write(writer, HTTPResponse(bad.status, close=True))
            return False
        request = HTTPRequest(
            method=method,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers=headers,
            body=body,
            connection_id=connection_id,
        )
        outcome = await self._app(request)
        keep_alive = headers.get("connection", "").lower() != "close"
        return await self._finish(reader, writer, outcome, keep_alive=keep_alive)

    async def _finish(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        outcome: Outcome,
        *,
        keep_alive: bool,
    ) -> bool:
        if outcome is DROP:
            writer.transport.abort()
            return False
        if outcome is HANG:
            while await reader.read(65536):  # silent until the client hangs up (or stop())
                pass
            return False
        assert isinstance(outcome, HTTPResponse)
        close = outcome.close or not keep_alive
        await _write(writer, outcome, close=close)
        return not close

    async def _read_head(
        self, line: bytes, reader: asyncio.StreamReader
    ) -> tuple[str, str, dict[str, str]]:
        try:
            method, target, version = line.decode("ascii").rstrip("\r\n").split(" ")
        except (UnicodeDecodeError, ValueError):
            raise _BadRequest(400) from None
        if not version.startswith("HTTP/1."):
            raise _BadRequest(505)
        headers: dict[str, str] = {}
        size = len(line)
        while True:
            raw = await reader.readline()
            size += len(raw)
            if size > _MAX_HEAD or len(headers) > _MAX_HEADERS:
                raise _BadRequest(431)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, colon, value = raw.decode("latin-1").partition(":")
            if not colon or not name.strip() or name != name.strip():
                raise _BadRequest(400)
            headers[name.lower()] = value.strip()
        return method, target, headers

    async def _read_body(self, reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return await self._read_chunked(reader)
        length_text = headers.get("content-length", "0")
        if not length_text.isdigit():
            raise _BadRequest(400)
        length = int(length_text)
        if length > self.max_body:
            raise _BadRequest(413)
        return await reader.readexactly(length)

    async def _read_chunked(self, reader: asyncio.StreamReader) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = (await reader.readline()).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise _BadRequest(400) from None
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > self.max_body:
                raise _BadRequest(413)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)


async def _write(
    writer: asyncio.StreamWriter, response: HTTPResponse, *, close: bool = True
) -> None:
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    lines = [f"HTTP/1.1 {response.status} {reason}".rstrip()]
    lines += [f"{name}: {value}" for name, value in response.headers]
    lines.append(f"Content-Length: {len(response.body)}")
    if close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    writer.write(head + response.body)
    await writer.drain()
    if close:
        writer.close()
