"""The queue's rows, as SQL: claiming, leases, outcomes, holds, retention, and the operator's
requests (cancel, resolve, retry, purge).

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
from typing import Any

from .._result import TransportName
from ..store._database import Cursor
from ..store._state import DAY
from ._records import ENDED, MAIL_COLUMNS, QueuedMail, mail_from_row
from ._unknown import WORKER_DIED, to_unknown

__all__ = [
    "Claimed",
    "Route",
    "awaiting_counts",
    "back_off",
    "body_out",
    "cancel",
    "claim",
    "counts",
    "end",
    "end_unknown",
    "get",
    "heartbeat",
    "hold",
    "in_progress",
    "list_mails",
    "oldest_send",
    "purge",
    "release",
    "resends",
    "resolve",
    "retry",
    "sweep",
    "trim_bodies",
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


def end(
    cursor: Cursor,
    mail: Claimed,
    status: str,
    *,
    now: float,
    error: str | None = None,
    result: str | None = None,
    settled_by: TransportName | None = None,
) -> bool:
    """Record the outcome of the claim: `sent` (`settled_by` the transport) or `failed`. A
    mail the sweep made `unknown` meanwhile (its lease ran out while Gmail answered) still gets
    its outcome, unless a lookup took it since."""
    ended = now if status in ENDED else None
    cursor.execute(
        "UPDATE gmail_send_mails SET status = %s, ended_at = %s, updated_at = %s, "
        "lease_until = NULL, last_error = COALESCE(%s, last_error), result = %s, "
        "settled_by = %s, awaiting = NULL "
        "WHERE id = %s AND claim = %s AND status IN ('sending', 'unknown')",
        (status, ended, now, error, result, settled_by, mail.id, mail.claim),
    )
    return cursor.rowcount == 1


def end_unknown(
    cursor: Cursor,
    mail: Claimed,
    *,
    error: str,
    now: float,
    awaiting: str | None = None,
    resolve_hint: str | None = None,
    sent_at: float | None = None,
) -> bool:
    """The outcome of the claim is unknown: it awaits `awaiting`, or (None) what its latest
    body-out allows (see `_unknown.to_unknown`). `sent_at`, when the error knows it, is when
    the body went out: later than the mark written just before, so the lookup's window starts
    there."""
    if sent_at is not None:
        cursor.execute(
            "UPDATE gmail_send_attempts SET body_out_at = %s "
            "WHERE mail_id = %s AND attempt = %s AND body_out_at < %s",
            (sent_at, mail.id, mail.attempts, sent_at),
        )
    written = to_unknown(
        cursor,
        "id = %s AND claim = %s AND status IN ('sending', 'unknown')",
        (mail.id, mail.claim),
        error=error,
        awaiting=awaiting,
        now=now,
        **({} if resolve_hint is None else {"resolve_hint": resolve_hint}),
    )
    return written == 1


def back_off(cursor: Cursor, mail: Claimed, *, until: float, error: str, now: float) -> bool:
    """A temporary failure: queued again for `until`."""
    cursor.execute(
        "UPDATE gmail_send_mails SET status = 'queued', next_attempt_at = %s, updated_at = %s, "
        "lease_until = NULL, claim = NULL, body_out = 0, last_error = %s "
        "WHERE id = %s AND claim = %s AND status = 'sending'",
        (until, now, error, mail.id, mail.claim),
    )
    return cursor.rowcount == 1


def hold(cursor: Cursor, mail: Claimed, *, until: float, error: str, now: float) -> bool:
    """Gmail's limit or login hold-off: this mail and every waiting mail of its account are
    `held` until `until` (the attempt is not counted: nothing was sent)."""
    cursor.execute(
        "UPDATE gmail_send_mails SET status = 'held', next_attempt_at = %s, updated_at = %s, "
        "lease_until = NULL, claim = NULL, body_out = 0, attempts = attempts - 1, "
        "last_error = %s WHERE id = %s AND claim = %s AND status = 'sending'",
        (until, now, error, mail.id, mail.claim),
    )
    held = cursor.rowcount == 1
    cursor.execute(
        "UPDATE gmail_send_mails SET status = 'held', next_attempt_at = %s, updated_at = %s "
        "WHERE account = %s AND status IN ('queued', 'held') AND next_attempt_at < %s",
        (until, now, mail.account, until),
    )
    return held


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


def oldest_send(cursor: Cursor, account: str, *, now: float) -> float | None:
    """When the oldest send of `account` in the rolling 24-hour window was counted."""
    row = cursor.execute(
        "SELECT MIN(sent_at) FROM gmail_send_sends WHERE account = %s AND sent_at > %s",
        (account, now - DAY),
    ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def trim_bodies(cursor: Cursor, *, before: float) -> int:
    """Delete the bodies of mails that ended before `before` (their rows stay)."""
    cursor.execute(
        "DELETE FROM gmail_send_mail_bodies WHERE id IN (SELECT id FROM gmail_send_mails "
        "WHERE ended_at IS NOT NULL AND ended_at < %s)",
        (before,),
    )
    return cursor.rowcount


def purge(cursor: Cursor, *, before: float) -> int:
    """Delete mails (rows and bodies) that ended before `before`; return how many."""
    trim_bodies(cursor, before=before)
    cursor.execute(
        "DELETE FROM gmail_send_attempts WHERE mail_id IN (SELECT id FROM gmail_send_mails "
        "WHERE ended_at IS NOT NULL AND ended_at < %s)",
        (before,),
    )
    cursor.execute(
        "DELETE FROM gmail_send_mails WHERE ended_at IS NOT NULL AND ended_at < %s", (before,)
    )
    return cursor.rowcount


def get(cursor: Cursor, mail_id: str) -> QueuedMail | None:
    row = cursor.execute(
        f"SELECT {MAIL_COLUMNS} FROM gmail_send_mails WHERE id = %s",  # noqa: S608
        (mail_id,),
    ).fetchone()
    return None if row is None else mail_from_row(row)


def list_mails(
    cursor: Cursor, *, statuses: Sequence[str], account: str | None, limit: int
) -> list[QueuedMail]:
    """The newest mails first, optionally of some statuses and one account."""
    conditions: list[str] = []
    params: list[Any] = []
    if statuses:
        conditions.append(f"status IN ({', '.join(['%s'] * len(statuses))})")
        params.extend(statuses)
    if account is not None:
        conditions.append("account = %s")
        params.append(account)
    where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
    rows = cursor.execute(
        f"SELECT {MAIL_COLUMNS} FROM gmail_send_mails {where}"  # noqa: S608
        "ORDER BY created_at DESC, id DESC LIMIT %s",
        [*params, limit],
    ).fetchall()
    return [mail_from_row(row) for row in rows]


def counts(cursor: Cursor) -> dict[str, int]:
    rows = cursor.execute("SELECT status, COUNT(*) FROM gmail_send_mails GROUP BY status")
    return {str(status): int(number) for status, number in rows.fetchall()}


def awaiting_counts(cursor: Cursor) -> dict[str, int]:
    """How many unknown mails await each settlement."""
    rows = cursor.execute(
        "SELECT COALESCE(awaiting, 'resolve'), COUNT(*) FROM gmail_send_mails "
        "WHERE status = 'unknown' GROUP BY COALESCE(awaiting, 'resolve')"
    )
    return {str(awaiting): int(number) for awaiting, number in rows.fetchall()}


def resends(cursor: Cursor) -> int:
    row = cursor.execute("SELECT COALESCE(SUM(resends), 0) FROM gmail_send_mails").fetchone()
    return 0 if row is None else int(row[0])


def cancel(cursor: Cursor, mail_id: str, *, now: float) -> bool:
    cursor.execute(
        "UPDATE gmail_send_mails SET status = 'cancelled', ended_at = %s, updated_at = %s "
        "WHERE id = %s AND status IN ('queued', 'held')",
        (now, now, mail_id),
    )
    return cursor.rowcount == 1


def resolve(cursor: Cursor, mail_id: str, *, sent: bool, now: float) -> bool:
    """The operator settles an unknown mail; a lookup running meanwhile loses its claim (its
    outcome is not written)."""
    if sent:
        cursor.execute(
            "UPDATE gmail_send_mails SET status = 'sent', ended_at = %s, updated_at = %s, "
            "claim = NULL, lease_until = NULL, settled_by = 'resolve', awaiting = NULL "
            "WHERE id = %s AND status = 'unknown'",
            (now, now, mail_id),
        )
    else:
        cursor.execute(
            "UPDATE gmail_send_mails SET status = 'queued', next_attempt_at = %s, "
            "updated_at = %s, claim = NULL, lease_until = NULL, body_out = 0, "
            "settled_by = 'resolve', awaiting = NULL WHERE id = %s AND status = 'unknown'",
            (now, now, mail_id),
        )
    return cursor.rowcount == 1


def has_body(cursor: Cursor, mail_id: str) -> bool:
    row = cursor.execute(
        "SELECT 1 FROM gmail_send_mail_bodies WHERE id = %s", (mail_id,)
    ).fetchone()
    return row is not None


def retry(cursor: Cursor, mail: QueuedMail, *, now: float) -> None:
    """Queue a failed, expired or held mail again now, with a fresh count of attempts. A held
    mail releases its account's hold: every held mail of the account, and the quota pause."""
    if mail.status == "held":
        cursor.execute(
            "UPDATE gmail_send_mails SET status = 'queued', next_attempt_at = %s, "
            "updated_at = %s WHERE account = %s AND status = 'held'",
            (now, now, mail.account),
        )
        cursor.execute(
            "UPDATE gmail_send_accounts SET quota_paused_until = NULL WHERE account = %s",
            (mail.account,),
        )
        return
    cursor.execute(
        "UPDATE gmail_send_mails SET status = 'queued', next_attempt_at = %s, updated_at = %s, "
        "ended_at = NULL, not_after = NULL, attempts = 0, claim = NULL, body_out = 0 "
        "WHERE id = %s",
        (now, now, mail.id),
    )
