"""GmailSender(store=...): limits, pauses and token refreshes shared by senders that know
nothing of each other but the store URL, on real SQLite files and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gmail_send import (
    AccountQuotas,
    AppPassword,
    ConfigurationError,
    GmailSender,
    LoginThrottledError,
    OAuth2Credentials,
    QuotaExceededError,
    RetryPolicy,
    SendingLimits,
    from_env,
)
from gmail_send.testing import LocalGmail, LocalGmailThread, LocalTokenEndpoint, TestCertificates

from .local_helpers import ACCOUNT, APP_PASSWORD

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def sender(gmail: LocalGmail, store: str, credentials: Any = None, **options: Any) -> GmailSender:
    return GmailSender(
        credentials or AppPassword(ACCOUNT, APP_PASSWORD),
        host=gmail.host,
        port=gmail.port,
        tls_context=gmail.client_tls_context(),
        store=store,
        retry=RetryPolicy(backoff=0.01),
        **options,
    )


CHILD = """
import asyncio, json, sys
from gmail_send import GmailSender, AppPassword, QuotaExceededError, SendingLimits

async def main():
    server = json.loads(sys.argv[1])
    sent, refused = 0, []
    async with GmailSender(
        AppPassword(server["account"], server["app_password"]),
        host=server["host"], port=server["port"], ca_file=server["ca_file"],
        store=server["store"], limits=SendingLimits(daily_limit=10),
    ) as gmail:
        for n in range(6):
            try:
                await gmail.send(to="you@example.com", subject=f"n{n}", text="x")
                sent += 1
            except QuotaExceededError as exc:
                refused.append([exc.code, exc.retry_after is not None])
    print(json.dumps({"sent": sent, "refused": refused}))

asyncio.run(main())
"""


def test_four_processes_share_one_daily_limit(
    store_url: str, certificates: TestCertificates
) -> None:
    with LocalGmailThread(certificates=certificates) as local:
        server = {
            "account": local.account,
            "app_password": local.app_password,
            "host": local.host,
            "port": local.port,
            "ca_file": str(local.ca_file),
            "store": store_url,
        }
        environ = {**os.environ, "PYTHONPATH": str(ROOT)}
        children = [
            subprocess.Popen(
                [sys.executable, "-c", CHILD, json.dumps(server)],
                env=environ,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        reports = []
        for child in children:
            out, err = child.communicate(timeout=180)
            assert child.returncode == 0, err
            reports.append(json.loads(out))
        assert sum(r["sent"] for r in reports) == 10  # not 4 x 10
        assert len(local.messages) == 10
        refused = [item for r in reports for item in r["refused"]]
        assert len(refused) == 14
        assert all(code is None for code, _ in refused)  # the library's decision, no reply


async def test_gmails_daily_limit_reply_pauses_every_sender(
    gmail: LocalGmail, store_url: str
) -> None:
    gmail.inject("mail", (550, "5.4.5 Daily user sending limit exceeded."))
    async with sender(gmail, store_url) as first, sender(gmail, store_url) as second:
        with pytest.raises(QuotaExceededError) as from_gmail:
            await first.send(to="a@example.com", subject="1", text="x")
        assert from_gmail.value.code == 550
        sessions = len(gmail.sessions)
        with pytest.raises(QuotaExceededError) as paused:
            await second.send(to="a@example.com", subject="2", text="x")
        assert paused.value.code is None
        assert paused.value.retry_after is not None and paused.value.retry_after > 3000
        assert len(gmail.sessions) == sessions  # Gmail was not asked again
        await second.reset_quota()
        await first.send(to="a@example.com", subject="3", text="x")
    assert len(gmail.messages) == 1


async def test_the_login_hold_off_is_shared(gmail: LocalGmail, store_url: str) -> None:
    gmail.inject("auth", (454, "4.7.0 Too many login attempts, please try again later."))
    async with sender(gmail, store_url) as first, sender(gmail, store_url) as second:
        with pytest.raises(LoginThrottledError):
            await first.send(to="a@example.com", subject="1", text="x")
        attempts = len(gmail.auth_attempts)
        with pytest.raises(LoginThrottledError) as held:
            await second.send(to="a@example.com", subject="2", text="x")
        assert held.value.code is None
        assert len(gmail.auth_attempts) == attempts  # no login tried during the hold-off


@pytest.fixture
async def endpoint(gmail: LocalGmail) -> AsyncIterator[LocalTokenEndpoint]:
    async with LocalTokenEndpoint(gmail=gmail, signed_in_user=ACCOUNT) as server:
        yield server


async def test_senders_refresh_one_token_for_the_account(
    gmail: LocalGmail, endpoint: LocalTokenEndpoint, store_url: str, tmp_path: Path
) -> None:
    token_file = tmp_path / "token.json"
    endpoint.issue_token_file(token_file, ACCOUNT)
    senders = [
        sender(gmail, store_url, OAuth2Credentials.from_file(token_file, write_back=False))
        for _ in range(3)
    ]
    try:
        await asyncio.gather(
            *(s.send(to="a@example.com", subject=f"{n}", text="x") for n, s in enumerate(senders))
        )
    finally:
        for s in senders:
            await s.aclose()
    assert endpoint.refresh_count == 1
    assert len(gmail.messages) == 3


def test_store_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="both store and SendingLimits"):
        GmailSender(
            AppPassword(ACCOUNT, APP_PASSWORD),
            store=f"sqlite:///{tmp_path / 'x.db'}",
            limits=SendingLimits(quotas=AccountQuotas()),
        )
    with pytest.raises(ConfigurationError, match="sqlite:/// or postgresql://"):
        GmailSender(AppPassword(ACCOUNT, APP_PASSWORD), store="redis://localhost")
    settings = from_env(
        {
            "GMAIL_SEND_USER": ACCOUNT,
            "GMAIL_SEND_APP_PASSWORD": APP_PASSWORD,
            "GMAIL_SEND_STORE": "postgresql://app:hunter2@db.example/gmail",
        }
    )
    assert settings.store == "postgresql://app:hunter2@db.example/gmail"
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.describe())


async def test_the_rate_limit_is_shared_by_the_senders_of_an_account(
    gmail: LocalGmail, store_url: str
) -> None:
    rate = SendingLimits(rate_limit=10)
    async with (
        sender(gmail, store_url, limits=rate) as first,
        sender(gmail, store_url, limits=rate) as second,
    ):
        await asyncio.gather(
            *(
                s.send(to="a@example.com", subject=f"{n}", text="x")
                for n in range(5)
                for s in (first, second)
            )
        )
    times = sorted(m.received_at for m in gmail.messages)
    assert len(times) == 10
    # Ten messages at 10 a second between both senders need at least 0.9 s (a lower bound:
    # a slow machine only makes it longer). Each sender alone would have allowed 0.4 s.
    assert times[-1] - times[0] >= 0.8


def test_a_store_given_later_shares_the_rate_limit_too(tmp_path: Path) -> None:
    """The mail queue gives its database to senders made without a store."""
    from gmail_send._limits import SharedRateLimiter
    from gmail_send.store import StateStore

    gmail = GmailSender(AppPassword(ACCOUNT, APP_PASSWORD), limits=SendingLimits(rate_limit=5))
    gmail._use_store(StateStore(f"sqlite:///{tmp_path / 'state.db'}"))
    assert isinstance(gmail._delivery.rate, SharedRateLimiter)
