"""One token refresh per account across processes: a `TokenSource` that shares through a store.

`SharedTokens(source, store)` asks the store first: a current access token another process
published is used as is. When none is, one process takes the account's refresh lease, asks its
own source (which refreshes), and publishes the token; the others wait for it and read it. A
store that cannot be reached degrades to the source alone: one refresh per process, logged
once. Only access tokens are stored, never refresh tokens or passwords.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import datetime, timezone

from ..auth import TokenSource
from ..auth._credentials import fetch_token
from ._database import StoreUnavailableError
from ._store import StateStore

__all__ = ["SharedTokens"]

log = logging.getLogger("gmail_send.store")

FRESH_MARGIN = 300.0
"""A shared token is used only while it has at least this many seconds left."""
UNKNOWN_LIFETIME = 600.0
"""How long a token from a source that does not say its expiry is shared."""


class SharedTokens:
    """A `TokenSource` that refreshes once per account across every process of a store.

    Args:
        source: this process's own token source (e.g. `OAuth2Credentials`).
        store: the shared `StateStore`.
        lease: seconds one process may hold the refresh lease before another may take it.
        poll: seconds between looks at the store while another process refreshes.
    """

    def __init__(
        self, source: TokenSource, store: StateStore, *, lease: float = 30.0, poll: float = 0.1
    ) -> None:
        self._source = source
        self._store = store
        self._lease = lease
        self._poll = poll
        self._owner = uuid.uuid4().hex
        self._degraded = False

    @property
    def user(self) -> str:
        return self._source.user

    def __repr__(self) -> str:
        return f"SharedTokens({self._source!r}, {self._store!r})"

    async def get_token(self, *, force_refresh: bool = False, rejected: str | None = None) -> str:
        """A current token: the shared one, or one this process refreshes under the lease.

        Args:
            force_refresh: treat the shared token as stale and refresh it (once, across
                processes: a token another process publishes meanwhile is taken).
            rejected: the token Gmail rejected: it is not handed out again.
        """
        try:
            return await self._shared(force_refresh, rejected)
        except StoreUnavailableError as exc:
            if not self._degraded:
                self._degraded = True
                log.warning(
                    "the store is unavailable (%s); refreshing tokens for %s in this process",
                    exc.message,
                    self.user,
                    extra={"event": "store_degraded"},
                )
            return await self._own(force_refresh or rejected is not None, rejected)

    async def _shared(self, force_refresh: bool, rejected: str | None) -> str:
        deadline = time.monotonic() + self._lease * 2
        while True:
            token, leased = await self._store.acquire_token(
                self.user,
                self._owner,
                lease_seconds=self._lease,
                fresh_margin=FRESH_MARGIN,
                unusable=rejected,
                any_is_stale=force_refresh and rejected is None,
            )
            if token is not None:
                self._degraded = False
                return token
            if leased:
                return await self._refresh_under_lease(
                    force_refresh or rejected is not None, rejected
                )
            if time.monotonic() > deadline:
                raise StoreUnavailableError(
                    f"no token appeared in the store for {self.user} while another process "
                    "held the refresh lease"
                )
            await asyncio.sleep(self._poll)
            force_refresh = False  # someone else is refreshing: their token will do

    async def _refresh_under_lease(self, force: bool, rejected: str | None) -> str:
        try:
            token = await self._own(force, rejected)
        except BaseException:
            await self._store.put_token(self.user, self._owner, None, None)
            raise
        await self._store.put_token(self.user, self._owner, token, self._expiry())
        self._degraded = False
        return token

    async def _own(self, force: bool, rejected: str | None) -> str:
        return await fetch_token(self._source, rejected=rejected, force_refresh=force)

    def _expiry(self) -> float:
        expiry = getattr(self._source, "expiry", None)
        if isinstance(expiry, datetime):
            if expiry.tzinfo is None:
                expiry = expiry.replace(tzinfo=timezone.utc)
            return expiry.timestamp()
        return time.time() + UNKNOWN_LIFETIME
