"""The local Gmail files a copy of what a signed-in account sends in its Sent Mail, as Gmail
does: at once, after `sent_copy_delay`, or never; the relay by IP files none."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gmail_send import PoolOptions
from gmail_send._relay import workspace_relay
from gmail_send.auth._scopes import SEND_SCOPE
from gmail_send.testing import LocalGmail

from .local_helpers import ACCOUNT, sender_for

MESSAGE = b"From: me@gmail.com\r\nTo: a@example.com\r\nMessage-ID: <api@x>\r\n\r\nbody\r\n"


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.02)


async def test_a_signed_in_send_is_filed_in_sent_mail_at_once(gmail: LocalGmail) -> None:
    async with sender_for(gmail) as sender:
        first = await sender.send(to="a@example.com", subject="one", text="x")
        second = await sender.send(to="b@example.com", subject="two", text="y")
    copies = gmail.sent_mail(ACCOUNT.upper())
    assert [copy.parsed()["Message-ID"] for copy in copies] == [
        first.message_id,
        second.message_id,
    ]
    assert copies == gmail.messages
    assert gmail.sent_mail("someone-else@gmail.com") == []


async def test_relay_by_ip_files_no_copy(start_gmail: Callable[..., Any]) -> None:
    relay: LocalGmail = await start_gmail(allow_relay_by_ip=True)
    async with workspace_relay(
        None,
        host=relay.host,
        port=relay.port,
        tls_context=relay.client_tls_context(),
        pool=PoolOptions(local_hostname="mail.example.com"),
    ) as sender:
        await sender.send(from_=ACCOUNT, to="you@example.com", subject="relay", text="x")
    assert len(relay.messages) == 1
    assert relay.sent_mail(ACCOUNT) == []


async def test_the_gmail_api_files_a_copy_too(
    gmail: LocalGmail, start_api: Callable[..., Any]
) -> None:
    api = await start_api(gmail)
    gmail.add_access_token(ACCOUNT, "ya29.send-only", scope=SEND_SCOPE)
    async with httpx.AsyncClient(verify=api.client_tls_context()) as client:
        answer = await client.post(
            f"{api.url}/upload/gmail/v1/users/me/messages/send?uploadType=media",
            content=MESSAGE,
            headers={
                "Authorization": "Bearer ya29.send-only",
                "Content-Type": "message/rfc822",
            },
        )
    assert answer.status_code == 200
    [copy] = gmail.sent_mail(ACCOUNT)
    assert copy.via == "api"
    assert copy.parsed()["Message-ID"] == "<api@x>"


async def test_a_delayed_copy_appears_only_after_the_delay(gmail: LocalGmail) -> None:
    gmail.sent_copy_delay = 0.3
    async with sender_for(gmail) as sender:
        await sender.send(to="a@example.com", subject="late", text="x")
    accepted = time.monotonic()
    assert gmail.sent_mail(ACCOUNT) == []
    await wait_for(lambda: len(gmail.sent_mail(ACCOUNT)) == 1)
    assert time.monotonic() - accepted >= 0.2  # not before (most of) the delay


async def test_with_no_delay_set_the_copy_never_comes(gmail: LocalGmail) -> None:
    gmail.sent_copy_delay = None
    async with sender_for(gmail) as sender:
        await sender.send(to="a@example.com", subject="lost", text="x")
    gmail.sent_copy_delay = 0.0  # only for messages accepted from now on
    await asyncio.sleep(0.2)
    assert gmail.sent_mail(ACCOUNT) == []
    assert len(gmail.messages) == 1


async def test_stop_drops_the_filings_still_to_come(gmail: LocalGmail) -> None:
    gmail.sent_copy_delay = 0.2
    async with sender_for(gmail) as sender:
        await sender.send(to="a@example.com", subject="pending", text="x")
    await gmail.stop()
    await asyncio.sleep(0.4)
    assert gmail.sent_mail(ACCOUNT) == []


@pytest.mark.parametrize("delay", [-1.0, float("nan"), float("inf")])
def test_a_delay_must_be_none_or_finite_seconds(delay: float) -> None:
    with pytest.raises(ValueError, match="sent_copy_delay"):
        LocalGmail().sent_copy_delay = delay
