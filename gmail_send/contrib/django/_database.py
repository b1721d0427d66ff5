"""The mail queue in Django's database: its URL, its tables, and one `MailQueue` per database.

A queue URL is made from a Django connection's settings (`NAME`, `USER`, `PASSWORD`, `HOST`,
`PORT`, string `OPTIONS`), so the worker opens the same database Django uses; only PostgreSQL
and SQLite are supported, and SQLite only as a file (a worker process cannot open another
process's in-memory database).
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings  # type: ignore[import-untyped, import-not-found, unused-ignore]
from django.core.exceptions import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
    ImproperlyConfigured,
)
from django.db import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
    DEFAULT_DB_ALIAS,
    connections,
)

from ...queue import MailQueue
from ...store._schema import Dialect, migrate

__all__ = ["create_queue_tables", "dialect_of", "queue_alias", "queue_for", "queue_url"]

_queues: dict[tuple[str, str], MailQueue] = {}
_lock = threading.Lock()


def dialect_of(connection: Any) -> Dialect:
    """ "postgresql" or "sqlite" for a Django connection; ImproperlyConfigured otherwise."""
    vendor = getattr(connection, "vendor", None)
    if vendor == "postgresql":
        return "postgresql"
    if vendor == "sqlite":
        return "sqlite"
    raise ImproperlyConfigured(
        f"gmail_send's mail queue works with PostgreSQL and SQLite, not {vendor} (database "
        f"{getattr(connection, 'alias', '?')!r}); set GMAIL_SEND_QUEUE_DATABASE to the alias "
        "of a PostgreSQL or SQLite database"
    )


def create_queue_tables(connection: Any) -> None:
    """Create or migrate the queue's tables through gmail_send's migrator, in the caller's
    (the migration's) transaction."""
    dialect = dialect_of(connection)
    with connection.cursor() as cursor:
        migrate(cursor, dialect)


def queue_alias() -> str:
    """The database the queue lives in: settings.GMAIL_SEND_QUEUE_DATABASE, else "default"."""
    alias: str = getattr(settings, "GMAIL_SEND_QUEUE_DATABASE", DEFAULT_DB_ALIAS)
    return alias


def queue_url(alias: str) -> str:
    """The `MailQueue` URL of the Django database `alias`."""
    connection = connections[alias]
    dialect = dialect_of(connection)
    values = connection.settings_dict
    name = str(values.get("NAME") or "")
    if dialect == "sqlite":
        if not name or name == ":memory:" or "mode=memory" in name:
            raise ImproperlyConfigured(
                f"the mail queue needs a SQLite file, and database {alias!r} is in memory "
                "(Django's tests use one unless DATABASES[...]['TEST']['NAME'] names a file)"
            )
        return f"sqlite:///{os.path.abspath(name)}"
    user = quote(str(values.get("USER") or ""), safe="")
    password = quote(str(values.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host = str(values.get("HOST") or "")
    if ":" in host and not host.startswith("/"):
        host = f"[{host}]"  # IPv6
    port = f":{values['PORT']}" if values.get("PORT") else ""
    options = {k: str(v) for k, v in (values.get("OPTIONS") or {}).items() if isinstance(v, str)}
    if host.startswith("/"):  # a socket directory
        options["host"] = host
        host = ""
    query = f"?{urlencode(options)}" if options else ""
    return f"postgresql://{credentials}{host}{port}/{quote(name, safe='')}{query}"


def queue_for(alias: str, **options: Any) -> MailQueue:
    """The process's `MailQueue` for a Django database (one per database and options)."""
    url = queue_url(alias)
    key = (url, repr(sorted(options.items())))
    with _lock:
        queue = _queues.get(key)
        if queue is None:
            queue = _queues[key] = MailQueue(url, **options)
        return queue
