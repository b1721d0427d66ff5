"""The local Gmail's IMAP listener: implicit TLS (like imap.gmail.com:993) on a loopback port,
one `IMAPSession` per connection, all cut by `stop()`.

It shares the `ServerState` of its `LocalGmail` (accounts, tokens, the token hook, the Sent
Mail copies, the IMAP faults and records) and its test certificate.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import ssl
from typing import Any

from ._imap_session import IMAPSession
from ._state import ServerState

__all__ = ["IMAPListener"]

_STOP_GRACE = 5.0
_HANDSHAKE_TIMEOUT = 30.0


class IMAPListener:
    """Serves IMAP for one `LocalGmail` between `start()` and `stop()`.

    Args:
        state: the local Gmail's shared state.
        context: the server side TLS context (the test certificate).
        host: the loopback address to listen on.
        port: the port; 0 picks a free one the first time (kept for a restart).
    """

    def __init__(self, state: ServerState, context: ssl.SSLContext, host: str, port: int) -> None:
        self.state = state
        self.host = host
        self.port = port
        self._context = context
        self._server: asyncio.Server | None = None
        self._live: set[IMAPSession] = set()

    def __repr__(self) -> str:
        return f"<IMAPListener {self.host}:{self.port} open={len(self._live)}>"

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def open_sessions(self) -> int:
        """How many IMAP connections are open now."""
        return len(self._live)

    async def start(self) -> None:
        """Listen (in the running loop)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._new_session,
            self.host,
            self.port,
            ssl=self._context,
            ssl_handshake_timeout=min(_HANDSHAKE_TIMEOUT, self.state.config.idle_timeout),
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    def _new_session(self) -> IMAPSession:
        return IMAPSession(self.state, session_id=secrets.token_hex(8), live=self._live)

    async def stop(self) -> None:
        """Stop listening, cut every connection and wait (boundedly) until they are gone."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        sessions = list(self._live)
        for session in sessions:
            session.abort()
        abort_clients = getattr(server, "abort_clients", None)  # Python 3.13+
        if abort_clients is not None:
            abort_clients()
        waiters: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(session.gone.wait()) for session in sessions
        ]
        waiters += [session.task for session in sessions if session.task is not None]
        if waiters:
            _, pending = await asyncio.wait(waiters, timeout=_STOP_GRACE)
            for waiter in pending:
                waiter.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), _STOP_GRACE)
