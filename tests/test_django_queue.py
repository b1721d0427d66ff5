"""The Django app: its migration makes the queue's tables, QueuedEmailBackend enqueues in the
view's transaction, and `manage.py gmail_send_worker` sends. A real Django project
(tests/django_shop) in processes of its own, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured

from gmail_send.store import SCHEMA_VERSION
from gmail_send.testing import LocalGmailThread, TestCertificates

from .queue_helpers import raw_query

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "tests" / "django_shop"


@pytest.fixture
def local(certificates: TestCertificates) -> Iterator[LocalGmailThread]:
    with LocalGmailThread(certificates=certificates) as server:
        yield server


def manage(local: LocalGmailThread, database: str, *argv: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GMAIL_SEND_")}
    environ.update(
        local.environ(),
        SHOP_DATABASE=database,
        DJANGO_SETTINGS_MODULE="settings",
        PYTHONPATH=os.pathsep.join([str(PROJECT), str(ROOT)]),
    )
    return subprocess.run(
        [sys.executable, "-m", "django", *argv],
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_an_order_and_its_receipt_commit_together(local: LocalGmailThread, queue_url: str) -> None:
    database = queue_url.removeprefix("sqlite:///")
    migrated = manage(local, database, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    assert "Applying gmail_send.0001_queue_tables... OK" in migrated.stdout
    # The library's migrator made the tables: its version table says so.
    assert raw_query(queue_url, "SELECT version FROM gmail_send_schema") == [(SCHEMA_VERSION,)]

    failed = manage(local, database, "place_order", "you@example.com", "--fail")
    assert failed.returncode != 0 and "the payment failed" in failed.stderr
    assert raw_query(queue_url, "SELECT COUNT(*) FROM shop_order") == [(0,)]
    assert raw_query(queue_url, "SELECT COUNT(*) FROM gmail_send_mails") == [(0,)]

    placed = manage(local, database, "place_order", "you@example.com")
    assert placed.returncode == 0, placed.stderr
    assert raw_query(queue_url, "SELECT COUNT(*) FROM shop_order") == [(1,)]
    assert raw_query(queue_url, "SELECT status, account FROM gmail_send_mails") == [
        ("queued", local.account)
    ]
    [(mail_id,)] = raw_query(queue_url, "SELECT id FROM gmail_send_mails")
    assert f"mail {mail_id}" in placed.stdout  # message.gmail_send_mail
    assert not local.messages  # nothing was sent by the request

    worker = manage(local, database, "gmail_send_worker", "--until-empty")
    assert worker.returncode == 0, worker.stderr
    assert "stopped" in worker.stdout
    [received] = local.messages
    assert received.rcpt_tos == ("you@example.com",)
    assert str(received.parsed()["Subject"]).startswith("Receipt ")
    assert raw_query(queue_url, "SELECT status FROM gmail_send_mails") == [("sent",)]


def test_only_postgresql_and_sqlite() -> None:
    from gmail_send.contrib.django._database import dialect_of

    assert dialect_of(SimpleNamespace(vendor="sqlite")) == "sqlite"
    with pytest.raises(ImproperlyConfigured, match="PostgreSQL and SQLite, not mysql"):
        dialect_of(SimpleNamespace(vendor="mysql", alias="default"))


def test_migrating_another_database_is_improperly_configured(local: LocalGmailThread) -> None:
    # Django's dummy backend stands for "a database gmail_send does not support".
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; from django.conf import settings; "
            "settings.configure(INSTALLED_APPS=['gmail_send.contrib.django']); django.setup(); "
            "from django.core import mail; "
            "from gmail_send.contrib.django import QueuedEmailBackend; "
            "QueuedEmailBackend().send_messages([mail.EmailMessage('s', 'b', 'me@gmail.com', "
            "['you@example.com'])])",
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode != 0
    assert "ImproperlyConfigured" in run.stderr and "PostgreSQL and SQLite" in run.stderr
