"""The blocking API: from a plain function, from inside a running event loop, from threads."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gmail_send import (
    ConfigurationError,
    GmailSender,
    NoRecipientsError,
    OutgoingMessage,
    PoolOptions,
    SendResult,
    send,
)
from gmail_send.auth import OAuth2Credentials
from gmail_send.sync import SyncGmailSender, send_sync
from gmail_send.testing import LocalGmailThread, LocalTokenEndpoint, Outbox, TestCertificates


@pytest.fixture
def local(certificates: TestCertificates) -> Iterator[LocalGmailThread]:
    with LocalGmailThread(certificates=certificates) as server:
        yield server


def test_send_sync_from_a_plain_function(local: LocalGmailThread) -> None:
    result = send_sync(**local.settings(), to="you@example.com", subject="Hi", text="hello")
    assert result.accepted == ("you@example.com",)
    assert result.auth_method in ("login", "plain")
    [received] = local.messages
    assert received.rcpt_tos == ("you@example.com",)
    assert received.parsed()["Subject"] == "Hi"


def test_sync_sender_keeps_one_session(local: LocalGmailThread) -> None:
    with SyncGmailSender(**local.settings()) as gmail:
        assert gmail.account == local.account
        for n in range(3):
            gmail.send(to="you@example.com", subject=f"message {n}", text="hi")
    assert len(local.messages) == 3
    assert len(local.server.sessions) == 1
    assert local.server.sessions[0].commands[-1].startswith("QUIT")  # closed by the with


async def test_send_sync_inside_a_running_event_loop(local: LocalGmailThread) -> None:
    asyncio.get_running_loop()  # this thread's loop runs: asyncio.run() would refuse here
    result = send_sync(**local.settings(), to="you@example.com", subject="from a loop", text="x")
    with SyncGmailSender(**local.settings()) as gmail:
        gmail.send(to="you@example.com", subject="sender in a loop", text="x")
    assert result.accepted == ("you@example.com",)
    assert [m.parsed()["Subject"] for m in local.messages] == ["from a loop", "sender in a loop"]


def test_one_sender_shared_by_threads(local: LocalGmailThread) -> None:
    with SyncGmailSender(**local.settings()) as gmail:

        def work(n: int) -> None:
            gmail.send(to="you@example.com", subject=f"thread {n}", text="x")

        errors = run_threads([(work, n) for n in range(8)])
    assert errors == []
    assert sorted(m.parsed()["Subject"] for m in local.messages) == sorted(
        f"thread {n}" for n in range(8)
    )


def test_one_token_refresh_across_threads_and_loops(local: LocalGmailThread) -> None:
    """Sync callers, sync callers inside a running loop, and async callers on loops of their
    own all want a token at once: one refresh serves them all."""
    with LocalTokenEndpoint(gmail=local.server, exclusive=True) as endpoint:
        endpoint.delay = 0.2  # keep the refresh in flight while the others ask
        credentials = OAuth2Credentials.from_info(
            endpoint.token_info(local.account, access_token_lifetime=-60)
        )
        options: dict[str, Any] = {
            "host": local.host,
            "port": local.port,
            "tls_context": local.server.client_tls_context(),
            "to": "you@example.com",
        }
        start = threading.Barrier(9)

        def plain(n: int) -> None:
            start.wait()
            send_sync(credentials, **options, subject=f"plain {n}")

        def sync_inside_a_loop(n: int) -> None:
            async def main() -> None:
                start.wait()
                send_sync(credentials, **options, subject=f"sync in a loop {n}")

            asyncio.run(main())

        def async_on_its_own_loop(n: int) -> None:
            async def main() -> None:
                start.wait()
                await send(credentials, **options, subject=f"async {n}")

            asyncio.run(main())

        errors = run_threads(
            [
                (kind, n)
                for n in range(3)
                for kind in (plain, sync_inside_a_loop, async_on_its_own_loop)
            ]
        )
        assert errors == []
        assert endpoint.refresh_count == 1
    assert len(local.messages) == 9
    assert {m.session_user for m in local.messages} == {local.account}


def run_threads(calls: list[tuple[Callable[[int], None], int]]) -> list[BaseException]:
    """Run each call in a thread of its own; return what they raised."""
    errors: list[BaseException] = []

    def guarded(function: Callable[[int], None], n: int) -> None:
        try:
            function(n)
        except BaseException as exc:  # reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


class SyncCallingSink:
    """A sink that (wrongly) makes a sync call from gmail_send's own loop thread."""

    def __init__(self, local: LocalGmailThread) -> None:
        self.local = local

    async def deliver(self, outgoing: OutgoingMessage) -> SendResult:
        return send_sync(**self.local.settings(), to="x@example.com", subject="inner")


def test_sync_call_from_the_loop_thread_raises_instead_of_hanging(
    local: LocalGmailThread,
) -> None:
    with (
        SyncGmailSender(**local.settings(), sink=SyncCallingSink(local)) as gmail,
        pytest.raises(RuntimeError, match="use the async API there"),
    ):
        gmail.send(to="you@example.com", subject="outer", text="x")
    assert local.messages == []


def test_sync_sender_with_a_sink_and_typed_errors() -> None:
    outbox = Outbox()
    with SyncGmailSender(None, host="127.0.0.1", port=2525, security="none", sink=outbox) as gmail:
        gmail.send(from_="app@example.com", to="you@example.com", subject="kept", text="x")
        with pytest.raises(NoRecipientsError):
            gmail.send(from_="app@example.com", subject="nobody", text="x")
    outbox.assert_sent(to="you@example.com", subject="kept", count=1)
    with pytest.raises(ConfigurationError, match="closed"):
        gmail.send(from_="app@example.com", to="you@example.com", text="late")


def test_bad_settings_raise_in_the_caller() -> None:
    with pytest.raises(ConfigurationError):
        SyncGmailSender(None, security="bogus")  # type: ignore[arg-type]


def parameters(function: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    return [
        (p.name, p.kind, p.default)
        for p in inspect.signature(function).parameters.values()
        if p.name != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD
    ]


def test_parameters_are_those_of_the_async_twins() -> None:
    assert parameters(send_sync) == parameters(send)
    assert parameters(SyncGmailSender.send) == parameters(GmailSender.send)
    assert parameters(SyncGmailSender.send_message) == parameters(GmailSender.send_message)
    assert set(parameters(SyncGmailSender.__init__)) <= set(parameters(GmailSender.__init__))


def test_other_sender_options_are_passed_on(local: LocalGmailThread) -> None:
    with SyncGmailSender(
        **local.settings(),
        pool=PoolOptions(local_hostname="client.example"),
    ) as gmail:
        gmail.send(to="you@example.com", subject="x", text="x")
    assert local.server.sessions[0].ehlo_name == "client.example"
    with pytest.raises(TypeError):
        SyncGmailSender(**local.settings(), no_such_option=1)
