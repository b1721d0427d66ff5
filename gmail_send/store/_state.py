"""The per-account state, as SQL: the rolling 24-hour count, pauses and the token lease.

Every function runs inside one `Database.transaction()` and first locks the account's row, so
concurrent processes and hosts see one count: a reservation is counted from the moment it is
taken until it is settled (sent or not) or, if its process died, until it expires.
"""

from __future__ import annotations

import uuid
from typing import Literal, NamedTuple

from ._database import Cursor

__all__ = [
    "DAY",
    "Admission",
    "TokenState",
    "acquire_token",
    "admit",
    "pause",
    "paused_until",
    "put_token",
    "reset",
    "sent_in_window",
    "settle",
    "take_slot",
    "token_state",
]

DAY = 24 * 3600.0
PauseKind = Literal["quota", "login"]
_COLUMNS: dict[PauseKind, str] = {"quota": "quota_paused_until", "login": "login_paused_until"}


class Admission(NamedTuple):
    """The answer to "may this account send one more message now?"."""

    reservation: str | None
    """The reservation to settle, when admitted."""
    paused_for: float | None = None
    """Seconds left of a quota pause (Gmail's 550 5.4.5), when refused for that."""
    sent: int = 0
    """Messages counted in the window (sent and reserved), when refused for the limit."""
    oldest: float | None = None
    """When the oldest counted message was sent (epoch seconds)."""


class TokenState(NamedTuple):
    token: str | None
    expires_at: float | None
    lease_owner: str | None
    lease_until: float | None


def _lock(cursor: Cursor, account: str) -> tuple[object, ...]:
    cursor.execute(
        "INSERT INTO gmail_send_accounts (account) VALUES (%s) ON CONFLICT (account) DO NOTHING",
        (account,),
    )
    # SQLite's BEGIN IMMEDIATE already serializes writers; PostgreSQL locks the row.
    query = _SELECT_PAUSES if cursor.sqlite else _SELECT_PAUSES + " FOR UPDATE"
    row = cursor.execute(query, (account,)).fetchone()
    assert row is not None
    return row


_SELECT_PAUSES = (
    "SELECT quota_paused_until, login_paused_until FROM gmail_send_accounts WHERE account = %s"
)


def admit(
    cursor: Cursor, account: str, limit: int | None, *, now: float, reservation_ttl: float
) -> Admission:
    """Reserve room for one message unless paused or at `limit` in the last 24 hours."""
    quota_until, _ = _lock(cursor, account)
    if isinstance(quota_until, float | int) and quota_until > now:
        return Admission(None, paused_for=float(quota_until) - now)
    cursor.execute(
        "DELETE FROM gmail_send_sends WHERE account = %s AND sent_at <= %s", (account, now - DAY)
    )
    cursor.execute("DELETE FROM gmail_send_reservations WHERE expires_at <= %s", (now,))
    if limit is not None:
        # One statement, so one snapshot: under PostgreSQL's READ COMMITTED two statements
        # could miss a reservation that another process settled (deleted, and counted as a
        # send) between them.
        row = cursor.execute(
            "SELECT (SELECT COUNT(*) FROM gmail_send_sends WHERE account = %s), "
            "(SELECT MIN(sent_at) FROM gmail_send_sends WHERE account = %s), "
            "(SELECT COUNT(*) FROM gmail_send_reservations WHERE account = %s)",
            (account, account, account),
        ).fetchone()
        assert row is not None
        counted = int(row[0]) + int(row[2])
        if counted >= limit:
            oldest = None if row[1] is None else float(row[1])
            return Admission(None, sent=counted, oldest=oldest)
    reservation = uuid.uuid4().hex
    cursor.execute(
        "INSERT INTO gmail_send_reservations (id, account, expires_at) VALUES (%s, %s, %s)",
        (reservation, account, now + reservation_ttl),
    )
    return Admission(reservation)


def settle(cursor: Cursor, account: str, reservation: str, *, sent: bool, now: float) -> None:
    """The reserved message was (or may have been) sent, or surely was not.

    Under the account's lock, like `admit`, so a settle never commits while an admission
    counts; `admit` also counts sends and reservations in one statement (one snapshot), so a
    settle cannot fall between two counts and be counted in neither.
    """
    _lock(cursor, account)
    cursor.execute("DELETE FROM gmail_send_reservations WHERE id = %s", (reservation,))
    if sent:
        cursor.execute(
            "INSERT INTO gmail_send_sends (account, sent_at) VALUES (%s, %s)", (account, now)
        )


