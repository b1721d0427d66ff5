"""`gmail-send send --merge`: templated messages from CSV or JSON Lines, resumable after a
crash, with --dry-run, --json and a progress bar on a terminal.

The crash test runs the real command in a child process against the local Gmail (in a thread
here): the server holds one message after storing it, the test kills the child with SIGKILL
right then, and a second run finishes the merge.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from gmail_send.cli._exit import ExitCode
from gmail_send.testing import LocalGmail, LocalGmailThread, TestCertificates

from .cli_helpers import app_password_env, run_main, server_flags

ROOT = Path(__file__).resolve().parent.parent
PEOPLE = [(f"p{n}@example.com", f"Person {n}", f"plan-{n}") for n in range(1, 9)]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and pty are POSIX")


def write_templates(folder: Path) -> Path:
    folder.mkdir()
    (folder / "welcome.subject.txt").write_text("Welcome, {{ name }}\n", encoding="utf-8")
    (folder / "welcome.html").write_text(
        "<p>Hello {{ name }}, your plan is <b>{{ plan }}</b>.</p>\n", encoding="utf-8"
    )
    return folder


def write_people(folder: Path, kind: str, people: list[tuple[str, str, str]] = PEOPLE) -> Path:
    if kind == "csv":
        path = folder / "people.csv"
        lines = ["email,name,plan", *(",".join(person) for person in people)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        path = folder / "people.jsonl"
        lines = [json.dumps({"email": a, "name": n, "plan": p}) for a, n, p in people]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def ca_file(certificates: TestCertificates, tmp_path: Path) -> Path:
    return certificates.ca_pem_path(tmp_path)


@pytest.fixture
def local(certificates: TestCertificates) -> Iterator[LocalGmailThread]:
    with LocalGmailThread(certificates=certificates) as server:
        yield server


def child_env(local: LocalGmailThread, templates: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GMAIL_SEND_")}
    environ.update(
        local.environ(),
        GMAIL_SEND_TEMPLATES=str(templates),
        PYTHONPATH=str(ROOT),
        PYTHONIOENCODING="utf-8",
    )
    return environ


def merge_argv(people: Path, journal: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gmail_send",
        "send",
        "--merge",
        str(people),
        "--template",
        "welcome",
        "--resume",
        str(journal),
        *extra,
    ]


@pytest.mark.parametrize(("kind", "concurrency"), [("csv", "1"), ("jsonl", "3")])
def test_a_merge_killed_mid_way_sends_each_row_once_when_run_again(
    local: LocalGmailThread, tmp_path: Path, kind: str, concurrency: str
) -> None:
    templates = write_templates(tmp_path / "templates")
    people = write_people(tmp_path, kind)
    journal = tmp_path / "people.journal"
    environ = child_env(local, templates)
    argv = merge_argv(people, journal, "--concurrency", concurrency)

    hold = local.server.hold("data_end_stored", after=3)  # the 4th message: stored, no reply
    child = subprocess.Popen(argv, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert hold.wait(timeout=120), "the merge never reached the 4th message"
        held = local.messages[3]
        stored_before_kill = [message.rcpt_tos[0] for message in local.messages]
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
        hold.release()
    assert child.returncode == -signal.SIGKILL
    recorded = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    held_id = held.parsed()["Message-ID"]
    state = recorded_state(recorded, held_id)
    assert (state["state"], state["message_id"]) == ("sending", held_id)  # sent, not recorded

    again = subprocess.run(
        [*argv, "--json"], env=environ, capture_output=True, text=True, timeout=120, check=False
    )
    report = json.loads(again.stdout)
    unknown = {row["to"] for row in report["rows"] if row["status"] == "unknown"}
    assert held.rcpt_tos[0] in unknown
    assert again.returncode == ExitCode.UNKNOWN_OUTCOME, again.stderr
    for row in report["rows"]:
        if row["to"] in unknown:
            assert row["earlier_run"] and row["message_id"]
    received = Counter(message.rcpt_tos[0] for message in local.messages)
    for address, _, _ in PEOPLE:
        if address in unknown:
            assert received[address] <= 1, address
        else:
            assert received[address] == 1, address
    statuses = Counter(row["status"] for row in report["rows"])
    assert statuses["unknown"] == len(unknown)
    assert statuses["sent"] + statuses["already_sent"] == len(PEOPLE) - len(unknown)
    status_of = {row["to"]: row["status"] for row in report["rows"]}
    for address in stored_before_kill:  # the first run's: recorded as sent, or unknown
        assert status_of[address] in ("already_sent", "unknown"), address
    if concurrency == "1":  # one message in flight: only the held one can be unknown
        assert unknown == {held.rcpt_tos[0]}
        assert statuses["already_sent"] == 3
    # A third run has nothing left to send and sends nothing.
    before = len(local.messages)
    third = subprocess.run(argv, env=environ, capture_output=True, text=True, timeout=120)
    assert third.returncode == ExitCode.UNKNOWN_OUTCOME
    assert len(local.messages) == before
    assert f"Message-ID: {held_id}" in third.stdout


def recorded_state(records: list[dict[str, object]], message_id: str) -> dict[str, object]:
    """The merged records of the row that was given `message_id`."""
    key = next(r["row"] for r in records if r.get("message_id") == message_id)
    merged: dict[str, object] = {}
    for record in records:
        if record.get("row") == key:
            merged.update(record)
    return merged


async def test_a_quota_stop_is_resumed_with_the_rest(
    gmail: LocalGmail, ca_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = write_templates(tmp_path / "templates")
    people = write_people(tmp_path, "csv", PEOPLE[:5])
    journal = tmp_path / "people.journal"
    argv = [
        "send",
        *server_flags(gmail, ca_file),
        "--templates",
        str(templates),
        "--merge",
        str(people),
        "--template",
        "welcome",
        "--resume",
        str(journal),
    ]
    env = app_password_env()
    run = await run_main(capsys, *argv, env={**env, "GMAIL_SEND_DAILY_LIMIT": "2"})
    assert "summary: 2 sent, 1 failed, 2 not attempted (of 5)" in run.out
    assert "stopping: the 2 remaining message(s) would fail the same way" in run.out
    run = await run_main(capsys, *argv, env=env)
    assert run.code == ExitCode.OK, run.out + run.err
    assert run.out.splitlines()[-1] == "summary: 3 sent, 0 failed, 2 already sent (of 5)"
    assert sorted(m.rcpt_tos[0] for m in gmail.messages) == sorted(p[0] for p in PEOPLE[:5])
    first = gmail.messages[0].parsed()
    assert first["Subject"] == "Welcome, Person 1"
    text = first.get_body(preferencelist=("plain",))
    assert text is not None and "Hello Person 1, your plan is plan-1." in text.get_content()


async def test_dry_run_reports_the_problems_and_connects_to_nothing(
    gmail: LocalGmail, ca_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = write_templates(tmp_path / "templates")
    people = tmp_path / "people.jsonl"
    people.write_text(
        '{"email": "a@example.com", "name": "A", "plan": "x"}\n'
        '{"email": "not an address", "name": "B", "plan": "y"}\n'
        '{"email": "c@example.com", "name": "C"}\n',
        encoding="utf-8",
    )
    journal = tmp_path / "people.journal"
    run = await run_main(
        capsys,
        "send",
        *server_flags(gmail, ca_file),
        "--templates",
        str(templates),
        "--merge",
        str(people),
        "--template",
        "welcome",
        "--resume",
        str(journal),
        "--dry-run",
        env=app_password_env(),
    )
    assert run.code == ExitCode.BAD_INPUT
    lines = run.out.splitlines()
    assert lines[0].startswith("[2/3] not an address: to: 'not an address' is not a valid")
    assert lines[2].startswith("[3/3] c@example.com: template welcome.html (line 1) uses 'plan'")
    assert lines[-1] == "dry run: 1 of 3 message(s) are valid, 2 are not; nothing was sent"
    assert gmail.sessions == []
    assert not journal.exists()


async def test_the_json_report(
    gmail: LocalGmail, ca_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = write_templates(tmp_path / "templates")
    people = write_people(tmp_path, "csv", PEOPLE[:3])
    gmail.inject(
        "rcpt", (550, "5.1.1 The email account does not exist."), recipient="p2@example.com"
    )
    run = await run_main(
        capsys,
        "send",
        *server_flags(gmail, ca_file),
        "--templates",
        str(templates),
        "--merge",
        str(people),
        "--template",
        "welcome",
        "--json",
        env=app_password_env(),
    )
    assert run.code == ExitCode.PERMANENT
    report = json.loads(run.out)  # standard output holds the report alone
    assert report["counts"] == {"sent": 2, "failed": 1}
    assert (report["total"], report["exit_code"], report["dry_run"]) == (3, 69, False)
    first, second, _ = report["rows"]
    assert first["status"] == "sent" and first["message_id"].startswith("<")
    assert second["status"] == "failed"
    assert second["error"]["type"] == "RecipientsRefusedError"
    assert "550 5.1.1" in second["error"]["message"]
    assert "[1/3] p1@example.com: sent <" in run.err  # the lines go to standard error


def test_a_terminal_shows_a_progress_bar_instead_of_lines(
    local: LocalGmailThread, tmp_path: Path
) -> None:
    templates = write_templates(tmp_path / "templates")
    people = write_people(tmp_path, "csv", PEOPLE[:5])
    argv = [sys.executable, "-m", "gmail_send", "send", "--merge", str(people)]
    argv += ["--template", "welcome"]
    environ = {**child_env(local, templates), "COLUMNS": "100"}
    controller, terminal = pty.openpty()
    child = subprocess.Popen(argv, env=environ, stdout=subprocess.PIPE, stderr=terminal)
    os.close(terminal)
    shown: list[bytes] = []
    reader = threading.Thread(target=read_all, args=(controller, shown), daemon=True)
    reader.start()
    out, _ = child.communicate(timeout=120)
    reader.join(timeout=30)
    os.close(controller)
    screen = b"".join(shown).decode("utf-8", errors="replace")
    assert child.returncode == 0, screen
    assert "\r\x1b[K[" in screen  # drawn in place
    assert "5/5  sent 5  failed 0" in screen
    assert "/s" in screen and "left" in screen
    lines = out.decode().splitlines()
    assert not any(": sent <" in text for text in [*lines, screen]), "plain lines were printed"
    assert lines[-1] == "summary: 5 sent, 0 failed (of 5)"
    assert len(local.messages) == 5


def read_all(descriptor: int, into: list[bytes]) -> None:
    """Everything written to a pseudo-terminal, until its other side is closed."""
    while True:
        try:
            chunk = os.read(descriptor, 4096)
        except OSError:  # EIO: the child closed the terminal
            return
        if not chunk:
            return
        into.append(chunk)


async def test_one_templated_message_and_the_usage_rules(
    gmail: LocalGmail, ca_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = write_templates(tmp_path / "templates")
    flags = [*server_flags(gmail, ca_file), "--templates", str(templates)]
    env = app_password_env()
    run = await run_main(
        capsys, "send", *flags, "--to", "a@example.com", "--template", "welcome", env=env
    )
    assert run.code == ExitCode.BAD_INPUT  # the context is empty: 'name' is missing
    assert "uses 'name', which the context lacks" in run.err
    run = await run_main(capsys, "send", *flags, "--merge", "x.csv", env=env)
    assert (run.code, "--merge needs --template" in run.err) == (ExitCode.USAGE, True)
    run = await run_main(capsys, "send", *flags, "--to", "a@example.com", "--text", "t", env=env)
    assert (run.code, "no subject" in run.err) == (ExitCode.USAGE, True)
    (templates / "note.txt").write_text("Just a note.\n", encoding="utf-8")
    run = await run_main(
        capsys,
        "send",
        *flags,
        "--to",
        "a@example.com",
        "--template",
        "note",
        "--subject",
        "Note",
        "--dry-run",
        env=env,
    )
    assert run.code == ExitCode.OK, run.err
    assert run.out == "dry run: the message is valid; nothing was sent\n"
    run = await run_main(
        capsys,
        "send",
        *flags,
        "--to",
        "a@example.com",
        "--template",
        "note",
        "--subject",
        "N",
        env=env,
    )
    assert run.code == ExitCode.OK, run.err
    [received] = gmail.messages
    assert received.parsed()["Subject"] == "N"
    assert gmail.sessions and len(gmail.sessions) == 1
