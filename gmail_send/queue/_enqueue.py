"""Putting a mail into the queue: the row made from a composed message, and the insert, run on
the queue's own connection or inside the caller's transaction.

The insert is written once, as a generator of SQL steps (`insert_mail`), and driven by a
DB-API cursor (`run_steps`: SQLite, psycopg) or psycopg's async cursor (`run_steps_async`), so
the same statements run whichever connection the caller gives. On the caller's connection the
rows are written under a savepoint: they commit or roll back with the caller's transaction,
and a failure of ours leaves that transaction usable.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from ..errors import IdempotencyConflictError, MessageError
from ..message._outgoing import OutgoingMessage
from ._records import MAIL_COLUMNS, QueuedMail, mail_from_row

__all__ = [
    "NewMail",
    "Step",
    "check_window",
    "database_id",
    "fingerprint",
    "insert_mail",
    "new_mail",
    "run_steps",
    "run_steps_async",
]


@dataclass(frozen=True)
class Step:
    """One statement of a step program; `fetch` when its rows are wanted."""

    query: str
    params: Sequence[object]
    fetch: bool = False


Answer = tuple[int, list[tuple[Any, ...]]]
"""What a driver sends back for a step: the row count and the fetched rows."""


@dataclass(frozen=True)
class NewMail:
    """The two rows one mail becomes."""

    id: str
    account: str
    message_id: str
    sender: str
    recipients: tuple[str, ...]
    smtputf8: bool
    data: bytes
    created_at: float
    due: float
    not_after: float | None
    idempotency_key: str | None
    fingerprint: str | None

    def as_queued(self) -> QueuedMail:
        created = self.created_at
        row = (self.id, self.message_id, self.account, "queued", 0, created, created, self.due)
        return mail_from_row((*row, None, None, 0, None, None, None))


def new_id(now: float) -> str:
    """32 hex digits that sort by creation time: milliseconds, then 80 random bits."""
    return f"{int(now * 1000):012x}{secrets.token_hex(10)}"


def check_window(
    not_before: datetime | None, not_after: datetime | None, *, now: float
) -> tuple[float | None, float | None]:
    """The epoch seconds of `not_before` and `not_after`, checked."""
    values: list[float | None] = []
    for name, value in (("not_before", not_before), ("not_after", not_after)):
        if value is None:
            values.append(None)
            continue
        if not isinstance(value, datetime):
            raise MessageError(f"{name} must be a datetime, not {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise MessageError(
                f"{name} must be timezone-aware",
                hint="e.g. datetime.now(timezone.utc) + timedelta(hours=1)",
            )
        values.append(value.timestamp())
    start, end = values
    if end is not None and end <= now:
        raise MessageError("not_after is already past", hint="give a time in the future")
    if start is not None and end is not None and end <= start:
        raise MessageError("not_after must be later than not_before")
    return start, end


def fingerprint(outgoing: OutgoingMessage, account: str, fields: Mapping[str, Any]) -> str:
    """A digest of what the caller asked for, for idempotency keys: the envelope, every header
    and part of the composed message except what composing makes up (Message-ID, Date and
    multipart boundaries, unless the caller gave the first two)."""
    digest = hashlib.sha256()

    def add(*parts: object) -> None:
        digest.update(json.dumps(parts, default=str).encode("utf-8"))

    add(account, outgoing.sender, list(outgoing.recipients))
    add(fields.get("message_id"), fields.get("date"))
    for part in outgoing.message.walk():
        for name, value in part.items():
            lower = name.lower()
            if lower in ("message-id", "date"):
                continue
            if lower == "content-type":
                params = [(k, v) for k, v in part.get_params() or () if k != "boundary"]
                add(name, part.get_content_type(), sorted(params))
                continue
            add(name, str(value))
        if not part.is_multipart():
            payload = part.get_payload(decode=True)
            digest.update(payload if isinstance(payload, bytes) else b"")
    return digest.hexdigest()


def new_mail(
    outgoing: OutgoingMessage,
    *,
    account: str,
    not_before: float | None,
    not_after: float | None,
    idempotency_key: str | None,
    fields: Mapping[str, Any],
    now: float,
) -> NewMail:
    """The rows of a composed message (`fingerprint` only when there is a key)."""
    if idempotency_key is not None and not (isinstance(idempotency_key, str) and idempotency_key):
        raise MessageError("idempotency_key must be a non-empty string")
    return NewMail(
        id=new_id(now),
        account=account.lower(),
        message_id=outgoing.message_id,
        sender=outgoing.sender,
        recipients=outgoing.recipients,
        smtputf8=outgoing.smtputf8,
        data=outgoing.data,
        created_at=now,
        due=max(now, not_before) if not_before is not None else now,
        not_after=not_after,
        idempotency_key=idempotency_key,
        fingerprint=(
            fingerprint(outgoing, account.lower(), fields) if idempotency_key is not None else None
        ),
    )


def database_id() -> Generator[Step, Answer, str | None]:
    """The random id the queue's database holds (see `MailQueue`), or None."""
    _, rows = yield Step(
        "SELECT value FROM gmail_send_meta WHERE key = %s", ("database",), fetch=True
    )
    return str(rows[0][0]) if rows else None


