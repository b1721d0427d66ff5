"""A real send through the library to the local Gmail: both ports, both kinds of credentials,
and (the tests taking `mail`) both transports, SMTP and the Gmail API."""

from __future__ import annotations

import email.message
from collections.abc import Callable
from email.mime.text import MIMEText
from typing import Any

import pytest

from gmail_send import AppPassword, OAuth2Token, SendResult, send
from gmail_send.testing import LocalGmail

from .local_helpers import ACCESS_TOKEN, ACCOUNT, ALIAS
from .transports import Mail


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


async def test_sender_keeps_one_connection_for_many_messages(mail: Mail) -> None:
    async with mail.sender(OAuth2Token(ACCOUNT, ACCESS_TOKEN)) as sender:
        results = [
            await sender.send(to="you@example.com", subject=f"n={n}", text="x") for n in range(3)
        ]
    assert len(mail.messages) == 3
    assert mail.connections == 1
    assert {r.transport for r in results} == {mail.transport}
    if mail.transport == "smtp":
        assert len(mail.gmail.auth_attempts) == 1
        assert all(r.gmail_id is None and r.reply is not None for r in results)
    else:
        assert [r.gmail_id for r in results] == [m.gmail_id for m in mail.messages]
        assert all(r.reply is None and r.auth_method == "bearer" for r in results)


async def test_bcc_in_envelope_not_in_headers(mail: Mail) -> None:
    async with mail.sender() as sender:
        result = await sender.send(
            to="To Person <to@example.com>",
            cc=["cc@example.com"],
            bcc="hidden@example.com",
            subject="bcc",
            text="x",
        )
    [received] = mail.messages
    assert received.rcpt_tos == ("to@example.com", "cc@example.com", "hidden@example.com")
    assert b"hidden@example.com" not in received.data
    assert "Bcc" not in received.parsed()
    assert result.accepted == received.rcpt_tos


async def test_japanese_round_trip(mail: Mail) -> None:
    from gmail_send import Attachment

    async with mail.sender() as sender:
        await sender.send(
            from_="山田商店 <me@gmail.com>",
            to="田中 太郎 <taro@example.jp>",
            subject="ご注文ありがとうございます【受付番号 42】",
            text="田中様\nご注文を承りました。\n",
            attachments=[Attachment(b"%PDF-1.4 test", filename="納品書.pdf")],
        )
    parsed = mail.messages[0].parsed()
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


async def test_iso_2022_jp_through_the_server(mail: Mail) -> None:
    async with mail.sender() as sender:
        await sender.send(
            to="taro@example.jp", subject="お知らせ", text="本文です。\n", encoding="iso-2022-jp"
        )
    data = mail.messages[0].data
    assert b"=?iso-2022-jp?" in data.lower()
    assert all(byte < 128 for byte in data)
    parsed = mail.messages[0].parsed()
    assert parsed["Subject"] == "お知らせ"
    assert _lf(parsed.get_content()) == "本文です。\n"


async def test_alias_kept_other_sender_rewritten(mail: Mail) -> None:
    async with mail.sender() as sender:
        await sender.send(from_=f"Shop <{ALIAS}>", to="a@example.com", subject="1", text="x")
        await sender.send(from_="ceo@elsewhere.example", to="a@example.com", subject="2", text="x")
    alias, other = mail.messages
    assert alias.mail_from == ALIAS
    assert alias.parsed()["From"].addresses[0].addr_spec == ALIAS
    assert other.mail_from == ACCOUNT  # Gmail rewrites senders it does not know
    assert other.parsed()["From"].addresses[0].addr_spec == ACCOUNT


async def test_send_message_copies_and_derives_envelope(mail: Mail) -> None:
    message = MIMEText("legacy body", "plain", "utf-8")
    message["From"] = ACCOUNT
    message["To"] = "a@example.com, b@example.com"
    message["Bcc"] = "c@example.com"
    message["Subject"] = "legacy"
    before = message.as_bytes()
    async with mail.sender() as sender:
        result = await sender.send_message(message)
        modern = email.message.EmailMessage()
        modern["Subject"] = "blind"
        modern["To"] = "a@example.com"
        modern.set_content("y")
        # An envelope that adds a recipient the headers do not name: a blind one, either way.
        await sender.send_message(
            modern, sender=ACCOUNT, recipients=["a@example.com", "z@x.example"]
        )
    assert message.as_bytes() == before
    assert result.accepted == ("a@example.com", "b@example.com", "c@example.com")
    first, second = mail.messages
    assert first.rcpt_tos == result.accepted
    assert b"c@example.com" not in first.data
    assert second.rcpt_tos == ("a@example.com", "z@x.example")
    assert b"z@x.example" not in second.data
