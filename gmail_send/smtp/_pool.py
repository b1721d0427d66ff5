"""A bounded set of signed-in SMTP sessions that concurrent sends share.

At most `max_connections` sessions exist at once, counting those being opened, idle, in use
and still saying QUIT; a send borrows one (`acquire`), runs its transaction and gives it back
(`release`). A session is reused for up to
`max_messages_per_connection` messages, closed politely after `idle_timeout` seconds unused,
and replaced when the server has closed it meanwhile (Gmail ends idle sessions, and sessions
whose OAuth token expired). A session that failed half-way or whose send was cancelled is
closed, never given back. The pool knows nothing of messages; opening a session is the
`opener`'s job (the sender passes one that goes through `open_session` in this package).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from ..errors import ConfigurationError
from ._connection import SMTPConnection

__all__ = ["ConnectionPool"]

log = logging.getLogger("gmail_send.smtp")


class ConnectionPool:
    """Up to `max_connections` warm sessions, handed out one send at a time."""

    name: Literal["smtp"] = "smtp"
    """The transport this pool is (for the delivery, which serves both)."""

    def __init__(
        self,
        opener: Callable[[], Awaitable[SMTPConnection]],
        *,
        max_connections: int = 3,
        max_messages_per_connection: int | None = 100,
        idle_timeout: float | None = 60.0,
        keep: Callable[[SMTPConnection], bool] | None = None,
    ) -> None:
        """`keep(connection)` may veto reusing an idle session (e.g. one signed in with a
        fallback password once OAuth2 may be tried again)."""
        if not isinstance(max_connections, int) or max_connections < 1:
            raise ConfigurationError(
                f"max_connections must be a whole number >= 1, not {max_connections!r}"
            )
        if max_messages_per_connection is not None and max_messages_per_connection < 1:
            raise ConfigurationError("max_messages_per_connection must be >= 1 or None")
        if idle_timeout is not None and idle_timeout <= 0:
            raise ConfigurationError("idle_timeout must be positive or None")
        self._opener = opener
        self.max_connections = max_connections
        self.max_messages_per_connection = max_messages_per_connection
        self.idle_timeout = idle_timeout
        self._keep = keep
        self._live = 0
        """Sessions being opened, in use, idle or closing: never above max_connections."""
        self._changed = asyncio.Event()
        self._idle: list[SMTPConnection] = []
        self._timers: dict[SMTPConnection, asyncio.TimerHandle] = {}
        self._in_use: set[SMTPConnection] = set()
        self._closing: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return (
            f"<ConnectionPool idle={len(self._idle)} in_use={len(self._in_use)} "
            f"max={self.max_connections}>"
        )

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    @property
    def connections_in_use(self) -> int:
        return len(self._in_use)

    async def acquire(self) -> SMTPConnection:
        """A usable session: an idle one if any is still good, else a new one (may wait)."""
        while True:
            connection = self._take_idle()
            if connection is not None:
                break
            if self._live < self.max_connections:
                self._live += 1
                try:
                    connection = await self._opener()
                except BaseException:
                    self._free_slot()
                    raise
                break
            await self._changed.wait()  # a session was given back or has finished closing
        self._in_use.add(connection)
        return connection

    def _free_slot(self) -> None:
        self._live -= 1
        self._changed.set()
        self._changed = asyncio.Event()

    def _take_idle(self) -> SMTPConnection | None:
        while self._idle:
            connection = self._idle.pop()  # the most recently used: the likeliest still open
            timer = self._timers.pop(connection, None)
            if timer is not None:
                timer.cancel()
            if self._worn_out(connection) or not connection.is_connected:
                log.debug(
                    "pooled session is gone or worn out; not reusing it",
                    extra={"event": "connection_discarded", "connection_id": connection.id},
                )
                self._quit_later(connection)
                continue
            return connection
        return None

    def _worn_out(self, connection: SMTPConnection) -> bool:
        limit = self.max_messages_per_connection
        if limit is not None and connection.messages_sent >= limit:
            return True
        if self._keep is not None and not self._keep(connection):
            return True
        return (
            self.idle_timeout is not None
            and time.monotonic() - connection.last_used >= self.idle_timeout
        )

    def release(self, connection: SMTPConnection, *, reusable: bool = True) -> None:
        """Give a session back; it is kept only if it is open, clean and not worn out."""
        if connection not in self._in_use:
            return
        self._in_use.discard(connection)
        if not reusable or not connection.is_connected:
            connection.close()
            self._free_slot()
            return
        if self._worn_out(connection):
            self._quit_later(connection)
            return
        self._idle.append(connection)
        self._changed.set()
        self._changed = asyncio.Event()
        if self.idle_timeout is not None:
            loop = asyncio.get_running_loop()
            self._timers[connection] = loop.call_later(self.idle_timeout, self._expire, connection)

    def _expire(self, connection: SMTPConnection) -> None:
        self._timers.pop(connection, None)
        if connection in self._idle:
            self._idle.remove(connection)
            log.debug(
                "closing idle session",
                extra={"event": "connection_idle_closed", "connection_id": connection.id},
            )
            self._quit_later(connection)

    def _quit_later(self, connection: SMTPConnection) -> None:
        """Close politely in the background; the slot is free only once QUIT is done."""
        if not connection.is_connected:
            connection.close()
            self._free_slot()
            return
        task = asyncio.get_running_loop().create_task(connection.quit())
        self._closing.add(task)
        task.add_done_callback(self._quit_done)

    def _quit_done(self, task: asyncio.Task[None]) -> None:
        self._closing.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, so a failed QUIT is not reported as unhandled
        self._free_slot()

    async def aclose(self) -> None:
        """QUIT every idle session (sessions in use are closed when given back)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        idle, self._idle = self._idle, []
        for connection in idle:
            self._quit_later(connection)
        if self._closing:
            with contextlib.suppress(Exception):
                await asyncio.gather(*list(self._closing), return_exceptions=True)
