"""Sending limits kept on the client: a rate limit, and a rolling 24-hour quota per account.

Gmail locks an account that sends more than its daily limit (500 messages for consumer
accounts, 2,000 for Workspace) for up to a day. `AccountQuotas` counts the messages this process
sent per account over the last 24 hours and refuses, with `QuotaExceededError`, the message that
would pass the limit; when Gmail itself answers `550 5.4.5`, the account is blocked so every
further send raises at once instead of hammering Gmail, until `retry_after` has passed or
`reset()` is called (which keeps the 24-hour count unless asked with `count=True`).
`RateLimiter` spaces messages to at most `rate` per second; `SendWindow` lets at most `count`
sends through in any minute (the Gmail API's per-user quota), shared per account by the
process's senders through `api_window`.

By default every `GmailSender` of the process shares `PROCESS_QUOTAS`, so two senders for the
same account count together.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, Protocol

from .errors import ConfigurationError, QuotaExceededError

if TYPE_CHECKING:
    from .store import StateStore

__all__ = [
    "API_WINDOWS",
    "DAY",
    "PROCESS_QUOTAS",
    "AccountQuotas",
    "Ledger",
    "Pacer",
    "PauseKind",
    "ProcessLedger",
    "RateLimiter",
    "SendWindow",
    "SharedRateLimiter",
    "StoreLedger",
    "api_window",
    "default_daily_limit",
    "limit_error",
    "paused_error",
]

DAY = 24 * 3600.0
"""The window of the daily limit, in seconds (Gmail's is a rolling 24 hours)."""

_CONSUMER_DOMAINS = ("gmail.com", "googlemail.com")


def default_daily_limit(account: str | None) -> int | None:
    """500 for @gmail.com / @googlemail.com, 2,000 for others (Workspace), None if unknown."""
    if account is None:
        return None
    domain = account.rpartition("@")[2].lower()
    return 500 if domain in _CONSUMER_DOMAINS else 2000


def paused_error(account: str, wait: float) -> QuotaExceededError:
    """Gmail's 550 5.4.5 paused `account`; `wait` seconds are left of the pause."""
    return QuotaExceededError(
        f"Gmail reported the daily sending limit of {account} as reached; "
        f"not sending for another {wait:.0f} s",
        retry_after=wait,
        hint="wait, or call reset_quota() if the limit was lifted",
    )


def limit_error(
    account: str, sent: int, limit: int, retry_after: float | None
) -> QuotaExceededError:
    """`account` has `sent` messages counted in the last 24 hours, `limit` allowed."""
    return QuotaExceededError(
        f"{account} has sent {sent} messages in the last 24 hours; its daily_limit is {limit}",
        retry_after=retry_after,
        hint="wait until older messages leave the 24-hour window; Gmail would lock "
        "the account for up to a day past its limit",
    )


class RateLimiter:
    """At most `rate` messages per second, spaced evenly; `wait()` before each one."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not rate > 0:
            raise ConfigurationError(f"rate_limit must be a positive number, not {rate!r}")
        self.rate = float(rate)
        self._clock = clock
        self._next = 0.0

    async def wait(self) -> None:
        """Sleep until this caller's slot; slots are handed out in call order."""
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + 1.0 / self.rate
        if slot > now:
            await asyncio.sleep(slot - now)


class SendWindow:
    """At most `count` sends in any `window` seconds; `wait()` before each one.

    Unlike `RateLimiter` it lets a burst through at once and only then waits, as Google's
    per-minute quotas count. Safe to share between event loops and threads.
    """

    def __init__(
        self, count: int, *, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not count >= 1:
            raise ConfigurationError(f"a send window needs count >= 1, not {count!r}")
        self.count = count
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._sent: collections.deque[float] = collections.deque()

    async def wait(self) -> None:
        """Return once this send fits in the window (and count it)."""
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and self._sent[0] <= now - self.window:
                    self._sent.popleft()
                if len(self._sent) < self.count:
                    self._sent.append(now)
                    return
                wait = self._sent[0] + self.window - now
            await asyncio.sleep(wait)


API_WINDOWS: dict[tuple[str, int], SendWindow] = {}
"""The process's per-account send windows for the Gmail API (`api_window`)."""
_WINDOWS_LOCK = threading.Lock()


def api_window(account: str, count: int) -> SendWindow:
    """The process's window of `count` sends a minute for `account` (made on first use)."""
    key = (account.lower(), count)
    with _WINDOWS_LOCK:
        window = API_WINDOWS.get(key)
        if window is None:
            window = API_WINDOWS[key] = SendWindow(count)
        return window


class _Account:
    def __init__(self) -> None:
        self.sent: collections.deque[float] = collections.deque()
        self.reserved = 0
        self.blocked_until: float | None = None


class AccountQuotas:
    """Messages sent per account in the last 24 hours, and accounts Gmail has stopped.

    Args:
        clock: where the time comes from, in seconds (monotonic); tests give a fake one.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._accounts: dict[str, _Account] = {}

    def _entry(self, account: str) -> _Account:
        key = account.lower()
        entry = self._accounts.get(key)
        if entry is None:
            entry = self._accounts[key] = _Account()
        cutoff = self._clock() - DAY
        while entry.sent and entry.sent[0] <= cutoff:
            entry.sent.popleft()
        return entry

    def sent_today(self, account: str) -> int:
        """Messages recorded for `account` within the last 24 hours.

        Args:
            account: the mailbox (case-insensitive).
        """
        return len(self._entry(account).sent)

    def reserve(self, account: str, limit: int | None) -> None:
        """Claim room for one message, or raise `QuotaExceededError`.

        Follow with `commit()` once it may have been sent, or `release()` if it surely was not.

        Args:
            account: the mailbox (case-insensitive).
            limit: the most messages per 24 hours, reservations included; None for no limit
                (a block by Gmail still applies).
        """
        entry = self._entry(account)
        now = self._clock()
        if entry.blocked_until is not None:
            if now < entry.blocked_until:
                raise paused_error(account, entry.blocked_until - now)
            entry.blocked_until = None
        if limit is not None and len(entry.sent) + entry.reserved >= limit:
            retry_after = entry.sent[0] + DAY - now if entry.sent else None
            raise limit_error(account, len(entry.sent), limit, retry_after)
        entry.reserved += 1

    def commit(self, account: str) -> None:
        """The reserved message was (or may have been) sent: count it.

        Args:
            account: the mailbox that reserved it.
        """
        entry = self._entry(account)
        entry.reserved = max(0, entry.reserved - 1)
        entry.sent.append(self._clock())

    def release(self, account: str) -> None:
        """The reserved message was not sent.

        Args:
            account: the mailbox that reserved it.
        """
        entry = self._entry(account)
        entry.reserved = max(0, entry.reserved - 1)

    def block(self, account: str, retry_after: float) -> None:
        """Gmail said 550 5.4.5: refuse every send for `account` for `retry_after` seconds.

        Args:
            account: the mailbox Gmail stopped.
            retry_after: seconds the block lasts.
        """
        self._entry(account).blocked_until = self._clock() + retry_after

    def blocked_for(self, account: str) -> float | None:
        """Seconds left of a block, or None.

        Args:
            account: the mailbox (case-insensitive).
        """
        until = self._entry(account).blocked_until
        if until is None:
            return None
        left = until - self._clock()
        return left if left > 0 else None

    def reset(self, account: str, *, count: bool = False) -> None:
        """Lift Gmail's pause of `account`; with `count=True` also forget its 24-hour count.

        The count is kept by default: it is what keeps the account under its daily limit, and
        forgetting it lets the process send a whole day's limit again at once.

        Args:
            account: the mailbox (case-insensitive).
            count: also forget the messages counted in the last 24 hours.
        """
        if count:
            self._accounts.pop(account.lower(), None)
        else:
            self._entry(account).blocked_until = None

    def clear(self) -> None:
        """Forget every account (e.g. between tests that share `PROCESS_QUOTAS`)."""
        self._accounts.clear()


PROCESS_QUOTAS = AccountQuotas()
"""The counts every `GmailSender` of this process shares unless given its own `quotas`."""


class Pacer(Protocol):
    """Spaces messages out: `wait()` before each one."""

    async def wait(self) -> None: ...


class SharedRateLimiter:
    """At most `rate` messages per second for `account` across every process of a store.

    Args:
        store: the shared `StateStore`.
        account: the mailbox whose sends are spaced.
        rate: messages per second, all processes together.
    """

    def __init__(self, store: StateStore, account: str, rate: float) -> None:
        if not rate > 0:
            raise ConfigurationError(f"rate_limit must be a positive number, not {rate!r}")
        self._store = store
        self._account = account
        self._interval = 1.0 / rate

    async def wait(self) -> None:
        """Book the account's next slot in the store and sleep until it comes."""
        delay = await self._store.take_slot(self._account, self._interval)
        if delay > 0:
            await asyncio.sleep(delay)


class Ledger(Protocol):
    """Where a sender counts and pauses its account: this process, or a shared store.

    `admit` raises `QuotaExceededError` or returns a ticket to `settle` once the outcome is
    known (`sent=True` when the message was or may have been sent).
    """

    async def admit(self, account: str, limit: int | None) -> str | None: ...

    async def settle(self, account: str, ticket: str | None, *, sent: bool) -> None: ...

    async def pause(self, account: str, kind: PauseKind, seconds: float) -> None: ...

    async def paused_for(self, account: str, kind: PauseKind) -> float | None: ...

    async def reset(self, account: str, *, count: bool) -> None: ...


PauseKind = Literal["quota", "login"]


class ProcessLedger:
    """The ledger of one process: `AccountQuotas` for counts and quota pauses (shared by the
    process's senders by default), and this sender's own login hold-off. Nothing here waits,
    so a cancelled send still settles its ticket."""

    def __init__(self, quotas: AccountQuotas, *, clock: Callable[[], float] = time.monotonic):
        self._quotas = quotas
        self._clock = clock
        self._login_until: dict[str, float] = {}

    async def admit(self, account: str, limit: int | None) -> str | None:
        self._quotas.reserve(account, limit)
        return None

    async def settle(self, account: str, ticket: str | None, *, sent: bool) -> None:
        if sent:
            self._quotas.commit(account)
        else:
            self._quotas.release(account)

    async def pause(self, account: str, kind: PauseKind, seconds: float) -> None:
        if kind == "quota":
            self._quotas.block(account, seconds)
        else:
            self._login_until[account.lower()] = self._clock() + seconds

    async def paused_for(self, account: str, kind: PauseKind) -> float | None:
        if kind == "quota":
            return self._quotas.blocked_for(account)
        left = self._login_until.get(account.lower(), 0.0) - self._clock()
        return left if left > 0 else None

    async def reset(self, account: str, *, count: bool) -> None:
        self._quotas.reset(account, count=count)


class StoreLedger:
    """The ledger in a shared store: counts, reservations and pauses seen by every process."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    async def admit(self, account: str, limit: int | None) -> str | None:
        answer = await self.store.admit(account, limit)
        if answer.reservation is not None:
            return answer.reservation
        if answer.paused_for is not None:
            raise paused_error(account, answer.paused_for)
        assert limit is not None
        retry_after = None if answer.oldest is None else answer.oldest + DAY - time.time()
        raise limit_error(account, answer.sent, limit, retry_after)

    async def settle(self, account: str, ticket: str | None, *, sent: bool) -> None:
        if ticket is not None:
            # Shielded: a send cancelled now must still leave the count right.
            await asyncio.shield(self.store.settle(account, ticket, sent=sent))

    async def pause(self, account: str, kind: PauseKind, seconds: float) -> None:
        await self.store.pause(account, kind, seconds)

    async def paused_for(self, account: str, kind: PauseKind) -> float | None:
        return await self.store.paused_for(account, kind)

    async def reset(self, account: str, *, count: bool) -> None:
        await self.store.reset(account, count=count)
