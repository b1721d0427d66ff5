"""Reading the queue's rows, and the operator's requests (cancel, resolve, retry, purge) and
retention, as SQL; each function runs inside one `Database.transaction()`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..store._database import Cursor
from ._records import MAIL_COLUMNS, QueuedMail, mail_from_row

__all__ = [
    "awaiting_counts",
    "cancel",
    "counts",
    "get",
    "has_body",
    "list_mails",
    "purge",
    "resends",
    "resolve",
    "retry",
    "trim_bodies",
]


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
