"""Planned misbehaviour of the local Gmail: injected replies, dropped connections, hang-ups.

Each stage is driven with raw aiosmtplib commands over real STARTTLS (trustme CA).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import aiosmtplib
import pytest

from gmail_send.errors import SMTPReply
from gmail_send.smtp._replies import GMAIL_REPLIES, ReplyRule, find_rule
from gmail_send.testing import LocalAccount, LocalGmail, TestCertificates, format_reply

APP_PASSWORD = "abcdefghijklmnop"
ME = LocalAccount("me@gmail.com", app_password=APP_PASSWORD)
BODY = b"From: me@gmail.com\r\nTo: you@example.com\r\nSubject: t\r\n\r\nhello\r\n"
STAGES = ["ehlo", "starttls", "auth", "mail", "rcpt", "data", "data_end"]


def rule(code: int, enhanced: str) -> ReplyRule:
    found = find_rule(SMTPReply(code, enhanced, ""))
    assert found is not None
    return found


QUOTA = rule(550, "5.4.5")
TRY_LATER = rule(421, "4.7.0")
THROTTLED = rule(454, "4.7.0")
BAD_CREDENTIALS = rule(535, "5.7.8")


@pytest.fixture
async def gmail(certificates: TestCertificates) -> AsyncIterator[LocalGmail]:
    async with LocalGmail(accounts=[ME], certificates=certificates) as server:
        yield server


def new_client(server: LocalGmail) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=server.host,
        port=server.port,
        tls_context=server.client_tls_context(),
        start_tls=False,
        timeout=10,
    )


async def _step(smtp: aiosmtplib.SMTP, stage: str, *, last: bool = True) -> tuple[int, str]:
    """Send the command of one stage; the reply as (code, message), errors included."""
    try:
        if stage == "ehlo":
            reply = await smtp.ehlo(hostname="client.example")
        elif stage == "starttls" and last:
            reply = await smtp.execute_command(b"STARTTLS")
        elif stage == "starttls":
            await smtp.starttls()
            reply = await smtp.ehlo(hostname="client.example")
        elif stage == "auth":
            reply = await smtp.execute_command(
                b"AUTH", b"PLAIN", aiosmtplib.auth.auth_plain_encode("me@gmail.com", APP_PASSWORD)
            )
        elif stage == "mail":
            reply = await smtp.execute_command(b"MAIL", b"FROM:<me@gmail.com>")
        elif stage == "rcpt":
            reply = await smtp.execute_command(b"RCPT", b"TO:<you@example.com>")
        elif stage == "data" and last:
            reply = await smtp.execute_command(b"DATA")
        elif stage == "data":  # DATA and the body are sent together at "data_end"
            return 354, ""
        else:
            reply = await smtp.data(BODY)
    except aiosmtplib.SMTPResponseException as error:
        return error.code, error.message
    return reply.code, reply.message


async def walk(smtp: aiosmtplib.SMTP, until: str) -> tuple[int, str]:
    """Run a whole session up to `until`; return that stage's reply."""
    await smtp.connect()
    for stage in STAGES:
        code, message = await _step(smtp, stage, last=stage == until)
        if stage == until:
            return code, message
        assert code < 400, (stage, code, message)
    raise AssertionError(until)


@pytest.mark.parametrize("stage", STAGES)
async def test_inject_a_table_reply_at_each_stage(gmail: LocalGmail, stage: str) -> None:
    gmail.inject(stage, QUOTA)  # type: ignore[arg-type]
    smtp = new_client(gmail)
    code, message = await walk(smtp, stage)
    assert (code, message) == (550, "5.4.5 Daily user sending limit exceeded. - gsmtp")
    smtp.close()
    assert gmail.pending_faults == []
    assert gmail.messages == []


async def test_the_injected_reply_is_used_once_then_normal_replies_return(
    gmail: LocalGmail,
) -> None:
    gmail.inject("mail", QUOTA, times=2)
    smtp = new_client(gmail)
    await walk(smtp, "auth")
    assert (await _step(smtp, "mail"))[0] == 550
    assert (await _step(smtp, "mail"))[0] == 550
    assert (await _step(smtp, "mail"))[0] == 250
    smtp.close()