def insert_mail(mail: NewMail) -> Generator[Step, Answer, QueuedMail]:
    """The statements that store `mail`; return the stored mail, or the mail an earlier call
    stored under the same idempotency key."""
    inserted, _ = yield Step(
        "INSERT INTO gmail_send_mails (id, account, message_id, sender, recipients, smtputf8, "
        "size, status, attempts, created_at, updated_at, next_attempt_at, not_after, "
        "idempotency_key, fingerprint) VALUES "
        "(%s, %s, %s, %s, %s, %s, %s, 'queued', 0, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (idempotency_key) DO NOTHING",  # a NULL key never conflicts
        (
            mail.id,
            mail.account,
            mail.message_id,
            mail.sender,
            json.dumps(list(mail.recipients)),
            int(mail.smtputf8),
            len(mail.data),
            mail.created_at,
            mail.created_at,
            mail.due,
            mail.not_after,
            mail.idempotency_key,
            mail.fingerprint,
        ),
    )
    if inserted == 0:
        _, rows = yield Step(
            f"SELECT fingerprint, {MAIL_COLUMNS} FROM gmail_send_mails "  # noqa: S608
            "WHERE idempotency_key = %s",
            (mail.idempotency_key,),
            fetch=True,
        )
        if not rows:  # pragma: no cover - the conflicting row was deleted meanwhile
            raise IdempotencyConflictError(
                f"the idempotency key {mail.idempotency_key!r} is being used by another mail",
                mail_id="",
                hint="try again",
            )
        first = mail_from_row(rows[0][1:])
        if rows[0][0] != mail.fingerprint:
            raise IdempotencyConflictError(
                f"the idempotency key {mail.idempotency_key!r} was used for mail {first.id} "
                "with other message fields",
                mail_id=first.id,
                hint="use a new key for a different message",
            )
        return first
    yield Step(
        "INSERT INTO gmail_send_mail_bodies (id, data) VALUES (%s, %s)", (mail.id, mail.data)
    )
    return mail.as_queued()


T = TypeVar("T")


def run_steps(cursor: Any, program: Generator[Step, Answer, T]) -> T:
    """Drive `program` on a DB-API cursor that takes `%s` placeholders."""
    try:
        step = next(program)
        while True:
            cursor.execute(step.query, tuple(step.params))
            rows = [tuple(row) for row in cursor.fetchall()] if step.fetch else []
            step = program.send((cursor.rowcount, rows))
    except StopIteration as stop:
        result: T = stop.value
        return result


async def run_steps_async(cursor: Any, program: Generator[Step, Answer, T]) -> T:
    """Drive `program` on a psycopg `AsyncCursor`."""
    try:
        step = next(program)
        while True:
            await cursor.execute(step.query, tuple(step.params))
            rows = [tuple(row) for row in await cursor.fetchall()] if step.fetch else []
            step = program.send((cursor.rowcount, rows))
    except StopIteration as stop:
        result: T = stop.value
        return result
