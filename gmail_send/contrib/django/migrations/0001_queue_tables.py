"""The mail queue's tables, made by gmail_send's own migrator in Django's database.

The migrator keeps its own schema version (`gmail_send_schema`), so the tables are the same as
those a `MailQueue` or a `store=` creates, and a later gmail_send that adds a step migrates
them on first use. Reversing this migration keeps the tables: they may hold the sending state
of other processes, and mail nobody has sent yet.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import migrations  # type: ignore[import-untyped, import-not-found, unused-ignore]


def create_tables(apps: Any, schema_editor: Any) -> None:
    from gmail_send.contrib.django._database import create_queue_tables

    create_queue_tables(schema_editor.connection)


class Migration(migrations.Migration):  # type: ignore[misc, unused-ignore]
    initial = True
    dependencies: ClassVar[list[tuple[str, str]]] = []
    operations: ClassVar[list[Any]] = [
        migrations.RunPython(create_tables, migrations.RunPython.noop)
    ]
