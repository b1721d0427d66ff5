"""The outcome of a worker's claim, as SQL: `sent` or `failed`, `unknown`, a back-off, or a
hold of the whole account (Gmail's sending limit or login hold-off).

Each write names the claim's token (see `_claims`), so a worker whose lease ran out and whose
mail another worker took changes nothing.
"""

from __future__ import annotations

from .._result import TransportName
from ..store._database import Cursor
from ..store._state import DAY
from ._claims import Claimed
from ._records import ENDED, Awaiting
from ._unknown import to_unknown

__all__ = ["back_off", "end", "end_unknown", "hold", "oldest_send"]


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
    awaiting: Awaiting | None = None,
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
        resolve_hint=resolve_hint,
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


def oldest_send(cursor: Cursor, account: str, *, now: float) -> float | None:
    """When the oldest send of `account` in the rolling 24-hour window was counted."""
    row = cursor.execute(
        "SELECT MIN(sent_at) FROM gmail_send_sends WHERE account = %s AND sent_at > %s",
        (account, now - DAY),
    ).fetchone()
    return None if row is None or row[0] is None else float(row[0])
