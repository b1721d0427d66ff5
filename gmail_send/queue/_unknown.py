"""The rows of `unknown` mails: what settles each, a lookup's claim on one, and its outcome.

A mail becomes `unknown` when its body may have reached Gmail without an answer. What settles
it is decided there, once, and kept in `awaiting`: "lookup" when the body of its latest
attempt went out over SMTP (Gmail keeps the client's Message-ID there, so a worker can find
it in the Sent Mail), "resolve" otherwise (over the Gmail API Gmail may give it a Message-ID
of its own; part of the send delivered already). A lookup that cannot run for good (IMAP off,
a token without the scope) parks it as "reconcile": the operator fixes the cause, then runs
`gmail-send queue reconcile`. While a worker looks a mail up, the mail's `claim`, `worker` and
`lease_until` are the lookup's and its status stays `unknown`: a worker that dies mid-lookup
leaves it to be looked up again after the lease, and `resolve` (which clears the claim) wins
over a lookup still running, whose outcome is then not written.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..store._database import Cursor
from ._records import MAIL_COLUMNS, Awaiting, QueuedMail, mail_from_row

if TYPE_CHECKING:
    from ._claims import Route

__all__ = [
    "API_HINT",
    "LOOKUP_HINT",
    "NO_TRANSPORT_HINT",
    "PARTIAL_HINT",
    "WORKER_DIED",
    "Unknown",
    "claim_lookups",
    "found",
    "let_go",
    "not_found",
    "to_unknown",
    "unavailable",
    "unknown_mails",
]

LOOKUP_HINT = (
    "a worker looks its Message-ID up in the account's Sent Mail and settles it (found: sent; "
    "not there: sent again with the same Message-ID); `gmail-send queue reconcile --id ID` "
    "does it now"
)
"""The hint of an unknown mail whose body went out over SMTP."""

API_HINT = (
    "its body went out over the Gmail API, where Gmail may give it a Message-ID of its own, so "
    "no lookup settles it: look for it in the account's Sent Mail, then `gmail-send queue "
    "resolve --sent ID` (or --not-sent to send it again)"
)
"""The hint of an unknown mail whose body went out over the Gmail API."""

NO_TRANSPORT_HINT = (
    "the transport its body went out over is not known (a mail from before the queue recorded "
    "it, or a sink's), so no lookup settles it: look for it in the account's Sent Mail, then "
    "`gmail-send queue resolve --sent ID` (or --not-sent to send it again)"
)
"""The hint of an unknown mail whose latest attempt recorded no transport."""

PARTIAL_HINT = (
    "an earlier transaction of this send delivered it to {accepted}, so a copy is in the Sent "
    "Mail whatever became of the rest and no lookup can tell: ask the other recipients, then "
    "`gmail-send queue resolve --sent ID` (--not-sent sends it to every recipient again)"
)
"""The hint of an unknown mail part of whose send was delivered (format with `accepted`)."""

WORKER_DIED = {
    "type": "UnknownOutcomeError",
    "message": "the worker stopped after the body went out, before Gmail's answer was recorded",
}
"""The error of a mail whose worker died or was cancelled after its body went out."""

_TRANSPORT = (
    "(SELECT a.transport FROM gmail_send_attempts a WHERE a.mail_id = gmail_send_mails.id "
    "AND a.attempt = gmail_send_mails.attempts)"
)
"""SQL: the transport the body of the mail's latest attempt went out over (NULL: none known)."""

_AWAITING = f"CASE WHEN {_TRANSPORT} = 'smtp' THEN 'lookup' ELSE 'resolve' END"
"""SQL: "lookup" when the body of the mail's latest attempt went out over SMTP, else
"resolve"."""

_HINTED = f"CASE COALESCE({_TRANSPORT}, '') WHEN 'smtp' THEN %s WHEN 'api' THEN %s ELSE %s END"
"""SQL: the `last_error` (the parameters: with the hint of a lookup, the API, no transport)
of a mail whose latest body-out decides what awaits it."""


