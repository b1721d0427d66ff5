"""The Workspace SMTP relay preset: by IP address (no AUTH) or signed in; plain only when asked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gmail_send import AppPassword, ConfigurationError, OAuth2Token, PermanentError, PoolOptions
from gmail_send._relay import RELAY_DAILY_LIMIT, WORKSPACE_RELAY_HOST, workspace_relay
from gmail_send.smtp import GMAIL_REPLIES
from gmail_send.testing import LocalGmail

from .local_helpers import ACCESS_TOKEN, ACCOUNT, APP_PASSWORD


def test_preset_points_at_the_relay() -> None:
    sender = workspace_relay(AppPassword(ACCOUNT, APP_PASSWORD), max_connections=5)
    assert (sender.host, sender.port, sender.security) == (WORKSPACE_RELAY_HOST, 587, "starttls")
    assert sender.daily_limit == RELAY_DAILY_LIMIT == 10_000


async def test_relay_with_xoauth2(start_gmail: Callable[..., Any]) -> None:
    relay: LocalGmail = await start_gmail(security="starttls")
    async with workspace_relay(
        OAuth2Token(ACCOUNT, ACCESS_TOKEN),
        host=relay.host,
        port=relay.port,
        tls_context=relay.client_tls_context(),
    ) as sender:
        result = await sender.send(to="you@example.com", subject="relay", text="x")
    assert result.auth_method == "xoauth2"


async def test_relay_by_ip_over_tls_sends_no_auth(start_gmail: Callable[..., Any]) -> None:
    relay: LocalGmail = await start_gmail(security="starttls", allow_relay_by_ip=True)
    async with workspace_relay(
        None,
        host=relay.host,
        port=relay.port,
        tls_context=relay.client_tls_context(),
        pool=PoolOptions(local_hostname="mail.example.com"),
    ) as sender:
        result = await sender.send(
            from_="app@example.com", to="you@example.com", subject="relay", text="x"
        )
    assert result.auth_method is None
    [session] = relay.sessions
    assert session.tls
    assert session.ehlo_name == "mail.example.com"
    assert not any(c.startswith("AUTH") for c in session.commands)
    assert relay.messages[0].mail_from == "app@example.com"


async def test_relay_with_auth(start_gmail: Callable[..., Any]) -> None:
    relay: LocalGmail = await start_gmail(security="tls")
    async with workspace_relay(
        AppPassword(ACCOUNT, APP_PASSWORD),
        security="tls",
        host=relay.host,
        port=relay.port,
        tls_context=relay.client_tls_context(),
    ) as sender:
        result = await sender.send(to="you@example.com", subject="relay", text="x")
    assert result.auth_method == "plain"


async def test_ip_not_allowed_gets_the_relay_hint(start_gmail: Callable[..., Any]) -> None:
    relay: LocalGmail = await start_gmail(security="starttls", allow_relay_by_ip=True)
    rule = next(r for r in GMAIL_REPLIES if r.match == "relay")
    relay.inject("mail", rule)
    async with workspace_relay(
        None, host=relay.host, port=relay.port, tls_context=relay.client_tls_context()
    ) as sender:
        with pytest.raises(PermanentError) as caught:
            await sender.send(from_="app@example.com", to="you@example.com", subject="x", text="x")
    assert caught.value.hint and "Admin console" in caught.value.hint


def test_unencrypted_refused_with_credentials() -> None:
    with pytest.raises(ConfigurationError, match="unencrypted"):
        workspace_relay(AppPassword(ACCOUNT, APP_PASSWORD), security="none")


async def test_unencrypted_allowed_without(start_gmail: Callable[..., Any]) -> None:
    relay: LocalGmail = await start_gmail(security="none", allow_relay_by_ip=True)
    async with workspace_relay(None, security="none", host=relay.host, port=relay.port) as sender:
        assert sender.port == relay.port
        result = await sender.send(
            from_="app@example.com", to="you@example.com", subject="plain", text="x"
        )
    assert result.auth_method is None
    assert not relay.sessions[0].tls
