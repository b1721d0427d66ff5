"""`gmail-send worker` (a real process, stopped with SIGTERM) and `gmail-send queue ...`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gmail_send import MailQueue
from gmail_send.cli._queue import parse_duration
from gmail_send.testing import LocalGmailThread, TestCertificates

from .cli_helpers import run_main
from .queue_helpers import raw_query

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def local(certificates: TestCertificates) -> Iterator[LocalGmailThread]:
    with LocalGmailThread(certificates=certificates) as server:
        yield server


def worker(local: LocalGmailThread, url: str, *flags: str) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GMAIL_SEND_")}
    environ.update(local.environ(), GMAIL_SEND_QUEUE=url, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "gmail_send", "worker", *flags],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_worker_sends_and_stops_cleanly_on_sigterm(
    local: LocalGmailThread, queue_url: str
) -> None:
    queue = MailQueue(queue_url, account=local.account)
    first = queue.enqueue_sync(to="you@example.com", subject="first", text="t")
    pause = local.server.pause("data")
    process = worker(local, queue_url)
    try:
        pause.wait(timeout=60)  # the worker holds the mail; its envelope is in
        second = queue.enqueue_sync(to="you@example.com", subject="second", text="t")
        process.send_signal(signal.SIGTERM)
        time.sleep(1.0)  # the worker claims nothing more ...
        pause.release()  # ... and finishes what it holds
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        pause.release()
    assert process.returncode == 0, err
    assert "stopping" in err and "stopped" in err
    assert queue.get_sync(first.id).status == "sent"
    assert queue.get_sync(second.id).status == "queued"
    assert [m.parsed()["Subject"] for m in local.messages] == ["first"]
    assert local.app_password not in err
    queue.close_sync()


def test_a_worker_out_of_grace_releases_what_it_holds(
    local: LocalGmailThread, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    queue = MailQueue(url, account=local.account)
    mail = queue.enqueue_sync(to="you@example.com", text="t")
    pause = local.server.pause("mail")
    process = worker(local, url, "--grace", "0.5")
    try:
        pause.wait(timeout=60)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        pause.release()
    assert process.returncode == 0, err
    assert "released" in err
    released = queue.get_sync(mail.id)
    assert released.status == "queued" and released.attempts == 0
    # --until-empty: sends what is due and exits.
    done = worker(local, url, "--until-empty")
    _, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    assert queue.get_sync(mail.id).status == "sent"
    queue.close_sync()


async def test_the_worker_needs_a_queue_and_credentials(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = await run_main(capsys, "worker", env={"GMAIL_SEND_USER": "me@gmail.com"})
    assert run.code == 78 and "--queue" in run.err
    url = f"sqlite:///{tmp_path / 'q.db'}"
    run = await run_main(capsys, "worker", "--queue", url, env={})
    assert run.code == 78 and "no credentials" in run.err


async def test_queue_commands_print_tables_and_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    env = {"GMAIL_SEND_QUEUE": url}
    queue = MailQueue(url, account="me@gmail.com")
    one = await queue.enqueue(to="you@example.com", text="t")
    two = await queue.enqueue(to="you@example.com", text="t")
    three = await queue.enqueue(to="you@example.com", text="t")

    status = await run_main(capsys, "queue", "status", env=env)
    assert status.code == 0
    assert status.out.splitlines()[:2] == ["status     mails", "queued     3"]
    counts = json.loads((await run_main(capsys, "queue", "status", "--json", env=env)).out)
    assert counts["queued"] == 3 and counts["sent"] == 0

    listed = await run_main(capsys, "queue", "list", env=env)
    assert listed.out.splitlines()[0].split()[:3] == ["id", "status", "tries"]
    assert [line.split()[0] for line in listed.out.splitlines()[1:]] == [three.id, two.id, one.id]

    cancelled = await run_main(capsys, "queue", "cancel", one.id, "--json", env=env)
    [mail] = json.loads(cancelled.out)
    assert (mail["id"], mail["status"]) == (one.id, "cancelled")
    again = await run_main(capsys, "queue", "cancel", one.id, env=env)
    assert again.code == 1 and "it is cancelled" in again.err

    raw_query(url, "UPDATE gmail_send_mails SET status = 'unknown' WHERE id = %s", (two.id,))
    resolved = await run_main(capsys, "queue", "resolve", two.id, "--not-sent", env=env)
    assert resolved.code == 0 and "queued" in resolved.out
    raw_query(url, "UPDATE gmail_send_mails SET status = 'unknown' WHERE id = %s", (two.id,))
    resolved = await run_main(capsys, "queue", "resolve", two.id, "--sent", "--json", env=env)
    assert json.loads(resolved.out)[0]["status"] == "sent"

    raw_query(
        url,
        "UPDATE gmail_send_mails SET status = 'failed', ended_at = 1 WHERE id = %s",
        (three.id,),
    )
    retried = await run_main(capsys, "queue", "retry", three.id, "--queue", url, env={})
    assert retried.code == 0 and "queued" in retried.out

    only = await run_main(capsys, "queue", "list", "--status", "sent", "--json", env=env)
    assert [m["id"] for m in json.loads(only.out)] == [two.id]

    purged = await run_main(capsys, "queue", "purge", "--older-than", "1d", "--json", env=env)
    assert json.loads(purged.out) == {"purged": 0}  # the mails ended just now, or not at all
    missing = await run_main(capsys, "queue", "status", env={})
    assert missing.code == 78 and "GMAIL_SEND_QUEUE" in missing.err
    await queue.aclose()


def test_durations() -> None:
    assert parse_duration("90") == 90
    assert parse_duration("15m") == 900
    assert parse_duration("12h") == 43200
    assert parse_duration("30d") == 30 * 86400
    with pytest.raises(Exception, match="not a duration"):
        parse_duration("soon")
