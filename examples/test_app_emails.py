"""Testing an application that sends mail, with gmail_send's pytest fixtures.

Install `gmail-send[testing]`; the plugin is registered automatically, so the fixtures
`gmail_outbox` (an in-memory outbox) and `local_gmail` (a Gmail-like SMTP server with real TLS
on 127.0.0.1) are there in every test. Async tests need pytest-asyncio (here asyncio_mode=auto).
Run with `pytest examples/test_app_emails.py`.
"""

from __future__ import annotations

import pytest

from gmail_send import AppPassword, GmailSender, from_env
from gmail_send.sync import send_sync
from gmail_send.testing import LocalGmailThread, Outbox

# --- the application under test ---------------------------------------------------------------


async def send_welcome(gmail: GmailSender, address: str, name: str) -> None:
    """What the application does when someone signs up."""
    await gmail.send(
        to=address,
        subject=f"Welcome, {name}",
        text=f"Hello {name},\n\nthanks for signing up.\n",
    )


# --- its tests ------------------------------------------------------------------------------


async def test_welcome_mail_goes_to_the_outbox(gmail_outbox: Outbox) -> None:
    # The sink replaces the network; the message is composed and validated as for Gmail.
    async with GmailSender(AppPassword("app@gmail.com", "unused"), sink=gmail_outbox) as gmail:
        await send_welcome(gmail, "ada@example.com", "Ada")
    sent = gmail_outbox.assert_sent(to="ada@example.com", subject="Welcome, Ada")
    assert sent.text is not None and "thanks for signing up" in sent.text


async def test_welcome_mail_over_smtp(local_gmail: LocalGmailThread) -> None:
    # The whole path: TLS, sign-in, SMTP, against the local server.
    async with GmailSender(**local_gmail.settings()) as gmail:
        await send_welcome(gmail, "ada@example.com", "Ada")
    [received] = local_gmail.messages
    assert received.rcpt_tos == ("ada@example.com",)
    assert received.parsed()["Subject"] == "Welcome, Ada"


def test_sync_code_configured_from_the_environment(
    local_gmail: LocalGmailThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The application reads GMAIL_SEND_* variables; point them at the local server.
    for name, value in local_gmail.environ().items():
        monkeypatch.setenv(name, value)
    send_sync(**from_env(), to="ops@example.com", subject="nightly report", text="all fine")
    assert local_gmail.messages[0].parsed()["Subject"] == "nightly report"
