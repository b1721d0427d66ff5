"""One connection to the shared database, SQLite or PostgreSQL, used from worker threads.

`Database.transaction()` yields a cursor inside a write transaction that serializes writers
(SQLite: `BEGIN IMMEDIATE` in WAL mode; PostgreSQL: an ordinary transaction, callers lock the
rows they change). Queries are written once with `%s` placeholders; SQLite gets `?`. The
connection is opened on first use and opened again after a failure. Credentials in a URL are
never shown: `Database.name` is the URL without its password.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigurationError
from ._schema import Dialect, migrate

__all__ = ["Cursor", "Database", "StoreUnavailableError", "parse_url", "redact"]


class StoreUnavailableError(ConfigurationError):
    """The shared database could not be reached or answered with an error."""


def parse_url(url: str) -> tuple[Dialect, str]:
    """("sqlite", path) for sqlite:///path, ("postgresql", url) for postgresql://...."""
    if not isinstance(url, str):
        raise ConfigurationError(f"store must be a URL string, not {type(url).__name__}")
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        if not path:
            raise ConfigurationError(
                f"a SQLite store URL is sqlite:///path/to/file.db, not {url!r}",
                hint="three slashes, then the path (sqlite:////abs/path.db for an absolute one)",
            )
        return "sqlite", path
    if scheme in ("postgresql", "postgres"):
        return "postgresql", url
    raise ConfigurationError(
        f"store must be a sqlite:/// or postgresql:// URL, not {redact(url)!r}",
        hint="sqlite:///gmail-send.db for one host, postgresql://user@host/db for several",
    )


def redact(url: str) -> str:
    """The URL with any password replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class Database:
    """A lazily opened connection, shared by threads one at a time."""

    def __init__(self, url: str) -> None:
        self.dialect, self._target = parse_url(url)
        self.name = redact(url)
        self._lock = threading.Lock()
        self._connection: Any = None
        self._migrated = False

    def __repr__(self) -> str:
        return f"<Database {self.name}>"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """A cursor in a write transaction; committed on success, rolled back on error."""
        with self._lock:
            connection = self._open()
            try:
                if self.dialect == "sqlite":
                    connection.execute("BEGIN IMMEDIATE")
                    cursor = Cursor(connection.cursor(), sqlite=True)
                    try:
                        yield cursor
                    except BaseException:
                        connection.execute("ROLLBACK")
                        raise
                    connection.execute("COMMIT")
                else:
                    with connection.transaction():
                        yield Cursor(connection.cursor(), sqlite=False)
            except _database_errors(self.dialect) as exc:
                self._drop()
                raise StoreUnavailableError(
                    f"the store {self.name} failed: {type(exc).__name__}: {_first_line(exc)}",
                    hint="check that the database is reachable and writable",
                ) from None

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _open(self) -> Any:
        if self._connection is not None:
            return self._connection
        try:
            if self.dialect == "sqlite":
                connection = _open_sqlite(self._target)
            else:
                connection = _open_postgresql(self._target)
        except _database_errors(self.dialect) as exc:
            raise StoreUnavailableError(
                f"cannot open the store {self.name}: {type(exc).__name__}: {_first_line(exc)}",
                hint="check the URL, that the server runs and that the user may connect",
            ) from None
        self._connection = connection
        if not self._migrated:
            try:
                self._migrate(connection)
            except BaseException:
                self._drop()
                raise
            self._migrated = True
        return connection

    def _migrate(self, connection: Any) -> None:
        if self.dialect == "sqlite":
            connection.execute("BEGIN IMMEDIATE")
            try:
                migrate(Cursor(connection.cursor(), sqlite=True), "sqlite")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        else:
            with connection.transaction():
                migrate(Cursor(connection.cursor(), sqlite=False), "postgresql")

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()


class Cursor:
    """A DB-API cursor that takes `%s` placeholders on both dialects."""

    def __init__(self, cursor: Any, *, sqlite: bool) -> None:
        self._cursor = cursor
        self.sqlite = sqlite

    def execute(self, query: str, params: Sequence[object] = (), /) -> Cursor:
        if self.sqlite:
            query = _PLACEHOLDER.sub("?", query)
        self._cursor.execute(query, tuple(params))
        return self

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self._cursor.fetchone()
        return None if row is None else tuple(row)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._cursor.fetchall()]

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)


_PLACEHOLDER = re.compile(r"%s")


def _open_sqlite(path: str) -> Any:
    import sqlite3

    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise sqlite3.OperationalError(f"the directory {directory} does not exist")
    connection = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA busy_timeout=30000")
    # Switching a new database to WAL needs a moment alone with it, and SQLite answers "locked"
    # at once (no busy handler) while another process opens it too: try again, bounded.
    deadline = time.monotonic() + 30.0
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                connection.close()
                raise
            time.sleep(0.02)
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def _open_postgresql(url: str) -> Any:
    try:
        import psycopg
    except ImportError as missing:
        raise ConfigurationError(
            "a postgresql:// store needs psycopg: pip install 'gmail-send[postgres]'"
        ) from missing
    return psycopg.connect(url, connect_timeout=10, autocommit=True)


def _database_errors(dialect: Dialect) -> tuple[type[BaseException], ...]:
    if dialect == "sqlite":
        import sqlite3

        return (sqlite3.Error, OSError)
    import psycopg

    return (psycopg.Error, OSError)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:200]
