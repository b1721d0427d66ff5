"""The tables gmail_send keeps in a shared database, and the migrator that creates them.

One definition serves SQLite and PostgreSQL (their few differences are spelled out per
dialect). `gmail_send_schema` holds the version; `migrate()` applies every step above it in one
transaction, so several processes starting at once end with the same schema. Later versions
append steps; a step never changes once released.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

__all__ = ["SCHEMA_VERSION", "STEPS", "Dialect", "migrate"]

Dialect = Literal["sqlite", "postgresql"]

# Times are seconds since the epoch (UTC) as double precision: shared by every host, unlike a
# process's monotonic clock.
_STEP_1 = (
    """CREATE TABLE IF NOT EXISTS gmail_send_sends (
        account TEXT NOT NULL,
        sent_at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS gmail_send_sends_account ON gmail_send_sends (account, sent_at)",
    """CREATE TABLE IF NOT EXISTS gmail_send_reservations (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
    )""",
    """CREATE INDEX IF NOT EXISTS gmail_send_reservations_account
        ON gmail_send_reservations (account)""",
    """CREATE TABLE IF NOT EXISTS gmail_send_accounts (
        account TEXT PRIMARY KEY,
        quota_paused_until DOUBLE PRECISION,
        login_paused_until DOUBLE PRECISION,
        token TEXT,
        token_expires_at DOUBLE PRECISION,
        lease_owner TEXT,
        lease_until DOUBLE PRECISION
    )""",
)

# The mail queue (gmail_send.queue): one row per mail, its bytes apart (deleted after the
# retention time while the row stays for audit), and a random id that tells this database apart
# from others (a caller's connection is checked against it). BYTEA has NUMERIC affinity in
# SQLite, which stores bytes as given.
_STEP_2 = (
    """CREATE TABLE IF NOT EXISTS gmail_send_mails (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        message_id TEXT NOT NULL,
        sender TEXT NOT NULL,
        recipients TEXT NOT NULL,
        smtputf8 INTEGER NOT NULL,
        size INTEGER NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        next_attempt_at DOUBLE PRECISION,
        not_after DOUBLE PRECISION,
        ended_at DOUBLE PRECISION,
        claim TEXT,
        worker TEXT,
        lease_until DOUBLE PRECISION,
        body_out INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        result TEXT,
        idempotency_key TEXT UNIQUE,
        fingerprint TEXT
    )""",
    """CREATE INDEX IF NOT EXISTS gmail_send_mails_due
        ON gmail_send_mails (status, next_attempt_at)""",
    """CREATE INDEX IF NOT EXISTS gmail_send_mails_account
        ON gmail_send_mails (account, status)""",
    """CREATE INDEX IF NOT EXISTS gmail_send_mails_ended ON gmail_send_mails (ended_at)""",
    """CREATE TABLE IF NOT EXISTS gmail_send_mail_bodies (
        id TEXT PRIMARY KEY,
        data BYTEA NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS gmail_send_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
)

# The rate limit shared by every process of an account: when its next message may go out.
_STEP_3 = ("ALTER TABLE gmail_send_accounts ADD COLUMN rate_next DOUBLE PRECISION",)

# Settling unknown outcomes (the queue's Sent Mail lookup): which transport each attempt's body
# went out over and when (the lookup's window starts there); on the mail, how many times it was
# sent again after a lookup did not find it, what settled it, what an `unknown` mail awaits
# ("lookup" by a worker, or the "operator"), and the lookups that could not run in a row (their
# back-off). While a worker looks a mail up, `claim`, `worker` and `lease_until` hold it and its
# status stays `unknown`; `next_attempt_at` says when the next lookup is due.
_STEP_4 = (
    """CREATE TABLE IF NOT EXISTS gmail_send_attempts (
        mail_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        transport TEXT NOT NULL,
        body_out_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (mail_id, attempt)
    )""",
    "ALTER TABLE gmail_send_mails ADD COLUMN resends INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE gmail_send_mails ADD COLUMN settled_by TEXT",
    "ALTER TABLE gmail_send_mails ADD COLUMN awaiting TEXT",
    "ALTER TABLE gmail_send_mails ADD COLUMN lookups INTEGER NOT NULL DEFAULT 0",
    """CREATE INDEX IF NOT EXISTS gmail_send_mails_awaiting
        ON gmail_send_mails (awaiting, next_attempt_at)""",
)

STEPS: tuple[Sequence[str], ...] = (_STEP_1, _STEP_2, _STEP_3, _STEP_4)
"""The migration steps; step n (1-based) brings the schema to version n."""

SCHEMA_VERSION = len(STEPS)


class Cursor(Protocol):
    """The DB-API cursor methods the migrator uses (sqlite3 and psycopg both fit)."""

    def execute(self, query: str, params: Sequence[object] = ..., /) -> object: ...

    def fetchone(self) -> tuple[object, ...] | None: ...


def migrate(cursor: Cursor, dialect: Dialect) -> int:
    """Bring the schema to `SCHEMA_VERSION` inside the caller's transaction; return it.

    The caller holds a write lock for the transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL:
    the advisory lock taken here), so concurrent migrators run one after another.
    """
    if dialect == "postgresql":
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_KEY,))
    cursor.execute("CREATE TABLE IF NOT EXISTS gmail_send_schema (version INTEGER NOT NULL)")
    cursor.execute("SELECT version FROM gmail_send_schema")
    row = cursor.fetchone()
    current = int(row[0]) if row is not None else 0  # type: ignore[call-overload]
    if current > SCHEMA_VERSION:
        from ..errors import ConfigurationError

        raise ConfigurationError(
            f"the database holds gmail_send schema version {current}; this gmail_send knows "
            f"{SCHEMA_VERSION}",
            hint="upgrade gmail_send on this host (a newer version migrated the database)",
        )
    for number in range(current + 1, SCHEMA_VERSION + 1):
        for statement in STEPS[number - 1]:
            cursor.execute(statement)
    if row is None:
        cursor.execute("INSERT INTO gmail_send_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
    elif current != SCHEMA_VERSION:
        cursor.execute("UPDATE gmail_send_schema SET version = %s", (SCHEMA_VERSION,))
    return SCHEMA_VERSION


_ADVISORY_KEY = 0x676D6169  # "gmai": one key for gmail_send's migrations
