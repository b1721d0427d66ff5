"""The local inbox in the browser: a web page of what a local Gmail received, and its JSON.

Served by the local Gmail itself (`LocalGmail(web=True)`), on its event loop, on 127.0.0.1:

- `/`: the messages, newest first, updated as they arrive (Server-Sent Events on
  `/api/events`);
- `/messages/<id>`: one message: envelope, headers, text, the HTML body in a sandboxed frame,
  attachments to download, the raw source (`/messages/<id>/raw`);
- `/api/messages` and `/api/messages/<id>`: the same as JSON.

A message's HTML is served from `/messages/<id>/html` with a policy that runs no script and
loads nothing (images only as `data:` URLs, which the message's own inline images become), and
shown in a frame with an empty `sandbox`. The pages themselves load only their own files.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import json
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from ._http import HTTPServer, Request, Response, Stream, not_found
from ._inbox_data import MessageView
from ._inbox_pages import list_page, message_page, rows
from ._records import ReceivedMessage
from ._state import ServerState

__all__ = ["LocalInbox"]

_PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_MESSAGE_POLICY = (
    "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
"""For a message's HTML: no script, no request to anywhere (remote images, fonts, CSS)."""
_COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_MESSAGE_PATH = re.compile(r"^/(api/)?messages/([\w.-]+)(/html|/raw|/parts/\d+)?$")
_STATIC = {"inbox.css": "text/css; charset=utf-8", "inbox.js": "text/javascript; charset=utf-8"}
_JSON = "application/json; charset=utf-8"
_HTML = "text/html; charset=utf-8"


class LocalInbox:
    """The inbox page of one local Gmail; `start()` on the server's loop, then `stop()`."""

    def __init__(self, state: ServerState, *, smtp_where: str, host: str, port: int = 0) -> None:
        self._state = state
        self._smtp_where = smtp_where
        self._http = HTTPServer(self._handle, host=host, port=port, headers=_COMMON_HEADERS)
        self._listeners: set[asyncio.Queue[str | None]] = set()

    @property
    def url(self) -> str:
        """The page's address, e.g. http://127.0.0.1:8025/."""
        return self._http.url

    @property
    def port(self) -> int:
        return self._http.port

    async def start(self) -> None:
        await self._http.start()
        self._state.message_listeners.append(self._announce)

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self._state.message_listeners.remove(self._announce)
        for queue in list(self._listeners):
            queue.put_nowait(None)
        await self._http.stop()

    def set_smtp_where(self, where: str) -> None:
        """The SMTP address shown on the page (known once the server listens)."""
        self._smtp_where = where

    def _views(self) -> list[MessageView]:
        """The messages, newest first."""
        messages = list(self._state.messages)
        return [MessageView(message, n) for n, message in reversed(list(enumerate(messages)))]

    def _find(self, message_id: str) -> MessageView | None:
        return next((view for view in self._views() if view.id == message_id), None)

    async def _handle(self, request: Request) -> Response | Stream:
        path = request.path
        if path == "/":
            return _html(list_page(self._views(), self._smtp_where))
        if path == "/rows":
            return _html(rows(self._views(), self._smtp_where).encode())
        if path == "/api/messages":
            return _json([view.summary() for view in self._views()])
        if path == "/api/events":
            return Stream(self._events())
        if path.startswith("/static/"):
            return _static(path.removeprefix("/static/"))
        match = _MESSAGE_PATH.match(path)
        view = self._find(match.group(2)) if match else None
        if match is None or view is None:
            return not_found()
        api, tail = match.group(1), match.group(3) or ""
        if api:
            return _json(view.detail()) if not tail else not_found()
        if not tail:
            return _html(message_page(view, self._smtp_where))
        if tail == "/raw":
            return Response(view.received.data, content_type="text/plain; charset=utf-8")
        if tail == "/html":
            framed = view.framed_html()
            if framed is None:
                return not_found()
            policy = {"Content-Security-Policy": _MESSAGE_POLICY}
            return Response(
                framed.encode(), content_type="text/html; charset=utf-8", headers=policy
            )
        part = view.part(int(tail.removeprefix("/parts/")))
        if part is None:
            return not_found()
        filename = part.filename or f"part-{part.number}"
        return Response(
            part.payload,
            content_type=part.content_type,
            headers={
                "Content-Disposition": _attachment(filename),
                "Content-Security-Policy": _MESSAGE_POLICY,
            },
        )

    def _announce(self, message: ReceivedMessage) -> None:
        position = len(self._state.messages) - 1
        view = MessageView(message, position)
        data = json.dumps({"id": view.id, "subject": view.header("Subject")})
        for queue in self._listeners:
            queue.put_nowait(data)

    async def _events(self) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._listeners.add(queue)
        try:
            yield b"retry: 1000\n\n"
            while (data := await queue.get()) is not None:
                yield f"event: message\ndata: {data}\n\n".encode()
        finally:
            self._listeners.discard(queue)


def _html(body: bytes) -> Response:
    return Response(
        body,
        content_type=_HTML,
        headers={"Content-Security-Policy": _PAGE_POLICY},
    )


def _json(value: Any) -> Response:
    body = json.dumps(value, ensure_ascii=False, indent=1).encode()
    return Response(body, content_type=_JSON)


def _static(name: str) -> Response:
    content_type = _STATIC.get(name)
    if content_type is None:
        return not_found()
    body = importlib.resources.files(__package__).joinpath(f"_static/{name}").read_bytes()
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-cache"})


def _attachment(filename: str) -> str:
    """A Content-Disposition that downloads under the part's own (maybe non-ASCII) name."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
