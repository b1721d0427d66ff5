"""What the queue hands back: `QueuedMail`, its status, and the error and result it recorded.

A row of `gmail_send_mails` becomes a frozen `QueuedMail`; times are stored as seconds since
the epoch and returned as timezone-aware UTC datetimes. The error of the last failed attempt is
kept as a `RecordedError` (the typed error's class name, code and hint, never a secret: errors
carry none), the `SendResult` of a sent mail as JSON (which names the transport, SMTP or the
Gmail API, that carried it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal, get_args

from .._result import SendResult, TransportName
from ..errors import GmailSendError, SMTPReply

__all__ = [
    "ENDED",
    "MAIL_COLUMNS",
    "STATUSES",
    "Awaiting",
    "MailStatus",
    "QueuedMail",
    "ReconcileOutcome",
    "Reconciliation",
    "RecordedError",
    "SettledBy",
    "dump_error",
    "dump_result",
    "mail_from_row",
]

MailStatus = Literal[
    "queued", "sending", "sent", "unknown", "failed", "held", "expired", "cancelled"
]
"""Where a queued mail is:

- `queued`: waiting to be sent (also between attempts, until `next_attempt_at`);
- `sending`: a worker holds it and is sending it;
- `sent`: Gmail accepted it (`result` says for whom);
- `unknown`: the body went out and no answer came; never sent again blindly: a worker looks
  its Message-ID up in the account's Sent Mail (found: `sent`; not there: queued again), or
  the operator settles it (`awaiting` says which);
- `failed`: a permanent failure (`last_error` says which), or temporary ones too many times;
- `held`: Gmail's sending limit or login hold-off stops the account until `next_attempt_at`;
- `expired`: `not_after` passed before it could be sent;
- `cancelled`: `cancel()` took it out before it was sent.
"""

STATUSES: tuple[MailStatus, ...] = get_args(MailStatus)
ENDED: tuple[MailStatus, ...] = ("sent", "failed", "expired", "cancelled")
"""Statuses a mail does not leave by itself; its body is deleted after the retention time."""

Awaiting = Literal["lookup", "reconcile", "resolve"]
"""What settles an `unknown` mail: a worker's "lookup" of its Message-ID in the Sent Mail; the
operator's "reconcile" once the cause that kept a lookup from running is fixed (IMAP off, a
token without the scope); or the operator's "resolve" (no lookup can settle it)."""

AWAITING: tuple[Awaiting, ...] = get_args(Awaiting)

SettledBy = Literal["smtp", "api", "lookup", "resolve"]
"""What made a mail `sent`, or last settled an unknown outcome: Gmail's answer over "smtp" or
the "api", a "lookup" in the Sent Mail, or the operator's "resolve"."""


@dataclass(frozen=True)
class RecordedError:
    """The error that ended the last attempt: its class name, reply code, message and hint.

    Attributes:
        type: the class name of the typed error, e.g. "TemporaryError".
        message: what happened, as the error said it.
        code: the SMTP reply code, if a reply caused it.
        enhanced_code: the enhanced status code of that reply ("5.1.1"), if any.
        hint: what to do about it, if the error said.
    """

    type: str
    message: str
    code: int | None = None
    enhanced_code: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        code = f" {self.code}" if self.code is not None else ""
        return f"{self.type}{code}: {self.message}"


@dataclass(frozen=True)
class QueuedMail:
    """One mail of the queue as it is now (a snapshot: ask `MailQueue.get` again to follow it).

    Times are timezone-aware (UTC).

    Attributes:
        id: the mail's id, a string of the same form on SQLite and PostgreSQL.
        message_id: the Message-ID header it is sent with, angle brackets included.
        account: the account that sends it.
        status: where it is now (`MailStatus`).
        attempts: the times a worker sent it to Gmail (a hold does not count).
        created_at: when it was enqueued.
        updated_at: when its row last changed.
        next_attempt_at: when it is due: the back-off of `queued` or the end of a hold; None
            otherwise.
        last_error: the error that ended its last attempt, if any (`RecordedError`).
        result: Gmail's answer once `sent` by a worker (None when a lookup in the Sent
            Mail or `resolve(id, sent=True)` settled it, and before).
        resends: how many times it was queued again because a lookup did not find it in the
            Sent Mail (each may be a duplicate if Gmail filed its copy after the window).
        settled_by: what made it `sent` ("smtp", "api", "lookup", "resolve"), or what last
            settled an unknown outcome of it ("lookup" or "resolve" after a resend); None
            otherwise.
        awaiting: for an `unknown` mail, what settles it (`Awaiting`): "lookup" (a worker
            looks it up; `next_attempt_at` says when), "reconcile" or "resolve" (the
            operator; `last_error` says why); None for other statuses.
        transport: the transport ("smtp" or "api") the body of its latest attempt went out
            over; None before any body went out.
    """

    id: str
    message_id: str
    account: str
    status: MailStatus
    attempts: int
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None
    last_error: RecordedError | None
    result: SendResult | None
    resends: int = 0
    settled_by: SettledBy | None = None
    awaiting: Awaiting | None = None
    transport: TransportName | None = None


