"""The wrong security mode for a port fails in seconds, with a hint naming the right one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from gmail_send import AppPassword, ConfigurationError, GmailConnectionError, GmailSender, TLSError
from gmail_send.testing import LocalGmail

from .local_helpers import ACCOUNT, APP_PASSWORD, QUICK_RETRY


@pytest.mark.parametrize(("port", "security"), [(465, "starttls"), (587, "tls")])
def test_gmails_well_known_ports_are_checked_when_the_sender_is_built(
    port: int, security: Any
) -> None:
    with pytest.raises(ConfigurationError, match=f"port {port} speaks") as caught:
        GmailSender(AppPassword(ACCOUNT, APP_PASSWORD), port=port, security=security)
    assert caught.value.hint is not None and "implicit TLS on 465" in caught.value.hint


async def _send(server: LocalGmail, security: Any) -> float:
    started = time.monotonic()
    async with GmailSender(
        AppPassword(ACCOUNT, APP_PASSWORD),
        host=server.host,
        port=server.port,
        security=security,
        tls_context=server.client_tls_context(),
        retry=QUICK_RETRY,
    ) as sender:
        await sender.send(to="you@example.com", subject="x", text="x")
    return time.monotonic() - started


async def test_starttls_against_an_implicit_tls_port_fails_in_seconds(
    start_gmail: Callable[..., Any],
) -> None:
    server: LocalGmail = await start_gmail(security="tls")
    started = time.monotonic()
    with pytest.raises(GmailConnectionError) as caught:
        await _send(server, "starttls")
    assert time.monotonic() - started < 10  # the timeout is 60 s; this used to wait for it
    assert "sent no greeting" in caught.value.message
    assert caught.value.hint is not None and "security='tls'" in caught.value.hint
    assert server.messages == []


async def test_tls_against_a_starttls_port_names_starttls(
    start_gmail: Callable[..., Any],
) -> None:
    server: LocalGmail = await start_gmail(security="starttls")
    started = time.monotonic()
    with pytest.raises(TLSError) as caught:
        await _send(server, "tls")
    assert time.monotonic() - started < 10
    assert "WRONG_VERSION_NUMBER" in caught.value.message
    assert caught.value.hint is not None and "security='starttls'" in caught.value.hint
    assert len(server.sessions) <= 1  # not retried


async def test_a_port_that_never_answers_fails_in_seconds() -> None:
    """A listener that accepts and stays silent, like a firewall that swallows the greeting."""
    silent: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)

    listener = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    started = time.monotonic()
    try:
        async with GmailSender(
            None, host="127.0.0.1", port=port, security="none", retry=QUICK_RETRY
        ) as sender:
            with pytest.raises(GmailConnectionError, match="no greeting"):
                await sender.send(from_="app@example.com", to="a@example.com", text="x")
    finally:
        for writer in silent:
            writer.close()
        listener.close()
        await listener.wait_closed()
    assert time.monotonic() - started < 10
