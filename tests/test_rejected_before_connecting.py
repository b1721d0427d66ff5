"""Bad input is refused with a typed error before any connection is opened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gmail_send import (
    AppPassword,
    Attachment,
    GmailSender,
    MessageError,
    MessageTooLargeError,
)
from gmail_send.errors import (
    BlockedAttachmentError,
    HeaderInjectionError,
    InvalidAddressError,
    NoRecipientsError,
    TooManyRecipientsError,
)
from gmail_send.testing import LocalGmail

from .local_helpers import ACCOUNT, APP_PASSWORD

GOOD: dict[str, Any] = {"to": "you@example.com", "subject": "s", "text": "t"}

CASES: list[tuple[str, dict[str, Any], type[MessageError]]] = [
    ("subject-crlf", {"subject": "hi\r\nBcc: victim@example.com"}, HeaderInjectionError),
    ("subject-lf", {"subject": "hi\nX-Evil: 1"}, HeaderInjectionError),
    ("subject-nul", {"subject": "hi\x00"}, HeaderInjectionError),
    ("to-crlf", {"to": "you@example.com\r\nBcc: victim@example.com"}, HeaderInjectionError),
    ("cc-lf", {"cc": "a@example.com\nBcc: v@example.com"}, HeaderInjectionError),
    ("bcc-cr", {"bcc": "a@example.com\rX: y"}, HeaderInjectionError),
    ("reply-to-lf", {"reply_to": "a@example.com\nX: y"}, HeaderInjectionError),
    (
        "from-display-name",
        {"from_": "Evil\r\nBcc: v@example.com <me@gmail.com>"},
        HeaderInjectionError,
    ),
    ("header-value", {"headers": {"X-Order": "42\r\nBcc: v@example.com"}}, HeaderInjectionError),
    ("header-name", {"headers": {"X-Order\r\nBcc": "v@example.com"}}, HeaderInjectionError),
    (
        "filename",
        {"attachments": [Attachment(b"x", filename="a.txt\r\nX: y")]},
        HeaderInjectionError,
    ),
    ("invalid-address", {"to": "not an address"}, InvalidAddressError),
    ("no-recipient", {"to": None}, NoRecipientsError),
    ("too-many", {"to": [f"r{n}@example.com" for n in range(101)]}, TooManyRecipientsError),
    (
        "blocked-exe",
        {"attachments": [Attachment(b"MZ", filename="setup.exe")]},
        BlockedAttachmentError,
    ),
    (
        "blocked-js",
        {"attachments": [Attachment(b"x", filename="invoice.JS")]},
        BlockedAttachmentError,
    ),
]


@pytest.mark.parametrize(
    ("overrides", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_refused_before_connecting(
    gmail: LocalGmail, overrides: dict[str, Any], expected: type[MessageError]
) -> None:
    async with GmailSender(
        AppPassword(ACCOUNT, APP_PASSWORD),
        host=gmail.host,
        port=gmail.port,
        tls_context=gmail.client_tls_context(),
    ) as sender:
        with pytest.raises(expected) as caught:
            await sender.send(**{**GOOD, **overrides})
    assert isinstance(caught.value, ValueError)
    assert gmail.sessions == []


async def test_blocked_inside_zip(gmail: LocalGmail, tmp_path: Path) -> None:
    import zipfile

    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("holiday.jpg", b"jpeg")
        zf.writestr("viewer.exe", b"MZ")
    async with GmailSender(
        AppPassword(ACCOUNT, APP_PASSWORD),
        host=gmail.host,
        port=gmail.port,
        tls_context=gmail.client_tls_context(),
    ) as sender:
        with pytest.raises(BlockedAttachmentError, match=r"viewer\.exe"):
            await sender.send(**GOOD, attachments=[archive])
    assert gmail.sessions == []


async def test_oversize_refused_before_connecting(gmail: LocalGmail) -> None:
    big = Attachment(b"\0" * 27_000_000, filename="big.bin")  # ~36 MB once base64-encoded
    async with GmailSender(
        AppPassword(ACCOUNT, APP_PASSWORD),
        host=gmail.host,
        port=gmail.port,
        tls_context=gmail.client_tls_context(),
    ) as sender:
        with pytest.raises(MessageTooLargeError) as caught:
            await sender.send(**GOOD, attachments=[big])
    assert caught.value.size > caught.value.limit == 35_882_577
    assert gmail.sessions == []
