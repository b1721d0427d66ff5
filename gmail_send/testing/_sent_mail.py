"""Each account's Sent Mail on the local Gmail: the copies Gmail files of what it accepted.

smtp.gmail.com (and the Gmail API) file a copy of every message accepted from a signed-in
account in that account's Sent Mail, so it also shows in All Mail; the Workspace relay, which
takes mail without a sign-in, files none. The copy may come late: `delay` seconds after the
acceptance (on the server's loop), or never (`None`). IMAP reads the copies from here; a
copy's UID is its place in the list, from 1, under the fixed `UIDVALIDITY`.
"""

from __future__ import annotations

import asyncio
import itertools
import math

from ._records import ReceivedMessage

__all__ = ["UIDVALIDITY", "SentMail"]

UIDVALIDITY = 1
"""The UIDVALIDITY of every mailbox of the local Gmail: its UIDs never change meaning."""


class SentMail:
    """The filed copies of every account, and the filings still to come."""

    def __init__(self) -> None:
        self._delay: float | None = 0.0
        self._copies: dict[str, list[ReceivedMessage]] = {}
        self._pending: dict[int, asyncio.TimerHandle] = {}
        self._tickets = itertools.count()

    def __repr__(self) -> str:
        filed = sum(len(copies) for copies in self._copies.values())
        return f"<SentMail filed={filed} pending={len(self._pending)}>"

    @property
    def delay(self) -> float | None:
        """Seconds between acceptance and filing for messages accepted from now on; None: never."""
        return self._delay

    @delay.setter
    def delay(self, seconds: float | None) -> None:
        if seconds is not None and (not math.isfinite(seconds) or seconds < 0):
            raise ValueError(f"sent_copy_delay must be None or seconds >= 0, not {seconds!r}")
        self._delay = seconds

    def accept(self, account: str, message: ReceivedMessage) -> None:
        """Take a message just accepted for `account`: file it now, later, or never.

        Args:
            account: the address the message was sent as (signed in as).
            message: the accepted message.
        """
        key = account.strip().lower()
        if self._delay is None:
            return
        if self._delay == 0:
            self._file(key, message)
            return
        ticket = next(self._tickets)
        self._pending[ticket] = asyncio.get_running_loop().call_later(
            self._delay, self._file_later, ticket, key, message
        )

    def _file_later(self, ticket: int, key: str, message: ReceivedMessage) -> None:
        del self._pending[ticket]
        self._file(key, message)

    def _file(self, key: str, message: ReceivedMessage) -> None:
        self._copies.setdefault(key, []).append(message)

    def copies(self, account: str) -> list[ReceivedMessage]:
        """The copies filed for `account` so far, oldest first (the live list; UID = index + 1).

        Args:
            account: the account's address (case-insensitive).
        """
        return self._copies.setdefault(account.strip().lower(), [])

    def cancel_pending(self) -> int:
        """Drop the filings still to come (the server stops); returns how many."""
        pending, self._pending = self._pending, {}
        for handle in pending.values():
            handle.cancel()
        return len(pending)