ReconcileOutcome = Literal["found", "not_found", "unavailable", "not_looked_up", "overtaken"]
"""What a lookup did with an `unknown` mail (see `Reconciliation`)."""


@dataclass(frozen=True)
class Reconciliation:
    """What `MailQueue.reconcile` did with one `unknown` mail.

    Attributes:
        mail: the mail afterwards (its status, `last_error`, `resends`).
        outcome: "found" (in the Sent Mail: now `sent`), "not_found" (not there once the
            window passed: queued again with the same Message-ID, `resends` counts it),
            "unavailable" (the lookup could not run: still `unknown`, `error` says why),
            "not_looked_up" (it awaits `resolve`: its body went over the Gmail API or over
            a transport not recorded, part of the send was delivered, or `find_sent`
            refuses its Message-ID), or "overtaken" (someone settled it meanwhile, e.g.
            `resolve`: nothing was written).
        error: what kept the lookup from running, for "unavailable": a
            `ReconciliationUnavailableError`, a `MessageError` (a Message-ID `find_sent`
            refuses), a `ConfigurationError` (a sender that cannot look), another
            `GmailSendError`, or one that names an unexpected error's type; None otherwise.
    """

    mail: QueuedMail
    outcome: ReconcileOutcome
    error: GmailSendError | None = None


MAIL_COLUMNS = (
    "id, message_id, account, status, attempts, created_at, updated_at, next_attempt_at, "
    "last_error, result, resends, settled_by, awaiting, (SELECT a.transport FROM "
    "gmail_send_attempts a WHERE a.mail_id = gmail_send_mails.id ORDER BY a.attempt DESC "
    "LIMIT 1)"
)
"""The columns `mail_from_row` reads, in its order."""


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(float(value), tz=timezone.utc)


def mail_from_row(row: Sequence[Any]) -> QueuedMail:
    """A `QueuedMail` from the `MAIL_COLUMNS` of a row."""
    mail_id, message_id, account, status, attempts, created, updated, due, error, result = row[:10]
    resends, settled_by, awaits, transport = row[10:]
    awaiting: Awaiting | None = (awaits or "resolve") if status == "unknown" else None
    waiting = status in ("queued", "held") or awaiting == "lookup"
    created_at = _time(created)
    updated_at = _time(updated)
    assert created_at is not None and updated_at is not None
    return QueuedMail(
        id=str(mail_id),
        message_id=str(message_id),
        account=str(account),
        status=status,
        attempts=int(attempts),
        created_at=created_at,
        updated_at=updated_at,
        next_attempt_at=_time(due) if waiting else None,
        last_error=load_error(error),
        result=load_result(result),
        resends=int(resends),
        settled_by=settled_by,
        awaiting=awaiting,
        transport=transport,
    )


def dump_error(error: BaseException, *, hint: str | None = None) -> str:
    """The JSON kept for `last_error`; `hint` replaces the error's own."""
    if isinstance(error, GmailSendError):
        fields: dict[str, Any] = {
            "type": type(error).__name__,
            "message": error.message,
            "code": error.code,
            "enhanced_code": error.enhanced_code,
            "hint": error.hint if hint is None else hint,
        }
    else:
        fields = {"type": type(error).__name__, "message": str(error)[:500], "hint": hint}
    return json.dumps(fields)


def load_error(text: Any) -> RecordedError | None:
    if not isinstance(text, str):
        return None
    fields = json.loads(text)
    return RecordedError(
        type=str(fields.get("type", "")),
        message=str(fields.get("message", "")),
        code=fields.get("code"),
        enhanced_code=fields.get("enhanced_code"),
        hint=fields.get("hint"),
    )


def _reply(value: Sequence[Any]) -> SMTPReply:
    return SMTPReply(int(value[0]), value[1], str(value[2]))


def dump_result(result: SendResult) -> str:
    """The JSON kept for `result` (with the transport that carried the mail)."""
    return json.dumps(
        {
            "message_id": result.message_id,
            "accepted": list(result.accepted),
            "refused": {address: list(reply) for address, reply in result.refused.items()},
            "reply": list(result.reply) if result.reply is not None else None,
            "auth_method": result.auth_method,
            "gmail_id": result.gmail_id,
            "thread_id": result.thread_id,
            "transport": result.transport,
            "transport_reason": result.transport_reason,
        }
    )


def load_result(text: Any) -> SendResult | None:
    if not isinstance(text, str):
        return None
    fields = json.loads(text)
    final = fields["reply"]
    return SendResult(
        message_id=fields["message_id"],
        accepted=tuple(fields["accepted"]),
        refused={address: _reply(reply) for address, reply in fields["refused"].items()},
        reply=_reply(final) if final is not None else None,
        auth_method=fields.get("auth_method"),
        gmail_id=fields.get("gmail_id"),
        thread_id=fields.get("thread_id"),
        transport=fields.get("transport"),
        transport_reason=fields.get("transport_reason"),
    )