def take_slot(cursor: Cursor, account: str, interval: float, *, now: float) -> float:
    """Book the account's next sending slot, `interval` seconds after the last one booked by
    any process; return the seconds to wait for it (0 when it is now)."""
    _lock(cursor, account)
    row = cursor.execute(
        "SELECT rate_next FROM gmail_send_accounts WHERE account = %s", (account,)
    ).fetchone()
    booked = row[0] if row is not None and row[0] is not None else None
    slot = max(now, float(booked)) if booked is not None else now
    cursor.execute(
        "UPDATE gmail_send_accounts SET rate_next = %s WHERE account = %s",
        (slot + interval, account),
    )
    return slot - now


def sent_in_window(cursor: Cursor, account: str, *, now: float) -> int:
    row = cursor.execute(
        "SELECT COUNT(*) FROM gmail_send_sends WHERE account = %s AND sent_at > %s",
        (account, now - DAY),
    ).fetchone()
    return 0 if row is None else int(row[0])


def pause(cursor: Cursor, account: str, kind: PauseKind, *, until: float) -> None:
    """Pause `kind` for `account` until `until` (a longer pause already set is kept)."""
    current = _lock(cursor, account)[0 if kind == "quota" else 1]
    if isinstance(current, float | int) and current >= until:
        return
    column = _COLUMNS[kind]
    cursor.execute(
        f"UPDATE gmail_send_accounts SET {column} = %s WHERE account = %s",  # noqa: S608
        (until, account),
    )


def paused_until(cursor: Cursor, account: str, kind: PauseKind) -> float | None:
    row = cursor.execute(
        f"SELECT {_COLUMNS[kind]} FROM gmail_send_accounts WHERE account = %s",  # noqa: S608
        (account,),
    ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def reset(cursor: Cursor, account: str, *, count: bool) -> None:
    """Lift the quota pause; with `count`, also forget the 24-hour count."""
    cursor.execute(
        "UPDATE gmail_send_accounts SET quota_paused_until = NULL WHERE account = %s", (account,)
    )
    if count:
        cursor.execute("DELETE FROM gmail_send_sends WHERE account = %s", (account,))


def token_state(cursor: Cursor, account: str) -> TokenState:
    row = cursor.execute(
        "SELECT token, token_expires_at, lease_owner, lease_until FROM gmail_send_accounts "
        "WHERE account = %s",
        (account,),
    ).fetchone()
    if row is None:
        return TokenState(None, None, None, None)
    token, expires, owner, until = row
    return TokenState(
        token if isinstance(token, str) else None,
        None if expires is None else float(expires),
        owner if isinstance(owner, str) else None,
        None if until is None else float(until),
    )


def acquire_token(
    cursor: Cursor,
    account: str,
    owner: str,
    *,
    now: float,
    lease_seconds: float,
    fresh_margin: float,
    unusable: str | None,
    any_is_stale: bool,
) -> tuple[str | None, bool]:
    """(token, False) when the shared token is usable; (None, True) when `owner` now holds the
    refresh lease; (None, False) when another process holds it. One transaction, so a token
    published meanwhile is seen before a second refresh could start."""
    _lock(cursor, account)
    state = token_state(cursor, account)
    if (
        state.token is not None
        and state.expires_at is not None
        and state.expires_at - now > fresh_margin
        and state.token != unusable
        and not any_is_stale
    ):
        return state.token, False
    cursor.execute(
        "UPDATE gmail_send_accounts SET lease_owner = %s, lease_until = %s "
        "WHERE account = %s AND (lease_until IS NULL OR lease_until < %s OR lease_owner = %s)",
        (owner, now + lease_seconds, account, now, owner),
    )
    return None, cursor.rowcount == 1


def put_token(
    cursor: Cursor, account: str, owner: str, token: str | None, expires_at: float | None
) -> None:
    """Store a new access token (None: the refresh failed) and release `owner`'s lease."""
    if token is not None:
        cursor.execute(
            "UPDATE gmail_send_accounts SET token = %s, token_expires_at = %s WHERE account = %s",
            (token, expires_at, account),
        )
    cursor.execute(
        "UPDATE gmail_send_accounts SET lease_owner = NULL, lease_until = NULL "
        "WHERE account = %s AND lease_owner = %s",
        (account, owner),
    )
