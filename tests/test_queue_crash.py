"""Worker processes killed with SIGKILL at known points, then restarted: no mail is lost or
sent twice. And two worker processes sharing one PostgreSQL queue.

The local Gmail holds the worker's session at a stage (`LocalGmail.pause`), the test kills the
worker process there, and starts the next one, which is killed at the next stage, and so on;
a last worker sends what is left once the dead workers' leases have run out. Then every mail
must be `sent` and accepted by the server exactly once, or `unknown` and accepted at most once
(exactly once when the kill came after the server stored the body).

Stages: the mail is claimed (the session waits for its greeting), the session is open (MAIL
waits for its reply), the envelope was received (DATA, or BDAT before its bytes are read,
waits for its reply), the body was received and stored (its reply waits), and the reply was
sent before the worker could record it (the test holds the database's write lock, so the
worker cannot write the row, and kills it once the server has written the reply).

Each runs on the three ways a transaction goes out, and the rule is the same on each: a mail
is `unknown` exactly when the worker was killed after the write that carries its body began.
With DATA ("data") the body follows the 354, so only the last two stages are after it; with
BDAT ("bdat") the body is written with the BDAT command, once the envelope was accepted, so a
kill while BDAT waits is after it too; with BDAT and PIPELINING ("bdat_pipelined", as
smtp.gmail.com offers) MAIL, RCPT, BDAT and the body go out in one write, so even a kill while
MAIL waits for its reply is after it.

`pytest -m crash_long` runs the long version: 60 kills per database.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gmail_send import MailQueue
from gmail_send.testing import LocalGmailThread, TestCertificates

from .queue_helpers import raw_query

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "tests" / "queue_worker_process.py"
LEASE = 2.0
STAGES = ("connect", "mail", "data", "data_end", "replied")
STORED = {"data_end", "replied"}
"""Kills after the server stored the body: the mail was accepted exactly once."""
BODY_WRITTEN = {
    "data": STORED,
    "bdat": {"data", *STORED},
    "bdat_pipelined": {"mail", "data", *STORED},
}
"""Per transaction path: kills after the write that carries the body began."""
PATHS = {
    "data": {"chunking": False},
    "bdat": {"chunking": True},
    "bdat_pipelined": {"chunking": True, "pipelining": True},
}


@pytest.fixture(params=sorted(PATHS))
def path(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def local(certificates: TestCertificates, path: str) -> Iterator[LocalGmailThread]:
    with LocalGmailThread(certificates=certificates, **PATHS[path]) as server:
        yield server


@pytest.fixture
def gmail_like(certificates: TestCertificates) -> Iterator[LocalGmailThread]:
    """CHUNKING and PIPELINING, as smtp.gmail.com offers them."""
    with LocalGmailThread(certificates=certificates, pipelining=True) as server:
        yield server


def start_worker(local: LocalGmailThread, url: str, **config: Any) -> subprocess.Popen[str]:
    settings = {
        "queue": url,
        "account": local.account,
        "app_password": local.app_password,
        "host": local.host,
        "port": local.port,
        "ca_file": str(local.ca_file),
        "lease": LEASE,
        **config,
    }
    return subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(settings)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 300) -> None:
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    assert process.returncode == 0, err


def kill(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL


@contextlib.contextmanager
def write_lock(url: str) -> Iterator[None]:
    """Hold the database's write lock (SQLite) or the mail table's (PostgreSQL)."""
    if url.startswith("sqlite:///"):
        connection = sqlite3.connect(url[len("sqlite:///") :], isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    import psycopg

    with psycopg.connect(url) as connection:
        connection.execute("LOCK TABLE gmail_send_mails IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            connection.rollback()


def claimed_by(url: str, process: subprocess.Popen[str]) -> str:
    worker = f"{socket.gethostname()}:{process.pid}"
    rows = raw_query(
        url,
        "SELECT id FROM gmail_send_mails WHERE status = 'sending' AND worker = %s",
        (worker,),
    )
    assert len(rows) == 1, rows
    return str(rows[0][0])


def kill_at(local: LocalGmailThread, url: str, stage: str) -> str:
    """Start a worker, kill it at `stage`; return the id of the mail it held."""
    server = local.server
    pause = server.pause("data_end" if stage == "replied" else stage)  # type: ignore[arg-type]
    process = start_worker(local, url)
    try:
        pause.wait(timeout=120)
        mail_id = claimed_by(url, process)
        if stage == "replied":
            with write_lock(url):
                replied = server.pause("data_end_replied")
                pause.release()
                replied.wait(timeout=60)  # the 250 is written; the row cannot be
                kill(process)
            replied.release()
        else:
            kill(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        pause.release()
    return mail_id


def crash_run(local: LocalGmailThread, url: str, kills: int, path: str) -> dict[str, int]:
    queue = MailQueue(url, account=local.account)
    mails = {
        queue.enqueue_sync(to="you@example.com", subject=f"mail {n}", text=f"body {n}").id: n
        for n in range(kills + 5)
    }
    last_stage: dict[str, str] = {}
    for number in range(kills):
        stage = STAGES[number % len(STAGES)]
        last_stage[kill_at(local, url, stage)] = stage
    finish(start_worker(local, url))  # waits out the dead workers' leases

    accepted = collections.Counter(
        str(message.parsed()["Message-ID"]) for message in local.messages
    )
    outcome: collections.Counter[str] = collections.Counter()
    for mail_id in mails:
        mail = queue.get_sync(mail_id)
        outcome[mail.status] += 1
        count = accepted[mail.message_id]
        stage = last_stage.get(mail_id)
        if stage in BODY_WRITTEN[path]:
            assert mail.status == "unknown", (mail, stage)
            assert mail.last_error is not None
            if stage in STORED:
                assert count == 1, mail  # the server stored it before the kill
            else:
                assert count <= 1, (mail, count)  # written; read or not before the kill
        else:
            assert mail.status == "sent", (mail, stage)
            assert count == 1, (mail, count)
    assert sum(accepted.values()) == len(local.messages)  # nothing foreign, nothing twice
    queue.close_sync()
    return dict(outcome)


@pytest.mark.parametrize("kills", [20])
def test_killed_workers_lose_and_duplicate_nothing(
    local: LocalGmailThread, queue_url: str, kills: int, path: str
) -> None:
    started = time.monotonic()
    outcome = crash_run(local, queue_url, kills, path)
    # Each kill after the body's write left one mail unknown (never taken again).
    body_kills = sum(1 for n in range(kills) if STAGES[n % len(STAGES)] in BODY_WRITTEN[path])
    assert outcome == {"sent": kills + 5 - body_kills, "unknown": body_kills}
    assert local.server.chunking == (path != "data")
    print(f"{path}: {kills} kills in {time.monotonic() - started:.1f} s: {outcome}")


@pytest.mark.crash_long
def test_killed_workers_long_run(local: LocalGmailThread, queue_url: str, path: str) -> None:
    outcome = crash_run(local, queue_url, 60, path)
    body_kills = sum(1 for n in range(60) if STAGES[n % len(STAGES)] in BODY_WRITTEN[path])
    assert outcome == {"sent": 65 - body_kills, "unknown": body_kills}


def test_two_workers_share_a_postgresql_queue(
    gmail_like: LocalGmailThread, postgres_url: str
) -> None:
    local = gmail_like
    import psycopg

    queue = MailQueue(postgres_url, account=local.account)
    queue.close_sync()  # creates the tables
    with psycopg.connect(postgres_url) as connection:
        for n in range(1000):
            queue.enqueue_sync(
                to=f"r{n}@example.com", subject=f"mail {n}", text="t", connection=connection
            )
        connection.commit()
    workers = [  # 1,000 is over a consumer account's daily 500
        start_worker(local, postgres_url, max_connections=3, daily_limit=None) for _ in range(2)
    ]
    for worker in workers:
        finish(worker, timeout=900)
    rows = raw_query(postgres_url, "SELECT status, worker, message_id FROM gmail_send_mails")
    assert {status for status, _, _ in rows} == {"sent"}
    by_worker = collections.Counter(worker for _, worker, _ in rows)
    assert sorted(by_worker) == sorted(f"{socket.gethostname()}:{w.pid}" for w in workers)
    assert all(count > 0 for count in by_worker.values()), by_worker
    accepted = collections.Counter(str(m.parsed()["Message-ID"]) for m in local.messages)
    assert len(accepted) == 1000 and set(accepted.values()) == {1}
    assert accepted.keys() == {message_id for _, _, message_id in rows}
    queue.close_sync()
