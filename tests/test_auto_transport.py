"""`transport="auto"`: SMTP when it can be reached and the token allows it, else the Gmail API.

The choice by scope uses real grants from the local token endpoint; the choice by blocked ports
uses blocked ports on 127.0.0.1: one that refuses connections (nothing listens), one whose
connections never complete (a full accept queue: the kernel drops the SYNs, as a firewall
does), and one that accepts them and never says a word (a silent middlebox).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from gmail_send import AppPassword, GmailSender, OAuth2Credentials, OAuth2Token
from gmail_send.auth._scopes import MAIL_SCOPE, SEND_SCOPE
from gmail_send.events import SendEvent, TransportChosen
from gmail_send.testing import LocalGmail, LocalGmailAPI, LocalTokenEndpoint

from .cli_helpers import blackholed_port
from .local_helpers import ACCESS_TOKEN, ACCOUNT, APP_PASSWORD, sender_for


@pytest.fixture
async def api(gmail: LocalGmail, start_api: Callable[..., Any]) -> LocalGmailAPI:
    started: LocalGmailAPI = await start_api(gmail)
    return started


def auto_sender(
    gmail: LocalGmail, api: LocalGmailAPI, credentials: Any, **options: Any
) -> GmailSender:
    return sender_for(gmail, credentials, transport="auto", api_url=api.url, **options)


def refusing_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SilentPort:
    """Accepts connections and never answers, like a firewall that drops the traffic."""

    def __init__(self) -> None:
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        await reader.read()  # until the client gives up

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await asyncio.wait_for(self._server.wait_closed(), 5)


@pytest.fixture
async def silent_port() -> AsyncIterator[SilentPort]:
    port = SilentPort()
    await port.start()
    yield port
    await port.stop()


async def test_a_token_granted_only_gmail_send_goes_over_the_api(
    gmail: LocalGmail, api: LocalGmailAPI, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[SendEvent] = []
    caplog.set_level(logging.INFO, logger="gmail_send.sender")
    with LocalTokenEndpoint(gmail=gmail, signed_in_user=ACCOUNT) as endpoint:
        credentials = OAuth2Credentials.from_info(endpoint.token_info(scopes=[SEND_SCOPE]))
        async with auto_sender(gmail, api, credentials, on_event=events.append) as sender:
            first = await sender.send(to="a@example.com", subject="1", text="x")
            second = await sender.send(to="a@example.com", subject="2", text="x")
    assert (first.transport, second.transport) == ("api", "api")
    assert first.transport_reason is not None and "gmail.send" in first.transport_reason
    assert gmail.sessions == []  # SMTP was not even probed: the grant settles it
    [chosen] = [e for e in events if isinstance(e, TransportChosen)]
    assert chosen.transport == "api" and chosen.reason == first.transport_reason
    assert len([r for r in caplog.records if "transport=auto chose" in r.getMessage()]) == 1
    assert [m.via for m in gmail.messages] == ["api", "api"]


async def test_a_mail_scope_token_goes_over_reachable_smtp(
    gmail: LocalGmail, api: LocalGmailAPI
) -> None:
    with LocalTokenEndpoint(gmail=gmail, signed_in_user=ACCOUNT) as endpoint:
        credentials = OAuth2Credentials.from_info(endpoint.token_info(scopes=[MAIL_SCOPE]))
        async with auto_sender(gmail, api, credentials) as sender:
            result = await sender.send(to="a@example.com", subject="1", text="x")
    assert result.transport == "smtp"
    assert result.transport_reason == f"SMTP {gmail.host}:{gmail.port} answered"
    assert api.requests == []
    assert [m.via for m in gmail.messages] == ["smtp"]


async def test_an_app_password_always_goes_over_smtp(gmail: LocalGmail, api: LocalGmailAPI) -> None:
    async with auto_sender(gmail, api, AppPassword(ACCOUNT, APP_PASSWORD)) as sender:
        result = await sender.send(to="a@example.com", subject="1", text="x")
    assert (result.transport, result.auth_method) == ("smtp", "plain")
    assert result.transport_reason == "app passwords sign in over SMTP only"


@pytest.mark.parametrize("blocked", ["refusing", "silent", "blackholed"])
async def test_blocked_smtp_goes_over_the_api(
    gmail: LocalGmail, api: LocalGmailAPI, silent_port: SilentPort, blocked: str
) -> None:
    with blackholed_port() as blackholed:
        port = {
            "refusing": refusing_port(),
            "silent": silent_port.port,  # the connection is accepted, no greeting ever comes
            "blackholed": blackholed,  # the connection itself never completes
        }[blocked]
        async with auto_sender(gmail, api, OAuth2Token(ACCOUNT, ACCESS_TOKEN), port=port) as sender:
            first = await sender.send(to="a@example.com", subject="1", text="x")
            second = await sender.send(to="a@example.com", subject="2", text="x")
    assert (first.transport, second.transport) == ("api", "api")
    assert first.transport_reason is not None
    expected = "refused the connection" if blocked == "refusing" else "did not answer within"
    assert expected in first.transport_reason
    assert silent_port.connections == (1 if blocked == "silent" else 0)  # probed once, remembered
    assert [m.via for m in gmail.messages] == ["api", "api"]


async def test_smtp_gone_between_messages_sends_the_next_one_over_the_api(
    gmail: LocalGmail, api: LocalGmailAPI
) -> None:
    events: list[SendEvent] = []
    async with auto_sender(
        gmail, api, OAuth2Token(ACCOUNT, ACCESS_TOKEN), on_event=events.append
    ) as sender:
        first = await sender.send(to="a@example.com", subject="1", text="x")
        await gmail.stop()  # its mailbox stays; the API beside it keeps running
        second = await sender.send(to="a@example.com", subject="2", text="x")
    assert (first.transport, second.transport) == ("smtp", "api")
    assert [e.transport for e in events if isinstance(e, TransportChosen)] == ["smtp", "api"]
    assert [m.via for m in gmail.messages] == ["smtp", "api"]
