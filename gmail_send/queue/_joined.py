"""Enqueueing inside the caller's own transaction: `enqueue(..., connection=conn)`.

The caller's connection must be to the queue's database: for SQLite the database files are
compared, for PostgreSQL the random id in `gmail_send_meta`. The mail's rows are written under
a savepoint, so they commit or roll back with the caller's transaction (an order and its
receipt together), and a failure of ours rolls back only our rows. Where the connection would
begin a transaction implicitly on the caller's next write (sqlite3's default, psycopg without
autocommit), it is begun here, as the caller's own write would have; a connection in
autocommit mode outside a transaction commits the mail at once, as it would any statement.

- `sqlite3.Connection`: only from `enqueue_sync`, on the caller's thread (sqlite3 connections
  belong to the thread that made them, and the event loop's thread never touches a database);
- psycopg `Connection`: `enqueue_sync` uses it on the caller's thread, `enqueue` in a worker
  thread (psycopg connections may be shared by threads);
- psycopg `AsyncConnection`: `enqueue` only.

`store_mail` and `store_mail_sync` choose: the queue's own connection (no `connection=`), or
the caller's, checked to be to the queue's database.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ConfigurationError
from ..store._database import Cursor, StoreUnavailableError
from ..store._schema import SCHEMA_VERSION, migrate
from ._enqueue import Answer, NewMail, Step, insert_mail, run_steps, run_steps_async
from ._records import QueuedMail

if TYPE_CHECKING:
    from ._operations import QueueDatabase

__all__ = [
    "kind_of",
    "run_on_async_psycopg",
    "run_on_psycopg",
    "run_on_sqlite",
    "store_mail",
    "store_mail_sync",
]

T = TypeVar("T")
_SAVEPOINT = "gmail_send_enqueue"
_IDENTITY = "SELECT value FROM gmail_send_meta WHERE key = %s"


def kind_of(connection: object) -> str:
    """ "sqlite", "psycopg" or "psycopg_async"; ConfigurationError for anything else."""
    import sqlite3

    if isinstance(connection, sqlite3.Connection):
        return "sqlite"
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        if isinstance(connection, psycopg.AsyncConnection):
            return "psycopg_async"
        if isinstance(connection, psycopg.Connection):
            return "psycopg"
    raise ConfigurationError(
        "connection must be a sqlite3.Connection or a psycopg Connection or AsyncConnection, "
        f"not {type(connection).__name__}",
        hint="pass the raw DB-API connection of the queue's database (Django: "
        "django.db.connection.connection)",
    )


def _wrong_database(name: str) -> ConfigurationError:
    return ConfigurationError(
        f"the connection given is not to the queue's database ({name})",
        hint="enqueue in a transaction of the database the queue's URL names",
    )


def _failed(name: str, exc: BaseException) -> StoreUnavailableError:
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return StoreUnavailableError(
        f"enqueueing on the caller's connection to {name} failed: {type(exc).__name__}: {first}"
    )


def _same_file(connection: Any, path: str) -> bool:
    try:
        rows = connection.execute("PRAGMA database_list").fetchall()
        main = next((row[2] for row in rows if row[1] == "main"), "")
        return bool(main) and os.path.samefile(main, path)
    except (OSError, sqlite3.Error):
        return False


def run_on_sqlite(connection: Any, path: str, name: str, program: Generator[Step, Answer, T]) -> T:
    """Run `program` on the caller's `sqlite3.Connection`, under a savepoint.

    The check compares database files (the queue's own connection is not used: it would wait
    for the write lock the caller's transaction may hold), and a database the queue has never
    used gets its tables from the migrator, in the caller's transaction.
    """
    if not _same_file(connection, path):
        raise _wrong_database(name)
    autocommit = getattr(connection, "autocommit", None)  # Python 3.12+; None: legacy control
    legacy = autocommit not in (True, False)
    implicit = autocommit is False or (legacy and connection.isolation_level is not None)
    if implicit and not connection.in_transaction:
        connection.execute(f"BEGIN {connection.isolation_level or ''}")
    raw = connection.cursor()
    raw.row_factory = None
    cursor = Cursor(raw, sqlite=True)
    cursor.execute(f"SAVEPOINT {_SAVEPOINT}")
    try:
        try:
            if _schema_version(cursor) != SCHEMA_VERSION:
                migrate(cursor, "sqlite")
            result = run_steps(cursor, program)
        except sqlite3.Error as exc:
            raise _failed(name, exc) from None
    except BaseException:
        cursor.execute(f"ROLLBACK TO {_SAVEPOINT}")
        cursor.execute(f"RELEASE {_SAVEPOINT}")
        raise
    cursor.execute(f"RELEASE {_SAVEPOINT}")
    return result


def _schema_version(cursor: Cursor) -> int | None:
    try:
        row = cursor.execute("SELECT version FROM gmail_send_schema").fetchone()
    except sqlite3.OperationalError:  # no such table: the queue was never used here
        return None
    return None if row is None else int(row[0])


def _in_caller_transaction(connection: Any) -> bool:
    """Whether psycopg would begin a transaction with the caller's next statement and has not
    yet (no autocommit, idle): then ours must begin it, to be a savepoint inside it."""
    import psycopg

    return not connection.autocommit and (
        connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    )


def run_on_psycopg(
    connection: Any, expected: str, name: str, program: Generator[Step, Answer, T]
) -> T:
    """Run `program` on the caller's psycopg `Connection`, under a savepoint."""
    import psycopg
    from psycopg.rows import tuple_row

    if _in_caller_transaction(connection):
        connection.execute("SELECT 1")
    try:
        with connection.transaction(), connection.cursor(row_factory=tuple_row) as cursor:
            try:
                cursor.execute(_IDENTITY, ("database",))
                row = cursor.fetchone()
            except psycopg.Error:
                raise _wrong_database(name) from None
            if row is None or row[0] != expected:
                raise _wrong_database(name)
            return run_steps(cursor, program)
    except psycopg.Error as exc:
        raise _failed(name, exc) from None


async def run_on_async_psycopg(
    connection: Any, expected: str, name: str, program: Generator[Step, Answer, T]
) -> T:
    """Run `program` on the caller's psycopg `AsyncConnection`, under a savepoint."""
    import psycopg
    from psycopg.rows import tuple_row

    if _in_caller_transaction(connection):
        await connection.execute("SELECT 1")
    try:
        async with (
            connection.transaction(),
            connection.cursor(row_factory=tuple_row) as cursor,
        ):
            try:
                await cursor.execute(_IDENTITY, ("database",))
                row = await cursor.fetchone()
            except psycopg.Error:
                raise _wrong_database(name) from None
            if row is None or row[0] != expected:
                raise _wrong_database(name)
            return await run_steps_async(cursor, program)
    except psycopg.Error as exc:
        raise _failed(name, exc) from None


async def store_mail(queue: QueueDatabase, mail: NewMail, connection: Any) -> QueuedMail:
    """Insert `mail` for `enqueue`: on the queue's connection, or in the caller's transaction
    on `connection` (psycopg's; a sqlite3 connection only from `store_mail_sync`)."""
    if connection is None:
        return await queue._run(lambda cursor, now: run_steps(cursor, insert_mail(mail)))
    kind = kind_of(connection)
    if kind == "sqlite":
        raise ConfigurationError(
            "a sqlite3 connection belongs to its thread: enqueue in its transaction with "
            "enqueue_sync(..., connection=...)",
            hint="or use the queue's own connection (no connection=)",
        )
    expected = await asyncio.to_thread(queue._identity)
    if kind == "psycopg_async":
        return await run_on_async_psycopg(connection, expected, queue.name, insert_mail(mail))
    return await asyncio.to_thread(
        run_on_psycopg, connection, expected, queue.name, insert_mail(mail)
    )


def store_mail_sync(queue: QueueDatabase, mail: NewMail, connection: Any) -> QueuedMail:
    """Insert `mail` for `enqueue_sync`, on the caller's thread (see `store_mail`)."""
    if connection is None:
        return queue._run_sync(lambda cursor, now: run_steps(cursor, insert_mail(mail)))
    kind = kind_of(connection)
    if kind == "psycopg_async":
        raise ConfigurationError("an AsyncConnection needs await enqueue(..., connection=...)")
    if kind == "sqlite":
        if queue.dialect != "sqlite":
            raise ConfigurationError(
                f"a sqlite3 connection is not to the queue's database ({queue.name})"
            )
        return run_on_sqlite(connection, queue._target, queue.name, insert_mail(mail))
    return run_on_psycopg(connection, queue._identity(), queue.name, insert_mail(mail))
