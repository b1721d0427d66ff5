"""Dev-mode sending: GMAIL_SEND_SINK=memory keeps and logs, GMAIL_SEND_SINK=local sends only to a
local Gmail; through from_env, the gmail-send command and the Django backend."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gmail_send import (
    ConfigurationError,
    GmailSender,
    InvalidAddressError,
    MemorySink,
    SendingLimits,
    from_env,
)
from gmail_send.testing import LocalGmailThread, Outbox, TestCertificates

ROOT = Path(__file__).resolve().parent.parent
DEV_SENDER = "dev@gmail-send.invalid"


@pytest.fixture
def local(certificates: TestCertificates) -> Iterator[LocalGmailThread]:
    with LocalGmailThread(certificates=certificates, web=True) as server:
        yield server


async def test_memory_needs_no_credentials_and_logs_each_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = from_env({"GMAIL_SEND_SINK": "memory"})
    assert settings.credentials is None
    assert isinstance(settings.sink, MemorySink)
    assert settings.account == DEV_SENDER
    assert ("sink", "GMAIL_SEND_SINK=memory") in settings.describe()
    with caplog.at_level(logging.INFO, logger="gmail_send.sink"):
        async with GmailSender(**settings) as gmail:
            result = await gmail.send(
                to="ada@example.com", cc="bob@example.com", subject="Welcome", text="Hi"
            )
    [kept] = settings.sink.outgoing
    assert kept.message_id == result.message_id
    assert kept.message["From"] == DEV_SENDER
    assert result.accepted == ("ada@example.com", "bob@example.com")
    [record] = [r for r in caplog.records if r.name == "gmail_send.sink"]
    assert record.levelno == logging.INFO
    assert record.getMessage() == (
        "message kept in memory, not sent: subject 'Welcome' to ada@example.com, bob@example.com"
    )


async def test_memory_uses_the_configured_user_and_still_checks_messages() -> None:
    settings = from_env({"GMAIL_SEND_SINK": "memory", "GMAIL_SEND_USER": "me@gmail.com"})
    async with GmailSender(**settings) as gmail:
        await gmail.send(to="ada@example.com", subject="s", text="t")
        with pytest.raises(InvalidAddressError):
            await gmail.send(to="not an address", subject="s", text="t")
    assert isinstance(settings.sink, MemorySink)
    [kept] = settings.sink.outgoing
    assert kept.message["From"] == "me@gmail.com"


def test_the_sink_setting_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="GMAIL_SEND_SINK must be memory or local"):
        from_env({"GMAIL_SEND_SINK": "console"})
    with pytest.raises(ConfigurationError, match="keep one"):
        from_env({"GMAIL_SEND_SINK": "memory"}, sink=Outbox())
    settings = from_env({}, sink="memory")
    assert isinstance(settings.sink, MemorySink)


def test_local_refuses_any_host_but_this_machine(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        from_env(
            {
                "GMAIL_SEND_SINK": "local",
                "GMAIL_SEND_USER": "me@gmail.com",
                "GMAIL_SEND_APP_PASSWORD": "abcdefghijklmnop",
            }
        )
    text = str(caught.value)
    assert "GMAIL_SEND_HOST is smtp.gmail.com" in text
    assert "needs GMAIL_SEND_PORT" in text
    assert "needs GMAIL_SEND_CA_FILE" in text
    assert "abcdefghijklmnop" not in text


async def test_local_sends_to_the_local_gmail_without_a_daily_limit(
    local: LocalGmailThread,
) -> None:
    settings = from_env({**local.environ(), "GMAIL_SEND_SINK": "local"})
    assert settings.sink is None
    assert settings.limits == SendingLimits(daily_limit=None)
    async with GmailSender(**settings) as gmail:
        await gmail.send(to="ada@example.com", subject="to the local inbox", text="x")
    [received] = local.messages
    assert received.parsed()["Subject"] == "to the local inbox"


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GMAIL_SEND_")}
    environ.update(env, PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "gmail_send", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_honours_the_sink(local: LocalGmailThread) -> None:
    message = ("send", "--to", "ada@example.com", "--subject", "Hi", "--text", "Hello")
    kept = run_cli(*message, env={"GMAIL_SEND_SINK": "memory"})
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout.strip().endswith("@gmail-send.invalid>")
    assert "message kept in memory, not sent: subject 'Hi' to ada@example.com" in kept.stderr

    flag = run_cli(*message, "--sink", "memory", env={})
    assert flag.returncode == 0, flag.stderr

    sent = run_cli(*message, env={**local.environ(), "GMAIL_SEND_SINK": "local"})
    assert sent.returncode == 0, sent.stderr
    [received] = local.messages
    assert received.parsed()["Subject"] == "Hi"
