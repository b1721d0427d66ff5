"""What every `MailQueue` can do besides enqueueing and working: its database plumbing, and
looking at mails and deciding about them (cancel, resolve, retry, purge).

`QueueDatabase` is `MailQueue`'s base: it opens the queue's database (the store's `Database`,
migrated by the store's migrator) and runs every call in a worker thread, never on the event
loop's thread.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from ..errors import ConfigurationError, MailNotFoundError, MailStateError
from ..store._database import Cursor, Database, parse_url
from . import _rows
from ._records import AWAITING, STATUSES, Awaiting, MailStatus, QueuedMail

if TYPE_CHECKING:
    from typing_extensions import Self

    from ..store import StateStore

__all__ = ["QueueDatabase", "refuse_loop_thread", "seconds"]

T = TypeVar("T")


def seconds(value: float | timedelta, name: str) -> float:
    """Positive seconds from a number or a timedelta; ConfigurationError otherwise."""
    result = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(result, bool) or not isinstance(result, (int, float)) or not result > 0:
        raise ConfigurationError(f"{name} must be positive seconds or a timedelta, not {value!r}")
    return float(result)


class QueueDatabase:
    """The queue's database and the operator's requests; see `MailQueue`."""

    def __init__(self, url: str, *, clock: Callable[[], float]) -> None:
        self._database = Database(url)
        self._url = url
        self._target = parse_url(url)[1]
        self._clock = clock
        self._database_id: str | None = None
        self._store: StateStore | None = None

    @property
    def name(self) -> str:
        """The URL without its password, for logs and messages."""
        return self._database.name

    @property
    def dialect(self) -> str:
        return self._database.dialect

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the database connections (they open again on the next call)."""
        if self._store is not None:
            await self._store.aclose()
        await asyncio.to_thread(self._database.close)

    def close_sync(self) -> None:
        """`aclose` for code without an event loop."""
        self._database.close()

    # -- database plumbing ------------------------------------------------------------------

    def _run_sync(self, operation: Callable[[Cursor, float], T]) -> T:
        with self._database.transaction() as cursor:
            return operation(cursor, self._clock())

    async def _run(self, operation: Callable[[Cursor, float], T]) -> T:
        return await asyncio.to_thread(self._run_sync, operation)

    def _identity(self) -> str:
        """The random id of the queue's database (made on first use), to check a caller's
        connection against."""
        if self._database_id is None:

            def read(cursor: Cursor, now: float) -> str:
                cursor.execute(
                    "INSERT INTO gmail_send_meta (key, value) VALUES (%s, %s) "
                    "ON CONFLICT (key) DO NOTHING",
                    ("database", secrets.token_hex(16)),
                )
                row = cursor.execute(
                    "SELECT value FROM gmail_send_meta WHERE key = %s", ("database",)
                ).fetchone()
                assert row is not None
                return str(row[0])

            self._database_id = self._run_sync(read)
        return self._database_id

    def same_database(self, url: str) -> bool:
        """Whether `url` names this queue's database."""
        try:
            dialect, target = parse_url(url)
        except ConfigurationError:
            return False
        if dialect != self._database.dialect:
            return False
        mine = self._target
        if dialect == "sqlite":
            return os.path.realpath(target) == os.path.realpath(mine)
        return _normal_pg(target) == _normal_pg(mine)

    # -- looking and deciding ---------------------------------------------------------------

    async def get(self, mail_id: str) -> QueuedMail:
        """The mail with this id as it is now; `MailNotFoundError` if there is none."""
        return _found(mail_id, await self._run(lambda cursor, now: _rows.get(cursor, mail_id)))

    def get_sync(self, mail_id: str) -> QueuedMail:
        """`get` for code without `await`."""
        refuse_loop_thread("get_sync", "get")
        return _found(mail_id, self._run_sync(lambda cursor, now: _rows.get(cursor, mail_id)))

    async def mails(
        self,
        *,
        status: MailStatus | tuple[MailStatus, ...] | None = None,
        account: str | None = None,
        limit: int = 100,
    ) -> list[QueuedMail]:
        """The newest mails first, optionally only of `status` (one or several) and `account`."""
        statuses = (status,) if isinstance(status, str) else tuple(status or ())
        for value in statuses:
            if value not in STATUSES:
                raise ConfigurationError(f"unknown status {value!r}; one of {', '.join(STATUSES)}")
        key = account.lower() if account is not None else None
        return await self._run(
            lambda cursor, now: _rows.list_mails(
                cursor, statuses=statuses, account=key, limit=limit
            )
        )

    async def counts(self) -> dict[MailStatus, int]:
        """How many mails have each status."""
        found = await self._run(lambda cursor, now: _rows.counts(cursor))
        return {status: found.get(status, 0) for status in STATUSES}

    async def awaiting(self) -> dict[Awaiting, int]:
        """How many `unknown` mails await each settlement: a worker's "lookup", or the
        operator's "reconcile" (a lookup could not run) or "resolve" (none can settle it)."""
        found = await self._run(lambda cursor, now: _rows.awaiting_counts(cursor))
        return {what: found.get(what, 0) for what in AWAITING}

    async def resends(self) -> int:
        """How many times mails were sent again because a lookup did not find them in the
        Sent Mail (each a duplicate if Gmail filed the copy after the window); purged mails
        no longer count."""
        return await self._run(lambda cursor, now: _rows.resends(cursor))

    async def cancel(self, mail_id: str) -> QueuedMail:
        """Take a `queued` or `held` mail out: it ends `cancelled` and is never sent.

        Raises:
            MailStateError: it is being sent or has ended.
            MailNotFoundError: there is no such mail.
        """

        def operation(cursor: Cursor, now: float) -> QueuedMail | None:
            if not _rows.cancel(cursor, mail_id, now=now):
                _refuse(mail_id, _rows.get(cursor, mail_id), "cancel", "queued or held")
            return _rows.get(cursor, mail_id)

        return _found(mail_id, await self._run(operation))

    async def resolve(self, mail_id: str, *, sent: bool) -> QueuedMail:
        """Settle an `unknown` mail: `sent=True` after finding it delivered (it ends `sent`),
        `sent=False` when it surely was not (it is queued again, with the same Message-ID).
        It wins over a lookup running meanwhile, whose outcome is then not written.

        Raises:
            MailStateError: its status is not `unknown`.
            MailNotFoundError: there is no such mail.
        """
        if not isinstance(sent, bool):
            raise ConfigurationError("resolve(id, sent=True|False)")

        def operation(cursor: Cursor, now: float) -> QueuedMail | None:
            if not _rows.resolve(cursor, mail_id, sent=sent, now=now):
                _refuse(mail_id, _rows.get(cursor, mail_id), "resolve", "unknown")
            return _rows.get(cursor, mail_id)

        return _found(mail_id, await self._run(operation))

    async def retry(self, mail_id: str) -> QueuedMail:
        """Queue a `failed`, `expired` or `held` mail again now, its attempts counted afresh
        (an expired mail loses its `not_after`). For a held mail this lifts the account's
        hold: every held mail of the account is queued, and the store's quota pause ends.

        Raises:
            MailStateError: its status is another, or its body was deleted (retention).
            MailNotFoundError: there is no such mail.
        """

        def operation(cursor: Cursor, now: float) -> QueuedMail | None:
            mail = _rows.get(cursor, mail_id)
            if mail is None or mail.status not in ("failed", "expired", "held"):
                _refuse(mail_id, mail, "retry", "failed, expired or held")
            assert mail is not None
            if not _rows.has_body(cursor, mail_id):
                raise MailStateError(
                    f"mail {mail_id} cannot be sent again: its body was deleted after the "
                    "retention time",
                    status=mail.status,
                    hint="enqueue the message again",
                )
            _rows.retry(cursor, mail, now=now)
            return _rows.get(cursor, mail_id)

        return _found(mail_id, await self._run(operation))

    async def purge(self, *, older_than: float | timedelta) -> int:
        """Delete mails (rows and bodies) that ended more than `older_than` ago; return how
        many. Mails that have not ended (queued, sending, held, unknown) are never purged."""
        age = seconds(older_than, "older_than")
        return await self._run(lambda cursor, now: _rows.purge(cursor, before=now - age))


def _normal_pg(url: str) -> str:
    return "postgresql" + url[url.index(":") :] if url.startswith("postgres:") else url


def _found(mail_id: str, mail: QueuedMail | None) -> QueuedMail:
    if mail is None:
        raise MailNotFoundError(f"no mail {mail_id!r} in the queue", hint="it may have been purged")
    return mail


def _refuse(mail_id: str, mail: QueuedMail | None, what: str, allowed: str) -> None:
    if mail is None:
        _found(mail_id, None)
        return
    raise MailStateError(
        f"cannot {what} mail {mail_id}: it is {mail.status}, not {allowed}", status=mail.status
    )


def refuse_loop_thread(name: str, instead: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"{name}() blocks on the database and was called on an event loop's thread; "
        f"use await {instead}(...) there"
    )
