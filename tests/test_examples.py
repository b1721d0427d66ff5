"""Every example in examples/ runs against the local Gmail, so none of them rots."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from fastapi.testclient import TestClient

from gmail_send.contrib.fastapi import get_gmail
from gmail_send.testing import LocalGmailThread, Outbox, TestCertificates

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

RUN_HERE = {
    "send_script.py",
    "send_with_gmail.py",
    "bulk_send.py",
    "mail_merge.py",
    "django_settings.py",
    "fastapi_app.py",
    "fastapi_queue.py",
}
RUN_ELSEWHERE = {"test_app_emails.py": "tests/test_pytest_plugin.py runs it with pytest"}
NOT_RUN: dict[str, str] = {}


@pytest.fixture
def local(certificates: TestCertificates) -> Iterator[LocalGmailThread]:
    with LocalGmailThread(certificates=certificates) as server:
        yield server


def run_example(local: LocalGmailThread, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GMAIL_SEND_")}
    environ.update(local.environ(), PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_example_is_accounted_for() -> None:
    present = {path.name for path in EXAMPLES.glob("*.py")}
    assert present == RUN_HERE | set(RUN_ELSEWHERE) | set(NOT_RUN)


def test_send_script(local: LocalGmailThread, tmp_path: Path) -> None:
    attachment = tmp_path / "notes.txt"
    attachment.write_text("notes\n")
    run = run_example(
        local,
        "send_script.py",
        "you@example.com",
        "--subject",
        "script",
        "--attach",
        str(attachment),
    )
    assert run.returncode == 0, run.stderr
    assert "sent <" in run.stdout
    [received] = local.messages
    parsed = received.parsed()
    assert parsed["Subject"] == "script"
    assert [part.get_filename() for part in parsed.iter_attachments()] == ["notes.txt"]


def test_send_with_gmail(local: LocalGmailThread) -> None:
    run = run_example(local, "send_with_gmail.py", "you@example.com")
    assert run.returncode == 0, run.stderr
    assert "sent <" in run.stdout
    [received] = local.messages
    assert received.rcpt_tos == ("you@example.com",)
    assert received.parsed()["Subject"] == "gmail_send: test message / テスト"


def test_send_script_reports_a_failure(local: LocalGmailThread) -> None:
    run = run_example(local, "send_script.py", "not an address")
    assert run.returncode == 1
    assert run.stderr.startswith("not sent: ")
    assert local.messages == []


def test_bulk_send_with_one_click_unsubscribe(local: LocalGmailThread, tmp_path: Path) -> None:
    subscribers = tmp_path / "subscribers.csv"
    subscribers.write_text(
        "email,name\nada@example.com,Ada\nbad address,Nobody\nhanako@example.jp,花子\n",
        encoding="utf-8",
    )
    run = run_example(
        local, "bulk_send.py", str(subscribers), "--unsubscribe-base", "https://example.com/u"
    )
    assert run.returncode == 1  # one address was refused, the others were sent
    assert "[1/3] sent to ada@example.com" in run.stdout
    assert "[2/3] FAILED bad address" in run.stderr
    assert "[3/3] sent to hanako@example.jp" in run.stdout
    assert "done: 2 sent, 1 failed" in run.stdout
    assert [m.rcpt_tos for m in local.messages] == [("ada@example.com",), ("hanako@example.jp",)]
    assert len(local.server.sessions) == 1
    for received, name in zip(local.messages, ["Ada", "花子"], strict=True):
        parsed = received.parsed()
        assert parsed["Subject"] == f"News for {name}"
        unsubscribe = str(parsed["List-Unsubscribe"])
        assert unsubscribe.startswith("<https://example.com/u?email=")
        assert "&token=" in unsubscribe and "<mailto:unsubscribe@example.com" in unsubscribe
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_mail_merge_resumes_with_the_rest(local: LocalGmailThread, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("email,name,plan\nada@example.com,Ada,Pro\n", encoding="utf-8")
    journal = tmp_path / "people.journal"
    run = run_example(local, "mail_merge.py", str(people), "--journal", str(journal))
    assert run.returncode == 0, run.stderr
    assert "row 1 ada@example.com: sent <" in run.stdout
    people.write_text(
        "email,name,plan\nada@example.com,Ada,Pro\nbob@example.com,Bob & Co,Free\n",
        encoding="utf-8",
    )
    run = run_example(local, "mail_merge.py", str(people), "--journal", str(journal))
    assert run.returncode == 0, run.stderr
    assert "row 1 ada@example.com: already_sent <" in run.stdout
    assert "done: 2 of 2 welcomed (Example Shop)" in run.stdout
    assert [m.rcpt_tos for m in local.messages] == [("ada@example.com",), ("bob@example.com",)]
    bob = local.messages[1].parsed()
    assert bob["Subject"] == "Welcome to Example Shop, Bob & Co"
    html = bob.get_body(preferencelist=("html",))
    text = bob.get_body(preferencelist=("plain",))
    assert html is not None and "Welcome, Bob &amp; Co!" in html.get_content()
    assert text is not None and "Welcome, Bob & Co!" in text.get_content()


def test_django_settings_snippet(local: LocalGmailThread) -> None:
    run = run_example(local, "django_settings.py", "you@example.com")
    assert run.returncode == 0, run.stderr
    assert "Django sent 1 message(s)" in run.stdout
    [received] = local.messages
    assert received.rcpt_tos == ("you@example.com",)
    assert received.parsed()["Subject"] == "Test from Django"


def load_fastapi_example(name: str = "fastapi_app.py") -> ModuleType:
    path = EXAMPLES / name
    spec = importlib.util.spec_from_file_location(f"{path.stem}_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_fastapi_app(local: LocalGmailThread, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in local.environ().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CONTACT_INBOX", "support@example.com")
    example = load_fastapi_example()
    app = example.app
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),  # what the server does at start: one GmailSender
        httpx.AsyncClient(transport=transport, base_url="http://app") as client,
    ):
        answer = await client.post(
            "/contact", json={"email": "visitor@example.org", "message": "Hi!"}
        )
        assert answer.status_code == 200, answer.text
        message_id = answer.json()["message_id"]
        answer = await client.post("/contact", json={"email": "not an address", "message": "x"})
        assert answer.status_code == 422
        # The transport returns once the app is done, background task included.
        answer = await client.post("/signup", json={"email": "ada@example.com", "name": "Ada"})
        assert answer.status_code == 202
    contact, welcome = local.messages
    assert contact.rcpt_tos == ("support@example.com",)
    assert contact.parsed()["Reply-To"] == "visitor@example.org"
    assert contact.parsed()["Message-ID"] == message_id
    assert welcome.rcpt_tos == ("ada@example.com",)
    assert welcome.parsed()["Subject"] == "Welcome, Ada"
    assert len(local.server.sessions) == 1  # the lifespan's sender served both


async def test_fastapi_queue(
    local: LocalGmailThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in local.environ().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MAIL_QUEUE", f"sqlite:///{tmp_path / 'mail.db'}")
    app = load_fastapi_example("fastapi_queue.py").app
    transport = httpx.ASGITransport(app=app)
    order = {"number": "1041", "email": "ada@example.com", "total": "12.00 EUR"}
    async with (
        app.router.lifespan_context(app),  # the queue, the sender and the worker
        httpx.AsyncClient(transport=transport, base_url="http://app") as client,
    ):
        answer = await client.post("/orders", json=order)
        assert answer.status_code == 202, answer.text
        mail_id = answer.json()["mail_id"]
        retried = await client.post("/orders", json=order)  # a client retrying the request
        assert retried.json()["mail_id"] == mail_id
        bad = await client.post("/orders", json={**order, "number": "1042", "email": "nope"})
        assert bad.status_code == 422
        for _ in range(300):
            status = (await client.get(f"/mails/{mail_id}")).json()
            if status["status"] == "sent":
                break
            await asyncio.sleep(0.1)
        assert status["status"] == "sent", status
        assert (await client.get("/mails/nothing")).status_code == 404
    [receipt] = local.messages
    assert receipt.rcpt_tos == ("ada@example.com",)
    assert receipt.parsed()["Subject"] == "Receipt for order 1041"
    assert receipt.parsed()["Message-ID"] == status["message_id"]


def test_fastapi_app_in_a_test_client_with_the_outbox(
    gmail_outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [k for k in os.environ if k.startswith("GMAIL_SEND_")]:
        monkeypatch.delenv(name)  # no credentials anywhere: the override needs none
    app = load_fastapi_example().app
    app.dependency_overrides[get_gmail] = gmail_outbox.gmail_sender
    with TestClient(app) as client:  # runs the lifespan, which leaves the sender to the override
        answer = client.post("/contact", json={"email": "visitor@example.org", "message": "Hi!"})
        assert answer.status_code == 200, answer.text
        assert client.post("/signup", json={"email": "ada@example.com", "name": "Ada"}).is_success
    sent = gmail_outbox.assert_sent(to="support@example.com", subject="Contact form")
    assert sent.message_id == answer.json()["message_id"]
    gmail_outbox.assert_sent(to="ada@example.com", subject="Welcome, Ada")
