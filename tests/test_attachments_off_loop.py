"""Composing attachments never stalls the event loop; archive inspection has a budget."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from email.message import EmailMessage

import pytest

from gmail_send import Attachment, MessageError
from gmail_send.message import compose_message
from gmail_send.message._attachments import ZIP_MAX_INFLATED
from gmail_send.testing import LocalGmail

from .local_helpers import ACCOUNT, sender_for
from .transports import Mail


class _RecordingFile(io.BytesIO):
    """A binary file that notes the thread reading it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.readers: list[threading.Thread] = []

    def read(self, size: int | None = -1) -> bytes:
        self.readers.append(threading.current_thread())
        return super().read(size)


async def test_attachments_are_composed_off_the_event_loop(mail: Mail) -> None:
    data = _RecordingFile(b"%PDF-1.4 report")
    async with mail.sender() as sender:
        await sender.send(to="you@example.com", attachments=[Attachment(data, "report.pdf")])
    assert data.readers
    assert threading.main_thread() not in data.readers
    [received] = mail.messages
    [attachment] = list(received.parsed().iter_attachments())
    assert attachment.get_content() == b"%PDF-1.4 report"


async def test_a_ready_message_with_attachments_is_prepared_off_the_event_loop(
    gmail: LocalGmail,
) -> None:
    seen: list[threading.Thread] = []

    class Watched(EmailMessage):
        def walk(self):  # type: ignore[no-untyped-def]
            seen.append(threading.current_thread())
            return super().walk()

    message = Watched()
    message["From"], message["To"], message["Subject"] = ACCOUNT, "you@example.com", "report"
    message.set_content("see the attachment")
    message.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="r.pdf")
    async with sender_for(gmail) as sender:
        await sender.send_message(message)
    assert seen
    assert threading.main_thread() not in seen


def _nested_bomb(members: int, size: int) -> bytes:
    """Members named .zip that are zero-filled and inflate from a few KiB each to `size`."""
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_DEFLATED) as archive:
        for n in range(members):
            archive.writestr(f"part{n}.zip", b"\0" * size)
    return outer.getvalue()


def test_a_zip_bomb_is_refused_within_the_budget() -> None:
    bomb = _nested_bomb(100, 4 * 1024 * 1024)  # 400 KiB; inflates to 400 MiB
    started = time.monotonic()
    with pytest.raises(MessageError, match="cannot be inspected") as caught:
        compose_message(
            account=ACCOUNT, to="you@example.com", attachments=[Attachment(bomb, "bomb.zip")]
        )
    assert f"{ZIP_MAX_INFLATED:,} bytes" in str(caught.value)
    assert caught.value.hint
    assert time.monotonic() - started < 30  # generous: the budget, not the bomb, bounds it


def test_an_ordinary_nested_archive_is_still_inspected() -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("setup.exe", b"MZ")
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as archive:
        archive.writestr("tools.zip", inner.getvalue())
        archive.writestr("readme.txt", b"hello")
    with pytest.raises(MessageError, match=r"setup\.exe"):
        compose_message(
            account=ACCOUNT,
            to="you@example.com",
            attachments=[Attachment(outer.getvalue(), "tools.zip")],
        )