async def test_inject_for_one_recipient_only(gmail: LocalGmail) -> None:
    gmail.inject("rcpt", QUOTA, recipient="Bad@Example.com")
    smtp = new_client(gmail)
    await walk(smtp, "mail")
    ok = await smtp.execute_command(b"RCPT", b"TO:<good@example.com>")
    bad = await smtp.execute_command(b"RCPT", b"TO:<bad@example.com>")
    assert (ok.code, bad.code) == (250, 550)
    await smtp.data(BODY)
    await smtp.quit()
    assert gmail.messages[0].rcpt_tos == ("good@example.com",)


async def test_inject_at_the_greeting(gmail: LocalGmail) -> None:
    gmail.inject("connect", TRY_LATER)
    smtp = new_client(gmail)
    with pytest.raises(aiosmtplib.SMTPConnectResponseError) as refused:
        await smtp.connect()
    assert refused.value.code == 421
    smtp.close()
    # the next connection is greeted normally
    second = new_client(gmail)
    assert (await second.connect()).code == 220
    await second.quit()


async def test_a_multi_line_rule_is_sent_as_continuation_lines(gmail: LocalGmail) -> None:
    assert format_reply(BAD_CREDENTIALS) == (
        "535-5.7.8 Username and Password not accepted. For more information, go to\r\n"
        "535 5.7.8  https://support.google.com/mail/?p=BadCredentials - gsmtp"
    )
    gmail.inject("auth", BAD_CREDENTIALS)
    smtp = new_client(gmail)
    code, message = await walk(smtp, "auth")
    assert (code, message) == (535, BAD_CREDENTIALS.text.replace("Username", "5.7.8 Username", 1))
    assert gmail.auth_attempts == [("PLAIN", None, False)]
    assert gmail.sessions[0].auth_reason == "injected"
    smtp.close()


@pytest.mark.parametrize(
    "reply",
    [
        THROTTLED,
        SMTPReply(454, "4.7.0", "Too many login attempts, please try again later. - gsmtp"),
        (454, "4.7.0 Too many login attempts, please try again later. - gsmtp"),
        454,
    ],
)
async def test_reply_forms_accepted_by_inject(gmail: LocalGmail, reply: object) -> None:
    gmail.inject("auth", reply)  # type: ignore[arg-type]
    smtp = new_client(gmail)
    code, message = await walk(smtp, "auth")
    assert (code, message) == (454, THROTTLED.reply.enhanced_code + " " + THROTTLED.text)
    smtp.close()


async def test_an_injected_421_closes_the_connection(gmail: LocalGmail) -> None:
    gmail.inject("mail", TRY_LATER)
    smtp = new_client(gmail)
    assert (await walk(smtp, "mail"))[0] == 421
    await _wait_until(lambda: gmail.open_sessions == 0)
    assert not gmail.sessions[0].open


def test_inject_rejects_bad_arguments() -> None:
    server = LocalGmail(accounts=[ME])
    with pytest.raises(ValueError, match="unknown stage"):
        server.inject("helo", QUOTA)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="recipient"):
        server.inject("mail", QUOTA, recipient="a@example.com")
    with pytest.raises(ValueError, match="times"):
        server.inject("mail", QUOTA, times=0)
    with pytest.raises(ValueError, match="no Gmail reply"):
        server.inject("mail", 599)
    with pytest.raises(ValueError, match=r"200\.\.599"):
        server.inject("mail", (150, "hello"))
    with pytest.raises(ValueError, match="unknown stage"):
        server.drop_connection("data_end_maybe")  # type: ignore[arg-type]
    assert server.pending_faults == []


@pytest.mark.parametrize("stage", ["ehlo", "starttls", "auth", "mail", "rcpt", "data"])
async def test_drop_the_connection_at_a_command(gmail: LocalGmail, stage: str) -> None:
    gmail.drop_connection(stage)  # type: ignore[arg-type]
    smtp = new_client(gmail)
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await walk(smtp, stage)
    await _wait_until(lambda: gmail.open_sessions == 0)
    assert gmail.sessions[0].commands[-1] == "<connection dropped by the server>"


async def test_drop_before_the_greeting(gmail: LocalGmail) -> None:
    gmail.drop_connection("connect")
    smtp = new_client(gmail)
    with pytest.raises(aiosmtplib.SMTPConnectError, match="EOF"):
        await smtp.connect()
    smtp.close()


