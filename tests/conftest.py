"""Shared fixtures: the local Gmail-like server over real TLS (trustme CA)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from gmail_send._limits import API_WINDOWS, PROCESS_QUOTAS
from gmail_send.testing import LocalGmail, LocalGmailAPI, TestCertificates

from .local_helpers import ACCESS_TOKEN, ACCOUNT, account
from .postgres_helpers import postgres_server, postgres_url  # noqa: F401 (fixtures)
from .queue_helpers import queue_url  # noqa: F401 (fixture)
from .transports import Mail


@pytest.fixture(autouse=True)
def fresh_daily_quota() -> Iterator[None]:
    """Every test starts with the process-wide daily count and Gmail API send windows (shared
    by all senders) empty."""
    PROCESS_QUOTAS.clear()
    API_WINDOWS.clear()
    yield
    PROCESS_QUOTAS.clear()
    API_WINDOWS.clear()


@pytest.fixture(scope="session")
def certificates() -> TestCertificates:
    """One throw-away CA for the whole run (key generation is the slow part)."""
    return TestCertificates()


@pytest.fixture
async def start_gmail(
    certificates: TestCertificates,
) -> AsyncIterator[Callable[..., Any]]:
    """Start local Gmail servers with given options; all are stopped when the test ends."""
    started: list[LocalGmail] = []

    async def start(**options: Any) -> LocalGmail:
        options.setdefault("accounts", [account()])
        options.setdefault("certificates", certificates)
        server = LocalGmail(**options)
        await server.start()
        started.append(server)
        server.add_access_token(ACCOUNT, ACCESS_TOKEN)
        return server

    yield start
    for server in started:
        await server.stop()


@pytest.fixture
async def gmail(start_gmail: Callable[..., Any]) -> LocalGmail:
    """A STARTTLS server like smtp.gmail.com:587."""
    server: LocalGmail = await start_gmail(security="starttls")
    return server


@pytest.fixture
async def start_api() -> AsyncIterator[Callable[..., Any]]:
    """Start local Gmail APIs beside local Gmail servers; all are stopped when the test ends."""
    started: list[LocalGmailAPI] = []

    async def start(server: LocalGmail, **options: Any) -> LocalGmailAPI:
        api = LocalGmailAPI(server, **options)
        await api.start()
        started.append(api)
        return api

    yield start
    for api in started:
        await api.stop()


@pytest.fixture(params=["smtp", "api"])
async def mail(
    request: pytest.FixtureRequest, start_gmail: Callable[..., Any], start_api: Callable[..., Any]
) -> Mail:
    """A local Gmail reached over SMTP in one run and through its Gmail API in the other."""
    server: LocalGmail = await start_gmail()
    return Mail(request.param, server, await start_api(server))
