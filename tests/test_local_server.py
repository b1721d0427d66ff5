"""The local Gmail-like server itself: greeting, EHLO, TLS, the transaction, records, shutdown.

Driven with raw aiosmtplib and smtplib clients over real TLS (trustme CA, verification on).
Logins and faults have their own files (test_local_server_auth, test_local_server_faults).
"""

from __future__ import annotations

import asyncio
import base64
import re
import smtplib
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import BinaryIO

import aiosmtplib
import pytest

from gmail_send.testing import LocalAccount, LocalGmail, ReceivedMessage, TestCertificates

APP_PASSWORD = "abcd efgh ijkl mnop"
ME = LocalAccount(
    "me@gmail.com",
    app_password=APP_PASSWORD.replace(" ", ""),
    password="normal-pass",
    aliases=("alias@example.com",),
)


@pytest.fixture
async def gmail(certificates: TestCertificates) -> AsyncIterator[LocalGmail]:
    async with LocalGmail(accounts=[ME], certificates=certificates) as server:
        yield server


def client(server: LocalGmail, **options: object) -> aiosmtplib.SMTP:
    """An aiosmtplib client for `server`, TLS as the server's mode wants, verification on."""
    options.setdefault("start_tls", server.security == "starttls")
    options.setdefault("use_tls", server.security == "tls")
    return aiosmtplib.SMTP(
        hostname=server.host,
        port=server.port,
        tls_context=server.client_tls_context(),
        timeout=10,
        **options,  # type: ignore[arg-type]
    )


def message(sender: str = "me@gmail.com", to: str = "you@example.com") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Me Myself <{sender}>"
    msg["To"] = to
    msg["Subject"] = "Hello"
    msg.set_content("Hi there.\n.a line starting with a dot\n")
    return msg


EHLO_BEFORE_TLS = [
    "250-smtp.gmail.com at your service, [127.0.0.1]",
    "250-SIZE 35882577",
    "250-8BITMIME",
    "250-STARTTLS",
    "250-ENHANCEDSTATUSCODES",
    "250-CHUNKING",
    "250 SMTPUTF8",
]
EHLO_AFTER_TLS = [
    "250-smtp.gmail.com at your service, [127.0.0.1]",
    "250-SIZE 35882577",
    "250-8BITMIME",
    "250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH",
    "250-ENHANCEDSTATUSCODES",
    "250-CHUNKING",
    "250 SMTPUTF8",
]


def _wire_session(host: str, port: int, context: ssl.SSLContext) -> list[list[str]]:
    """Greeting, EHLO, STARTTLS, EHLO, QUIT on a blocking socket: every reply's raw lines."""

    def reply(stream: BinaryIO) -> list[str]:
        lines = []
        while True:
            line = stream.readline().decode()
            lines.append(line.rstrip("\r\n"))
            if line[3:4] != "-":
                return lines

    replies = []
    with socket.create_connection((host, port), timeout=10) as raw:
        stream = raw.makefile("rb")
        replies.append(reply(stream))
        for command in (b"EHLO client.example", b"STARTTLS"):
            raw.sendall(command + b"\r\n")
            replies.append(reply(stream))
        with context.wrap_socket(raw, server_hostname=host) as tls:
            secure = tls.makefile("rb")
            for command in (b"EHLO client.example", b"QUIT"):
                tls.sendall(command + b"\r\n")
                replies.append(reply(secure))
    return replies


async def test_greeting_and_ehlo_lines_on_the_wire(gmail: LocalGmail) -> None:
    replies = await asyncio.to_thread(
        _wire_session, gmail.host, gmail.port, gmail.client_tls_context()
    )
    [greeting], ehlo, starttls, ehlo_tls, [bye] = replies
    assert re.fullmatch(r"220 smtp\.gmail\.com ESMTP [0-9a-f]{16} - gsmtp", greeting)
    assert ehlo == EHLO_BEFORE_TLS
    assert starttls == ["220 2.0.0 Ready to start TLS"]
    assert ehlo_tls == EHLO_AFTER_TLS
    assert re.fullmatch(r"221 2\.0\.0 closing connection [0-9a-f]{16} - gsmtp", bye)


