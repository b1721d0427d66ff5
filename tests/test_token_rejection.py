"""After Gmail rejects an access token: one new token, keyed on the one rejected, never the same
token twice; token sources written without the `rejected` keyword keep working."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gmail_send import (
    AccountQuotas,
    AuthenticationError,
    GmailSender,
    OAuth2Token,
    SendingLimits,
    TokenError,
    TokenFunction,
)
from gmail_send.auth import OAuth2Credentials
from gmail_send.auth._credentials import takes_rejected
from gmail_send.events import SendEvent, TokenRefreshed
from gmail_send.testing import LocalGmail, LocalTokenEndpoint

from .local_helpers import ACCESS_TOKEN, ACCOUNT


@pytest.fixture
async def endpoint(gmail: LocalGmail) -> AsyncIterator[LocalTokenEndpoint]:
    async with LocalTokenEndpoint(gmail=gmail, signed_in_user=ACCOUNT) as server:
        yield server


def sender(gmail: LocalGmail, credentials: Any, **options: Any) -> GmailSender:
    return GmailSender(
        credentials,
        host=gmail.host,
        port=gmail.port,
        tls_context=gmail.client_tls_context(),
        limits=SendingLimits(quotas=AccountQuotas()),
        **options,
    )


def xoauth2_outcomes(gmail: LocalGmail) -> list[bool]:
    return [a.success for a in gmail.auth_attempts if a.mechanism == "XOAUTH2"]


async def test_a_token_rejected_right_after_it_was_issued_is_replaced(
    gmail: LocalGmail, endpoint: LocalTokenEndpoint
) -> None:
    credentials = OAuth2Credentials.from_info(endpoint.token_info(ACCOUNT))
    issued = await credentials.get_token(force_refresh=True)  # seconds old, by any measure
    gmail.revoke_access_token(issued)
    events: list[SendEvent] = []
    async with sender(gmail, credentials, on_event=events.append) as gmail_sender:
        result = await gmail_sender.send(to="you@example.com", subject="x", text="x")
    assert result.auth_method == "xoauth2"
    assert xoauth2_outcomes(gmail) == [False, True]
    assert endpoint.refresh_count == 2  # the one above, and one for the rejected token
    assert [e for e in events if isinstance(e, TokenRefreshed)] == [
        TokenRefreshed(ACCOUNT, forced=True)
    ]


async def test_a_rejected_token_is_replaced_however_new(endpoint: LocalTokenEndpoint) -> None:
    credentials = OAuth2Credentials.from_info(endpoint.token_info(ACCOUNT))
    first = await credentials.get_token(force_refresh=True)
    second = await credentials.get_token(force_refresh=True, rejected=first)
    assert second != first
    assert endpoint.refresh_count == 2
    # A caller rejected with a token that was replaced meanwhile gets the replacement.
    assert await credentials.get_token(force_refresh=True, rejected=first) == second
    assert endpoint.refresh_count == 2
    # `rejected` implies a forced refresh; the synchronous API takes it too.
    third = await asyncio.to_thread(credentials.get_token_sync, rejected=second, timeout=30)
    assert third not in (first, second)
    assert endpoint.refresh_count == 3


async def test_sessions_rejected_with_the_same_token_cause_one_refresh(
    endpoint: LocalTokenEndpoint,
) -> None:
    endpoint.delay = 0.1
    credentials = OAuth2Credentials.from_info(endpoint.token_info(ACCOUNT))
    issued = await credentials.get_token(force_refresh=True)
    tokens = await asyncio.gather(
        *(credentials.get_token(force_refresh=True, rejected=issued) for _ in range(50))
    )
    assert len(set(tokens)) == 1 and tokens[0] != issued
    assert endpoint.refresh_count == 2


async def test_a_rejected_fixed_token_is_not_tried_twice(gmail: LocalGmail) -> None:
    events: list[SendEvent] = []
    async with sender(
        gmail, OAuth2Token(ACCOUNT, "ya29.unknown-to-gmail"), on_event=events.append
    ) as gmail_sender:
        with pytest.raises(AuthenticationError) as caught:
            await gmail_sender.send(to="you@example.com", subject="x", text="x")
    assert xoauth2_outcomes(gmail) == [False]
    assert len(gmail.sessions) == 1
    assert caught.value.code == 535
    assert caught.value.oauth_status is not None
    assert isinstance(caught.value.__cause__, AuthenticationError)  # Gmail's, as raised
    assert not any(isinstance(e, TokenRefreshed) for e in events)  # nothing was refreshed


async def test_a_token_function_giving_the_same_token_again_is_not_tried_twice(
    gmail: LocalGmail,
) -> None:
    calls: list[bool] = []

    async def same(force_refresh: bool) -> str:
        calls.append(force_refresh)
        return "ya29.unknown-to-gmail"

    async with sender(gmail, TokenFunction(ACCOUNT, same)) as gmail_sender:
        with pytest.raises(AuthenticationError):
            await gmail_sender.send(to="you@example.com", subject="x", text="x")
    assert calls == [False, True]  # it was asked for a new one
    assert xoauth2_outcomes(gmail) == [False]


class _TodaysProtocol:
    """A third-party token source written before `rejected` existed."""

    def __init__(self) -> None:
        self.calls: list[bool] = []

    @property
    def user(self) -> str:
        return ACCOUNT

    async def get_token(self, *, force_refresh: bool = False) -> str:
        self.calls.append(force_refresh)
        return ACCESS_TOKEN if force_refresh else "ya29.stale"


class _NamesTheRejected:
    """A source that takes the new keyword (through **kwargs)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    @property
    def user(self) -> str:
        return ACCOUNT

    async def get_token(self, **options: Any) -> str:
        self.calls.append(options)
        return ACCESS_TOKEN if options.get("rejected") else "ya29.stale"


async def test_a_source_without_the_rejected_keyword_keeps_working(gmail: LocalGmail) -> None:
    source = _TodaysProtocol()
    assert not takes_rejected(source)
    async with sender(gmail, source) as gmail_sender:
        result = await gmail_sender.send(to="you@example.com", subject="x", text="x")
    assert result.auth_method == "xoauth2"
    assert source.calls == [False, True]
    assert xoauth2_outcomes(gmail) == [False, True]


async def test_a_source_that_takes_the_keyword_is_told_which_token_was_rejected(
    gmail: LocalGmail,
) -> None:
    source = _NamesTheRejected()
    assert takes_rejected(source)
    async with sender(gmail, source) as gmail_sender:
        await gmail_sender.send(to="you@example.com", subject="x", text="x")
    first, second = source.calls
    assert not first.get("force_refresh") and "rejected" not in first
    assert second == {"force_refresh": True, "rejected": "ya29.stale"}
    assert xoauth2_outcomes(gmail) == [False, True]


@pytest.mark.parametrize(
    ("returned", "words"),
    [
        ("ya29.good\r\nMAIL FROM:<evil@x>", "control character"),
        ("", "empty token"),
        (None, "returned NoneType"),
        (b"ya29.bytes", "returned bytes"),
    ],
)
async def test_a_bad_token_from_the_source_is_a_token_error_and_nothing_is_sent(
    gmail: LocalGmail, returned: Any, words: str
) -> None:
    async def produce(force_refresh: bool) -> Any:
        return returned

    async with sender(gmail, TokenFunction(ACCOUNT, produce)) as gmail_sender:
        with pytest.raises(TokenError, match=words) as caught:
            await gmail_sender.send(to="a@example.com", subject="x", text="x")
    assert "ya29" not in str(caught.value)
    assert gmail.sessions == []  # no connection was even opened
    assert gmail.messages == []