@pytest.mark.parametrize(("stage", "stored"), [("data_end", 0), ("data_end_stored", 1)])
async def test_drop_after_the_body(gmail: LocalGmail, stage: str, stored: int) -> None:
    gmail.drop_connection(stage)  # type: ignore[arg-type]
    smtp = new_client(gmail)
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await walk(smtp, "data_end")
    await _wait_until(lambda: gmail.open_sessions == 0)
    assert len(gmail.messages) == stored
    # the next session works normally
    again = new_client(gmail)
    assert (await walk(again, "data_end"))[0] == 250
    await again.quit()
    assert len(gmail.messages) == stored + 1


@pytest.mark.parametrize(("stage", "stored"), [("data_end", 0), ("data_end_stored", 1)])
async def test_a_hold_pauses_the_chosen_message_until_released(
    gmail: LocalGmail, stage: str, stored: int
) -> None:
    hold = gmail.hold(stage, after=1)  # type: ignore[arg-type]
    first = new_client(gmail)
    assert (await walk(first, "data_end"))[0] == 250  # the first passes
    assert not hold.reached
    second = new_client(gmail)
    paused = asyncio.ensure_future(walk(second, "data_end"))
    assert await asyncio.to_thread(hold.wait, 30)
    assert len(gmail.messages) == 1 + stored
    assert not paused.done()
    hold.release()
    assert (await asyncio.wait_for(paused, 30))[0] == 250
    assert len(gmail.messages) == 2
    assert gmail.pending_faults == [] and hold.released
    await first.quit()
    await second.quit()


async def test_a_held_session_ends_when_the_server_stops(gmail: LocalGmail) -> None:
    hold = gmail.hold("data_end_stored")
    smtp = new_client(gmail)
    paused = asyncio.ensure_future(walk(smtp, "data_end"))
    assert await asyncio.to_thread(hold.wait, 30)
    await gmail.stop()
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await asyncio.wait_for(paused, 30)
    assert len(gmail.messages) == 1


def test_hold_rejects_bad_arguments(gmail: LocalGmail) -> None:
    with pytest.raises(ValueError, match="unknown stage"):
        gmail.hold("rcpt")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="after must be"):
        gmail.hold("data_end", after=-1)


async def _wait_until(condition: Callable[[], bool], *, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def test_close_idle_spares_sessions_in_a_transaction(gmail: LocalGmail) -> None:
    idle, busy = new_client(gmail), new_client(gmail)
    await walk(idle, "auth")
    await walk(busy, "mail")
    assert await gmail.close_idle() == 1
    assert gmail.open_sessions == 1
    with pytest.raises(aiosmtplib.SMTPException):
        await idle.noop()
    # the busy session carries on with its message
    assert (await _step(busy, "rcpt"))[0] == 250
    assert (await _step(busy, "data_end"))[0] == 250
    assert await gmail.close_all(reply=None) == 1
    assert gmail.open_sessions == 0
    idle.close()
    busy.close()


async def test_close_all_sends_a_421_first(gmail: LocalGmail) -> None:
    reader, writer = await asyncio.open_connection(gmail.host, gmail.port)
    try:
        await asyncio.wait_for(reader.readline(), 10)  # greeting
        await _wait_until(lambda: gmail.open_sessions == 1)
        assert await gmail.close_all() == 1
        goodbye = await asyncio.wait_for(reader.readline(), 10)
        assert goodbye == b"421 4.7.0 Try again later, closing connection. - gsmtp\r\n"
        assert await asyncio.wait_for(reader.read(), 10) == b""
    finally:
        writer.close()


async def test_idle_timeout_says_451_and_hangs_up(certificates: TestCertificates) -> None:
    async with LocalGmail(accounts=[ME], certificates=certificates, idle_timeout=0.2) as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        try:
            await asyncio.wait_for(reader.readline(), 10)  # greeting
            timeout_line = await asyncio.wait_for(reader.readline(), 10)
            assert timeout_line == b"451 4.4.2 Timeout - closing connection. - gsmtp\r\n"
            assert await asyncio.wait_for(reader.read(), 10) == b""
        finally:
            writer.close()


def test_every_table_row_formats_as_a_valid_reply() -> None:
    for row in GMAIL_REPLIES:
        lines = format_reply(row).split("\r\n")
        assert all(line.startswith(f"{row.code}-") for line in lines[:-1])
        assert lines[-1].startswith(f"{row.code} {row.enhanced_code} ")
