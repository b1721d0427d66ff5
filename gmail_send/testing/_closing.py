"""Stopping a local listener: cut its connections and wait, boundedly, until they are gone.

The SMTP and the IMAP side of the local Gmail both keep one protocol object per connection
with an `abort()`, a `gone` event and the task that serves it; they stop the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any, Protocol

__all__ = ["STOP_GRACE", "Connection", "close_listener", "wait_gone"]

STOP_GRACE = 5.0
"""How long a stop waits for connections and the listener to close, in seconds."""


class Connection(Protocol):
    """A served connection, as the local Gmail's SMTP and IMAP protocols are."""

    @property
    def gone(self) -> asyncio.Event: ...

    @property
    def handler_task(self) -> asyncio.Task[None] | None: ...

    def abort(self) -> None: ...


async def wait_gone(connections: Iterable[Connection]) -> None:
    """Wait (at most `STOP_GRACE`) until these connections are closed and their tasks ended;
    tasks still running then are cancelled.

    Args:
        connections: the connections to wait for.
    """
    connections = list(connections)
    waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(c.gone.wait()) for c in connections]
    waiters += [c.handler_task for c in connections if c.handler_task is not None]
    if not waiters:
        return
    _, pending = await asyncio.wait(waiters, timeout=STOP_GRACE)
    for waiter in pending:
        waiter.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


async def close_listener(server: asyncio.Server, connections: Iterable[Connection]) -> None:
    """Stop listening, abort every connection and wait (boundedly) until all are gone.

    Args:
        server: the listener.
        connections: its open connections.
    """
    server.close()
    connections = list(connections)
    for connection in connections:
        connection.abort()
    abort_clients = getattr(server, "abort_clients", None)  # Python 3.13+
    if abort_clients is not None:
        abort_clients()
    await wait_gone(connections)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(server.wait_closed(), STOP_GRACE)
