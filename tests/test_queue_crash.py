"""Worker processes killed with SIGKILL at known points, then restarted: no mail is lost or
sent twice. And two worker processes sharing one PostgreSQL queue.

The local Gmail holds the worker's session at a stage (`LocalGmail.pause`), the test kills the
worker process there, and starts the next one, which is killed at the next stage, and so on;
a last worker sends what is left once the dead workers' leases have run out. The workers
settle unknown outcomes by looking in the Sent Mail (the local Gmail's IMAP), so every mail
must end `sent` and accepted by the server exactly once while Gmail files its copy within the
window; with the copy filed after the window, a mail whose body the server had stored is sent
twice, and that resend is counted on the mail. With `settle_unknown=False`, the mails killed
after their body's write stay `unknown`, accepted at most once (exactly once when the kill
came after the server stored the body).

Stages: the mail is claimed (the session waits for its greeting), the session is open (MAIL
waits for its reply), the envelope was received (DATA, or BDAT before its bytes are read,
waits for its reply), the body was received and stored (its reply waits), the reply was sent
before the worker could record it (the test holds the database's write lock, so the worker
cannot write the row, and kills it once the server has written the reply), and the worker is
looking an unknown mail up in the Sent Mail (the connection dropped after the body was
stored; Gmail files the copy a moment later, so the lookup waits).

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
LEASE = 4.0
"""The workers' lease: long enough that a worker slowed down by a busy machine (the heartbeat
renews every third of it) does not see its own claim run out."""
WINDOW = 2.0
"""The lookup's window (`find_sent_wait`) of the workers here."""
COPY_DELAY = 0.5
"""Seconds Gmail takes to file the Sent copy here: inside the window."""
STAGES = ("connect", "mail", "data", "data_end", "replied", "lookup")
STORED = {"data_end", "replied", "lookup"}
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
        "imap_port": local.server.imap_port,
        "find_sent_wait": WINDOW,
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


def claimed_by(url: str, process: subprocess.Popen[str], stage: str) -> str:
    worker = f"{socket.gethostname()}:{process.pid}"
    rows = raw_query(
        url,
        "SELECT id FROM gmail_send_mails WHERE status = 'sending' AND worker = %s",
        (worker,),
    )
    if len(rows) != 1:
        everything = raw_query(url, "SELECT id, status, worker, lease_until FROM gmail_send_mails")
        raise AssertionError(
            f"at {stage}, {worker} should hold one sending mail: {rows}; all: {everything}"
        )
    return str(rows[0][0])


def looked_up_by(
    url: str, process: subprocess.Popen[str], message_id: str, timeout: float = 60
) -> str:
    """The id of the mail with `message_id`, once the worker process looks it up."""
    worker = f"{socket.gethostname()}:{process.pid}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = raw_query(
            url,
            "SELECT id FROM gmail_send_mails WHERE status = 'unknown' AND worker = %s "
            "AND message_id = %s AND lease_until > %s AND awaiting = 'lookup'",
            (worker, message_id, time.time()),
        )
        if rows:
            return str(rows[0][0])
        time.sleep(0.01)
    raise AssertionError("the worker did not start the lookup")