async def test_ehlo_through_aiosmtplib_before_and_after_starttls(gmail: LocalGmail) -> None:
    smtp = client(gmail, start_tls=False)
    await smtp.connect()
    try:
        before = await smtp.ehlo(hostname="client.example")
        assert before.message.split("\n")[1:] == [line[4:] for line in EHLO_BEFORE_TLS[1:]]
        assert smtp.supports_extension("starttls")
        assert not smtp.supports_extension("auth")
        await smtp.starttls()
        after = await smtp.ehlo(hostname="client.example")
        assert "STARTTLS" not in after.message
        assert sorted(smtp.server_auth_methods) == sorted(
            ["login", "plain", "xoauth2", "plain-clienttoken", "oauthbearer", "xoauth"]
        )
        assert smtp.supports_extension("chunking")
    finally:
        await smtp.quit()


async def test_pipelining_is_advertised_only_on_request(certificates: TestCertificates) -> None:
    async with LocalGmail(accounts=[ME], certificates=certificates, pipelining=True) as server:
        smtp = client(server)
        await smtp.connect()
        await smtp.ehlo()
        assert smtp.supports_extension("pipelining")
        await smtp.quit()


def _pipelined_session(host: str, port: int, context: ssl.SSLContext) -> list[str]:
    """Log in, then write MAIL, RCPT, RCPT, DATA in one go and read the four replies."""
    with socket.create_connection((host, port), timeout=10) as raw:
        stream = raw.makefile("rb")

        def last_line() -> str:
            while True:
                line = stream.readline().decode()
                if line[3:4] != "-":
                    return line.rstrip("\r\n")

        last_line()
        raw.sendall(b"EHLO client.example\r\nSTARTTLS\r\n")
        last_line()
        last_line()
        with context.wrap_socket(raw, server_hostname=host) as tls:
            stream = tls.makefile("rb")
            login = base64.b64encode(f"\0me@gmail.com\0{APP_PASSWORD}".encode())
            tls.sendall(b"EHLO client.example\r\nAUTH PLAIN " + login + b"\r\n")
            last_line()
            assert last_line().startswith("235 ")
            tls.sendall(
                b"MAIL FROM:<me@gmail.com>\r\nRCPT TO:<a@example.com>\r\n"
                b"RCPT TO:<b@example.com>\r\nDATA\r\n"
            )
            replies = [last_line() for _ in range(4)]
            tls.sendall(b"Subject: pipelined\r\n\r\nhi\r\n.\r\nQUIT\r\n")
            replies += [last_line(), last_line()]
    return replies


async def test_pipelined_commands_are_answered_in_order(certificates: TestCertificates) -> None:
    async with LocalGmail(accounts=[ME], certificates=certificates, pipelining=True) as server:
        replies = await asyncio.to_thread(
            _pipelined_session, server.host, server.port, server.client_tls_context()
        )
        assert [reply[:9] for reply in replies] == [
            "250 2.1.0",
            "250 2.1.5",
            "250 2.1.5",
            "354 Go ah",
            "250 2.0.0",
            "221 2.0.0",
        ]
        assert server.messages[0].rcpt_tos == ("a@example.com", "b@example.com")


async def test_a_message_is_stored_as_received(gmail: LocalGmail) -> None:
    smtp = client(gmail)
    await smtp.connect()
    await smtp.login("me@gmail.com", APP_PASSWORD)
    refused, reply = await smtp.send_message(
        message(), recipients=["you@example.com", "bcc@example.com"]
    )
    await smtp.quit()
    assert refused == {}
    assert re.fullmatch(r"2\.0\.0 OK \d+ [0-9a-f]{16}\.\d+ - gsmtp", reply)
    [received] = gmail.messages
    assert received.mail_from == "me@gmail.com"
    assert received.rcpt_tos == ("you@example.com", "bcc@example.com")
    assert received.session_user == "me@gmail.com"
    assert not received.sender_rewritten
    assert received.original_from_header is None
    assert any(option.startswith("SIZE=") for option in received.mail_options)
    assert b".a line starting with a dot\r\n" in received.data  # dot-unstuffed
    parsed = received.parsed()
    assert parsed["Subject"] == "Hello"
    assert parsed.get_content() == "Hi there.\n.a line starting with a dot\n"
    assert "data" not in repr(received)


