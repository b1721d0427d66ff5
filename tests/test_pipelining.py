"""PIPELINING (RFC 2920): the hand-over from aiosmtplib, replies matched in order, every mode."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import aiosmtplib
import pytest
from aiosmtplib.protocol import SMTPProtocol

from gmail_send import AppPassword, PoolOptions, QuotaExceededError, RecipientsRefusedError
from gmail_send.errors import UnknownOutcomeError
from gmail_send.message import compose_message
from gmail_send.smtp._signin import ConnectionSettings, open_session
from gmail_send.smtp._stream import CommandStream, NotSent
from gmail_send.smtp._wire import SUPPORTED_AIOSMTPLIB_MAJOR, Wire, handover_problems
from gmail_send.testing import LocalGmail

from .local_helpers import ACCOUNT, APP_PASSWORD, SERVER_MODES, sender_for

RECIPIENTS = [f"r{n}@example.com" for n in range(5)]
DATE = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def settings_for(server: LocalGmail, **options: Any) -> ConnectionSettings:
    return ConnectionSettings(
        host=server.host,
        port=server.port,
        security="starttls",
        tls_context=server.client_tls_context(),
        **options,
    )


@pytest.fixture(params=list(SERVER_MODES))
async def server(request: pytest.FixtureRequest, start_gmail: Callable[..., Any]) -> LocalGmail:
    started: LocalGmail = await start_gmail(**SERVER_MODES[request.param])
    return started


async def test_aiosmtplib_still_hands_over_as_expected(start_gmail: Callable[..., Any]) -> None:
    """What the hand-over relies on; if an aiosmtplib upgrade changes it, this fails loudly."""
    assert int(aiosmtplib.__version__.split(".")[0]) == SUPPORTED_AIOSMTPLIB_MAJOR, (
        "aiosmtplib changed major version: check gmail_send.smtp._wire.take_over against it"
    )
    server: LocalGmail = await start_gmail(pipelining=True)
    smtp = aiosmtplib.SMTP(
        hostname=server.host,
        port=server.port,
        start_tls=True,
        tls_context=server.client_tls_context(),
        username=ACCOUNT,
        password=APP_PASSWORD,
    )
    await smtp.connect()
    try:
        # aiosmtplib's own protocol object is the transport's protocol (also after STARTTLS),
        # and the session is signed in and idle: the state take_over() starts from.
        assert type(smtp.protocol) is SMTPProtocol
        assert smtp.transport is not None
        assert smtp.transport.get_protocol() is smtp.protocol
        assert smtp.transport.get_extra_info("sslcontext") is not None
        assert handover_problems(smtp) == []
    finally:
        await smtp.quit()


async def test_after_sign_in_our_wire_reads_every_reply(start_gmail: Callable[..., Any]) -> None:
    server: LocalGmail = await start_gmail(pipelining=True)
    connection = await open_session(settings_for(server), AppPassword(ACCOUNT, APP_PASSWORD))
    try:
        transport = connection.smtp.transport
        assert transport is not None
        assert isinstance(transport.get_protocol(), Wire)
        stream = connection._stream
        assert isinstance(stream, CommandStream)
        # Several replies to one write, in order: what aiosmtplib's protocol would lose.
        replies = await stream.exchange(b"NOOP\r\nNOOP\r\nRSET\r\n", ("NOOP", "NOOP", "RSET"))
        assert [(r.code, r.message[:9]) for r in replies] == [
            (250, "2.0.0 OK "),
            (250, "2.0.0 OK "),
            (250, "2.1.5 Flu"),
        ]
    finally:
        await connection.quit()
    assert server.sessions[0].commands[-4:] == ["NOOP", "NOOP", "RSET", "QUIT"]


async def test_a_closed_stream_writes_nothing(start_gmail: Callable[..., Any]) -> None:
    server: LocalGmail = await start_gmail(pipelining=True)
    connection = await open_session(settings_for(server), AppPassword(ACCOUNT, APP_PASSWORD))
    stream = connection._stream
    assert stream is not None
    connection.close()
    assert not connection.is_connected
    with pytest.raises(NotSent):
        await stream.exchange(b"NOOP\r\n", ("NOOP",))


async def test_envelope_goes_out_in_one_write_with_data(start_gmail: Callable[..., Any]) -> None:
    server: LocalGmail = await start_gmail(pipelining=True, chunking=False)
    connection = await open_session(settings_for(server), AppPassword(ACCOUNT, APP_PASSWORD))
    try:
        outgoing = compose_message(account=ACCOUNT, to=RECIPIENTS, subject="p", text="x")
        result = await connection.send(outgoing)
        assert connection.pipelined and not connection.chunked
        assert result.accepted == tuple(RECIPIENTS)
        second = await connection.send(outgoing)  # the session carries the next one too
        assert second.accepted == tuple(RECIPIENTS)
    finally:
        await connection.quit()
    commands = [c.split(" ")[0] for c in server.sessions[0].commands]
    transaction = ["MAIL"] + ["RCPT"] * 5 + ["DATA"]
    assert commands[commands.index("MAIL") :][:7] == transaction
    assert len(server.messages) == 2
    first = server.sessions[0].transactions[0]
    # MAIL, the RCPTs and DATA came in one read; the body needed the 354 first.
    assert first.first_read == server.sessions[0].read_of(first.mail_end + 1)
    assert not first.in_one_read


async def test_every_mode_delivers_identical_messages(
    start_gmail: Callable[..., Any], server: LocalGmail
) -> None:
    plain: LocalGmail = await start_gmail(chunking=False)
    text = ".leading dot\r\n..two\r\nend\r\n.\r\n"
    for each in (plain, server):
        async with sender_for(each) as sender:
            await sender.send(
                to=RECIPIENTS[:2],
                cc=RECIPIENTS[2:],
                subject="same",
                text=text,
                message_id="<same-1@gmail.com>",
                date=DATE,
            )
    [a], [b] = plain.messages, server.messages
    assert (a.mail_from, a.rcpt_tos, a.data) == (b.mail_from, b.rcpt_tos, b.data)
    assert b.parsed().get_content().replace("\r\n", "\n") == text.replace("\r\n", "\n")


async def test_sender_can_turn_pipelining_and_chunking_off(
    start_gmail: Callable[..., Any],
) -> None:
    server: LocalGmail = await start_gmail(pipelining=True)
    async with sender_for(server, pool=PoolOptions(pipelining=False, chunking=False)) as sender:
        await sender.send(to=RECIPIENTS, subject="plain", text="x")
        [connection] = sender._pool._open
        assert not connection.pipelined
        assert not connection.chunked
        assert connection.capacity == 1
    assert len(server.messages) == 1
    commands = [c.split(" ")[0] for c in server.sessions[0].commands]
    assert "DATA" in commands and "BDAT" not in commands


async def test_take_over_refuses_a_closed_session(start_gmail: Callable[..., Any]) -> None:
    server: LocalGmail = await start_gmail(pipelining=True)
    smtp = aiosmtplib.SMTP(
        hostname=server.host, port=server.port, tls_context=server.client_tls_context()
    )
    await smtp.connect()
    await smtp.quit()
    assert handover_problems(smtp) == ["the session is not connected"]


async def test_partial_and_total_refusals(server: LocalGmail) -> None:
    server.inject("rcpt", (553, "5.1.2 no such domain"), recipient="r1@example.com")
    async with sender_for(server) as sender:
        result = await sender.send(to=RECIPIENTS[:3], subject="1", text="x")
        assert result.accepted == ("r0@example.com", "r2@example.com")
        assert result.refused["r1@example.com"].code == 553
        server.inject("rcpt", (553, "5.1.3 bad"), times=2)
        with pytest.raises(RecipientsRefusedError):
            await sender.send(to=RECIPIENTS[:2], subject="2", text="x")
        after = await sender.send(to="z@example.com", subject="3", text="x")
    assert after.accepted == ("z@example.com",)
    assert [m.parsed()["Subject"] for m in server.messages] == ["1", "3"]
    assert len(server.sessions) == 1  # refusals left the session usable


async def test_quota_reply_at_mail(server: LocalGmail) -> None:
    server.inject("mail", (550, "5.4.5 Daily user sending limit exceeded."))
    async with sender_for(server) as sender:
        with pytest.raises(QuotaExceededError):
            await sender.send(to=RECIPIENTS, subject="q", text="x")
    assert server.messages == []


async def test_drop_after_body_is_unknown(server: LocalGmail) -> None:
    server.drop_connection("data_end_stored")
    async with sender_for(server) as sender:
        with pytest.raises(UnknownOutcomeError) as caught:
            await sender.send(
                to="a@example.com", subject="u", text="x", message_id="<unknown-1@gmail.com>"
            )
    assert caught.value.message_id == "<unknown-1@gmail.com>"
    assert len(server.messages) == 1
