"""A real send through the library to the local Gmail: both ports, both kinds of credentials."""

from __future__ import annotations

import email.message
from collections.abc import Callable
from email.mime.text import MIMEText
from typing import Any

import pytest

from gmail_send import AppPassword, GmailSender, OAuth2Token, SendResult, send
from gmail_send.testing import LocalGmail

from .local_helpers import ACCESS_TOKEN, ACCOUNT, ALIAS, APP_PASSWORD


def _lf(text: str) -> str:
    """Text parts travel with CRLF line breaks (RFC 2045 canonical form)."""
    return text.replace("\r\n", "\n")


CREDENTIALS = {
    "xoauth2": lambda: OAuth2Token(ACCOUNT, ACCESS_TOKEN),
    "app-password": lambda: AppPassword(ACCOUNT, "abcd efgh ijkl mnop"),
}


@pytest.mark.parametrize("security", ["starttls", "tls"])
@pytest.mark.parametrize("kind", list(CREDENTIALS))
async def test_send_over_both_ports(
    start_gmail: Callable[..., Any], security: str, kind: str
) -> None:
    server: LocalGmail = await start_gmail(security=security)
    result = await send(
        CREDENTIALS[kind](),
        host=server.host,
        port=server.port,
        security=security,  # type: ignore[arg-type]
        tls_context=server.client_tls_context(),
        to="you@example.com",
        subject="Hello",
        text="Hi",
    )
    assert isinstance(result, SendResult)
    assert result.accepted == ("you@example.com",)
    assert result.refused == {}
    assert result.reply.code == 250
    assert result.auth_method == ("xoauth2" if kind == "xoauth2" else "plain")
    [received] = server.messages
    assert received.mail_from == ACCOUNT
    assert received.rcpt_tos == ("you@example.com",)
    assert received.session_user == ACCOUNT
    parsed = received.parsed()
    assert parsed["Message-ID"] == result.message_id
    assert parsed["Subject"] == "Hello"
    assert parsed.get_content().strip() == "Hi"
    assert server.sessions[0].tls


async def test_sender_keeps_one_session_for_many_messages(gmail: LocalGmail) -> None:
    async with GmailSender(
        OAuth2Token(ACCOUNT, ACCESS_TOKEN),
        host=gmail.host,
        port=gmail.port,
        tls_context=gmail.client_tls_context(),
    ) as sender:
        for n in range(3):
            await sender.send(to="you@example.com", subject=f"n={n}", text="x")
    assert len(gmail.messages) == 3
    assert len(gmail.sessions) == 1
    assert len(gmail.auth_attempts) == 1


async def test_bcc_in_envelope_not_in_headers(gmail: LocalGmail) -> None:
    result = await send(
        AppPassword(ACCOUNT, APP_PASSWORD),
        host=gmail.host,
        port=gmail.port,
        tls_context=gmail.client_tls_context(),
        to="To Person <to@example.com>",
        cc=["cc@example.com"],
        bcc="hidden@example.com",
        subject="bcc",
        text="x",
    )
    [received] = gmail.messages
    assert set(received.rcpt_tos) == {"to@example.com", "cc@example.com", "hidden@example.com"}
    assert b"hidden@example.com" not in received.data
    assert "Bcc" not in received.parsed()
    assert set(result.accepted) == set(received.rcpt_tos)


async def test_japanese_round_trip(gmail: LocalGmail) -> None:
    from gmail_send import Attachment

    await send(
        AppPassword(ACCOUNT, APP_PASSWORD),
        host=gmail.host,
        port=gmail.port,
        tls_context=gmail.client_tls_context(),
        from_="山田商店 <me@gmail.com>",
        to="田中 太郎 <taro@example.jp>",
        subject="ご注文ありがとうございます【受付番号 42】",
        text="田中様\nご注文を承りました。\n",
        attachments=[Attachment(b"%PDF-1.4 test", filename="納品書.pdf")],
    )
    parsed = gmail.messages[0].parsed()
    assert parsed["Subject"] == "ご注文ありがとうございます【受付番号 42】"
    assert parsed["From"].addresses[0].display_name == "山田商店"
    assert parsed["To"].addresses[0].display_name == "田中 太郎"
    body = parsed.get_body(("plain",))
    assert body is not None
    assert _lf(body.get_content()) == "田中様\nご注文を承りました。\n"
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_filename() == "納品書.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == b"%PDF-1.4 test"


async def test_iso_2022_jp_through_the_server(gmail: LocalGmail) -> None:
    await send(
        AppPassword(ACCOUNT, APP_PASSWORD),
        host=gmail.host,
        port=gmail.port,
        tls_context=gmail.client_tls_context(),
        to="taro@example.jp",
        subject="お知らせ",
        text="本文です。\n",
        encoding="iso-2022-jp",
    )
    data = gmail.messages[0].data
    assert b"=?iso-2022-jp?" in data.lower()
    assert all(byte < 128 for byte in data)
    parsed = gmail.messages[0].parsed()
    assert parsed["Subject"] == "お知らせ"
    assert _lf(parsed.get_content()) == "本文です。\n"


async def test_alias_kept_other_sender_rewritten(gmail: LocalGmail) -> None:
    async with GmailSender(
        AppPassword(ACCOUNT, APP_PASSWORD),
        host=gmail.host,
        port=gmail.port,
        tls_context=gmail.client_tls_context(),
    ) as sender:
        await sender.send(from_=f"Shop <{ALIAS}>", to="a@example.com", subject="1", text="x")
        await sender.send(from_="ceo@elsewhere.example", to="a@example.com", subject="2", text="x")
    alias, other = gmail.messages
    assert alias.mail_from == ALIAS
    assert alias.parsed()["From"].addresses[0].addr_spec == ALIAS
    assert other.mail_from == ACCOUNT  # Gmail rewrites senders it does not know
    assert other.parsed()["From"].addresses[0].addr_spec == ACCOUNT


async def test_send_message_copies_and_derives_envelope(gmail: LocalGmail) -> None:
    message = MIMEText("legacy body", "plain", "utf-8")
    message["From"] = ACCOUNT
    message["To"] = "a@example.com, b@example.com"
    message["Bcc"] = "c@example.com"
    message["Subject"] = "legacy"
    before = message.as_bytes()
    async with GmailSender(
        AppPassword(ACCOUNT, APP_PASSWORD),
        host=gmail.host,
        port=gmail.port,
        tls_context=gmail.client_tls_context(),
    ) as sender:
        result = await sender.send_message(message)
        modern = email.message.EmailMessage()
        modern["Subject"] = "override"
        modern.set_content("y")
        await sender.send_message(modern, sender=ACCOUNT, recipients=["z@example.com"])
    assert message.as_bytes() == before
    assert set(result.accepted) == {"a@example.com", "b@example.com", "c@example.com"}
    first, second = gmail.messages
    assert b"c@example.com" not in first.data
    assert second.rcpt_tos == ("z@example.com",)