async def test_transaction_replies_use_gmail_wording(gmail: LocalGmail) -> None:
    smtp = client(gmail)
    await smtp.connect()
    await smtp.login("me@gmail.com", APP_PASSWORD)
    mail = await smtp.mail("me@gmail.com")
    rcpt = await smtp.rcpt("you@example.com")
    data = await smtp.execute_command(b"DATA")
    assert mail.code == 250 and mail.message.startswith("2.1.0 OK ")
    assert rcpt.code == 250 and rcpt.message.startswith("2.1.5 OK ")
    assert data.code == 354 and data.message.startswith("Go ahead ")
    assert all(r.message.endswith(" - gsmtp") for r in (mail, rcpt, data))
    smtp.close()


async def test_sender_is_rewritten_to_the_account_keeping_the_display_name(
    gmail: LocalGmail,
) -> None:
    smtp = client(gmail)
    await smtp.connect()
    await smtp.login("me@gmail.com", APP_PASSWORD)
    msg = message(sender="someone@example.org")
    await smtp.send_message(msg, sender="someone@example.org")
    await smtp.quit()
    [received] = gmail.messages
    assert received.mail_from == "me@gmail.com"
    assert received.original_mail_from == "someone@example.org"
    assert received.original_from_header == "Me Myself <someone@example.org>"
    assert received.sender_rewritten
    assert received.parsed()["From"] == "Me Myself <me@gmail.com>"
    assert b"someone@example.org" not in received.data


async def test_a_verified_alias_is_kept(gmail: LocalGmail) -> None:
    smtp = client(gmail)
    await smtp.connect()
    await smtp.login("me@gmail.com", APP_PASSWORD)
    await smtp.send_message(message(sender="Alias@Example.com"), sender="Alias@Example.com")
    await smtp.quit()
    [received] = gmail.messages
    assert received.mail_from == "Alias@Example.com"
    assert not received.sender_rewritten
    assert received.parsed()["From"] == "Me Myself <Alias@Example.com>"


async def test_size_limit_refuses_declared_and_actual_size(certificates: TestCertificates) -> None:
    async with LocalGmail(accounts=[ME], certificates=certificates, size_limit=2_000) as server:
        smtp = client(server)
        await smtp.connect()
        assert "SIZE 2000" in (await smtp.ehlo()).message
        await smtp.login("me@gmail.com", APP_PASSWORD)
        declared = await smtp.execute_command(b"MAIL", b"FROM:<me@gmail.com>", b"SIZE=2001")
        assert (declared.code, declared.message) == (
            552,
            "5.3.4 Your message exceeded Google's message size limits. - gsmtp",
        )
        big = message()
        big.set_content(("y" * 70 + "\n") * 40)
        await smtp.execute_command(b"RSET")
        await smtp.execute_command(b"MAIL", b"FROM:<me@gmail.com>")  # no SIZE= declared
        await smtp.rcpt("you@example.com")
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await smtp.data(big.as_bytes())
        assert refused.value.code == 552
        assert refused.value.message.startswith("5.3.4 ")
        await smtp.quit()
        assert server.messages == []


async def test_smtputf8_and_8bitmime_messages_are_accepted(gmail: LocalGmail) -> None:
    smtp = client(gmail)
    await smtp.connect()
    await smtp.login("me@gmail.com", APP_PASSWORD)
    msg = message(to="José <josé@example.com>")
    msg.set_content("Grüße, ご注文ありがとうございます\n", cte="8bit")
    await smtp.send_message(msg)
    await smtp.quit()
    [received] = gmail.messages
    assert received.rcpt_tos == ("josé@example.com",)
    assert received.smtputf8
    assert "SMTPUTF8" in received.mail_options
    assert received.parsed().get_content() == "Grüße, ご注文ありがとうございます\n"


async def test_the_101st_recipient_is_refused(gmail: LocalGmail) -> None:
    smtp = client(gmail)
    await smtp.connect()
    await smtp.login("me@gmail.com", APP_PASSWORD)
    await smtp.mail("me@gmail.com")
    for index in range(100):
        await smtp.rcpt(f"r{index}@example.com")
    with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
        await smtp.rcpt("r100@example.com")
    assert refused.value.code == 452
    assert refused.value.message.startswith("4.5.3 ")
    await smtp.quit()


