"""PIPELINING (RFC 2920): the aiosmtplib extension, pipelined transactions, and the fallback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import aiosmtplib
import pytest
from aiosmtplib.protocol import SMTPProtocol

from gmail_send import AppPassword, PoolOptions, QuotaExceededError, RecipientsRefusedError
from gmail_send.errors import UnknownOutcomeError
from gmail_send.smtp._pipelining import (
    SUPPORTED_AIOSMTPLIB_MAJOR,
    PipeliningProtocol,
    attach,
    incompatibilities,
)
from gmail_send.smtp._signin import ConnectionSettings, open_session
from gmail_send.testing import LocalGmail

from .local_helpers import ACCOUNT, APP_PASSWORD, sender_for

RECIPIENTS = [f"r{n}@example.com" for n in range(5)]
DATE = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def settings_for(server: LocalGmail) -> ConnectionSettings:
    return ConnectionSettings(
        host=server.host,
        port=server.port,
        security="starttls",
        tls_context=server.client_tls_context(),
    )


def test_aiosmtplib_internals_are_what_the_extension_expects() -> None:
    problems = incompatibilities()
    assert problems == [], (
        "aiosmtplib changed under gmail_send.smtp._pipelining; pipelining falls back to plain "
        f"commands until the module is updated: {problems}"
    )
    assert int(aiosmtplib.__version__.split(".")[0]) == SUPPORTED_AIOSMTPLIB_MAJOR


async def test_connected_session_has_the_expected_protocol_state(
    start_gmail: Callable[..., Any],
) -> None:
    server: LocalGmail = await start_gmail(pipelining=True)
    connection = await open_session(settings_for(server), AppPassword(ACCOUNT, APP_PASSWORD))
    try:
        assert type(connection.smtp.protocol) is SMTPProtocol
        assert incompatibilities(connection.smtp) == []
        protocol = attach(connection.smtp)
        assert isinstance(protocol, PipeliningProtocol)
        assert connection.smtp.protocol is protocol
        # Several replies to one write, in order: this is what plain aiosmtplib loses.
        replies = await protocol.exchange(b"NOOP\r\nNOOP\r\nNOOP\r\n", 3, timeout=10)
        assert [r.code for r in replies] == [250, 250, 250]
        # The protocol still serves aiosmtplib's own one-command-one-reply calls.
        assert (await connection.smtp.noop()).code == 250
    finally:
        await connection.quit()


async def test_envelope_goes_out_pipelined(start_gmail: Callable[..., Any]) -> None:
    server: LocalGmail = await start_gmail(pipelining=True)
    connection = await open_session(settings_for(server), AppPassword(ACCOUNT, APP_PASSWORD))
    try:
        from gmail_send.message import compose_message

        outgoing = compose_message(account=ACCOUNT, to=RECIPIENTS, subject="p", text="x")
        result = await connection.send(outgoing)
        assert connection.pipelining
        assert result.accepted == tuple(RECIPIENTS)
        second = await connection.send(outgoing)  # the session carries the next one too
        assert second.accepted == tuple(RECIPIENTS)
    finally:
        await connection.quit()
    commands = [c.split(" ")[0] for c in server.sessions[0].commands]
    transaction = ["MAIL"] + ["RCPT"] * 5 + ["DATA"]
    assert commands[commands.index("MAIL") :][:7] == transaction
    assert len(server.messages) == 2


@pytest.mark.parametrize("pipelining_server", [True, False])
async def test_pipelined_and_plain_deliver_identical_messages(
    start_gmail: Callable[..., Any], pipelining_server: bool
) -> None:
    plain: LocalGmail = await start_gmail()
    other: LocalGmail = await start_gmail(pipelining=pipelining_server)
    text = ".leading dot\r\n..two\r\nend\r\n.\r\n"
    for server in (plain, other):
        async with sender_for(server) as sender:
            await sender.send(
                to=RECIPIENTS[:2],
                cc=RECIPIENTS[2:],
                subject="same",
                text=text,
                message_id="<same-1@gmail.com>",
                date=DATE,
            )
    [a], [b] = plain.messages, other.messages
    assert (a.mail_from, a.rcpt_tos, a.data) == (b.mail_from, b.rcpt_tos, b.data)
    assert b.parsed().get_content().replace("\r\n", "\n") == text.replace("\r\n", "\n")


async def test_sender_can_turn_pipelining_off(start_gmail: Callable[..., Any]) -> None:
    server: LocalGmail = await start_gmail(pipelining=True)
    async with sender_for(
        server,
        pool=PoolOptions(pipelining=False),
    ) as sender:
        await sender.send(to=RECIPIENTS, subject="plain", text="x")
        [connection] = sender._pool._idle
        assert not connection.pipelining
    assert len(server.messages) == 1


async def test_attach_refuses_a_protocol_it_does_not_know(
    start_gmail: Callable[..., Any],
) -> None:
    server: LocalGmail = await start_gmail(pipelining=True)
    connection = await open_session(settings_for(server), AppPassword(ACCOUNT, APP_PASSWORD))
    try:
        await connection.smtp.quit()  # not connected any more: nothing to attach to
        assert attach(connection.smtp) is None
    finally:
        connection.close()


async def test_pipelined_partial_and_total_refusals(start_gmail: Callable[..., Any]) -> None:
    server: LocalGmail = await start_gmail(pipelining=True)
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


async def test_pipelined_quota_reply_at_mail(start_gmail: Callable[..., Any]) -> None:
    server: LocalGmail = await start_gmail(pipelining=True)
    server.inject("mail", (550, "5.4.5 Daily user sending limit exceeded."))
    async with sender_for(server) as sender:
        with pytest.raises(QuotaExceededError):
            await sender.send(to=RECIPIENTS, subject="q", text="x")
    assert server.messages == []


async def test_pipelined_drop_after_body_is_unknown(start_gmail: Callable[..., Any]) -> None:
    server: LocalGmail = await start_gmail(pipelining=True)
    server.drop_connection("data_end_stored")
    async with sender_for(server) as sender:
        with pytest.raises(UnknownOutcomeError) as caught:
            await sender.send(
                to="a@example.com", subject="u", text="x", message_id="<unknown-1@gmail.com>"
            )
    assert caught.value.message_id == "<unknown-1@gmail.com>"
    assert len(server.messages) == 1
