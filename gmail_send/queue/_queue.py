"""`MailQueue`: mail stored in SQLite or PostgreSQL at once, and sent by a worker later.

`enqueue` composes and validates the message where it is called (bad input fails there), and
stores its bytes (no Bcc header), envelope (every recipient, Bcc included) and Message-ID in
milliseconds, without touching the network; optionally inside the caller's own transaction.
`work` sends what is due through `GmailSender`s (see `_worker`). Every database call runs in a
worker thread (or on psycopg's async connection), never on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from .._retry import RetryPolicy
from .._types import MessageFields
from ..errors import ConfigurationError, MailNotFoundError, MailStateError
from ..message._compose import compose_message
from ..message._outgoing import OutgoingMessage
from ..store._database import Cursor, Database, parse_url
from . import _rows
from ._enqueue import NewMail, check_window, insert_mail, new_mail, run_steps
from ._joined import kind_of, run_on_async_psycopg, run_on_psycopg, run_on_sqlite
from ._records import STATUSES, MailStatus, QueuedMail

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._sender import GmailSender
    from ..store import StateStore

__all__ = ["DEFAULT_RETRY", "MailQueue"]

T = TypeVar("T")

DEFAULT_RETRY = RetryPolicy(retries=9, backoff=30.0, max_backoff=3600.0)
"""The queue's own retries after a temporary failure: 10 attempts over about 3 hours."""


def _seconds(value: float | timedelta, name: str) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise ConfigurationError(f"{name} must be positive seconds or a timedelta, not {value!r}")
    return float(seconds)


