"""BDAT (RFC 3030): the local server's reader, one write per message, streamed transactions.

What happens on the wire is read from what the local server recorded: the commands, the reads
(`SessionRecord.read_ends`) and where each transaction lay in the stream (`transactions`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from gmail_send import (
    AccountQuotas,
    AppPassword,
    GmailSender,
    PoolOptions,
    RetryPolicy,
    SendingLimits,
    SendResult,
    UnknownOutcomeError,
)
from gmail_send.smtp._connection import DEFAULT_MAX_IN_FLIGHT, SMTPConnection
from gmail_send.smtp._signin import ConnectionSettings, open_session
from gmail_send.smtp._stream import CommandStream
from gmail_send.testing import LocalGmail

from .local_helpers import ACCOUNT, APP_PASSWORD, sender_for

ENVELOPE = b"MAIL FROM:<me@gmail.com>\r\nRCPT TO:<a@example.com>\r\n"


@pytest.fixture
async def raw(start_gmail: Callable[..., Any]) -> AsyncIterator[Callable[..., Any]]:
    """Open signed-in sessions whose streams a test drives by hand."""
    opened: list[SMTPConnection] = []

    async def open_raw(server: LocalGmail) -> CommandStream:
        settings = ConnectionSettings(
            host=server.host,
            port=server.port,
            security="starttls",
            tls_context=server.client_tls_context(),
        )
        connection = await open_session(settings, AppPassword(ACCOUNT, APP_PASSWORD))
        opened.append(connection)
        assert connection._stream is not None
        return connection._stream

    yield open_raw
    for connection in opened:
        connection.close()


# -- the local server's BDAT ------------------------------------------------------------------


async def test_chunks_without_last_make_one_message(
    start_gmail: Callable[..., Any], raw: Callable[..., Any]
) -> None:
    server: LocalGmail = await start_gmail(pipelining=True)
    stream: CommandStream = await raw(server)
    head = b"Subject: chunks\r\n\r\n"
    replies = await stream.exchange(
        ENVELOPE + b"BDAT %d\r\n" % len(head), ("MAIL", "RCPT", "BDAT"), body=head
    )
    assert [r.code for r in replies] == [250, 250, 250]
    [last] = await stream.exchange(b"BDAT 4 LAST\r\n", ("BDAT",), body=b"hi\r\n")
    assert last.code == 250 and last.message.startswith("2.0.0 OK ")
    [message] = server.messages
    assert message.data == head + b"hi\r\n"
    assert server.sessions[0].commands[-2:] == [f"BDAT {len(head)}", "BDAT 4 LAST"]


async def test_bdat_after_a_refused_recipient_still_consumes_its_bytes(
    start_gmail: Callable[..., Any], raw: Callable[..., Any]
) -> None:
    server: LocalGmail = await start_gmail(pipelining=True)
    server.inject("rcpt", (550, "5.1.1 The email account that you tried to reach does not exist."))
    stream: CommandStream = await raw(server)
    body = b"QUIT\r\nMAIL FROM:<x@example.com>\r\n"  # bytes that look like commands
    replies = await stream.exchange(
        ENVELOPE + b"BDAT %d LAST\r\n" % len(body), ("MAIL", "RCPT", "BDAT"), body=body
    )
    assert [r.code for r in replies] == [250, 550, 503]
    assert replies[2].message.startswith("5.5.1 RCPT first.")
    # The bytes were read as the message, not as commands: the session goes on in step.
    [noop] = await stream.exchange(b"NOOP\r\n", ("NOOP",))
    assert noop.code == 250
    assert server.messages == []
    assert server.sessions[0].commands[-3:] == [
        "RCPT TO:<a@example.com>",
        f"BDAT {len(body)} LAST",
        "NOOP",
    ]


async def test_bdat_past_the_size_limit_is_refused_after_its_bytes(
    start_gmail: Callable[..., Any], raw: Callable[..., Any]
) -> None:
    server: LocalGmail = await start_gmail(pipelining=True, size_limit=100)
    stream: CommandStream = await raw(server)
    body = b"x" * 98 + b"\r\n" + b"y" * 48 + b"\r\n"
    replies = await stream.exchange(
        ENVELOPE + b"BDAT %d LAST\r\n" % len(body), ("MAIL", "RCPT", "BDAT"), body=body
    )
    assert [(r.code, r.message[:5]) for r in replies] == [
        (250, "2.1.0"),
        (250, "2.1.5"),
        (552, "5.3.4"),
    ]
    [noop] = await stream.exchange(b"NOOP\r\n", ("NOOP",))
    assert noop.code == 250
    assert server.messages == []


async def test_bdat_out_of_place_or_malformed(
    start_gmail: Callable[..., Any], raw: Callable[..., Any]
) -> None:
    server: LocalGmail = await start_gmail(pipelining=True)
    stream: CommandStream = await raw(server)
    [no_mail] = await stream.exchange(b"BDAT 3 LAST\r\n", ("BDAT",), body=b"abc")
    assert (no_mail.code, no_mail.message[:17]) == (503, "5.5.1 MAIL first.")
    [malformed] = await stream.exchange(b"BDAT three\r\n", ("BDAT",))
    assert (malformed.code, malformed.message[:5]) == (555, "5.5.2")
    [noop] = await stream.exchange(b"NOOP\r\n", ("NOOP",))
    assert noop.code == 250


async def test_without_chunking_bdat_is_no_command(
    start_gmail: Callable[..., Any], raw: Callable[..., Any]
) -> None:
    server: LocalGmail = await start_gmail(pipelining=True, chunking=False)
    stream: CommandStream = await raw(server)
    [reply] = await stream.exchange(b"BDAT 0 LAST\r\n", ("BDAT",))
    assert (reply.code, reply.message[:5]) == (502, "5.5.1")


# -- the client on the wire -----------------------------------------------------------------


async def test_one_read_carries_mail_rcpt_bdat_and_the_body(
    start_gmail: Callable[..., Any],
) -> None:
    server: LocalGmail = await start_gmail(pipelining=True)
    recipients = ["a@example.com", "b@example.com", "c@example.com"]
    async with sender_for(server) as sender:
        await sender.send(to=recipients, subject="one write", text=".a leading dot\r\n")
        second = await sender.send(to="d@example.com", subject="warm", text="x")
    [session] = server.sessions
    first_size = len(server.messages[0].data)
    start = session.commands.index(next(c for c in session.commands if c.startswith("MAIL")))
    assert [c.split(" ")[0] for c in session.commands[start : start + 5]] == [
        "MAIL",
        "RCPT",
        "RCPT",
        "RCPT",
        "BDAT",
    ]
    assert session.commands[start + 4] == f"BDAT {first_size} LAST"
    assert [t.in_one_read for t in session.transactions] == [True, True]
    assert b"\r\n.a leading dot\r\n" in server.messages[0].data  # no dot-stuffing with BDAT
    assert second.reply.code == 250


async def test_transactions_are_streamed_on_one_session(start_gmail: Callable[..., Any]) -> None:
    server: LocalGmail = await start_gmail(pipelining=True)
    async with sender_for(server, max_connections=1) as sender:
        results = await asyncio.gather(
            *(sender.send(to="a@example.com", subject=f"{n}", text="x") for n in range(40))
        )
    [session] = server.sessions
    assert len(session.transactions) == 40
    assert 2 <= session.max_in_flight <= DEFAULT_MAX_IN_FLIGHT
    assert Counter(m.parsed()["Message-ID"] for m in server.messages) == Counter(
        r.message_id for r in results
    )


async def test_the_window_bounds_the_transactions_in_flight(
    start_gmail: Callable[..., Any],
) -> None:
    server: LocalGmail = await start_gmail(pipelining=True)
    async with sender_for(server, max_connections=1, pool=PoolOptions(max_in_flight=3)) as sender:
        await asyncio.gather(
            *(sender.send(to="a@example.com", subject=f"{n}", text="x") for n in range(20))
        )
    [session] = server.sessions
    assert 2 <= session.max_in_flight <= 3
    assert len(server.messages) == 20


async def _burst(server: LocalGmail, count: int) -> list[SendResult | BaseException]:
    """`count` sends at once over one session; message n has Message-ID <m{n}@gmail.com>."""
    async with sender_for(server, max_connections=1) as sender:
        return await asyncio.gather(
            *(
                sender.send(
                    to="a@example.com", subject=f"{n}", text="x", message_id=f"<m{n}@gmail.com>"
                )
                for n in range(count)
            ),
            return_exceptions=True,
        )


def _stored(server: LocalGmail) -> Counter[str]:
    return Counter(str(m.parsed()["Message-ID"]) for m in server.messages)


async def test_a_drop_mid_window_gives_each_send_its_outcome(
    start_gmail: Callable[..., Any],
) -> None:
    server: LocalGmail = await start_gmail(pipelining=True)
    server.drop_connection("data_end_stored", after=3)  # the 4th is stored, then the cut
    outcomes = await _burst(server, 30)
    stored = _stored(server)
    assert set(stored.values()) == {1}  # no duplicate
    kinds = Counter(type(o).__name__ for o in outcomes)
    assert set(kinds) == {"SendResult", "UnknownOutcomeError"}
    for n, outcome in enumerate(outcomes):
        if isinstance(outcome, SendResult):  # reported sent: stored, once
            assert stored[f"<m{n}@gmail.com>"] == 1
        else:  # body out, no final reply: not resent, whatever the server did
            assert isinstance(outcome, UnknownOutcomeError)
            assert outcome.message_id == f"<m{n}@gmail.com>"
    assert isinstance(outcomes[3], UnknownOutcomeError) and stored["<m3@gmail.com>"] == 1
    assert [isinstance(o, SendResult) for o in outcomes[:3]] == [True] * 3
    # Sends written behind the 4th were in flight: unknown, and the server had not stored them.
    unknown = [n for n, o in enumerate(outcomes) if isinstance(o, UnknownOutcomeError)]
    assert len(unknown) >= 2 and all(stored[f"<m{n}@gmail.com>"] == 0 for n in unknown[1:])
    # Sends not yet written were retried on a new session.
    assert kinds["SendResult"] > 3 and len(server.sessions) == 2


async def test_sends_written_after_a_421_are_retried(start_gmail: Callable[..., Any]) -> None:
    server: LocalGmail = await start_gmail(pipelining=True)
    server.inject("mail", (421, "4.7.0 Try again later, closing connection."), after=3)
    outcomes = await _burst(server, 30)
    assert all(isinstance(o, SendResult) for o in outcomes)
    assert _stored(server) == Counter(f"<m{n}@gmail.com>" for n in range(30))
    first = server.sessions[0]
    assert first.max_in_flight >= 2  # some were written behind the one the 421 answered
    assert len(server.sessions) == 2


class _MisfitServer:
    """A bare server offering PIPELINING and CHUNKING that answers BDAT with a 354."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.sessions = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sessions += 1
        writer.write(b"220 local ESMTP\r\n")
        try:
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb == b"EHLO":
                    writer.write(b"250-local\r\n250-PIPELINING\r\n250 CHUNKING\r\n")
                elif verb == b"BDAT":
                    self.bodies.append(await reader.readexactly(int(line.split()[1])))
                    writer.write(b"354 go on\r\n")
                else:
                    writer.write(b"250 OK\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def test_a_reply_that_does_not_fit_closes_the_session() -> None:
    misfit = _MisfitServer()
    listener = await asyncio.start_server(misfit.serve, "127.0.0.1", 0)
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
                    from_="app@example.com", to="a@example.com", subject="x", text="x"
                )
            assert sender._pool.idle_connections == 0
    finally:
        listener.close()
        await listener.wait_closed()
    assert "cannot answer BDAT" in caught.value.message
    assert len(misfit.bodies) == 1 and misfit.sessions == 1  # never resent
