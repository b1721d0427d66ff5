"""The hook the mail queue uses: awaited just before the write that carries the body, on every
attempt; when it fails the body is never sent.

With DATA that is after the server's 354; with BDAT it is before `BDAT <size> LAST` (the body
goes in the same write), and with BDAT and PIPELINING before MAIL itself, as MAIL, RCPT, BDAT and
the body go out in one write. Where the server already waits for the body (after the 354, or
an accepted envelope without PIPELINING) a failing hook closes the session; where nothing of
the transaction was written, the session stays usable."""

from __future__ import annotations

from pathlib import Path

import pytest

from gmail_send import AppPassword, ConfigurationError, GmailSender, GmailSendError
from gmail_send.message import compose_message
from gmail_send.store import StateStore
from gmail_send.testing import LocalGmail

from .local_helpers import ACCOUNT, APP_PASSWORD, sender_for

PATHS = {
    "data-plain": {"chunking": False, "pipelining": False},
    "data-pipelined": {"chunking": False, "pipelining": True},
    "bdat-plain": {"chunking": True, "pipelining": False},
    "bdat-pipelined": {"chunking": True, "pipelining": True},
}


@pytest.fixture(params=sorted(PATHS))
async def server(request: pytest.FixtureRequest, start_gmail: object) -> LocalGmail:
    started: LocalGmail = await start_gmail(**PATHS[request.param])  # type: ignore[operator]
    return started


async def test_the_hook_runs_just_before_the_body_is_written(server: LocalGmail) -> None:
    seen: list[list[str]] = []

    async def before_body(transport: object) -> None:
        seen.append(list(server.sessions[-1].commands))
        assert not server.messages

    outgoing = compose_message(account=ACCOUNT, to="you@example.com", subject="s", text="t")
    async with sender_for(server) as gmail:
        result = await gmail._send(outgoing, before_body=before_body)
    assert result.accepted == ("you@example.com",)
    assert len(server.messages) == 1
    [commands] = seen
    if not server.chunking:
        assert commands[-1].startswith("DATA")  # answered 354; the body not yet written
    elif not server.pipelining:
        assert commands[-1].startswith("RCPT")  # the envelope accepted; BDAT not yet written
    else:
        assert not any(c.startswith(("MAIL", "BDAT")) for c in commands)  # nothing written yet
    body_command = "BDAT" if server.chunking else "DATA"
    assert any(c.startswith(body_command) for c in server.sessions[-1].commands)


async def test_a_failing_hook_keeps_the_body_back(server: LocalGmail) -> None:
    class Refused(GmailSendError):
        pass

    async def before_body(transport: object) -> None:
        raise Refused("not now")

    outgoing = compose_message(account=ACCOUNT, to="you@example.com", subject="s", text="t")
    async with sender_for(server) as gmail:
        with pytest.raises(Refused):
            await gmail._send(outgoing, before_body=before_body)
        assert not server.messages
        assert not any(c.startswith("BDAT") for c in server.sessions[-1].commands)
        await gmail.send(to="you@example.com", subject="next", text="t")
    assert len(server.messages) == 1
    if server.chunking and server.pipelining:
        # Nothing of the transaction was written: the session carried the next message.
        assert len(server.sessions) == 1
    else:
        # The session waited for a body: it was closed, and the next send opened another.
        assert len(server.sessions) == 2


async def test_the_hook_runs_again_on_each_attempt(server: LocalGmail) -> None:
    server.inject("data_end", (451, "4.3.0 Mail server temporarily rejected message."))
    calls = 0

    async def before_body(transport: object) -> None:
        nonlocal calls
        calls += 1

    outgoing = compose_message(account=ACCOUNT, to="you@example.com", subject="s", text="t")
    async with sender_for(server) as gmail:
        await gmail._send(outgoing, before_body=before_body)
    assert calls == 2
    assert len(server.messages) == 1


async def test_a_sender_made_without_a_store_can_be_given_one(
    server: LocalGmail, tmp_path: Path
) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    gmail = GmailSender(
        AppPassword(ACCOUNT, APP_PASSWORD),
        host=server.host,
        port=server.port,
        tls_context=server.client_tls_context(),
    )
    gmail._use_store(store)
    async with gmail:
        await gmail.send(to="you@example.com", subject="s", text="t")
        with pytest.raises(ConfigurationError):
            gmail._use_store(store)
    assert await store.sent_today(ACCOUNT) == 1
    await store.aclose()