async def test_implicit_tls_mode(certificates: TestCertificates) -> None:
    async with LocalGmail(security="tls", accounts=[ME], certificates=certificates) as server:
        smtp = client(server)
        greeting = await smtp.connect()
        assert greeting.code == 220
        await smtp.ehlo()
        assert smtp.supports_extension("auth")
        assert not smtp.supports_extension("starttls")
        await smtp.login("me@gmail.com", APP_PASSWORD)
        await smtp.send_message(message())
        await smtp.quit()
        assert len(server.messages) == 1
        assert server.sessions[0].tls


async def test_implicit_tls_refuses_a_client_that_does_not_trust_the_ca(
    certificates: TestCertificates,
) -> None:
    other_ca = TestCertificates().client_context()
    async with LocalGmail(security="tls", accounts=[ME], certificates=certificates) as server:
        smtp = aiosmtplib.SMTP(
            hostname=server.host, port=server.port, use_tls=True, tls_context=other_ca, timeout=10
        )
        with pytest.raises(aiosmtplib.SMTPConnectError) as failed:
            await smtp.connect()
        assert isinstance(failed.value.__cause__, ssl.SSLCertVerificationError)


async def test_client_context_verifies_and_checks_hostnames(certificates: TestCertificates) -> None:
    context = certificates.client_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert certificates.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")


async def test_smtplib_in_a_thread_over_starttls_and_implicit_tls(
    gmail: LocalGmail, certificates: TestCertificates, tmp_path: Path
) -> None:
    ca_file = certificates.ca_pem_path(tmp_path)

    def send_with_smtplib(port: int, implicit: bool) -> None:
        context = ssl.create_default_context(cafile=str(ca_file))
        if implicit:
            with smtplib.SMTP_SSL("127.0.0.1", port, context=context, timeout=10) as smtp:
                smtp.login("me@gmail.com", APP_PASSWORD)
                smtp.send_message(message())
        else:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
                smtp.starttls(context=context)
                smtp.login("me@gmail.com", APP_PASSWORD)
                smtp.send_message(message())

    await asyncio.to_thread(send_with_smtplib, gmail.port, False)
    async with LocalGmail(security="tls", accounts=[ME], certificates=certificates) as implicit:
        await asyncio.to_thread(send_with_smtplib, implicit.port, True)
        assert len(implicit.messages) == 1
    assert len(gmail.messages) == 1


async def test_only_loopback_addresses_are_allowed() -> None:
    with pytest.raises(ValueError, match="loopback"):
        LocalGmail(host="0.0.0.0")  # noqa: S104
    with pytest.raises(ValueError, match="security"):
        LocalGmail(security="ssl")  # type: ignore[arg-type]


async def test_plaintext_mode_offers_neither_starttls_nor_auth(
    certificates: TestCertificates,
) -> None:
    async with LocalGmail(security="none", accounts=[ME], certificates=certificates) as server:
        smtp = client(server)
        await smtp.connect()
        await smtp.ehlo()
        assert not smtp.supports_extension("starttls")
        assert not smtp.supports_extension("auth")
        with pytest.raises(aiosmtplib.SMTPException):
            await smtp.starttls()
        await smtp.quit()


async def test_relay_by_ip_accepts_mail_without_auth(certificates: TestCertificates) -> None:
    async with LocalGmail(
        security="none", certificates=certificates, allow_relay_by_ip=True
    ) as server:
        smtp = client(server)
        await smtp.connect()
        await smtp.send_message(message(sender="app@corp.example"))
        await smtp.quit()
        [received] = server.messages
        assert received.session_user is None
        assert received.mail_from == "app@corp.example"


def test_received_message_parses_with_the_modern_policy() -> None:
    received = ReceivedMessage(
        mail_from="a@example.com",
        rcpt_tos=("b@example.com",),
        data=b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\nbody\r\n",
        session_user=None,
        mail_options=(),
    )
    assert received.parsed()["Subject"] == "Grüße"


def test_runnable_module_starts_and_stops(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gmail_send.testing", "--seconds", "0.5"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=tmp_path,
    )
    assert re.search(r"listening on 127\.0\.0\.1:\d+", done.stdout)
    assert re.search(r"IMAP \(implicit TLS, Sent Mail copies\) on 127\.0\.0\.1:\d+", done.stdout)
    assert re.search(r"inbox in the browser: http://127\.0\.0\.1:\d+/", done.stdout)
    assert "CA certificate to trust:" in done.stdout
    assert "export GMAIL_SEND_CA_FILE=" in done.stdout
