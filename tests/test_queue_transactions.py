"""enqueue(connection=...): the mail commits or rolls back with the application's own
transaction, on the application's real sqlite3 or psycopg connection."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from gmail_send import ConfigurationError, MailQueue

from .queue_helpers import raw_query

ACCOUNT = "shop@gmail.com"
ORDERS = "CREATE TABLE orders (total INTEGER)"


def mails(url: str) -> int:
    """Mails stored; 0 while the queue's tables do not exist (on SQLite a database the queue
    never used gets them in the caller's transaction, and loses them with its rollback)."""
    try:
        return int(raw_query(url, "SELECT COUNT(*) FROM gmail_send_mails")[0][0])
    except sqlite3.OperationalError:
        return 0


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    raw_query(url, ORDERS)
    return url


@pytest.fixture
def pg_url(postgres_url: str) -> str:
    raw_query(postgres_url, ORDERS)
    return postgres_url


def test_sqlite_a_mail_belongs_to_the_transaction_of_its_order(sqlite_url: str) -> None:
    queue = MailQueue(sqlite_url, account=ACCOUNT)
    app = sqlite3.connect(sqlite_url[len("sqlite:///") :])  # Python's default: implicit BEGIN
    # The mail first, then the order: one transaction all the same.
    queue.enqueue_sync(to="you@example.com", subject="receipt", text="t", connection=app)
    app.execute("INSERT INTO orders (total) VALUES (10)")
    app.rollback()
    assert mails(sqlite_url) == 0
    app.execute("INSERT INTO orders (total) VALUES (20)")
    mail = queue.enqueue_sync(to="you@example.com", subject="receipt", text="t", connection=app)
    assert mails(sqlite_url) == 0  # not visible before the caller commits
    app.commit()
    assert mails(sqlite_url) == 1
    assert queue.get_sync(mail.id).status == "queued"
    app.close()
    queue.close_sync()


def test_sqlite_in_autocommit_mode_and_explicit_transactions(sqlite_url: str) -> None:
    queue = MailQueue(sqlite_url, account=ACCOUNT)
    app = sqlite3.connect(sqlite_url[len("sqlite:///") :], isolation_level=None)
    app.execute("BEGIN")
    queue.enqueue_sync(to="you@example.com", text="t", connection=app)
    app.execute("ROLLBACK")
    assert mails(sqlite_url) == 0
    queue.enqueue_sync(to="you@example.com", text="t", connection=app)  # no transaction: at once
    assert mails(sqlite_url) == 1
    app.close()
    queue.close_sync()


def test_sqlite_another_database_is_refused_and_the_transaction_survives(
    sqlite_url: str, tmp_path: Path
) -> None:
    queue = MailQueue(sqlite_url, account=ACCOUNT)
    other = tmp_path / "other.db"
    app = sqlite3.connect(other)
    app.execute(ORDERS)
    app.execute("INSERT INTO orders (total) VALUES (5)")
    with pytest.raises(ConfigurationError, match="not to the queue's database"):
        queue.enqueue_sync(to="you@example.com", text="t", connection=app)
    app.commit()
    assert app.execute("SELECT COUNT(*) FROM orders").fetchone() == (1,)
    app.close()
    # Another queue's database (its own id) is refused too.
    second = MailQueue(f"sqlite:///{tmp_path / 'second.db'}", account=ACCOUNT)
    second.enqueue_sync(to="you@example.com", text="t")
    app = sqlite3.connect(tmp_path / "second.db")
    with pytest.raises(ConfigurationError):
        queue.enqueue_sync(to="you@example.com", text="t", connection=app)
    app.close()
    queue.close_sync()
    second.close_sync()


async def test_an_async_enqueue_takes_no_sqlite3_connection(sqlite_url: str) -> None:
    queue = MailQueue(sqlite_url, account=ACCOUNT)
    app = sqlite3.connect(sqlite_url[len("sqlite:///") :])
    with pytest.raises(ConfigurationError, match="enqueue_sync"):
        await queue.enqueue(to="you@example.com", text="t", connection=app)
    with pytest.raises(ConfigurationError, match=r"sqlite3\.Connection or a psycopg"):
        await queue.enqueue(to="you@example.com", text="t", connection=object())
    app.close()
    await queue.aclose()


def test_psycopg_a_mail_belongs_to_the_transaction_of_its_order(pg_url: str) -> None:
    import psycopg

    queue = MailQueue(pg_url, account=ACCOUNT)
    with psycopg.connect(pg_url) as app:  # no autocommit: the first statement begins
        queue.enqueue_sync(to="you@example.com", text="t", connection=app)
        app.execute("INSERT INTO orders (total) VALUES (10)")
        app.rollback()
        assert mails(pg_url) == 0
        app.execute("INSERT INTO orders (total) VALUES (20)")
        queue.enqueue_sync(to="you@example.com", text="t", connection=app, idempotency_key="o20")
        assert mails(pg_url) == 0
        app.commit()
    assert mails(pg_url) == 1
    with psycopg.connect(pg_url, autocommit=True) as app:
        try:
            with app.transaction():
                queue.enqueue_sync(to="you@example.com", text="t", connection=app)
                raise RuntimeError("the order failed")
        except RuntimeError:
            pass
        assert mails(pg_url) == 1
        queue.enqueue_sync(to="you@example.com", text="t", connection=app)  # autocommit
    assert mails(pg_url) == 2
    queue.close_sync()


async def test_psycopg_connections_from_async_code(pg_url: str) -> None:
    import psycopg

    queue = MailQueue(pg_url, account=ACCOUNT)
    async with await psycopg.AsyncConnection.connect(pg_url) as app:
        await queue.enqueue(to="you@example.com", text="t", connection=app)
        await app.rollback()
        await app.execute("INSERT INTO orders (total) VALUES (1)")
        mail = await queue.enqueue(to="you@example.com", text="t", connection=app)
        await app.commit()
    assert (await queue.get(mail.id)).status == "queued"
    sync_app: Any = await asyncio.to_thread(psycopg.connect, pg_url)
    try:
        await queue.enqueue(to="you@example.com", text="t", connection=sync_app)
        await asyncio.to_thread(sync_app.rollback)
    finally:
        await asyncio.to_thread(sync_app.close)
    assert mails(pg_url) == 1
    await queue.aclose()


async def test_psycopg_another_database_is_refused_and_the_transaction_survives(
    pg_url: str, postgres_server: str
) -> None:
    import psycopg

    queue = MailQueue(pg_url, account=ACCOUNT)
    async with await psycopg.AsyncConnection.connect(postgres_server) as other:
        await other.execute("CREATE TEMPORARY TABLE t (x INTEGER)")
        await other.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(ConfigurationError, match="not to the queue's database"):
            await queue.enqueue(to="you@example.com", text="t", connection=other)
        cursor = await other.execute("SELECT COUNT(*) FROM t")  # still usable
        assert await cursor.fetchone() == (1,)
    await queue.aclose()
