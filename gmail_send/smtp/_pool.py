"""A bounded set of signed-in SMTP sessions that concurrent sends share.

At most `max_connections` sessions exist at once, counting those being opened, open and still
saying QUIT. A send borrows a session (`acquire`), runs its transaction and gives it back
(`release`). A session carries as many sends at once as its `capacity`: one, or the streaming
window where the server offers CHUNKING and PIPELINING, so that waiting sends are written right
behind each other on a warm session instead of each waiting for a whole round trip.

Which session a send gets: an idle one if there is one; else a new one, while the sends waiting
outnumber what the sessions being opened will take and the bound allows; else a place on a busy
session with room; else it waits. A session is lent for up to `max_messages_per_connection`
sends (None: no limit), closed politely after `idle_timeout` seconds unused, and replaced when
the server has closed it meanwhile (Gmail ends idle sessions, and sessions whose OAuth token
expired). A session given back as not reusable (its send failed half-way or was cancelled) is
lent to no one again and closed once the last send on it is back. The pool knows nothing of
messages; opening a session is the `opener`'s job (the sender passes one that goes through
`open_session` in this package).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from ..errors import ConfigurationError
from ._connection import SMTPConnection

__all__ = ["ConnectionPool"]

log = logging.getLogger("gmail_send.smtp")


class ConnectionPool:
    """Up to `max_connections` warm sessions, each carrying up to its capacity of sends."""

    def __init__(
        self,
        opener: Callable[[], Awaitable[SMTPConnection]],
        *,
        max_connections: int = 3,
        max_messages_per_connection: int | None = None,
        idle_timeout: float | None = 60.0,
        keep: Callable[[SMTPConnection], bool] | None = None,
        expected_capacity: int = 1,
    ) -> None:
        """`keep(connection)` may veto reusing a session (e.g. one signed in with a fallback
        password once OAuth2 may be tried again). `expected_capacity` is how many sends a
        session being opened is expected to carry at once (the streaming window, if used)."""
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
        self._expected_capacity = max(1, expected_capacity)
        self._live = 0
        """Sessions being opened, open or closing: never above max_connections."""
        self._opening = 0
        self._waiting = 0
        """Sends inside `acquire()`."""
        self._changed = asyncio.Event()
        self._open: list[SMTPConnection] = []
        """Open sessions of the pool, idle or lent, the most recently opened or used last."""
        self._lent: dict[SMTPConnection, int] = {}
        """Sends on each session now."""
        self._handed: dict[SMTPConnection, int] = {}
        """Sends each session was lent to in all (for max_messages_per_connection)."""
        self._retired: set[SMTPConnection] = set()
        self._timers: dict[SMTPConnection, asyncio.TimerHandle] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return (
            f"<ConnectionPool idle={self.idle_connections} in_use={self.connections_in_use} "
            f"max={self.max_connections}>"
        )

    @property
    def idle_connections(self) -> int:
        """Open sessions no send is using."""
        return sum(1 for c in self._open if not self._lent.get(c))

    @property
    def connections_in_use(self) -> int:
        """Sessions at least one send is using."""
        return len(self._lent)

    async def acquire(self) -> SMTPConnection:
        """A session with room for one more send: see the module's doc (may wait)."""
        self._waiting += 1
        try:
            while True:
                connection = self._pick()
                if connection is not None:
                    break
                if self._live < self.max_connections and self._worth_opening():
                    connection = await self._open_one()
                    break
                await self._changed.wait()  # a send came back, or a session opened or closed
        finally:
            self._waiting -= 1
        self._lend(connection)
        return connection

    def _worth_opening(self) -> bool:
        """Whether the sends waiting outnumber what the sessions being opened will carry."""
        return self._waiting > self._opening * self._expected_capacity

    async def _open_one(self) -> SMTPConnection:
        self._live += 1
        self._opening += 1
        try:
            connection = await self._opener()
        except BaseException:
            self._opening -= 1
            self._free_slot()
            raise
        self._opening -= 1
        self._open.append(connection)
        self._notify()  # sends waiting for it may follow on it
        return connection

    def _lend(self, connection: SMTPConnection) -> None:
        timer = self._timers.pop(connection, None)
        if timer is not None:
            timer.cancel()
        self._lent[connection] = self._lent.get(connection, 0) + 1
        self._handed[connection] = self._handed.get(connection, 0) + 1

    def _pick(self) -> SMTPConnection | None:
        """The open session with room that carries the fewest sends (idle ones first)."""
        best: SMTPConnection | None = None
        for connection in reversed(list(self._open)):  # the most recently used first
            lent = self._lent.get(connection, 0)
            if lent == 0 and (self._worn_out(connection) or not connection.is_connected):
                log.debug(
                    "pooled session is gone or worn out; not reusing it",
                    extra={"event": "connection_discarded", "connection_id": connection.id},
                )
                self._remove(connection)
                self._quit_later(connection)
                continue
            if (
                connection in self._retired
                or lent >= connection.capacity
                or not connection.is_connected
                or self._used_up(connection)
            ):
                continue
            if best is None or lent < self._lent.get(best, 0):
                best = connection
        return best

    def _used_up(self, connection: SMTPConnection) -> bool:
        limit = self.max_messages_per_connection
        return limit is not None and self._handed.get(connection, 0) >= limit

    def _worn_out(self, connection: SMTPConnection) -> bool:
        """Whether an idle session should be closed rather than lent again."""
        if self._used_up(connection):
            return True
        if self._keep is not None and not self._keep(connection):
            return True
        return (
            self.idle_timeout is not None
            and time.monotonic() - connection.last_used >= self.idle_timeout
        )

    def release(self, connection: SMTPConnection, *, reusable: bool = True) -> None:
        """Give a session back from one send; see the module's doc for what becomes of it."""
        lent = self._lent.get(connection, 0)
        if lent == 0:
            return
        if lent > 1:
            self._lent[connection] = lent - 1
        else:
            del self._lent[connection]
        if not reusable or not connection.is_connected:
            self._retired.add(connection)
        if lent > 1:
            self._notify()  # room for one more send on it
            return
        if connection in self._retired:
            self._retired.discard(connection)
            self._remove(connection)
            connection.close()
            self._free_slot()
            return
        if self._worn_out(connection):
            self._remove(connection)
            self._quit_later(connection)
            return
        self._open.remove(connection)
        self._open.append(connection)  # the most recently used last
        self._notify()
        if self.idle_timeout is not None:
            loop = asyncio.get_running_loop()
            self._timers[connection] = loop.call_later(self.idle_timeout, self._expire, connection)

    def _remove(self, connection: SMTPConnection) -> None:
        with contextlib.suppress(ValueError):
            self._open.remove(connection)
        self._handed.pop(connection, None)
        timer = self._timers.pop(connection, None)
        if timer is not None:
            timer.cancel()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _free_slot(self) -> None:
        self._live -= 1
        self._notify()

    def _expire(self, connection: SMTPConnection) -> None:
        self._timers.pop(connection, None)
        if connection in self._open and not self._lent.get(connection):
            log.debug(
                "closing idle session",
                extra={"event": "connection_idle_closed", "connection_id": connection.id},
            )
            self._remove(connection)
            self._quit_later(connection)

    def _quit_later(self, connection: SMTPConnection, *, wait: bool = True) -> None:
        """Close politely in the background; the slot is free only once QUIT is done."""
        if not connection.is_connected:
            connection.close()
            self._free_slot()
            return
        task = asyncio.get_running_loop().create_task(connection.quit(wait=wait))
        self._closing.add(task)
        task.add_done_callback(self._quit_done)

    def _quit_done(self, task: asyncio.Task[None]) -> None:
        self._closing.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, so a failed QUIT is not reported as unhandled
        self._free_slot()

    async def aclose(self, *, wait_for_goodbye: bool = True) -> None:
        """QUIT every idle session (sessions in use are closed when given back).

        `wait_for_goodbye=False` writes QUIT and closes without waiting for the server's reply.
        """
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for connection in [c for c in self._open if not self._lent.get(c)]:
            self._remove(connection)
            self._quit_later(connection, wait=wait_for_goodbye)
        for connection in self._lent:
            self._retired.add(connection)
        if self._closing:
            with contextlib.suppress(Exception):
                await asyncio.gather(*list(self._closing), return_exceptions=True)
