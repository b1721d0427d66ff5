"""What the queue's tests share: a queue URL on each database, and a look at the raw rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def queue_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh queue database: a SQLite file, or a throw-away PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'queue.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def raw_query(url: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run `query` (with `%s` placeholders) outside the library and commit; its rows."""
    if url.startswith("sqlite:///"):
        connection = sqlite3.connect(url[len("sqlite:///") :])
        try:
            cursor = connection.execute(query.replace("%s", "?"), params)
            rows = [tuple(row) for row in cursor.fetchall()]
            connection.commit()
            return rows
        finally:
            connection.close()
    import psycopg

    with psycopg.connect(url) as connection:
        cursor = connection.execute(query, params)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []


def connect(url: str) -> Any:
    """The application's own DB-API connection to the queue's database."""
    if url.startswith("sqlite:///"):
        return sqlite3.connect(url[len("sqlite:///") :])
    import psycopg

    return psycopg.connect(url)
