"""Claims and leases, as SQL: a worker takes due mails, renews its hold on them, marks a body
as possibly sent, and lets them go; the sweep settles what nobody holds any more.

Every function runs inside one `Database.transaction()` (SQLite: `BEGIN IMMEDIATE`, so writers
take turns; PostgreSQL: row locks, and `FOR UPDATE SKIP LOCKED` so concurrent workers claim
different mails). A claim carries a token of its own: every later write of that worker names
it, so a worker whose lease ran out (and whose mail another worker took) changes nothing. The
body is recorded as possibly sent (`body_out`, with the attempt's transport and time) before
it is written to Gmail; a dead worker's mail is queued again when that mark is absent and
becomes `unknown` when it is present (see `_unknown` for what settles it then).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from .._result import TransportName
from ..store._database import Cursor
from ._unknown import WORKER_DIED, to_unknown

__all__ = [
    "Claimed",
    "Route",
    "body_out",
    "claim",
    "heartbeat",
    "in_progress",
    "release",
    "sweep",
]


@dataclass(frozen=True)
class Route:
    """Which accounts one sender serves: `accounts`, or (None) every account not in `others`."""

    accounts: tuple[str, ...] | None
    others: tuple[str, ...]
    limit: int

    def where(self) -> tuple[str, list[object]]:
        if self.accounts is not None:
            marks = ", ".join(["%s"] * len(self.accounts))
            return f"m.account IN ({marks})", list(self.accounts)
        if not self.others:
            return "1 = 1", []
        marks = ", ".join(["%s"] * len(self.others))
        return f"m.account NOT IN ({marks})", list(self.others)


@dataclass(frozen=True)
class Claimed:
    """A mail a worker now holds: what it needs to send it, and its claim token."""

    id: str
    claim: str
    account: str
    message_id: str
    sender: str
    recipients: tuple[str, ...]
    smtputf8: bool
    data: bytes | None
    attempts: int


def sweep(cursor: Cursor, *, now: float) -> None:
    """Settle what nobody holds any more: mails whose worker's lease ran out (queued again, or
    `unknown` if their body may have gone out) and unsent mails past `not_after` (`expired`).

    A worker whose lease ran out (its heartbeat failed) may still be sending: the window of a
    lookup of such a mail starts no earlier than that lease's end, the last moment the worker
    vouched for it (its latest attempt's `body_out_at` moves there)."""
    cursor.execute(
        "UPDATE gmail_send_attempts SET body_out_at = (SELECT m.lease_until "
        "FROM gmail_send_mails m WHERE m.id = gmail_send_attempts.mail_id) "
        "WHERE EXISTS (SELECT 1 FROM gmail_send_mails m WHERE m.id = gmail_send_attempts.mail_id "
        "AND m.attempts = gmail_send_attempts.attempt AND m.status = 'sending' "
        "AND m.body_out = 1 AND m.lease_until < %s "
        "AND m.lease_until > gmail_send_attempts.body_out_at)",
        (now,),
    )
    to_unknown(
        cursor,
        "status = 'sending' AND lease_until < %s AND body_out = 1",
        (now,),
        error=WORKER_DIED,
        now=now,
    )
    cursor.execute(
        "UPDATE gmail_send_mails SET status = 'queued', lease_until = NULL, claim = NULL, "
        "next_attempt_at = %s, updated_at = %s "
        "WHERE status = 'sending' AND lease_until < %s AND body_out = 0",
        (now, now, now),
    )
    cursor.execute(
        "UPDATE gmail_send_mails SET status = 'expired', ended_at = %s, updated_at = %s "
        "WHERE status IN ('queued', 'held') AND not_after IS NOT NULL AND not_after <= %s",
        (now, now, now),
    )


def claim(cursor: Cursor, route: Route, *, worker: str, lease: float, now: float) -> list[Claimed]:
    """Take up to `route.limit` due mails of the route's accounts, oldest due first.

    A mail is due when queued (or held) with `next_attempt_at` passed, and no mail of its
    account is held into the future (a hold stops the whole account).
    """
    if route.limit <= 0:
        return []
    where, params = route.where()
    query = (
        "SELECT m.id FROM gmail_send_mails m "  # noqa: S608 - only placeholders are added
        f"WHERE m.status IN ('queued', 'held') AND m.next_attempt_at <= %s AND {where} "
        "AND NOT EXISTS (SELECT 1 FROM gmail_send_mails h WHERE h.account = m.account "
        "AND h.status = 'held' AND h.next_attempt_at > %s) "
        "ORDER BY m.next_attempt_at, m.created_at LIMIT %s"
    )
    if not cursor.sqlite:
        query += " FOR UPDATE SKIP LOCKED"
    ids = [row[0] for row in cursor.execute(query, [now, *params, now, route.limit]).fetchall()]
    claimed = []
    for mail_id in ids:
        token = uuid.uuid4().hex
        cursor.execute(
            "UPDATE gmail_send_mails SET status = 'sending', claim = %s, worker = %s, "
            "lease_until = %s, attempts = attempts + 1, body_out = 0, updated_at = %s "
            "WHERE id = %s",
            (token, worker, now + lease, now, mail_id),
        )
        row = cursor.execute(
            "SELECT m.account, m.message_id, m.sender, m.recipients, m.smtputf8, m.attempts, "
            "b.data FROM gmail_send_mails m LEFT JOIN gmail_send_mail_bodies b ON b.id = m.id "
            "WHERE m.id = %s",
            (mail_id,),
        ).fetchone()
        assert row is not None
        account, message_id, sender, recipients, smtputf8, attempts, data = row
        claimed.append(
            Claimed(
                id=mail_id,
                claim=token,
                account=account,
                message_id=message_id,
                sender=sender,
                recipients=tuple(json.loads(recipients)),
                smtputf8=bool(smtputf8),
                data=None if data is None else bytes(data),
                attempts=int(attempts),
            )
        )
    return claimed


def in_progress(cursor: Cursor, route: Route, *, now: float, lookups: bool) -> bool:
    """Whether a mail of the route's accounts is due or being sent (by any worker), or, with
    `lookups`, an unknown one is due to be looked up or being looked up."""
    where, params = route.where()
    looking = " OR (m.status = 'unknown' AND m.awaiting = 'lookup' AND m.next_attempt_at <= %s)"
    row = cursor.execute(
        "SELECT 1 FROM gmail_send_mails m WHERE "  # noqa: S608 - only placeholders are added
        f"{where} AND (m.status = 'sending' OR (m.status = 'queued' AND m.next_attempt_at <= %s)"
        f"{looking if lookups else ''}) LIMIT 1",
        [*params, now, now] if lookups else [*params, now],
    ).fetchone()
    return row is not None


def heartbeat(
    cursor: Cursor,
    *,
    sending: Sequence[str],
    looking: Sequence[str],
    lease: float,
    now: float,
) -> None:
    """Extend the lease of every mail this worker holds: those it sends (claims `sending`),
    still `sending`, and those it looks up (claims `looking`), still `unknown`. A mail the
    sweep made `unknown` keeps its send's claim, and is not renewed by it (its lookup would
    wait for that lease)."""
    for claims, status in ((sending, "sending"), (looking, "unknown")):
        for start in range(0, len(claims), 100):
            batch = list(claims[start : start + 100])
            marks = ", ".join(["%s"] * len(batch))
            cursor.execute(
                "UPDATE gmail_send_mails SET lease_until = %s "  # noqa: S608
                f"WHERE status = %s AND claim IN ({marks})",
                [now + lease, status, *batch],
            )


def body_out(
    cursor: Cursor,
    mail: Claimed,
    transport: TransportName | None,
    *,
    at: float,
    lease: float,
    now: float,
) -> bool:
    """Record that the body may go out now over `transport` (None: a sink), at `at` (the
    wall clock: a lookup's window starts there); False when the claim is no longer this
    worker's (then the body must not be sent)."""
    cursor.execute(
        "UPDATE gmail_send_mails SET body_out = 1, lease_until = %s, updated_at = %s "
        "WHERE id = %s AND claim = %s AND status = 'sending'",
        (now + lease, now, mail.id, mail.claim),
    )
    if cursor.rowcount != 1:
        return False
    if transport is not None:
        cursor.execute(
            "INSERT INTO gmail_send_attempts (mail_id, attempt, transport, body_out_at) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (mail_id, attempt) DO UPDATE SET "
            "transport = excluded.transport, body_out_at = excluded.body_out_at",
            (mail.id, mail.attempts, transport, at),
        )
    return True


def release(cursor: Cursor, mail: Claimed, *, now: float) -> None:
    """The worker stops before the outcome: queued again, or `unknown` if the body may have
    gone out."""
    to_unknown(
        cursor,
        "id = %s AND claim = %s AND status = 'sending' AND body_out = 1",
        (mail.id, mail.claim),
        error=WORKER_DIED,
        now=now,
    )
    cursor.execute(
        "UPDATE gmail_send_mails SET status = 'queued', next_attempt_at = %s, updated_at = %s, "
        "lease_until = NULL, claim = NULL, attempts = attempts - 1 "
        "WHERE id = %s AND claim = %s AND status = 'sending' AND body_out = 0",
        (now, now, mail.id, mail.claim),
    )
