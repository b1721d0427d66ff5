"""The local Gmail holds a session at a chosen stage until the test releases it: the
deterministic kill points of the queue's crash test."""

from __future__ import annotations

import asyncio

import pytest

from gmail_send import UnknownOutcomeError
from gmail_send.testing import LocalGmail, Pause

from .local_helpers import sender_for


async def test_a_session_is_held_where_asked_until_released(gmail: LocalGmail) -> None:
    pause = gmail.pause("mail")
    async with sender_for(gmail) as sender:
        send = asyncio.create_task(sender.send(to="you@example.com", subject="s", text="t"))
        await pause.wait_async(timeout=30)
        assert pause.reached and not pause.released
        assert gmail.sessions[-1].commands[-1].startswith("MAIL")
        assert not send.done() and not gmail.messages
        pause.release()
        await asyncio.wait_for(send, 30)
    assert len(gmail.messages) == 1


async def test_before_the_greeting(gmail: LocalGmail) -> None:
    pause = gmail.pause("connect")
    async with sender_for(gmail) as sender:
        send = asyncio.create_task(sender.send(to="you@example.com", subject="s", text="t"))
        await pause.wait_async(timeout=30)
        assert gmail.sessions[-1].commands == []
        pause.release()
        await asyncio.wait_for(send, 30)


async def test_a_body_held_before_its_reply_is_kept_when_the_client_leaves(
    gmail: LocalGmail,
) -> None:
    pause = gmail.pause("data_end")
    async with sender_for(gmail) as sender:
        send = asyncio.create_task(
            sender.send(to="you@example.com", subject="s", text="t", deadline=60)
        )
        await pause.wait_async(timeout=30)
        assert len(gmail.messages) == 1  # stored; the reply is held
        send.cancel()  # the client goes away without an answer
        with pytest.raises((asyncio.CancelledError, UnknownOutcomeError)):
            await send
        pause.release()
    assert len(gmail.messages) == 1


async def test_after_the_reply_the_client_has_its_answer(gmail: LocalGmail) -> None:
    pause = gmail.pause("data_end_replied")
    async with sender_for(gmail) as sender:
        result = await sender.send(to="you@example.com", subject="s", text="t")
        await pause.wait_async(timeout=30)
        assert result.accepted == ("you@example.com",)
        assert len(gmail.messages) == 1
        pause.release()


async def test_stop_releases_held_sessions(start_gmail: object) -> None:
    server: LocalGmail = await start_gmail()  # type: ignore[operator]
    pause = server.pause("ehlo")
    sender = sender_for(server)
    send = asyncio.create_task(sender.send(to="you@example.com", subject="s", text="t"))
    await pause.wait_async(timeout=30)
    await server.stop()
    assert pause.released
    with pytest.raises(Exception):  # noqa: B017 - whatever a vanished server causes
        await asyncio.wait_for(send, 30)
    await sender.aclose()


def test_a_pause_names_a_known_stage() -> None:
    with pytest.raises(ValueError, match="unknown stage"):
        Pause("quit")  # type: ignore[arg-type]
    pause = Pause("rcpt")
    with pytest.raises(TimeoutError):
        pause.wait(timeout=0.01)
    assert repr(pause) == "<Pause rcpt waiting>"
