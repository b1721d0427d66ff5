"""The shared store on real SQLite files and a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gmail_send import ConfigurationError, OAuth2Credentials
from gmail_send.store import SharedTokens, StateStore, StoreUnavailableError
from gmail_send.testing import LocalTokenEndpoint

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "Me@Gmail.com"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_the_daily_count_holds_reservations_until_settled(store_url: str) -> None:
    clock = Clock()
    store = StateStore(store_url, clock=clock)
    first = await store.admit(ACCOUNT, 2)
    second = await store.admit(ACCOUNT.lower(), 2)  # accounts are case-insensitive
    assert first.reservation and second.reservation
    full = await store.admit(ACCOUNT, 2)
    assert full.reservation is None and full.sent == 2
    await store.settle(ACCOUNT, first.reservation, sent=False)  # surely not sent: room again
    third = await store.admit(ACCOUNT, 2)
    assert third.reservation
    await store.settle(ACCOUNT, second.reservation, sent=True)
    await store.settle(ACCOUNT, third.reservation, sent=True)
    assert await store.sent_today(ACCOUNT) == 2
    refused = await store.admit(ACCOUNT, 2)
    assert refused.reservation is None and refused.oldest == clock.now
    clock.now += 24 * 3600 + 1  # the rolling window moved on
    assert (await store.admit(ACCOUNT, 2)).reservation
    await store.aclose()


async def test_a_dead_processs_reservation_expires(store_url: str) -> None:
    clock = Clock()
    store = StateStore(store_url, clock=clock)
    assert (await store.admit(ACCOUNT, 1)).reservation  # never settled: its process died
    assert (await store.admit(ACCOUNT, 1)).reservation is None
    clock.now += 901
    assert (await store.admit(ACCOUNT, 1)).reservation


async def test_pauses_are_shared_and_reset(store_url: str) -> None:
    clock = Clock()
    one, other = StateStore(store_url, clock=clock), StateStore(store_url, clock=clock)
    await one.pause(ACCOUNT, "quota", 3600)
    await one.pause(ACCOUNT, "quota", 60)  # a shorter pause does not shorten the longer one
    assert await other.paused_for(ACCOUNT, "quota") == 3600
    assert (await other.admit(ACCOUNT, None)).paused_for == 3600
    await other.pause(ACCOUNT, "login", 300)
    assert await one.paused_for(ACCOUNT, "login") == 300
    await one.reset(ACCOUNT)
    assert await other.paused_for(ACCOUNT, "quota") is None
    assert await other.paused_for(ACCOUNT, "login") == 300


ADMITTER = """
import asyncio, json, sys
from gmail_send.store import StateStore

async def main():
    store = StateStore(sys.argv[1])
    admitted = 0
    for _ in range(int(sys.argv[2])):
        answer = await store.admit("me@gmail.com", int(sys.argv[3]))
        if answer.reservation:
            await store.settle("me@gmail.com", answer.reservation, sent=True)
            admitted += 1
    print(json.dumps(admitted))

asyncio.run(main())
"""


def _python(script: str, *args: str) -> subprocess.Popen[str]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_processes_together_never_pass_the_daily_limit(store_url: str) -> None:
    """The N x 500 case: four workers, each trying 40 sends, share a limit of 100."""
    workers = [_python(ADMITTER, store_url, "40", "100") for _ in range(4)]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        results.append(json.loads(out))
    assert sum(results) == 100
    assert asyncio.run(StateStore(store_url).sent_today("me@gmail.com")) == 100


REFRESHER = """
import asyncio, json, sys
from gmail_send import OAuth2Credentials
from gmail_send.store import SharedTokens, StateStore

async def main():
    source = OAuth2Credentials.from_file(sys.argv[2], write_back=False)
    shared = SharedTokens(source, StateStore(sys.argv[1]), poll=0.05)
    tokens = await asyncio.gather(*(shared.get_token() for _ in range(3)))
    print(json.dumps(sorted(set(tokens))))

