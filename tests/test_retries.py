"""Safe retries: transient failures retried with the same Message-ID, never a duplicate."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from gmail_send import (
    AccountQuotas,
    AppPassword,
    GmailConnectionError,
    GmailSender,
    LoginThrottledError,
    PermanentError,
    PoolOptions,
    RecipientsRefusedError,
    RetryPolicy,
    SendingLimits,
    TemporaryError,
    UnknownOutcomeError,
)
from gmail_send.events import SendRetried
from gmail_send.testing import LocalGmail

from .local_helpers import ACCOUNT, APP_PASSWORD, SERVER_MODES, sender_for


def mail_commands(server: LocalGmail) -> int:
    return sum(c.startswith("MAIL") for s in server.sessions for c in s.commands)


@pytest.fixture(params=list(SERVER_MODES))
async def server(request: pytest.FixtureRequest, start_gmail: Callable[..., Any]) -> LocalGmail:
    started: LocalGmail = await start_gmail(**SERVER_MODES[request.param])
    return started


def body_goes_with_the_envelope(server: LocalGmail) -> bool:
    return server.pipelining and server.chunking


async def test_421_on_connect_is_retried_and_delivered_once(server: LocalGmail) -> None:
    server.inject("connect", (421, "4.7.0 Try again later, closing connection."))
    async with sender_for(server) as sender:
        result = await sender.send(to="a@example.com", subject="x", text="x")
    [received] = server.messages
    assert received.parsed()["Message-ID"] == result.message_id
    assert len(server.sessions) == 2


async def test_451_after_rcpt_is_retried_and_delivered_once(server: LocalGmail) -> None:
    server.inject("rcpt", (451, "4.3.0 Mail server temporarily rejected message."))
    async with sender_for(server) as sender:
        result = await sender.send(
            to="a@example.com", subject="x", text="x", message_id="<same-id@gmail.com>"
        )
    assert result.accepted == ("a@example.com",)
    assert result.message_id == "<same-id@gmail.com>"
    [received] = server.messages
    assert received.parsed()["Message-ID"] == "<same-id@gmail.com>"
    assert mail_commands(server) == 2


async def test_451_at_end_of_data_is_retried(server: LocalGmail) -> None:
    server.inject("data_end", (451, "4.3.0 Mail server temporarily rejected message."))
    async with sender_for(server) as sender:
        await sender.send(to="a@example.com", subject="x", text="x")
    assert len(server.messages) == 1


async def test_only_recipients_refused_for_now_are_retried(server: LocalGmail) -> None:
    server.inject("rcpt", (450, "4.2.1 receiving mail too quickly"), recipient="b@example.com")
    server.inject("rcpt", (553, "5.1.3 bad address"), recipient="c@example.com")
    async with sender_for(server) as sender:
        result = await sender.send(
            to=["a@example.com", "b@example.com", "c@example.com"], subject="x", text="x"
        )
    assert result.accepted == ("a@example.com", "b@example.com")
    assert list(result.refused) == ["c@example.com"]
    first, second = server.messages
    assert first.rcpt_tos == ("a@example.com",)
    assert second.rcpt_tos == ("b@example.com",)
    assert first.data == second.data  # same bytes, same Message-ID


async def test_recipient_still_refused_after_retries_is_reported(server: LocalGmail) -> None:
    server.inject(
        "rcpt", (450, "4.2.1 receiving mail too quickly"), recipient="b@example.com", times=5
    )
    async with sender_for(
        server,
        retry=RetryPolicy(retries=2, backoff=0.01),
    ) as sender:
        result = await sender.send(to=["a@example.com", "b@example.com"], subject="x", text="x")
    assert result.accepted == ("a@example.com",)
    assert result.refused["b@example.com"].code == 450
    assert len(server.messages) == 1


async def test_connection_lost_before_the_body_is_retried(server: LocalGmail) -> None:
    server.drop_connection("rcpt")
    async with sender_for(server) as sender:
        if body_goes_with_the_envelope(server):
            # The body was written with MAIL and RCPT: from the client's side the outcome is
            # unknown, so it is not resent (here the server had stored nothing).
            with pytest.raises(UnknownOutcomeError):
                await sender.send(to="a@example.com", subject="x", text="x")
            assert server.messages == []
            return
        await sender.send(to="a@example.com", subject="x", text="x")
    assert len(server.messages) == 1
    assert len(server.sessions) == 2


async def test_connection_lost_at_the_data_command_is_retried(server: LocalGmail) -> None:
    if server.chunking:
        pytest.skip("no DATA command: the message goes with BDAT")
    server.drop_connection("data")  # before the 354: the body never left
    async with sender_for(server) as sender:
        result = await sender.send(to="a@example.com", subject="x", text="x")
    [received] = server.messages
    assert received.parsed()["Message-ID"] == result.message_id


@pytest.mark.parametrize(
    ("stage", "reply"),
    [
        ("mail", (553, "5.1.7 The sender address is invalid.")),
        ("rcpt", (550, "5.7.1 rejected by policy")),
        ("data_end", (552, "5.3.4 Your message exceeded Google's message size limits.")),
    ],
)
async def test_5xx_is_never_retried(server: LocalGmail, stage: str, reply: Any) -> None:
    server.inject(stage, reply)  # type: ignore[arg-type]
    async with sender_for(server) as sender:
        with pytest.raises(Exception) as caught:
            await sender.send(to="a@example.com", subject="x", text="x")
    assert caught.value.code // 100 == 5  # type: ignore[attr-defined]
    assert mail_commands(server) == 1
    assert server.messages == []


async def test_too_many_recipients_reply_is_not_retried(server: LocalGmail) -> None:
    server.inject("rcpt", (452, "4.5.3 Your message has too many recipients."))
    async with sender_for(server) as sender:
        with pytest.raises(RecipientsRefusedError) as caught:
            await sender.send(to="a@example.com", subject="x", text="x")
    assert caught.value.refused["a@example.com"].enhanced_code == "4.5.3"
    assert mail_commands(server) == 1


async def test_too_many_logins_is_not_retried(server: LocalGmail) -> None:
    server.inject("auth", (454, "4.7.0 Too many login attempts, please try again later."))
    async with sender_for(server) as sender:
        with pytest.raises(LoginThrottledError):
            await sender.send(to="a@example.com", subject="x", text="x")
    assert len(server.auth_attempts) == 1


async def test_retries_are_bounded(server: LocalGmail) -> None:
    server.inject("mail", (451, "4.3.0 Mail server temporarily rejected message."), times=10)
    async with sender_for(
        server,
        retry=RetryPolicy(retries=2, backoff=0.01),
    ) as sender:
        with pytest.raises(TemporaryError):
            await sender.send(to="a@example.com", subject="x", text="x")
    assert mail_commands(server) == 3


async def test_drop_after_body_is_not_resent(server: LocalGmail) -> None:
    server.drop_connection("data_end_stored")
    async with sender_for(server) as sender:
        with pytest.raises(UnknownOutcomeError):
            await sender.send(to="a@example.com", subject="x", text="x")
    assert len(server.messages) == 1
    assert mail_commands(server) == 1


async def test_resending_after_unknown_outcome_only_when_opted_in(server: LocalGmail) -> None:
    server.drop_connection("data_end")  # lost before storing: a resend is what the caller wants
    async with sender_for(
        server,
        retry=RetryPolicy(retry_unknown_outcome=True, backoff=0.01),
    ) as sender:
        result = await sender.send(to="a@example.com", subject="x", text="x")
    [received] = server.messages
    assert received.parsed()["Message-ID"] == result.message_id


def test_backoff_grows_with_jitter_and_a_ceiling() -> None:
    low = RetryPolicy(backoff=1.0, max_backoff=5.0, random=lambda: 0.0)
    high = RetryPolicy(backoff=1.0, max_backoff=5.0, random=lambda: 1.0)
    assert [low.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 2.5]
    assert [high.delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]


def test_what_is_retried() -> None:
    from gmail_send.errors import (
        AuthenticationError,
        GmailConnectionError,
        QuotaExceededError,
        SMTPReply,
        TLSError,
    )

    policy = RetryPolicy()
    assert policy.should_retry(GmailConnectionError("gone", after_greeting=True))
    assert not policy.should_retry(GmailConnectionError("unreachable"))
    assert not policy.should_retry(TLSError("bad certificate"))
    assert policy.should_retry(TemporaryError("x", reply=SMTPReply(421, "4.7.0", "later")))
    assert not policy.should_retry(PermanentError("x", reply=SMTPReply(550, "5.7.1", "no")))
    assert not policy.should_retry(AuthenticationError("no"))
    assert not policy.should_retry(QuotaExceededError("x", reply=SMTPReply(550, "5.4.5", "limit")))
    assert not policy.should_retry(UnknownOutcomeError("x", message_id="<a@b>"))
    assert RetryPolicy(retry_unknown_outcome=True).should_retry(
        UnknownOutcomeError("x", message_id="<a@b>")
    )


class _GarblingServer:
    """A bare SMTP server (no TLS, no auth) that stores each body and answers it with `bad`."""

    def __init__(self, bad: bytes, *, pipelining: bool) -> None:
        self.bad = bad
        self.pipelining = pipelining
        self.stored: list[bytes] = []
        self.sessions = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sessions += 1
        writer.write(b"220 local ESMTP\r\n")
        body: list[bytes] | None = None
        try:
            for _ in range(10_000):
                line = await reader.readline()
                if not line:
                    break
                if body is not None:
                    if line == b".\r\n":
                        self.stored.append(b"".join(body))
                        body = None
                        writer.write(self.bad)
                    else:
                        body.append(line)
                elif line[:4].upper() == b"EHLO":
                    extra = b"250-PIPELINING\r\n" if self.pipelining else b""
                    writer.write(b"250-local\r\n" + extra + b"250 SIZE 1000000\r\n")
                elif line[:4].upper() == b"DATA":
                    writer.write(b"354 go ahead\r\n")
                    body = []
                elif line[:4].upper() == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    break
                else:
                    writer.write(b"250 2.0.0 OK\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelined"])
@pytest.mark.parametrize(
    "bad", [b"XYZ garbage\r\n", b"250-" + b"a" * 40_000 + b"\r\n"], ids=["malformed", "too-long"]
)
async def test_unreadable_final_reply_is_an_unknown_outcome_never_resent(
    pipelining: bool, bad: bytes
) -> None:
    garbling = _GarblingServer(bad, pipelining=pipelining)
    listener = await asyncio.start_server(garbling.serve, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        async with GmailSender(
            None,
            host="127.0.0.1",
            port=port,
            security="none",
            timeout=5,
            retry=RetryPolicy(backoff=0.01),
            limits=SendingLimits(quotas=AccountQuotas()),
        ) as sender:
            with pytest.raises(UnknownOutcomeError) as caught:
                await sender.send(
                    from_="app@example.com",
                    to="a@example.com",
                    subject="x",
                    text="x",
                    message_id="<garbled@example.com>",
                )
    finally:
        listener.close()
        await listener.wait_closed()
    assert caught.value.message_id == "<garbled@example.com>"
    assert len(garbling.stored) == 1
    assert garbling.sessions == 1


async def test_unknown_outcome_of_a_recipient_retry_is_raised_not_reported_refused(
    server: LocalGmail,
) -> None:
    server.inject("rcpt", (450, "4.2.1 receiving mail too quickly"), recipient="b@example.com")

    def drop_the_retry(event: object) -> None:
        if isinstance(event, SendRetried):
            server.drop_connection("data_end_stored")

    async with sender_for(server, on_event=drop_the_retry) as sender:
        with pytest.raises(UnknownOutcomeError) as caught:
            await sender.send(
                to=["a@example.com", "b@example.com"],
                subject="x",
                text="x",
                message_id="<split@gmail.com>",
            )
    assert caught.value.accepted == ("a@example.com",)
    assert caught.value.message_id == "<split@gmail.com>"
    # The error the transaction raised is chained as it was, not changed afterwards.
    raised = caught.value.__cause__
    assert isinstance(raised, UnknownOutcomeError)
    assert raised.accepted == ()
    assert [m.rcpt_tos for m in server.messages] == [("a@example.com",), ("b@example.com",)]


async def test_a_transient_reply_is_retried_on_a_fresh_session(server: LocalGmail) -> None:
    server.inject("mail", (451, "4.3.0 Mail server temporarily rejected message."))
    async with sender_for(server) as sender:
        await sender.send(to="a@example.com", subject="x", text="x")
    assert len(server.messages) == 1
    assert len(server.sessions) == 2
    assert [sum(c.startswith("MAIL") for c in s.commands) for s in server.sessions] == [1, 1]


@pytest.mark.parametrize("stage", ["ehlo", "auth"])
async def test_a_drop_after_the_greeting_is_retried(server: LocalGmail, stage: Any) -> None:
    server.drop_connection(stage)
    async with sender_for(server) as sender:
        result = await sender.send(to="a@example.com", subject="x", text="x")
    [received] = server.messages
    assert received.parsed()["Message-ID"] == result.message_id
    assert len(server.sessions) == 2


async def test_a_refused_port_is_not_retried(unused_tcp_port: int) -> None:
    async with GmailSender(
        AppPassword(ACCOUNT, APP_PASSWORD),
        host="127.0.0.1",
        port=unused_tcp_port,
        retry=RetryPolicy(backoff=0.01),
        limits=SendingLimits(quotas=AccountQuotas()),
    ) as sender:
        with pytest.raises(GmailConnectionError) as caught:
            await sender.send(to="a@example.com", subject="x", text="x")
    assert not caught.value.after_greeting


async def test_too_many_logins_holds_off_new_sessions_but_open_ones_keep_working(
    server: LocalGmail,
) -> None:
    async with sender_for(
        server,
        max_connections=2,
        limits=SendingLimits(login_throttle_pause=300.0, quotas=AccountQuotas()),
        pool=PoolOptions(max_in_flight=1),  # a second send at once needs a second session
    ) as sender:
        await sender.send(to="a@example.com", subject="1", text="x")  # leaves one idle session
        server.inject("auth", (454, "4.7.0 Too many login attempts, please try again later."))
        outcomes = await asyncio.gather(
            *(sender.send(to="a@example.com", subject=s, text="x") for s in ("2", "3")),
            return_exceptions=True,
        )
        assert sorted(type(o).__name__ for o in outcomes) == ["LoginThrottledError", "SendResult"]
        assert len(server.auth_attempts) == 2
        await sender.send(to="a@example.com", subject="4", text="x")  # the open session
        outcomes = await asyncio.gather(
            *(sender.send(to="a@example.com", subject=s, text="x") for s in ("5", "6")),
            return_exceptions=True,
        )
        assert sorted(type(o).__name__ for o in outcomes) == ["LoginThrottledError", "SendResult"]
        assert len(server.auth_attempts) == 2  # no new login was attempted during the hold-off
    assert len(server.messages) == 4


async def test_login_throttle_pause_zero_does_not_hold_off(server: LocalGmail) -> None:
    server.inject("auth", (454, "4.7.0 Too many login attempts, please try again later."))
    async with sender_for(
        server,
        limits=SendingLimits(login_throttle_pause=0, quotas=AccountQuotas()),
    ) as sender:
        with pytest.raises(LoginThrottledError):
            await sender.send(to="a@example.com", subject="1", text="x")
        await sender.send(to="a@example.com", subject="2", text="x")
    assert len(server.auth_attempts) == 2
