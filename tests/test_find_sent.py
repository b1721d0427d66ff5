"""`find_sent` against the local Gmail's IMAP: both sign-in kinds, every fault, the window.

The local Gmail files each message it accepts from a signed-in session in the account's Sent
Mail (after `sent_copy_delay`, or never) and serves IMAP over TLS on 127.0.0.1; the sender
trusts its CA through `tls_context`, as for SMTP.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gmail_send import (
    AppPassword,
    ConfigurationError,
    Fallback,
    GmailSender,
    OAuth2Token,
    ReconciliationUnavailableError,
    SyncGmailSender,
    UnknownOutcomeError,
    from_env,
)
from gmail_send._options import Settings
from gmail_send.auth._scopes import SEND_SCOPE
from gmail_send.errors import MessageError
from gmail_send.imap import IMAPSettings
from gmail_send.imap._session import DEFAULT_TIMEOUT
from gmail_send.testing import LocalAccount, LocalGmail, LocalGmailThread

from .local_helpers import ACCESS_TOKEN, ACCOUNT, APP_PASSWORD, account, sender_for

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture
async def gmail() -> AsyncIterator[LocalGmail]:
    async with LocalGmail(accounts=[account()]) as server:
        server.add_access_token(ACCOUNT, ACCESS_TOKEN)
        yield server


def looker(server: LocalGmail, credentials: object = None, **options: object) -> GmailSender:
    """A sender whose SMTP and IMAP both go to the local Gmail."""
    options.setdefault("imap_host", server.host)
    options.setdefault("imap_port", server.imap_port)
    return sender_for(server, credentials, **options)  # type: ignore[arg-type]


async def sent_message_id(server: LocalGmail) -> str:
    async with looker(server) as gmail:
        result = await gmail.send(to="you@example.com", subject="Hi", text="Hello")
    return result.message_id


async def test_found_with_the_app_password(gmail: LocalGmail) -> None:
    message_id = await sent_message_id(gmail)
    async with looker(gmail) as sender:
        assert await sender.find_sent(message_id, wait=0)
        assert not await sender.find_sent("<never.sent@example.com>", wait=0)
        assert await sender.find_sent(message_id.strip("<>"), wait=0)  # brackets optional
    assert [s.user for s in gmail.imap_sessions][-1] == ACCOUNT


async def test_found_with_an_access_token(gmail: LocalGmail) -> None:
    message_id = await sent_message_id(gmail)
    async with looker(gmail, OAuth2Token(ACCOUNT, ACCESS_TOKEN)) as sender:
        assert await sender.find_sent(message_id, wait=0)
    assert gmail.imap_sessions[-1].method == "xoauth2"


class Rotating:
    """A token source whose first token Gmail no longer takes; a refresh gives a good one."""

    def __init__(self, first: str, second: str) -> None:
        self.tokens = [first, second]
        self.calls: list[str | None] = []

    @property
    def user(self) -> str:
        return ACCOUNT

    async def get_token(self, *, force_refresh: bool = False, rejected: str | None = None) -> str:
        self.calls.append(rejected)
        return self.tokens[1] if force_refresh else self.tokens[0]


async def test_a_refused_token_is_refreshed_once(gmail: LocalGmail) -> None:
    message_id = await sent_message_id(gmail)
    gmail.add_access_token(ACCOUNT, "ya29.old-token", expires_at=time.time() - 10)
    source = Rotating("ya29.old-token", ACCESS_TOKEN)
    async with looker(gmail, source) as sender:
        assert await sender.find_sent(message_id, wait=0)
    assert source.calls == [None, "ya29.old-token"]


async def test_a_token_without_the_mail_scope_is_unavailable(gmail: LocalGmail) -> None:
    gmail.add_access_token(ACCOUNT, "ya29.send-only", scope=SEND_SCOPE)
    async with looker(gmail, OAuth2Token(ACCOUNT, "ya29.send-only")) as sender:
        with pytest.raises(ReconciliationUnavailableError) as caught:
            await sender.find_sent("<a@b>", wait=0)
    assert caught.value.reason == "sign_in" and "scope" in (caught.value.hint or "")
    assert "ya29.send-only" not in str(caught.value)


class SendScoped(Rotating):
    granted_scopes = frozenset({SEND_SCOPE})


async def test_a_known_send_only_grant_is_refused_before_connecting(gmail: LocalGmail) -> None:
    async with looker(gmail, SendScoped(ACCESS_TOKEN, ACCESS_TOKEN), transport="api") as sender:
        with pytest.raises(ReconciliationUnavailableError) as caught:
            await sender.find_sent("<a@b>", wait=0)
    assert caught.value.reason == "scope" and not caught.value.temporary
    assert gmail.imap_sessions == []


async def test_the_relay_has_no_sent_mail(gmail: LocalGmail) -> None:
    relay = GmailSender(
        None,
        host=gmail.host,
        port=gmail.port,
        tls_context=gmail.client_tls_context(),
        imap_host=gmail.host,
        imap_port=gmail.imap_port,
    )
    with pytest.raises(ReconciliationUnavailableError) as caught:
        await relay.find_sent("<a@b>", wait=0)
    assert caught.value.reason == "relay" and "resolve" in (caught.value.hint or "")


async def test_a_copy_filed_late_inside_the_window_is_found(gmail: LocalGmail) -> None:
    gmail.sent_copy_delay = 1.0
    message_id = await sent_message_id(gmail)
    async with looker(gmail) as sender:
        assert not await sender.find_sent(message_id, wait=0)  # not filed yet
        assert await sender.find_sent(message_id, sent_at=time.time(), wait=30)


async def test_a_copy_never_filed_is_not_found_once_the_window_passed(gmail: LocalGmail) -> None:
    gmail.sent_copy_delay = None
    sent_at = time.time()
    message_id = await sent_message_id(gmail)
    async with looker(gmail) as sender:
        assert not await sender.find_sent(message_id, sent_at=sent_at, wait=1.0)
    assert time.time() >= sent_at + 1.0  # it searched until the window's end
    assert gmail.sent_mail(ACCOUNT) == []


async def test_the_window_counts_from_sent_at(gmail: LocalGmail) -> None:
    gmail.sent_copy_delay = None
    async with looker(gmail) as sender:
        started = time.monotonic()
        assert not await sender.find_sent("<a@b>", sent_at=time.time() - 3600, wait=60)
        assert time.monotonic() - started < 30  # one search: the window ended long ago


async def test_refused_sign_in_and_imap_off_are_unavailable(gmail: LocalGmail) -> None:
    gmail.refuse_imap_sign_in()
    async with looker(gmail) as sender:
        with pytest.raises(ReconciliationUnavailableError) as caught:
            await sender.find_sent("<a@b>", wait=0)
        assert caught.value.reason == "sign_in"
        assert await sender.find_sent("<a@b>", wait=0) is False  # the refusal was once
    gmail.add_account(LocalAccount(ACCOUNT, app_password=APP_PASSWORD, imap_enabled=False))
    async with looker(gmail) as sender:
        with pytest.raises(ReconciliationUnavailableError) as caught:
            await sender.find_sent("<a@b>", wait=0)
    assert caught.value.reason == "imap_disabled" and "IMAP" in (caught.value.hint or "")
    assert APP_PASSWORD not in str(caught.value)


async def test_standard_search_localised_names_and_all_mail() -> None:
    localised = LocalAccount(
        ACCOUNT, app_password=APP_PASSWORD, sent_mailbox="[Gmail]/送信済みメール"
    )
    for options in (
        {"imap_gmail_extensions": False},
        {"imap_special_use": False},
        {},
    ):
        async with LocalGmail(accounts=[localised], **options) as server:  # type: ignore[arg-type]
            message_id = await sent_message_id(server)
            async with looker(server) as sender:
                assert await sender.find_sent(message_id, wait=0), options
                assert not await sender.find_sent("<other@example.com>", wait=0), options


async def test_an_unknown_outcome_is_settled(gmail: LocalGmail) -> None:
    gmail.drop_connection("data_end_stored")
    async with looker(gmail) as sender:
        with pytest.raises(UnknownOutcomeError) as caught:
            await sender.send(to="you@example.com", subject="Hi", text="Hello")
        error = caught.value
        assert error.transport == "smtp" and error.sent_at is not None
        assert error.sent_at <= time.time()
        assert await sender.find_sent(error.message_id, sent_at=error.sent_at, wait=5)
        gmail.drop_connection("data_end")  # lost before it was stored
        with pytest.raises(UnknownOutcomeError) as caught:
            await sender.send(to="you@example.com", subject="Hi", text="Hello")
        lost = caught.value
        assert not await sender.find_sent(lost.message_id, sent_at=lost.sent_at, wait=0.5)
    assert len(gmail.messages) == 1


async def test_cancelling_a_lookup_ends_it_promptly(gmail: LocalGmail) -> None:
    gmail.sent_copy_delay = None
    async with looker(gmail) as sender:
        task = asyncio.create_task(sender.find_sent("<a@b>", wait=600))
        await asyncio.sleep(1.0)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < 10


async def test_no_secret_in_logs(gmail: LocalGmail, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    message_id = await sent_message_id(gmail)
    async with looker(gmail, OAuth2Token(ACCOUNT, ACCESS_TOKEN)) as sender:
        assert await sender.find_sent(message_id, wait=0)
    async with looker(gmail) as sender:
        assert await sender.find_sent(message_id, wait=0)
    text = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert ACCESS_TOKEN not in text and APP_PASSWORD not in text
    assert "found after 1 search" in text
    assert ACCESS_TOKEN not in repr(gmail.imap_sessions)


async def test_bad_arguments_are_typed_errors(gmail: LocalGmail) -> None:
    async with looker(gmail) as sender:
        with pytest.raises(MessageError):
            await sender.find_sent("<a\r\nb@c>")
        with pytest.raises(Exception, match="wait"):
            await sender.find_sent("<a@b>", wait=-1)
    assert gmail.imap_sessions == []


def test_the_sync_twin() -> None:
    with LocalGmailThread() as server, SyncGmailSender(**server.settings()) as gmail:
        result = gmail.send(to="you@example.com", subject="Hi", text="Hello")
        assert gmail.find_sent(result.message_id, wait=5)
        assert not gmail.find_sent("<no@example.com>", wait=0)


async def test_a_copy_of_an_earlier_message_with_the_same_id_does_not_count(
    gmail: LocalGmail,
) -> None:
    message_id = await sent_message_id(gmail)
    filed = gmail._state.sent_mail.copies(ACCOUNT)  # the server's own list: age the copy
    filed[0] = dataclasses.replace(filed[0], received_at=time.time() - 3600)
    async with looker(gmail) as sender:
        assert await sender.find_sent(message_id, wait=0)  # no sent_at: any copy counts
        sent_at = time.time()
        assert not await sender.find_sent(message_id, sent_at=sent_at, wait=0)
        await sender.send(to="you@example.com", subject="again", text="x", message_id=message_id)
        assert await sender.find_sent(message_id, sent_at=sent_at, wait=5)


async def test_the_id_is_the_bracketed_token_and_odd_ids_use_the_standard_search(
    gmail: LocalGmail,
) -> None:
    async with looker(gmail) as sender:
        odd = "<a{b}c.1@example.com>"  # braces group words in Gmail's search syntax
        await sender.send(to="you@example.com", subject="odd", text="x", message_id=odd)
        message_id = await sent_message_id(gmail)
        assert await sender.find_sent(f"{message_id} (a comment)", wait=0)
        assert await sender.find_sent(odd, wait=0)
    searches = [c for s in gmail.imap_sessions for c in s.commands if "SEARCH" in c]
    assert any("HEADER Message-ID" in c and "a{b}c.1" in c for c in searches), searches


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"message_id": "<ä@example.com>"}, MessageError),
        ({"wait": float("nan")}, ConfigurationError),
        ({"wait": float("inf")}, ConfigurationError),
        ({"sent_at": float("inf")}, ConfigurationError),
        ({"sent_at": -1.0}, ConfigurationError),
    ],
)
async def test_impossible_arguments_are_refused_before_connecting(
    gmail: LocalGmail, arguments: dict[str, Any], error: type[Exception]
) -> None:
    call = {"message_id": "<a@example.com>", **arguments}
    async with looker(gmail) as sender:
        with pytest.raises(error):
            await sender.find_sent(**call)
    assert gmail.imap_sessions == []


def test_nan_and_infinity_are_no_option_values() -> None:
    for value in (float("nan"), float("inf")):
        with pytest.raises(ConfigurationError):
            GmailSender(None, security="none", find_sent_wait=value)
    with pytest.raises(ConfigurationError, match="FIND_SENT_WAIT"):
        from_env(
            {
                "GMAIL_SEND_USER": ACCOUNT,
                "GMAIL_SEND_APP_PASSWORD": APP_PASSWORD,
                "GMAIL_SEND_FIND_SENT_WAIT": "nan",
            }
        )


async def test_a_password_that_is_not_ascii_is_never_quoted(gmail: LocalGmail) -> None:
    password = "pässwordpässword"
    async with looker(gmail, AppPassword(ACCOUNT, password)) as sender:
        with pytest.raises(ReconciliationUnavailableError) as caught:
            await sender.find_sent("<a@example.com>", wait=0)
    assert caught.value.reason == "sign_in"
    text = f"{caught.value!s} {caught.value.__context__!r} {caught.value.__cause__!r}"
    assert "ä" not in text and "\\xe4" not in text and password not in text


async def test_a_fallback_signs_in_with_the_app_password_when_the_token_is_refused(
    gmail: LocalGmail,
) -> None:
    message_id = await sent_message_id(gmail)
    fallback = Fallback(OAuth2Token(ACCOUNT, "ya29.unknown"), AppPassword(ACCOUNT, APP_PASSWORD))
    async with looker(gmail, fallback) as sender:
        assert await sender.find_sent(message_id, wait=0)
    methods = [(s.method, s.user) for s in gmail.imap_sessions]
    assert methods[0] == ("xoauth2", None) and methods[-1] == ("login", ACCOUNT)


def test_a_sender_without_a_timeout_still_bounds_each_imap_step() -> None:
    settings = Settings(timeout=None)
    imap = IMAPSettings.of(settings, ssl.create_default_context())
    assert imap.timeout == DEFAULT_TIMEOUT and imap.where == "imap.gmail.com:993"
