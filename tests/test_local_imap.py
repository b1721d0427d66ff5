"""The local Gmail's IMAP server: Gmail's sign-ins and refusals, the mailbox list, searching
Sent Mail for a Message-ID, and the faults, through stdlib imaplib and a raw client."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import imaplib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from gmail_send import PoolOptions, send_sync
from gmail_send._relay import workspace_relay
from gmail_send.testing import LocalGmail, LocalGmailThread

from .imap_helpers import RawIMAP, with_imaplib, xoauth2
from .local_helpers import (
    ACCESS_TOKEN,
    ACCOUNT,
    APP_PASSWORD,
    NORMAL_PASSWORD,
    account,
    sender_for,
)

INVALID = "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)"
SENT_JA = "[Gmail]/送信済みメール"
SENT_JA_WIRE = "[Gmail]/&kAFP4W4IMH8w4TD8MOs-"


async def send(gmail: LocalGmail, *subjects: str) -> list[str]:
    """Send one message per subject as the account; their Message-IDs."""
    async with sender_for(gmail) as sender:
        return [
            (await sender.send(to="a@example.com", subject=subject, text="x")).message_id
            for subject in subjects
        ]


def signed_in(client: imaplib.IMAP4_SSL) -> imaplib.IMAP4_SSL:
    client.authenticate("XOAUTH2", lambda _challenge: xoauth2(ACCOUNT, ACCESS_TOKEN))
    return client


# -- greeting and capabilities ---------------------------------------------------------------


async def test_greeting_and_capabilities_before_and_after_sign_in(gmail: LocalGmail) -> None:
    def work(client: imaplib.IMAP4_SSL) -> tuple[bytes, tuple[str, ...], list[str]]:
        before = client.capabilities
        client.login(ACCOUNT, APP_PASSWORD)
        _, lines = client.capability()  # also the CAPABILITY line that came with the sign-in
        return client.welcome, before, lines[-1].decode().split()

    welcome, before, after = await with_imaplib(gmail, work)
    assert welcome.startswith(b"* OK Gimap ready for requests from 127.0.0.1 ")
    assert {"IMAP4REV1", "X-GM-EXT-1", "SASL-IR", "AUTH=XOAUTH2", "AUTH=PLAIN"} <= set(before)
    assert {"X-GM-EXT-1", "CHILDREN", "SPECIAL-USE", "UIDPLUS"} <= set(after)
    assert not [name for name in after if name.startswith("AUTH=")]


async def test_without_imap_there_is_no_imap_port(start_gmail: Callable[..., Any]) -> None:
    gmail: LocalGmail = await start_gmail(imap=False)
    with pytest.raises(RuntimeError, match="imap=False"):
        _ = gmail.imap_port


def test_the_local_gmail_fixture_serves_imap(local_gmail: LocalGmailThread) -> None:
    result = send_sync(**local_gmail.settings(), to="a@example.com", subject="s", text="x")
    client = imaplib.IMAP4_SSL(
        local_gmail.host,
        local_gmail.imap_port,
        ssl_context=local_gmail.server.client_tls_context(),
        timeout=10,
    )
    try:
        client.login(local_gmail.account, local_gmail.app_password)
        client.select('"[Gmail]/Sent Mail"', readonly=True)
        typ, found = client.uid("SEARCH", "X-GM-RAW", f'"rfc822msgid:{result.message_id}"')
    finally:
        client.shutdown()
    assert (typ, found) == ("OK", [b"1"])


# -- AUTHENTICATE XOAUTH2 and PLAIN, LOGIN ----------------------------------------------------


async def test_xoauth2_through_imaplib_continuation(gmail: LocalGmail) -> None:
    def work(client: imaplib.IMAP4_SSL) -> tuple[str, list[bytes]]:
        return client.authenticate("XOAUTH2", lambda _challenge: xoauth2(ACCOUNT, ACCESS_TOKEN))

    typ, [text] = await with_imaplib(gmail, work)
    assert (typ, text) == ("OK", f"{ACCOUNT} authenticated (Success)".encode())
    [record] = gmail.imap_sessions
    assert (record.user, record.method, record.sign_in_reason) == (ACCOUNT, "xoauth2", "accepted")
    assert record.commands[:2] == ["CAPABILITY", "AUTHENTICATE XOAUTH2"]


async def test_xoauth2_with_an_initial_response(gmail: LocalGmail) -> None:
    client = await RawIMAP.connect(gmail)
    blob = base64.b64encode(xoauth2(ACCOUNT, ACCESS_TOKEN)).decode()
    lines = await client.command("a1", f"AUTHENTICATE XOAUTH2 {blob}")
    assert lines[0].startswith("* CAPABILITY IMAP4rev1 ")
    assert lines[-1] == f"a1 OK {ACCOUNT} authenticated (Success)"
    assert gmail.imap_sessions[0].commands == ["AUTHENTICATE XOAUTH2 ***"]
    await client.close()


@pytest.mark.parametrize(
    ("token", "status", "reason"),
    [
        ("ya29.unknown", "400", "unknown-token"),
        ("ya29.expired", "401", "expired"),
        ("ya29.revoked", "401", "revoked"),
        ("ya29.openid-only", "400", "wrong-scope"),
    ],
)
async def test_a_refused_token_gets_gmails_challenge_then_no(
    gmail: LocalGmail, token: str, status: str, reason: str
) -> None:
    gmail.add_access_token(ACCOUNT, "ya29.expired", expires_at=time.time() - 1)
    gmail.add_access_token(ACCOUNT, "ya29.revoked")
    gmail.revoke_access_token("ya29.revoked")
    gmail.add_access_token(ACCOUNT, "ya29.openid-only", scope="openid")
    client = await RawIMAP.connect(gmail)
    await client.send("a1 AUTHENTICATE XOAUTH2")
    assert await client.line() == "+ "
    await client.send(base64.b64encode(xoauth2(ACCOUNT, token)))
    await client.send(b"\r\n")
    challenge = await client.line()
    assert challenge.startswith("+ ")
    assert json.loads(base64.b64decode(challenge[2:])) == {
        "status": status,
        "schemes": "Bearer",
        "scope": "https://mail.google.com/",
    }
    await client.send("")
    assert await client.until_tagged("a1") == [f"a1 {INVALID}"]
    record = gmail.imap_sessions[0]
    assert (record.user, record.sign_in_reason) == (None, reason)
    await client.close()


async def test_imaplib_reports_the_refusal(gmail: LocalGmail) -> None:
    def work(client: imaplib.IMAP4_SSL) -> None:
        client.authenticate("XOAUTH2", lambda _challenge: xoauth2(ACCOUNT, "ya29.nope"))

    with pytest.raises(imaplib.IMAP4.error, match=r"\[AUTHENTICATIONFAILED\] Invalid credentials"):
        await with_imaplib(gmail, work)


async def test_a_star_cancels_the_exchange(gmail: LocalGmail) -> None:
    client = await RawIMAP.connect(gmail)
    await client.send("a1 AUTHENTICATE XOAUTH2")
    assert await client.line() == "+ "
    await client.send("*")
    [answer] = await client.until_tagged("a1")
    assert answer.startswith("a1 BAD ")
    assert gmail.imap_sessions[0].sign_in_reason == "cancelled"
    await client.close()


async def test_login_with_the_app_password(gmail: LocalGmail) -> None:
    typ, [text] = await with_imaplib(gmail, lambda c: c.login(ACCOUNT, APP_PASSWORD))
    assert (typ, text) == ("OK", f"{ACCOUNT} authenticated (Success)".encode())
    record = gmail.imap_sessions[0]
    assert (record.user, record.method, record.commands[-1]) == (ACCOUNT, "login", "LOGIN ***")


@pytest.mark.parametrize(
    ("password", "refusal"),
    [
        (
            NORMAL_PASSWORD,
            "[ALERT] Application-specific password required: "
            "https://support.google.com/accounts/answer/185833 (Failure)",
        ),
        ("wrong password", "[AUTHENTICATIONFAILED] Invalid credentials (Failure)"),
    ],
)
async def test_login_refusals(gmail: LocalGmail, password: str, refusal: str) -> None:
    with pytest.raises(imaplib.IMAP4.error) as raised:
        await with_imaplib(gmail, lambda c: c.login(ACCOUNT, password))
    assert refusal in str(raised.value)
    assert gmail.imap_sessions[0].user is None


async def test_login_takes_quoted_escapes_and_literals(gmail: LocalGmail) -> None:
    odd = dataclasses.replace(account(), address="odd@gmail.com", app_password='a"b\\c')
    gmail.add_account(odd)
    typ, _ = await with_imaplib(gmail, lambda c: c.login("odd@gmail.com", 'a"b\\c'))
    assert typ == "OK"
    client = await RawIMAP.connect(gmail)
    await client.send("a1 LOGIN {13}")
    assert await client.line() == "+ go ahead"
    await client.send(b"odd@gmail.com {5}\r\n")
    assert await client.line() == "+ go ahead"
    await client.send(b'a"b\\c\r\n')
    assert (await client.until_tagged("a1"))[-1] == "a1 OK odd@gmail.com authenticated (Success)"
    assert gmail.imap_sessions[1].commands == ["LOGIN ***"]
    await client.close()
    client = await RawIMAP.connect(gmail)  # LITERAL-: no "+ go ahead" to wait for
    await client.send(
        f"a2 LOGIN {{{len(ACCOUNT)}+}}\r\n{ACCOUNT} {{16+}}\r\n{APP_PASSWORD}".encode()
    )
    await client.send(b"\r\n")
    assert (await client.until_tagged("a2"))[-1] == f"a2 OK {ACCOUNT} authenticated (Success)"
    await client.close()


async def test_authenticate_plain(gmail: LocalGmail) -> None:
    secret = f"\0{ACCOUNT}\0{APP_PASSWORD}".encode()
    typ, _ = await with_imaplib(gmail, lambda c: c.authenticate("PLAIN", lambda _: secret))
    assert typ == "OK"
    assert gmail.imap_sessions[0].method == "plain"


async def test_refuse_imap_sign_in_refuses_good_credentials(gmail: LocalGmail) -> None:
    gmail.refuse_imap_sign_in(times=2)
    for attempt in (signed_in, lambda c: c.login(ACCOUNT, APP_PASSWORD)):
        with pytest.raises(imaplib.IMAP4.error, match=r"\[AUTHENTICATIONFAILED\]"):
            await with_imaplib(gmail, attempt)
    typ, _ = await with_imaplib(gmail, lambda c: c.login(ACCOUNT, APP_PASSWORD))
    assert typ == "OK"
    assert [r.sign_in_reason for r in gmail.imap_sessions] == ["refused", "refused", "accepted"]


async def test_an_account_without_imap_access_gets_gmails_alert(gmail: LocalGmail) -> None:
    gmail.add_account(dataclasses.replace(account(), imap_enabled=False))
    for attempt in (signed_in, lambda c: c.login(ACCOUNT, APP_PASSWORD)):
        with pytest.raises(imaplib.IMAP4.error) as raised:
            await with_imaplib(gmail, attempt)
        assert "[ALERT] Your account is not enabled for IMAP use." in str(raised.value)
    with pytest.raises(imaplib.IMAP4.error, match=r"\[AUTHENTICATIONFAILED\]"):
        await with_imaplib(gmail, lambda c: c.login(ACCOUNT, "wrong"))


# -- states and syntax -------------------------------------------------------------------------


async def test_commands_out_of_state_and_unknown_ones_are_bad(gmail: LocalGmail) -> None:
    client = await RawIMAP.connect(gmail)
    for tag, command in [("a1", 'SELECT "INBOX"'), ("a2", "FROB"), ("a3", 'LOGIN "x')]:
        [answer] = await client.command(tag, command)
        assert answer.startswith(f"{tag} BAD "), answer
    await client.sign_in(ACCOUNT, ACCESS_TOKEN)
    [answer] = await client.command("a4", "SEARCH ALL")
    assert answer.startswith("a4 BAD ")
    [answer] = await client.command("a5", f"LOGIN {ACCOUNT} {APP_PASSWORD}")
    assert answer.startswith("a5 BAD ")
    lines = await client.command("a6", "LOGOUT")
    assert lines == ["* BYE LOGOUT Requested", "a6 OK 73 good day (Success)"]
    assert await client.rest() == b""


# -- LIST and SELECT ---------------------------------------------------------------------------


async def test_list_shows_the_sent_mailbox_in_modified_utf7(gmail: LocalGmail) -> None:
    gmail.add_account(dataclasses.replace(account(), sent_mailbox=SENT_JA))
    client = await RawIMAP.connect(gmail)
    await client.sign_in(ACCOUNT, ACCESS_TOKEN)
    lines = await client.command("a1", 'LIST "" "*"')
    assert f'* LIST (\\HasNoChildren \\Sent) "/" "{SENT_JA_WIRE}"' in lines
    assert '* LIST (\\All \\HasNoChildren) "/" "[Gmail]/All Mail"' in lines
    assert '* LIST (\\HasChildren \\Noselect) "/" "[Gmail]"' in lines
    assert len(lines) == 10
    assert await client.command("a2", 'LIST "" ""') == [
        '* LIST (\\Noselect) "/" ""',
        "a2 OK Success",
    ]
    top = await client.command("a3", 'LIST "" %')
    assert [line.rsplit(" ", 1)[-1] for line in top[:-1]] == ['"INBOX"', '"[Gmail]"']
    special = await client.command("a4", 'LIST (SPECIAL-USE) "" "*"')
    assert len(special) == 8 and not any('"INBOX"' in line for line in special)
    lines = await client.command("a5", f'EXAMINE "{SENT_JA_WIRE}"')
    assert lines[-1] == f"a5 OK [READ-ONLY] {SENT_JA_WIRE} selected. (Success)"
    assert "* OK [UIDVALIDITY 1] UIDs valid." in lines
    assert "* 0 EXISTS" in lines
    await client.close()


async def test_without_special_use_only_all_mail_is_marked(
    start_gmail: Callable[..., Any],
) -> None:
    gmail: LocalGmail = await start_gmail(imap_special_use=False)
    client = await RawIMAP.connect(gmail)
    await client.sign_in(ACCOUNT, ACCESS_TOKEN)
    lines = await client.command("a1", 'LIST "" "*"')
    assert '* LIST (\\HasNoChildren) "/" "[Gmail]/Sent Mail"' in lines
    assert '* LIST (\\All \\HasNoChildren) "/" "[Gmail]/All Mail"' in lines
    assert not any("\\Sent" in line or "\\Trash" in line for line in lines)
    await client.close()


async def test_select_refuses_unknown_and_unselectable_mailboxes(gmail: LocalGmail) -> None:
    client = await RawIMAP.connect(gmail)
    await client.sign_in(ACCOUNT, ACCESS_TOKEN)
    for tag, name in [("a1", "Nowhere"), ("a2", "[Gmail]"), ("a3", "[Gmail]/送信済みメール")]:
        [answer] = await client.command(tag, f'SELECT "{name}"')
        assert answer == f"{tag} NO [NONEXISTENT] Unknown Mailbox: {name} " + (
            "(now in authenticated state) (Failure)"
        )
    lines = await client.command("a4", "SELECT inbox")
    assert lines[-1] == "a4 OK [READ-WRITE] INBOX selected. (Success)"
    await client.close()


# -- searching Sent Mail -----------------------------------------------------------------------


async def test_x_gm_raw_and_header_search_find_one_message_id(gmail: LocalGmail) -> None:
    first, second = await send(gmail, "first", "second")

    def work(client: imaplib.IMAP4_SSL) -> list[list[bytes]]:
        signed_in(client)
        client.select('"[Gmail]/Sent Mail"', readonly=True)
        bare = second.strip("<>")
        return [
            client.uid("SEARCH", "X-GM-RAW", f'"rfc822msgid:{first}"')[1],
            client.uid("SEARCH", "CHARSET", "UTF-8", "X-GM-RAW", f'"rfc822msgid:{bare}"')[1],
            client.search(None, "HEADER", "Message-ID", f'"{second}"')[1],
            client.uid("SEARCH", "HEADER", "message-id", f'"{first.upper()}"')[1],
            client.search(None, "HEADER", "Subject", "SECOND")[1],
            client.search(None, "X-GM-RAW", '"rfc822msgid:<nobody@example.com>"')[1],
            client.search(None, "ALL")[1],
        ]

    assert await with_imaplib(gmail, work) == [
        [b"1"],
        [b"2"],
        [b"2"],
        [b"1"],
        [b"2"],
        [b""],
        [b"1 2"],
    ]


async def test_all_mail_holds_the_sent_copies_too(gmail: LocalGmail) -> None:
    [message_id] = await send(gmail, "one")
    client = await RawIMAP.connect(gmail)
    await client.sign_in(ACCOUNT, ACCESS_TOKEN)
    await client.command("a1", 'EXAMINE "[Gmail]/All Mail"')
    lines = await client.command("a2", f'UID SEARCH X-GM-RAW "rfc822msgid:{message_id}"')
    assert lines == ["* SEARCH 1", "a2 OK SEARCH completed (Success)"]
    await client.command("a3", "EXAMINE INBOX")
    assert (await client.command("a4", "SEARCH ALL"))[0] == "* SEARCH"
    await client.close()


async def test_unsupported_searches_are_bad(gmail: LocalGmail) -> None:
    await send(gmail, "one")
    client = await RawIMAP.connect(gmail)
    await client.sign_in(ACCOUNT, ACCESS_TOKEN)
    await client.command("a1", 'EXAMINE "[Gmail]/Sent Mail"')
    for tag, search in [
        ("b1", "SEARCH OR ALL ALL"),
        ("b2", "SEARCH SUBJECT x"),
        ("b3", 'SEARCH X-GM-RAW "in:sent"'),
        ("b4", "SEARCH HEADER Subject"),
        ("b5", "SEARCH CHARSET KOI8-R ALL"),
    ]:
        assert await client.command(tag, search) == [f"{tag} BAD Could not parse command"]
    assert await client.command("b6", "UID FETCH 1 (FLAGS)") == [
        "b6 BAD Could not parse command"  # FETCH serves UID and INTERNALDATE only
    ]
    assert await client.command("b7", "UID STORE 1 +FLAGS (\\Seen)") == ["b7 BAD Unknown command"]
    await client.close()


async def test_fetch_tells_when_a_copy_was_received(gmail: LocalGmail) -> None:
    await send(gmail, "one")
    await send(gmail, "two")
    client = await RawIMAP.connect(gmail)
    await client.sign_in(ACCOUNT, ACCESS_TOKEN)
    await client.command("a1", 'EXAMINE "[Gmail]/Sent Mail"')
    reply = await client.command("a2", "UID FETCH 1:* (INTERNALDATE)")
    assert reply[-1] == "a2 OK Success" and len(reply) == 3
    received = gmail.sent_mail(ACCOUNT)[1].received_at
    day = time.strftime("%d-%b-%Y %H:%M:%S +0000", time.gmtime(received))
    assert reply[1] == f'* 2 FETCH (UID 2 INTERNALDATE "{day}")'
    assert await client.command("a3", "FETCH 2 INTERNALDATE") == [
        f'* 2 FETCH (INTERNALDATE "{day}")',
        "a3 OK Success",
    ]
    assert await client.command("a4", "UID FETCH 9 (INTERNALDATE)") == ["a4 OK Success"]
    await client.close()


async def test_without_gmail_extensions_x_gm_raw_is_bad(start_gmail: Callable[..., Any]) -> None:
    gmail: LocalGmail = await start_gmail(imap_gmail_extensions=False)
    [message_id] = await send(gmail, "one")
    client = await RawIMAP.connect(gmail)
    [capabilities, _] = await client.command("a0", "CAPABILITY")
    assert "X-GM-EXT-1" not in capabilities.split()
    await client.sign_in(ACCOUNT, ACCESS_TOKEN)
    await client.command("a1", 'EXAMINE "[Gmail]/Sent Mail"')
    search = f'UID SEARCH X-GM-RAW "rfc822msgid:{message_id}"'
    assert await client.command("a2", search) == ["a2 BAD Could not parse command"]
    lines = await client.command("a3", f'UID SEARCH HEADER Message-ID "{message_id}"')
    assert lines == ["* SEARCH 1", "a3 OK SEARCH completed (Success)"]
    await client.close()


# -- late, lost and relayed copies -------------------------------------------------------------


async def test_a_late_copy_is_announced_and_then_found(gmail: LocalGmail) -> None:
    gmail.sent_copy_delay = 0.3
    client = await RawIMAP.connect(gmail)
    await client.sign_in(ACCOUNT, ACCESS_TOKEN)
    await client.command("a1", 'SELECT "[Gmail]/Sent Mail"')
    [message_id] = await send(gmail, "late")
    search = f'UID SEARCH X-GM-RAW "rfc822msgid:{message_id}"'
    assert (await client.command("a2", search))[0] == "* SEARCH"
    deadline = time.monotonic() + 10
    tag = 0
    while True:
        tag += 1
        lines = await client.command(f"n{tag}", "NOOP")
        if lines[0] == "* 1 EXISTS":
            break
        assert time.monotonic() < deadline, "the copy was never filed"
        await asyncio.sleep(0.05)
    assert await client.command("a3", search) == ["* SEARCH 1", "a3 OK SEARCH completed (Success)"]
    await client.close()


async def test_search_announces_a_copy_filed_since_the_select(gmail: LocalGmail) -> None:
    client = await RawIMAP.connect(gmail)
    await client.sign_in(ACCOUNT, ACCESS_TOKEN)
    await client.command("a1", 'EXAMINE "[Gmail]/Sent Mail"')
    [message_id] = await send(gmail, "meanwhile")
    lines = await client.command("a2", f'SEARCH HEADER Message-ID "{message_id}"')
    assert lines == ["* 1 EXISTS", "* SEARCH 1", "a2 OK SEARCH completed (Success)"]
    await client.close()


async def test_a_copy_never_filed_is_never_found(gmail: LocalGmail) -> None:
    gmail.sent_copy_delay = None
    [message_id] = await send(gmail, "lost")
    await asyncio.sleep(0.2)

    def work(client: imaplib.IMAP4_SSL) -> list[bytes]:
        signed_in(client).select('"[Gmail]/Sent Mail"')
        return client.uid("SEARCH", "X-GM-RAW", f'"rfc822msgid:{message_id}"')[1]

    assert await with_imaplib(gmail, work) == [b""]


async def test_relayed_messages_are_not_in_sent_mail(start_gmail: Callable[..., Any]) -> None:
    relay: LocalGmail = await start_gmail(allow_relay_by_ip=True)
    async with workspace_relay(
        None,
        host=relay.host,
        port=relay.port,
        tls_context=relay.client_tls_context(),
        pool=PoolOptions(local_hostname="mail.example.com"),
    ) as sender:
        await sender.send(from_=ACCOUNT, to="you@example.com", subject="relay", text="x")

    def work(client: imaplib.IMAP4_SSL) -> list[bytes]:
        signed_in(client).select('"[Gmail]/All Mail"')
        return client.search(None, "ALL")[1]

    assert await with_imaplib(relay, work) == [b""]
    assert len(relay.messages) == 1
    assert relay.sent_mail(ACCOUNT) == []


# -- hostile clients, idle clients, stopping ---------------------------------------------------


async def test_a_too_long_line_ends_the_session(gmail: LocalGmail) -> None:
    client = await RawIMAP.connect(gmail)
    await client.send(b"a1 NOOP " + b"x" * 70_000 + b"\r\n")
    assert await client.line() == "* BYE Command line too long"
    assert await client.rest() == b""


async def test_an_oversize_literal_ends_the_session(gmail: LocalGmail) -> None:
    client = await RawIMAP.connect(gmail)
    await client.send(f"a1 LOGIN {ACCOUNT} {{2000000}}")
    assert await client.line() == "* BYE Literal too large"
    assert await client.rest() == b""


async def test_an_idle_session_is_closed(start_gmail: Callable[..., Any]) -> None:
    gmail: LocalGmail = await start_gmail(idle_timeout=0.3)
    client = await RawIMAP.connect(gmail)
    assert await client.line() == "* BYE Autologout; idle for too long"
    assert await client.rest() == b""


async def test_stop_with_an_open_imap_connection_is_prompt(
    start_gmail: Callable[..., Any],
) -> None:
    gmail: LocalGmail = await start_gmail()
    client = await RawIMAP.connect(gmail)
    await client.sign_in(ACCOUNT, ACCESS_TOKEN)
    started = time.monotonic()
    await gmail.stop()
    assert time.monotonic() - started < 3
    assert await client.rest() == b""
    assert not gmail.imap_sessions[0].open


# -- secrets -----------------------------------------------------------------------------------


async def test_no_secret_in_records_or_logs(
    gmail: LocalGmail, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    blob = base64.b64encode(xoauth2(ACCOUNT, ACCESS_TOKEN)).decode()
    await with_imaplib(gmail, signed_in)
    await with_imaplib(gmail, lambda c: c.login(ACCOUNT, APP_PASSWORD))
    with pytest.raises(imaplib.IMAP4.error):
        await with_imaplib(
            gmail, lambda c: c.authenticate("XOAUTH2", lambda _: xoauth2(ACCOUNT, "ya29.secret-x"))
        )
    client = await RawIMAP.connect(gmail)
    await client.sign_in(ACCOUNT, ACCESS_TOKEN)
    await client.close()
    shown = repr(gmail.imap_sessions) + "".join(record.getMessage() for record in caplog.records)
    assert "IMAP" in shown
    for secret in (ACCESS_TOKEN, APP_PASSWORD, blob, "ya29.secret-x"):
        assert secret not in shown
