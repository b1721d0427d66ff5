"""A small HTTP/1.1 server on asyncio streams, enough for the local inbox page.

GET and HEAD only, one request per connection (`Connection: close`), no request bodies. It
runs on the local Gmail's own event loop, so the pages read the server's records without locks.
Requests whose Host header is not the loopback address and port it listens on are refused, so
a web page elsewhere cannot read the inbox by rebinding a DNS name to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus

__all__ = ["HTTPServer", "Request", "Response", "Stream", "not_found"]

_HEAD_LIMIT = 16 * 1024
_READ_TIMEOUT = 10.0
_STOP_GRACE = 5.0


@dataclass(frozen=True)
class Request:
    """One request: method, the decoded path, the query string's values, the headers."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class Response:
    """A whole response, sent with Content-Length."""

    body: bytes = b""
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Stream:
    """A response sent as its chunks come (Server-Sent Events), until the iterator ends."""

    chunks: AsyncIterator[bytes]
    content_type: str = "text/event-stream; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Awaitable[Response | Stream]]


class HTTPServer:
    """Serves `handler` on a loopback address; `start()` in a running loop, then `stop()`."""

    def __init__(self, handler: Handler, *, host: str, port: int, headers: dict[str, str]) -> None:
        self._handler = handler
        self._host = host
        self._port = port
        self._headers = headers
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}/"

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._connection, self._host, self._port, limit=_HEAD_LIMIT
        )
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=_STOP_GRACE)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), _STOP_GRACE)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._exchange(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError):
            return
        request = _parse(head)
        if request is None:
            await self._write(writer, "GET", _error(HTTPStatus.BAD_REQUEST))
            return
        if not self._host_allowed(request.headers.get("host", "")):
            await self._write(writer, request.method, _error(HTTPStatus.MISDIRECTED_REQUEST))
            return
        if request.method not in ("GET", "HEAD"):
            answer = _error(HTTPStatus.METHOD_NOT_ALLOWED)
            answer.headers["Allow"] = "GET, HEAD"
            await self._write(writer, request.method, answer)
            return
        await self._write(writer, request.method, await self._handler(request))

    def _host_allowed(self, host: str) -> bool:
        names = ("127.0.0.1", "localhost", "[::1]", f"[{self._host}]", self._host)
        return host.lower() in {f"{name}:{self._port}" for name in names}

    async def _write(
        self, writer: asyncio.StreamWriter, method: str, answer: Response | Stream
    ) -> None:
        status = answer.status if isinstance(answer, Response) else 200
        headers = {
            **self._headers,
            "Content-Type": answer.content_type,
            "Connection": "close",
            **answer.headers,
        }
        if isinstance(answer, Response):
            headers["Content-Length"] = str(len(answer.body))
        else:
            headers["Cache-Control"] = "no-store"
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if method == "HEAD":
            await writer.drain()
            return
        if isinstance(answer, Response):
            writer.write(answer.body)
            await writer.drain()
            return
        async for chunk in answer.chunks:
            writer.write(chunk)
            await writer.drain()


def _parse(head: bytes) -> Request | None:
    try:
        text = head.decode("latin-1")
        request_line, *header_lines = text.split("\r\n")
        method, target, version = request_line.split(" ")
    except ValueError:
        return None
    if not version.startswith("HTTP/1.") or not target.startswith("/"):
        return None
    headers: dict[str, str] = {}
    for line in header_lines:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon:
            return None
        headers[name.strip().lower()] = value.strip()
    parts = urllib.parse.urlsplit(target)
    return Request(
        method=method,
        path=urllib.parse.unquote(parts.path),
        query=urllib.parse.parse_qs(parts.query),
        headers=headers,
    )


def _error(status: HTTPStatus) -> Response:
    return Response(f"{status.value} {status.phrase}\n".encode(), status=status.value)


def not_found() -> Response:
    """A plain 404."""
    return _error(HTTPStatus.NOT_FOUND)
