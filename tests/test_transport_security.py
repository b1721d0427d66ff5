"""Credentials only cross verified TLS; connection problems are named with a fix."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from typing import Any

import pytest

from gmail_send import (
    AppPassword,
    ConfigurationError,
    GmailConnectionError,
    GmailSender,
    OAuth2Token,
    RetryPolicy,
    TLSError,
    send,
)
from gmail_send.testing import LocalGmail

from .local_helpers import ACCESS_TOKEN, ACCOUNT, APP_PASSWORD


def test_credentials_with_security_none_refused_before_connecting() -> None:
    with pytest.raises(ConfigurationError, match="unencrypted"):
        GmailSender(AppPassword(ACCOUNT, APP_PASSWORD), host="127.0.0.1", security="none")


def test_context_without_verification_refused() -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with pytest.raises(ConfigurationError, match="does not verify"):
        GmailSender(OAuth2Token(ACCOUNT, ACCESS_TOKEN), tls_context=context)


async def test_server_without_starttls_gets_no_credentials(
    start_gmail: Callable[..., Any],
) -> None:
    plain: LocalGmail = await start_gmail(security="none")
    with pytest.raises(GmailConnectionError, match="does not offer STARTTLS"):
        await send(
            AppPassword(ACCOUNT, APP_PASSWORD),
            host=plain.host,
            port=plain.port,
            security="starttls",
            tls_context=plain.client_tls_context(),
            to="you@example.com",
            subject="x",
            text="x",
        )
    assert plain.auth_attempts == []
    assert all("AUTH" not in " ".join(s.commands) for s in plain.sessions)


async def test_relay_by_ip_without_credentials(start_gmail: Callable[..., Any]) -> None:
    relay: LocalGmail = await start_gmail(security="none", allow_relay_by_ip=True)
    result = await send(
        None,
        host=relay.host,
        port=relay.port,
        security="none",
        from_="app@example.com",
        to="you@example.com",
        subject="relay",
        text="x",
    )
    assert result.auth_method is None
    assert relay.messages[0].mail_from == "app@example.com"
    assert relay.auth_attempts == []


async def test_untrusted_certificate_is_a_tls_error(gmail: LocalGmail) -> None:
    with pytest.raises(TLSError) as caught:
        await send(
            OAuth2Token(ACCOUNT, ACCESS_TOKEN),
            host=gmail.host,
            port=gmail.port,  # the default trust store, not the test CA
            to="you@example.com",
            subject="x",
            text="x",
        )
    assert caught.value.hint and "intercept" in caught.value.hint
    assert gmail.auth_attempts == []


async def test_closed_port_names_the_alternative() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(GmailConnectionError) as caught:
        await send(
            OAuth2Token(ACCOUNT, ACCESS_TOKEN),
            host="127.0.0.1",
            port=port,
            to="you@example.com",
            subject="x",
            text="x",
        )
    assert caught.value.hint and f"port {port}" in caught.value.hint


async def test_greeting_refused_is_temporary(gmail: LocalGmail) -> None:
    from gmail_send import TemporaryError
    from gmail_send.smtp import GMAIL_REPLIES

    rule = next(r for r in GMAIL_REPLIES if r.code == 421 and r.match is None)
    gmail.inject("connect", rule)
    # retries=0: a GmailSender retries a 421 greeting by default (tests/test_retries.py).
    async with GmailSender(
        OAuth2Token(ACCOUNT, ACCESS_TOKEN),
        host=gmail.host,
        port=gmail.port,
        tls_context=gmail.client_tls_context(),
        retry=RetryPolicy(retries=0),
    ) as sender:
        with pytest.raises(TemporaryError) as caught:
            await sender.send(to="you@example.com", subject="x", text="x")
    assert caught.value.code == 421
    assert caught.value.retryable