def to_unknown(
    cursor: Cursor,
    condition: str,
    params: Sequence[object],
    *,
    error: str | dict[str, str],
    now: float,
    awaiting: Awaiting | None = None,
    resolve_hint: str | None = None,
) -> int:
    """Make the mails that match `condition` `unknown`, awaiting `awaiting` or (None) what
    their latest body-out allows; their `last_error` is `error` (JSON, or its fields) with the
    hint of what awaits them (`resolve_hint` for an explicit "resolve"). How many it
    changed."""
    fields = json.loads(error) if isinstance(error, str) else dict(error)

    def hinted(hint: str) -> str:
        return json.dumps({**fields, "hint": hint})

    if awaiting is None:
        decided, errors = _AWAITING, _HINTED
        chosen: list[object] = []
        texts = [hinted(LOOKUP_HINT), hinted(API_HINT), hinted(NO_TRANSPORT_HINT)]
    else:
        decided, errors, chosen = "%s", "%s", [awaiting]
        hint = LOOKUP_HINT if awaiting == "lookup" else resolve_hint or NO_TRANSPORT_HINT
        texts = [hinted(hint)]
    cursor.execute(
        "UPDATE gmail_send_mails SET status = 'unknown', lease_until = NULL, "  # noqa: S608
        f"updated_at = %s, next_attempt_at = %s, lookups = 0, awaiting = {decided}, "
        f"last_error = {errors} WHERE {condition}",
        [now, now, *chosen, *texts, *params],
    )
    return cursor.rowcount


def unknown_mails(
    cursor: Cursor, *, after: tuple[float, str] | None, limit: int
) -> tuple[list[QueuedMail], tuple[float, str] | None]:
    """Up to `limit` unknown mails, the oldest first, after the mail whose (`created_at`, id)
    is `after`; and the key of the last one, for the next page (None: no more)."""
    where, params = "", []
    if after is not None:
        where = "AND (created_at > %s OR (created_at = %s AND id > %s)) "
        params = [after[0], after[0], after[1]]
    rows = cursor.execute(
        f"SELECT {MAIL_COLUMNS} FROM gmail_send_mails "  # noqa: S608 - only placeholders
        f"WHERE status = 'unknown' {where}ORDER BY created_at, id LIMIT %s",
        [*params, limit],
    ).fetchall()
    last = (float(rows[-1][5]), str(rows[-1][0])) if len(rows) == limit else None
    return [mail_from_row(row) for row in rows], last


@dataclass(frozen=True)
class Unknown:
    """An unknown mail a lookup now holds: its Message-ID, when its body went out, its claim."""

    id: str
    claim: str
    account: str
    message_id: str
    awaiting: str
    sent_at: float | None
    lookups: int