class MailQueue:
    """A durable queue of mail in SQLite (one host) or PostgreSQL (several hosts).

    Args:
        url: `sqlite:///path/to/queue.db` or `postgresql://user:password@host/db` (the
            `[postgres]` extra); the same URLs as `GmailSender(store=...)`, and usually the
            same database. The tables are created by gmail_send on first use.
        account: the default sending account of `enqueue` (the default From and the
            Message-ID's domain); a mail may name another with `enqueue(account=...)`.
        retry: the queue's retries after temporary failures (`retries` further attempts,
            `backoff` doubling up to `max_backoff`); `retry_unknown_outcome` and `deadline` are
            refused (a mail's deadline is its `not_after`).
        lease: seconds a worker holds a mail without renewing its claim (it renews every third
            of it); a worker that died loses its mails after this long.
        retention: how long the bytes of a mail that ended (`sent`, `failed`, `expired`,
            `cancelled`) are kept; its row stays until `purge`.
        poll: seconds an idle worker waits before looking for due mail again (at most 1).
    """

    def __init__(
        self,
        url: str,
        *,
        account: str | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        lease: float = 60.0,
        retention: float | timedelta = timedelta(days=7),
        poll: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._database = Database(url)
        self._url = url
        if account is not None and (not isinstance(account, str) or "@" not in account):
            raise ConfigurationError(f"account must be an e-mail address, not {account!r}")
        self.account = account
        if not isinstance(retry, RetryPolicy):
            raise ConfigurationError(f"retry must be a RetryPolicy, not {type(retry).__name__}")
        if retry.retry_unknown_outcome or retry.deadline is not None:
            raise ConfigurationError(
                "the queue's RetryPolicy takes no retry_unknown_outcome and no deadline",
                hint="a mail whose outcome is unknown is never resent blindly; give a mail a "
                "deadline with enqueue(not_after=...)",
            )
        self.retry_policy = retry
        """The `retry=` policy: waits and attempts after temporary failures."""
        self.lease = _seconds(lease, "lease")
        self.retention = _seconds(retention, "retention")
        self.poll = _seconds(poll, "poll")
        if self.poll > 1.0:
            raise ConfigurationError("poll must be at most 1 second (idle workers wake that fast)")
        self._clock = clock
        self._database_id: str | None = None
        self._store: StateStore | None = None
        self._stops: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.worker_name = f"{socket.gethostname()}:{os.getpid()}"
        """How this process's workers sign their claims (for `gmail-send queue list`)."""

    @property
    def name(self) -> str:
        """The URL without its password, for logs and messages."""
        return self._database.name

    @property
    def dialect(self) -> str:
        return self._database.dialect

    def __repr__(self) -> str:
        return f"MailQueue({self.name!r}, account={self.account!r})"

    async def __aenter__(self) -> MailQueue:
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
        mine = parse_url(self._url)[1]
        if dialect == "sqlite":
            return os.path.realpath(target) == os.path.realpath(mine)
        return _normal_pg(target) == _normal_pg(mine)

    # -- enqueue ----------------------------------------------------------------------------

    def _compose(self, account: str | None, fields: MessageFields) -> tuple[OutgoingMessage, str]:
        chosen = account if account is not None else self.account
        outgoing = compose_message(account=chosen, **fields)
        return outgoing, (chosen or outgoing.sender)

    def _new(
        self,
        outgoing: OutgoingMessage,
        account: str,
        fields: MessageFields,
        idempotency_key: str | None,
        not_before: datetime | None,
        not_after: datetime | None,
    ) -> NewMail:
        now = self._clock()
        start, end = check_window(not_before, not_after, now=now)
        return new_mail(
            outgoing,
            account=account,
            not_before=start,
            not_after=end,
            idempotency_key=idempotency_key,
            fields=dict(fields),
            now=now,
        )

    async def enqueue(
        self,
        *,
        account: str | None = None,
        idempotency_key: str | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        connection: Any = None,
        **fields: Unpack[MessageFields],
    ) -> QueuedMail:
        """Compose a message from keyword fields and store it to be sent by a worker.

        Args:
            account: the account that sends it (default: the queue's `account`, else the
                From address); a worker sends it with that account's sender. `from_` stays
                the From header (the account or a verified alias).
            idempotency_key: the same key with the same fields returns the first mail instead
                of a second one; with other fields, `IdempotencyConflictError`.
            not_before: a timezone-aware time before which it is not sent.
            not_after: a timezone-aware time after which an unsent mail ends `expired`.
            connection: the application's connection to the queue's database, to enqueue in
                its transaction: a psycopg `Connection` or `AsyncConnection` (a
                `sqlite3.Connection` only with `enqueue_sync`).
            **fields: the message (`MessageFields`), as for `GmailSender.send`.

        Returns:
            The `QueuedMail`, status `queued`.

        Raises:
            MessageError: the message or the times are invalid (nothing is stored).
            IdempotencyConflictError: the key was used with other fields.
            ConfigurationError: the connection is not to the queue's database.
            StoreUnavailableError: the database failed.
        """
        if fields.get("attachments"):
            outgoing, chosen = await asyncio.to_thread(self._compose, account, fields)
        else:
            outgoing, chosen = self._compose(account, fields)
        mail = self._new(outgoing, chosen, fields, idempotency_key, not_before, not_after)
        if connection is None:
            return await self._run(lambda cursor, now: run_steps(cursor, insert_mail(mail)))
        kind = kind_of(connection)
        if kind == "sqlite":
            raise ConfigurationError(
                "a sqlite3 connection belongs to its thread: enqueue in its transaction with "
                "enqueue_sync(..., connection=...)",
                hint="or use the queue's own connection (no connection=)",
            )
        expected = await asyncio.to_thread(self._identity)
        if kind == "psycopg_async":
            return await run_on_async_psycopg(connection, expected, self.name, insert_mail(mail))
        return await asyncio.to_thread(
            run_on_psycopg, connection, expected, self.name, insert_mail(mail)
        )

    def enqueue_sync(
        self,
        *,
        account: str | None = None,
        idempotency_key: str | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        connection: Any = None,
        **fields: Unpack[MessageFields],
    ) -> QueuedMail:
        """`enqueue` for code without `await` (Django views, Flask); the same arguments.

        `connection` may also be a `sqlite3.Connection`, used here on the caller's thread.
        Not from a thread that runs an event loop: use `await enqueue(...)` there.
        """
        _refuse_loop_thread("enqueue_sync", "enqueue")
        outgoing, chosen = self._compose(account, fields)
        mail = self._new(outgoing, chosen, fields, idempotency_key, not_before, not_after)
        if connection is None:
            return self._run_sync(lambda cursor, now: run_steps(cursor, insert_mail(mail)))
        kind = kind_of(connection)
        if kind == "psycopg_async":
            raise ConfigurationError("an AsyncConnection needs await enqueue(..., connection=...)")
        expected = self._identity()
        run = run_on_sqlite if kind == "sqlite" else run_on_psycopg
        return run(connection, expected, self.name, insert_mail(mail))

    # -- looking and deciding ---------------------------------------------------------------

    async def get(self, mail_id: str) -> QueuedMail:
        """The mail with this id as it is now; `MailNotFoundError` if there is none."""
        return _found(mail_id, await self._run(lambda cursor, now: _rows.get(cursor, mail_id)))

    def get_sync(self, mail_id: str) -> QueuedMail:
        """`get` for code without `await`."""
        _refuse_loop_thread("get_sync", "get")
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
        seconds = _seconds(older_than, "older_than")
        return await self._run(lambda cursor, now: _rows.purge(cursor, before=now - seconds))

    # -- the worker -------------------------------------------------------------------------

    async def work(self, *senders: GmailSender, until_empty: bool = False) -> None:
        """Send due mail through `senders` until `stop()` (or cancellation), or, with
        `until_empty`, until no mail is due or being sent.

        Each sender serves its account's mails (a sender without account, a relay, serves
        every other account), at most its `max_connections` at once. A sender without a
        `store` gets the queue's database as its store, so every worker shares the limits and
        hold-offs; see the `gmail_send.queue` docs for what happens after each failure.

        Args:
            *senders: `GmailSender`s, at most one per account.
            until_empty: return once nothing is due or in progress instead of waiting for more.

        Raises:
            ConfigurationError: a sender has another store, retries unknown outcomes, or two
                senders share an account.
        """
        from ._worker import Worker

        if self._store is None:
            from ..store import StateStore

            self._store = StateStore(self._url, clock=self._clock)
        worker = Worker(self, self._store, senders, name=self.worker_name)
        stop = (asyncio.get_running_loop(), asyncio.Event())
        self._stops.add(stop)
        try:
            await worker.run(until_empty=until_empty, stop=stop[1])
        finally:
            self._stops.discard(stop)

    def stop(self) -> None:
        """Ask running workers to stop: they claim nothing more, finish the mails they hold
        and return from `work()`. (Cancelling `work()` instead releases those mails at once.)
        Safe to call from any thread and from a signal handler."""
        for loop, event in list(self._stops):
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)


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


def _refuse_loop_thread(name: str, instead: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"{name}() blocks on the database and was called on an event loop's thread; "
        f"use await {instead}(...) there"
    )
