"""The in-memory outbox: a GmailSender pointed at it composes as usual and keeps the mail."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from gmail_send import AppPassword, GmailSender, InvalidAddressError, TemporaryError
from gmail_send.errors import SMTPReply
from gmail_send.testing import Outbox

CREDENTIALS = AppPassword("me@gmail.com", "not used by the outbox")


async def test_messages_are_composed_and_kept(tmp_path: Path) -> None:
    report = tmp_path / "report.csv"
    report.write_text("a,b\n1,2\n")
    outbox = Outbox()
    async with GmailSender(CREDENTIALS, sink=outbox) as gmail:
        result = await gmail.send(
            to="you@example.com",
            bcc="audit@example.com",
            subject="Your report / レポート",
            text="See the attachment.",
            html="<p>See the attachment.</p>",
            attachments=[report],
        )
    assert result.accepted == ("you@example.com", "audit@example.com")
    sent = outbox.assert_sent(to="you@example.com", subject="report", count=1)
    assert sent.message_id == result.message_id
    assert sent.sender == "me@gmail.com"
    assert sent.subject == "Your report / レポート"
    assert sent.text is not None and sent.text.strip() == "See the attachment."
    assert sent.html is not None and "<p>" in sent.html
    assert sent.attachments == ["report.csv"]
    assert sent.header("Bcc") is None  # never written, as with Gmail
    assert "audit@example.com" in sent.recipients
    assert outbox.last is sent
    assert len(outbox) == 1 and list(outbox) == [sent]


async def test_validation_still_applies() -> None:
    outbox = Outbox()
    async with GmailSender(CREDENTIALS, sink=outbox) as gmail:
        with pytest.raises(InvalidAddressError):
            await gmail.send(to="not an address", subject="x", text="x")
    outbox.assert_nothing_sent()


async def test_send_message_goes_to_the_outbox() -> None:
    message = EmailMessage()
    message["From"] = "me@gmail.com"
    message["To"] = "a@example.com, b@example.com"
    message["Subject"] = "ready-made"
    message.set_content("body text")
    outbox = Outbox()
    async with GmailSender(CREDENTIALS, sink=outbox) as gmail:
        await gmail.send_message(message)
    assert outbox.find(to="B@example.com", contains="body text")[0].subject == "ready-made"
    assert outbox.find(to="c@example.com") == []


async def test_fail_next_raises_the_planned_error() -> None:
    outbox = Outbox()
    reply = SMTPReply(421, "4.7.0", "Try again later")
    outbox.fail_next(TemporaryError("Gmail is busy", reply=reply))
    async with GmailSender(CREDENTIALS, sink=outbox) as gmail:
        with pytest.raises(TemporaryError):
            await gmail.send(to="you@example.com", subject="first", text="x")
        await gmail.send(to="you@example.com", subject="second", text="x")
    assert [m.subject for m in outbox] == ["second"]


def test_failed_assertions_say_what_was_sent() -> None:
    outbox = Outbox()
    with pytest.raises(AssertionError, match="sent: nothing"):
        outbox.assert_sent(to="you@example.com")
    with pytest.raises(AssertionError, match="no message was sent"):
        _ = outbox.last
    with pytest.raises(ValueError, match="assert_nothing_sent"):
        outbox.assert_sent(count=0)


async def test_count_mismatch_and_clear() -> None:
    outbox = Outbox()
    async with GmailSender(CREDENTIALS, sink=outbox) as gmail:
        for n in range(2):
            await gmail.send(to="you@example.com", subject=f"n{n}", text="x")
    with pytest.raises(AssertionError, match=r"expected 1 .* found 2.*subject 'n0'"):
        outbox.assert_sent(to="you@example.com", count=1)
    with pytest.raises(AssertionError, match="expected no message"):
        outbox.assert_nothing_sent()
    outbox.clear()
    outbox.assert_nothing_sent()


def test_outbox_needs_no_testing_extra() -> None:
    """The in-memory outbox imports without aiosmtpd; the server names the extra to install."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "sys.modules['aiosmtpd'] = None\n"
        "from gmail_send.testing import Outbox\n"
        "Outbox()\n"
        "try:\n"
        "    from gmail_send.testing import LocalGmail\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'gmail-send[testing]'" in done.stdout
