"""`StateStore`: per-account sending state shared by every process that names the same URL.

The sender keeps its rolling 24-hour count, Gmail's quota pause, the login hold-off and the
current access token here when given `store="sqlite:///..."` or `store="postgresql://..."`, so
N processes together stay under the account's daily limit and refresh its token once. Every
call runs in a worker thread (the database is never touched on the event loop).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from . import _state
from ._database import Cursor, Database
from ._state import Admission, PauseKind

__all__ = ["RESERVATION_TTL", "StateStore"]

T = TypeVar("T")

RESERVATION_TTL = 900.0
"""Seconds a reservation counts toward the limit when its process died before settling it."""


class StateStore:
    """The shared state behind `store=` (see the module docstring).

    Args:
        url: `sqlite:///path/to/file.db` (one host, several processes) or
            `postgresql://user:password@host/db` (several hosts; needs the `[postgres]` extra).
        clock: seconds since the epoch (a seam for tests); shared by every host.
    """

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time) -> None:
        self._database = Database(url)
        self._clock = clock
        self.url = url

    @property
    def name(self) -> str:
        """The URL without its password, for logs and messages."""
        return self._database.name

    @property
    def dialect(self) -> str:
        return self._database.dialect

    def __repr__(self) -> str:
        return f"StateStore({self.name!r})"

    async def _run(self, operation: Callable[[Cursor, float], T]) -> T:
        def work() -> T:
            with self._database.transaction() as cursor:
                return operation(cursor, self._clock())

        return await asyncio.to_thread(work)

    async def admit(self, account: str, limit: int | None) -> Admission:
        """Reserve room for one message of `account`, unless paused or at `limit` a day.

        Args:
            account: the mailbox (case-insensitive).
            limit: the most messages per 24 hours, reservations included; None for no limit.

        Returns:
            The `Admission`: a reservation to `settle`, or why there is none.
        """
        key = account.lower()
        return await self._run(
            lambda c, now: _state.admit(c, key, limit, now=now, reservation_ttl=RESERVATION_TTL)
        )

    async def settle(self, account: str, reservation: str, *, sent: bool) -> None:
        """Count the reserved message (it was or may have been sent) or free its room.

        Args:
            account: the mailbox (case-insensitive).
            reservation: the reservation `admit` returned.
            sent: True when the message was or may have been sent (it is counted).
        """
        key = account.lower()
        await self._run(lambda c, now: _state.settle(c, key, reservation, sent=sent, now=now))

    async def take_slot(self, account: str, interval: float) -> float:
        """Book `account`'s next sending slot, `interval` seconds after the last one any
        process booked; return the seconds to wait for it.

        Args:
            account: the mailbox.
            interval: seconds between two messages of the account (1 / the rate limit).
        """
        key = account.lower()
        return await self._run(lambda c, now: _state.take_slot(c, key, interval, now=now))

    async def sent_today(self, account: str) -> int:
        """Messages of `account` counted in the last 24 hours, by every process.

        Args:
            account: the mailbox (case-insensitive).
        """
        key = account.lower()
        return await self._run(lambda c, now: _state.sent_in_window(c, key, now=now))

    async def pause(self, account: str, kind: PauseKind, seconds: float) -> None:
        """Stop `kind` ("quota": sending; "login": new sign-ins) for `seconds`, everywhere.

        Args:
            account: the mailbox (case-insensitive).
            kind: "quota" or "login".
            seconds: how long the pause lasts.
        """
        key = account.lower()
        await self._run(lambda c, now: _state.pause(c, key, kind, until=now + seconds))

    async def paused_for(self, account: str, kind: PauseKind) -> float | None:
        """Seconds left of a pause, or None.

        Args:
            account: the mailbox (case-insensitive).
            kind: "quota" or "login".
        """
        key = account.lower()

        def left(cursor: Cursor, now: float) -> float | None:
            until = _state.paused_until(cursor, key, kind)
            return until - now if until is not None and until > now else None

        return await self._run(left)

    async def reset(self, account: str, *, count: bool = False) -> None:
        """Lift the quota pause of `account`; with `count=True` also forget its 24-hour count.

        Args:
            account: the mailbox (case-insensitive).
            count: also forget the messages counted in the last 24 hours.
        """
        key = account.lower()
        await self._run(lambda c, now: _state.reset(c, key, count=count))

    async def acquire_token(
        self,
        account: str,
        owner: str,
        *,
        lease_seconds: float,
        fresh_margin: float,
        unusable: str | None = None,
        any_is_stale: bool = False,
    ) -> tuple[str | None, bool]:
        """The shared access token of `account` if it has `fresh_margin` seconds left (and is
        not `unusable`), else whether `owner` took the refresh lease; see `_state`.

        Args:
            account: the mailbox (case-insensitive).
            owner: who asks (a random id per `SharedTokens`); the lease holder.
            lease_seconds: how long the refresh lease lasts if `owner` takes it.
            fresh_margin: seconds of life the shared token must have left to be handed out.
            unusable: a token not to hand out (the one Gmail rejected).
            any_is_stale: treat the shared token as stale whatever its expiry (a forced
                refresh).

        Returns:
            (token, False) with a usable shared token; (None, True) when `owner` now holds
            the lease and must refresh; (None, False) when another process holds it.
        """
        key = account.lower()
        return await self._run(
            lambda c, now: _state.acquire_token(
                c,
                key,
                owner,
                now=now,
                lease_seconds=lease_seconds,
                fresh_margin=fresh_margin,
                unusable=unusable,
                any_is_stale=any_is_stale,
            )
        )

    async def put_token(
        self, account: str, owner: str, token: str | None, expires_at: float | None
    ) -> None:
        """Publish a new access token (None: the refresh failed) and release the lease.

        Args:
            account: the mailbox (case-insensitive).
            owner: the lease holder, as given to `acquire_token`.
            token: the new access token, or None when the refresh failed.
            expires_at: when `token` expires, in seconds since the epoch.
        """
        key = account.lower()
        await self._run(lambda c, now: _state.put_token(c, key, owner, token, expires_at))

    async def aclose(self) -> None:
        """Close the connection (it opens again on the next call)."""
        await asyncio.to_thread(self._database.close)