asyncio.run(main())
"""


def test_processes_refresh_a_token_once(store_url: str, tmp_path: Path) -> None:
    with LocalTokenEndpoint() as endpoint:
        token_file = tmp_path / "token.json"
        endpoint.issue_token_file(token_file, "me@gmail.com")
        workers = [_python(REFRESHER, store_url, str(token_file)) for _ in range(4)]
        seen = set()
        for worker in workers:
            out, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err
            seen.update(json.loads(out))
        assert endpoint.refresh_count == 1
        assert seen == {endpoint.issued_tokens[-1].access_token}


async def test_a_rejected_token_is_refreshed_once_for_everyone(
    store_url: str, tmp_path: Path
) -> None:
    with LocalTokenEndpoint() as endpoint:
        token_file = tmp_path / "token.json"
        endpoint.issue_token_file(token_file, "me@gmail.com")
        store = StateStore(store_url)
        first = SharedTokens(OAuth2Credentials.from_file(token_file, write_back=False), store)
        second = SharedTokens(OAuth2Credentials.from_file(token_file, write_back=False), store)
        token = await first.get_token()
        assert await second.get_token() == token
        fresh = await second.get_token(force_refresh=True, rejected=token)
        assert fresh != token
        assert await first.get_token() == fresh  # published for the others
        assert endpoint.refresh_count == 2


async def test_an_unreachable_store_degrades_to_one_refresh_per_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with LocalTokenEndpoint() as endpoint:
        token_file = tmp_path / "token.json"
        endpoint.issue_token_file(token_file, "me@gmail.com")
        store = StateStore(f"sqlite:///{tmp_path / 'missing' / 'state.db'}")
        with pytest.raises(StoreUnavailableError, match="does not exist"):
            await store.admit(ACCOUNT, 1)
        shared = SharedTokens(OAuth2Credentials.from_file(token_file, write_back=False), store)
        assert await shared.get_token() == endpoint.issued_tokens[-1].access_token
        assert "store is unavailable" in caplog.text


def test_store_urls_are_checked_and_passwords_hidden() -> None:
    with pytest.raises(ConfigurationError, match="sqlite:///"):
        StateStore("sqlite://relative.db")
    with pytest.raises(ConfigurationError, match="sqlite:/// or postgresql://"):
        StateStore("mysql://user:hunter2@db/x")
    store = StateStore("postgresql://app:hunter2@127.0.0.1:9/gmail")
    assert "hunter2" not in repr(store)
    assert store.name == "postgresql://app:***@127.0.0.1:9/gmail"


async def test_an_unreachable_postgresql_names_it_without_the_password() -> None:
    store = StateStore("postgresql://app:hunter2@127.0.0.1:9/gmail")
    with pytest.raises(StoreUnavailableError) as caught:
        await store.admit(ACCOUNT, 1)
    assert "hunter2" not in str(caught.value)
    assert "127.0.0.1:9" in str(caught.value)


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "state.db"
    await StateStore(f"sqlite:///{path}").sent_today(ACCOUNT)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE gmail_send_schema SET version = 99")
    with pytest.raises(ConfigurationError, match="schema version 99"):
        await StateStore(f"sqlite:///{path}").sent_today(ACCOUNT)


async def test_sending_slots_are_shared(store_url: str) -> None:
    """The rate limit across processes: each booking comes `interval` after the last one."""
    clock = Clock()
    one, other = StateStore(store_url, clock=clock), StateStore(store_url, clock=clock)
    assert await one.take_slot(ACCOUNT, 0.5) == 0
    assert await other.take_slot(ACCOUNT, 0.5) == 0.5
    assert await one.take_slot(ACCOUNT, 0.5) == 1.0
    clock.now += 10  # idle for a while: the next slot is now, not in the past
    assert await other.take_slot(ACCOUNT, 0.5) == 0
