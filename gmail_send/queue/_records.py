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

from .._result import SendResult
from ..errors import GmailSendError, SMTPReply

__all__ = [
    "ENDED",
    "MAIL_COLUMNS",
    "STATUSES",
    "MailStatus",
    "QueuedMail",
    "RecordedError",
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
- `unknown`: the body went out and no answer came; never sent again unless `resolve(id,
  sent=False)` says so;
- `failed`: a permanent failure (`last_error` says which), or temporary ones too many times;
- `held`: Gmail's sending limit or login hold-off stops the account until `next_attempt_at`;
- `expired`: `not_after` passed before it could be sent;
- `cancelled`: `cancel()` took it out before it was sent.
"""

STATUSES: tuple[MailStatus, ...] = get_args(MailStatus)
ENDED: tuple[MailStatus, ...] = ("sent", "failed", "expired", "cancelled")
"""Statuses a mail does not leave by itself; its body is deleted after the retention time."""


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
        result: Gmail's answer once `sent` by a worker (None when `resolve(id, sent=True)`
            said so, and before).
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


MAIL_COLUMNS = (
    "id, message_id, account, status, attempts, created_at, updated_at, next_attempt_at, "
    "last_error, result"
)
"""The columns `mail_from_row` reads, in its order."""


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(float(value), tz=timezone.utc)


def mail_from_row(row: Sequence[Any]) -> QueuedMail:
    """A `QueuedMail` from the `MAIL_COLUMNS` of a row."""
    mail_id, message_id, account, status, attempts, created, updated, due, error, result = row
    waiting = status in ("queued", "held")
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
    )


def dump_error(error: BaseException) -> str:
    """The JSON kept for `last_error`."""
    if isinstance(error, GmailSendError):
        fields: dict[str, Any] = {
            "type": type(error).__name__,
            "message": error.message,
            "code": error.code,
            "enhanced_code": error.enhanced_code,
            "hint": error.hint,
        }
    else:
        fields = {"type": type(error).__name__, "message": str(error)[:500]}
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