def claim_lookups(
    cursor: Cursor,
    route: Route,
    *,
    worker: str,
    lease: float,
    now: float,
    limit: int,
    ids: Sequence[str] | None = None,
) -> list[Unknown]:
    """Take up to `limit` unknown mails of the route's accounts for a lookup: those due and
    not held by another lookup or, for the operator (`ids`, which may be empty: every one),
    those with these ids awaiting a lookup or `reconcile` now, taken over from a lookup that
    runs meanwhile."""
    if limit <= 0:
        return []
    where, params = route.where()
    if ids is None:
        query = (
            "SELECT m.id FROM gmail_send_mails m "  # noqa: S608 - only placeholders are added
            "WHERE m.status = 'unknown' AND m.awaiting = 'lookup' AND m.next_attempt_at <= %s "
            f"AND (m.lease_until IS NULL OR m.lease_until < %s) AND {where} "
            "ORDER BY m.next_attempt_at LIMIT %s"
        )
        values: list[object] = [now, now, *params, limit]
    else:
        chosen = ""
        if ids:
            chosen = f"AND m.id IN ({', '.join(['%s'] * len(ids))}) "
        query = (
            "SELECT m.id FROM gmail_send_mails m "  # noqa: S608 - only placeholders are added
            "WHERE m.status = 'unknown' AND m.awaiting IN ('lookup', 'reconcile') "
            f"{chosen}AND {where} ORDER BY m.updated_at LIMIT %s"
        )
        values = [*ids, *params, limit]
    if not cursor.sqlite:
        query += " FOR UPDATE SKIP LOCKED" if ids is None else " FOR UPDATE"
    taken = [row[0] for row in cursor.execute(query, values).fetchall()]
    claimed = []
    for mail_id in taken:
        token = uuid.uuid4().hex
        cursor.execute(
            "UPDATE gmail_send_mails SET claim = %s, worker = %s, lease_until = %s WHERE id = %s",
            (token, worker, now + lease, mail_id),
        )
        row = cursor.execute(
            "SELECT m.account, m.message_id, m.awaiting, m.lookups, a.body_out_at "
            "FROM gmail_send_mails m LEFT JOIN gmail_send_attempts a "
            "ON a.mail_id = m.id AND a.attempt = m.attempts WHERE m.id = %s",
            (mail_id,),
        ).fetchone()
        assert row is not None
        account, message_id, awaiting, lookups, sent_at = row
        claimed.append(
            Unknown(
                id=str(mail_id),
                claim=token,
                account=str(account),
                message_id=str(message_id),
                awaiting=str(awaiting),
                sent_at=None if sent_at is None else float(sent_at),
                lookups=int(lookups),
            )
        )
    return claimed


def found(cursor: Cursor, mail: Unknown, *, now: float) -> bool:
    """The Sent copy is there: the mail ends `sent`, settled by the lookup (no result)."""
    cursor.execute(
        "UPDATE gmail_send_mails SET status = 'sent', ended_at = %s, updated_at = %s, "
        "claim = NULL, lease_until = NULL, settled_by = 'lookup', awaiting = NULL, "
        "result = NULL WHERE id = %s AND claim = %s AND status = 'unknown'",
        (now, now, mail.id, mail.claim),
    )
    return cursor.rowcount == 1


def not_found(cursor: Cursor, mail: Unknown, *, now: float) -> bool:
    """No Sent copy after the window: Gmail did not take it; it is queued again at once, with
    the same bytes and Message-ID, and counted as a resend."""
    cursor.execute(
        "UPDATE gmail_send_mails SET status = 'queued', next_attempt_at = %s, updated_at = %s, "
        "claim = NULL, lease_until = NULL, body_out = 0, resends = resends + 1, "
        "settled_by = 'lookup', awaiting = NULL, lookups = 0 "
        "WHERE id = %s AND claim = %s AND status = 'unknown'",
        (now, now, mail.id, mail.claim),
    )
    return cursor.rowcount == 1


def unavailable(
    cursor: Cursor,
    mail: Unknown,
    *,
    error: str,
    again_at: float | None,
    now: float,
    never: bool = False,
) -> bool:
    """The lookup could not run: looked up again at `again_at`, or (None) parked until the
    operator's `reconcile` (`never`: until `resolve`, no lookup can run for this account). It
    stays `unknown`, `error` in its `last_error`."""
    awaiting = "lookup" if again_at is not None else "resolve" if never else "reconcile"
    cursor.execute(
        "UPDATE gmail_send_mails SET awaiting = %s, next_attempt_at = %s, updated_at = %s, "
        "claim = NULL, lease_until = NULL, lookups = lookups + 1, last_error = %s "
        "WHERE id = %s AND claim = %s AND status = 'unknown'",
        (awaiting, again_at if again_at is not None else now, now, error, mail.id, mail.claim),
    )
    return cursor.rowcount == 1


def let_go(cursor: Cursor, mail: Unknown, *, now: float) -> None:
    """The lookup stopped before its outcome (cancelled): another may take the mail at once."""
    cursor.execute(
        "UPDATE gmail_send_mails SET claim = NULL, lease_until = NULL "
        "WHERE id = %s AND claim = %s AND status = 'unknown'",
        (mail.id, mail.claim),
    )