def kill_in_lookup(local: LocalGmailThread, url: str, **config: Any) -> dict[str, str]:
    """Start a worker whose send ends unknown (dropped after the body was stored), kill it
    while it looks the mail up; the mail's id -> "lookup", and the mail it was sending
    meanwhile, if any, -> "collateral"."""
    server = local.server
    server.drop_connection("data_end_stored")
    stored = len(server.messages)
    process = start_worker(local, url, **config)
    worker = f"{socket.gethostname()}:{process.pid}"
    try:
        deadline = time.monotonic() + 60
        while server.pending_faults or len(server.messages) == stored:
            assert time.monotonic() < deadline, "the connection was not dropped"
            time.sleep(0.005)
        dropped = str(server.messages[stored].parsed()["Message-ID"])  # stored, then dropped
        mail_id = looked_up_by(url, process, dropped)
        kill(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    sending = raw_query(
        url,
        "SELECT id FROM gmail_send_mails WHERE status = 'sending' AND worker = %s",
        (worker,),
    )
    return {mail_id: "lookup", **{str(row[0]): "collateral" for row in sending}}


def kill_at(local: LocalGmailThread, url: str, stage: str, **config: Any) -> dict[str, str]:
    """Start a worker, kill it at `stage`; the id of the mail it held -> `stage`. Returns once
    the server has ended the dead worker's sessions: a session released from a pause goes on
    with what the worker wrote before it died (with BDAT, the body), and must not reach the
    next kill's pause in place of the next worker's."""
    try:
        if stage == "lookup":
            return kill_in_lookup(local, url, **config)
        return kill_in_transaction(local, url, stage, **config)
    finally:
        end_dead_sessions(local)


def end_dead_sessions(local: LocalGmailThread) -> None:
    """Let the server finish what the dead worker's sessions had received, then hang up on
    those still open (a session released from a pause before its greeting may otherwise wait
    for a client that is gone)."""
    deadline = time.monotonic() + 1
    while local.server.open_sessions and time.monotonic() < deadline:
        time.sleep(0.005)
    if local.server.open_sessions:
        local.call(local.server.close_all(reply=None))
    assert local.server.open_sessions == 0


def kill_in_transaction(
    local: LocalGmailThread, url: str, stage: str, **config: Any
) -> dict[str, str]:
    """Start a worker, kill it at `stage` of its transaction (see `kill_at`)."""
    server = local.server
    pause = server.pause("data_end" if stage == "replied" else stage)  # type: ignore[arg-type]
    process = start_worker(local, url, **config)
    try:
        pause.wait(timeout=120)
        mail_id = claimed_by(url, process, stage)
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
    return {mail_id: stage}


def crash_run(
    local: LocalGmailThread,
    url: str,
    kill_count: int,
    path: str,
    *,
    stages: tuple[str, ...] = STAGES,
    settle_unknown: bool = True,
    copy_delay: float = COPY_DELAY,
) -> dict[str, int]:
    """Enqueue, kill workers at `stages` in turn, let a last worker finish; check each mail
    by where its kills came (the last decides how it ended, the earlier ones how often it was
    resent), and return how many mails end in each status."""
    local.server.sent_copy_delay = copy_delay
    queue = MailQueue(url, account=local.account)
    mails = {
        queue.enqueue_sync(to="you@example.com", subject=f"mail {n}", text=f"body {n}").id: n
        for n in range(kill_count + 5)
    }
    kills: dict[str, list[str]] = collections.defaultdict(list)
    config = {"settle_unknown": settle_unknown}
    for number in range(kill_count):
        stage = stages[number % len(stages)]
        for mail_id, where in kill_at(local, url, stage, **config).items():
            kills[mail_id].append(where)
    finish(start_worker(local, url, **config))  # waits out the dead workers' leases

    accepted = collections.Counter(
        str(message.parsed()["Message-ID"]) for message in local.messages
    )
    outcome: collections.Counter[str] = collections.Counter()
    late = copy_delay > WINDOW
    lost_after_writing = BODY_WRITTEN[path] - STORED
    for mail_id in mails:
        mail = queue.get_sync(mail_id)
        outcome[mail.status] += 1
        count = accepted[mail.message_id]
        stages_of = kills.get(mail_id, [])
        final = stages_of[-1] if stages_of else None
        # A mail killed more than once was resent once for each earlier kill after its body's
        # write that the server had not stored (not in the Sent Mail: Gmail did not take it).
        resent = sum(1 for where in stages_of if where in lost_after_writing)
        if "collateral" in stages_of:
            # Killed at a point of its own while another mail was looked up: settled anyway.
            assert mail.status == "sent" and mail.resends <= resent + 1, (mail, stages_of)
            assert count == 1, (mail, count)
        elif final not in BODY_WRITTEN[path]:
            assert mail.status == "sent" and mail.resends == resent, (mail, stages_of)
            assert count == 1, (mail, count)
        elif not settle_unknown:
            assert mail.status == "unknown", (mail, stages_of)
            assert mail.last_error is not None
            if final in STORED:
                assert count == 1, mail  # the server stored it before the kill
            else:
                assert count <= 1, (mail, count)  # written; read or not before the kill
        elif final in STORED:
            # Gmail took it: the lookup finds it within the window, or (late) resends it.
            assert mail.status == "sent", (mail, stages_of)
            extra = 1 if late else 0
            assert (mail.resends, count) == (resent + extra, 1 + extra), (mail, stages_of)
            assert mail.settled_by == ("smtp" if late else "lookup"), (mail, stages_of)
        else:
            # Written but maybe never stored: not in the Sent Mail, so sent again, once.
            assert mail.status == "sent" and resent - 1 <= mail.resends <= resent, (mail, stages_of)
            assert count == 1, (mail, count)
    assert sum(accepted.values()) == len(local.messages)  # nothing foreign
    queue.close_sync()
    return dict(outcome)


def body_kills(kills: int, path: str, stages: tuple[str, ...] = STAGES) -> int:
    return sum(1 for n in range(kills) if stages[n % len(stages)] in BODY_WRITTEN[path])


@pytest.mark.parametrize("kills", [20])
def test_killed_workers_lose_and_duplicate_nothing(
    local: LocalGmailThread, queue_url: str, kills: int, path: str
) -> None:
    started = time.monotonic()
    outcome = crash_run(local, queue_url, kills, path)
    # Every kill after the body's write was settled by a lookup: found, or sent again.
    assert outcome == {"sent": kills + 5}
    assert local.server.chunking == (path != "data")
    print(f"{path}: {kills} kills in {time.monotonic() - started:.1f} s: {outcome}")


def test_a_copy_filed_after_the_window_is_resent_and_reported(
    gmail_like: LocalGmailThread, queue_url: str
) -> None:
    stages = ("data_end", "replied", "connect")
    outcome = crash_run(
        gmail_like, queue_url, 4, "bdat_pipelined", stages=stages, copy_delay=WINDOW * 30
    )
    assert outcome == {"sent": 9}
    rows = raw_query(queue_url, "SELECT SUM(resends) FROM gmail_send_mails")
    assert int(rows[0][0]) == 3  # the three mails Gmail had stored, each sent twice
    duplicates = collections.Counter(
        str(message.parsed()["Message-ID"]) for message in gmail_like.messages
    )
    assert sorted(duplicates.values()) == [1] * 6 + [2] * 3


def test_without_settling_killed_workers_leave_unknown_mails(
    local: LocalGmailThread, queue_url: str, path: str
) -> None:
    stages = STAGES[:-1]  # no lookup to kill
    outcome = crash_run(local, queue_url, 5, path, stages=stages, settle_unknown=False)
    unknown = body_kills(5, path, stages)
    assert outcome == {"sent": 10 - unknown, "unknown": unknown}


@pytest.mark.crash_long
def test_killed_workers_long_run(local: LocalGmailThread, queue_url: str, path: str) -> None:
    outcome = crash_run(local, queue_url, 60, path)
    assert outcome == {"sent": 65}


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
