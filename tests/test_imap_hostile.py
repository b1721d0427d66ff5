"""The Sent Mail lookup against IMAP servers that misbehave: only typed errors, no secret in
them, and a fallback from Gmail's search syntax to the standard one.

A scripted server over real TLS on 127.0.0.1 (tests/scripted_imap.py) says what the local Gmail
never says: garbage, lists without a Sent mailbox, broken SEARCH replies, alerts, hang-ups.
Arbitrary replies (hypothesis) end in a `ReconciliationUnavailableError` or an answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gmail_send import AppPassword, GmailSender, ReconciliationUnavailableError
from gmail_send.imap._wire import IMAPReplyError, check_message_id, parse_list
from gmail_send.testing import TestCertificates

from .local_helpers import ACCOUNT, APP_PASSWORD
from .scripted_imap import CAPABILITY, GREETING, ScriptedIMAP

CERTIFICATES = TestCertificates()
MESSAGE_ID = "<found.1@example.com>"

SENT_LIST = (
    b'* LIST (\\HasNoChildren) "/" "INBOX"\r\n'
    b'* LIST (\\HasChildren \\Noselect) "/" "[Gmail]"\r\n'
    b'* LIST (\\All \\HasNoChildren) "/" "[Gmail]/All Mail"\r\n'
    b'* LIST (\\HasNoChildren \\Sent) "/" "[Gmail]/Sent Mail"\r\n'
)


def gmail_like(
    *,
    login: bytes = b"OK me@gmail.com authenticated (Success)",
    listing: bytes = SENT_LIST,
    search: Callable[[bytes], bytes] = lambda line: b"* SEARCH 4\r\n",
) -> Callable[[str, bytes], bytes | None]:
    """A script that answers like Gmail, with parts a test replaces."""

    def script(tag: str, line: bytes) -> bytes | None:
        command = line.split()[1].upper() if len(line.split()) > 1 else b""
        t = tag.encode()
        if command == b"CAPABILITY":
            return CAPABILITY + t + b" OK Thats all she wrote!\r\n"
        if command == b"LOGIN":
            return t + b" " + login + b"\r\n"
        if command == b"LIST":
            return listing + t + b" OK Success\r\n"
        if command in (b"EXAMINE", b"SELECT"):
            return b"* 4 EXISTS\r\n" + t + b" OK [READ-ONLY] examined (Success)\r\n"
        if command == b"UID":
            answer = search(line)
            return answer if answer.startswith(t) else answer + t + b" OK SEARCH completed\r\n"
        if command == b"NOOP":
            return t + b" OK Success\r\n"
        if command == b"LOGOUT":
            return b"* BYE LOGOUT Requested\r\n" + t + b" OK 73 good day (Success)\r\n"
        return t + b" BAD Unknown command\r\n"

    return script


def sender(server: ScriptedIMAP, timeout: float) -> GmailSender:
    return GmailSender(
        AppPassword(ACCOUNT, APP_PASSWORD),
        imap_host="127.0.0.1",
        imap_port=server.port,
        tls_context=server.client_context(),
        timeout=timeout,
    )


async def lookup(
    script: Callable[[str, bytes], bytes | None], *, greeting: bytes = GREETING, timeout: float = 5
) -> bool:
    """find_sent against a scripted server; a reply that never ends a command waits `timeout`."""
    async with ScriptedIMAP(script, CERTIFICATES, greeting=greeting) as server:
        gmail = sender(server, timeout)
        try:
            return await gmail.find_sent(MESSAGE_ID, wait=0)
        finally:
            await gmail.aclose()


async def test_gmail_search_is_used_where_offered() -> None:
    seen: list[bytes] = []

    def search(line: bytes) -> bytes:
        seen.append(line)
        return b"* SEARCH 4\r\n"

    assert await lookup(gmail_like(search=search))
    assert b'X-GM-RAW "rfc822msgid:found.1@example.com"' in seen[0]


async def test_refused_gmail_search_falls_back_to_the_standard_one() -> None:
    def search(line: bytes) -> bytes:
        if b"X-GM-RAW" in line:
            return line.split(b" ")[0] + b" BAD Could not parse command\r\n"
        assert b'HEADER Message-ID "<found.1@example.com>"' in line
        return b"* SEARCH\r\n"

    assert not await lookup(gmail_like(search=search))


async def test_no_sent_mailbox_is_a_typed_error() -> None:
    listing = b'* LIST (\\HasNoChildren) "/" "INBOX"\r\n'
    with pytest.raises(ReconciliationUnavailableError) as caught:
        await lookup(gmail_like(listing=listing))
    assert caught.value.reason == "no_sent_mailbox" and not caught.value.temporary


async def test_all_mail_is_searched_without_a_sent_mailbox() -> None:
    listing = b'* LIST (\\All \\HasNoChildren) "/" {16}\r\n[Gmail]/All Mail\r\n'
    examined: list[bytes] = []
    script = gmail_like(listing=listing)

    def recording(tag: str, line: bytes) -> bytes | None:
        if b"EXAMINE" in line:
            examined.append(line)
        return script(tag, line)

    assert await lookup(recording)
    assert examined == [b'A003 EXAMINE "[Gmail]/All Mail"\r\n'] or b"All Mail" in examined[0]


@pytest.mark.parametrize(
    ("login", "reason"),
    [
        (
            b"NO [ALERT] Your account is not enabled for IMAP use. Please visit "
            b"https://mail.google.com/mail/?ui=2&shva=1#settings/fwdandpop to enable IMAP "
            b"access. (Failure)",
            "imap_disabled",
        ),
        (
            b"NO [ALERT] IMAP access is disabled for your domain. Please contact your domain "
            b"administrator for questions about this feature. (Failure)",
            "imap_disabled",
        ),
        (b"NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)", "sign_in"),
        (b"NO [ALERT] Too many simultaneous connections. (Failure)", "unreachable"),
        (b"NO [UNAVAILABLE] Temporary System Error", "unreachable"),
        (
            b"NO [ALERT] Application-specific password required: "
            b"https://support.google.com/accounts/answer/185833 (Failure)",
            "sign_in",
        ),
    ],
)
async def test_refused_sign_in_names_why(login: bytes, reason: str) -> None:
    with pytest.raises(ReconciliationUnavailableError) as caught:
        await lookup(gmail_like(login=login))
    assert caught.value.reason == reason and caught.value.hint
    assert caught.value.temporary == (reason == "unreachable")
    assert APP_PASSWORD not in str(caught.value)


@pytest.mark.parametrize(
    "search",
    [
        lambda line: b"* SEARCH four\r\n",
        lambda line: b"* SEARCH 0\r\n",
        lambda line: b"* SEARCH " + b"9" * 40 + b"\r\n",
    ],
)
async def test_a_broken_search_reply_ends_unreachable(search: Callable[[bytes], bytes]) -> None:
    with pytest.raises(ReconciliationUnavailableError) as caught:
        await lookup(gmail_like(search=search))
    assert caught.value.reason == "unreachable" and caught.value.temporary


async def test_garbage_greeting_and_hang_ups_are_unreachable() -> None:
    with pytest.raises(ReconciliationUnavailableError) as caught:
        await lookup(gmail_like(), greeting=b"HELLO THERE\r\n")
    assert caught.value.reason == "unreachable"
    with pytest.raises(ReconciliationUnavailableError) as caught:
        await lookup(lambda tag, line: None)
    assert caught.value.reason == "unreachable"


async def test_an_endless_line_is_refused() -> None:
    def script(tag: str, line: bytes) -> bytes | None:
        return b"* " + b"x" * 1_100_000 + b"\r\n"

    with pytest.raises(ReconciliationUnavailableError) as caught:
        await lookup(script)
    assert caught.value.reason == "unreachable"


async def test_a_wrong_certificate_is_refused_with_a_hint() -> None:
    async with ScriptedIMAP(gmail_like(), CERTIFICATES) as server:
        other = TestCertificates()
        async with GmailSender(
            AppPassword(ACCOUNT, APP_PASSWORD),
            imap_host="127.0.0.1",
            imap_port=server.port,
            tls_context=other.client_context(),
        ) as gmail:
            with pytest.raises(ReconciliationUnavailableError) as caught:
                await gmail.find_sent(MESSAGE_ID, wait=0)
    assert caught.value.reason == "tls" and not caught.value.temporary
    assert "certificate" in caught.value.message and "ca_file" in (caught.value.hint or "")


# -- arbitrary replies -------------------------------------------------------------------------

PARTS = st.sampled_from(
    [
        b"{tag} OK done\r\n",
        b"{tag} NO [AUTHENTICATIONFAILED] nope\r\n",
        b"{tag} BAD what\r\n",
        b'* LIST (\\Sent) "/" "Sent"\r\n',
        b'* LIST (\\Sent) "/" {4}\r\nSe\r\n',
        b'* LIST ((\\Sent "/"\r\n',
        b"* SEARCH 1 2 x\r\n",
        b"* SEARCH \r\n",
        b"* 3 EXISTS\r\n",
        b"+ \r\n",
        b"+ eyJzdGF0dXMiOiI0MDAifQ==\r\n",
        b"* BYE bye\r\n",
        b"* CAPABILITY IMAP4rev1 X-GM-EXT-1\r\n",
        b"{tag} OK [READ-ONLY] x\r\n",
        b"* OK [UIDVALIDITY abc]\r\n",
        b"*\r\n",
        b"\r\n",
    ]
)
REPLIES = st.lists(
    st.one_of(PARTS, st.binary(max_size=40).map(lambda b: b + b"\r\n")), min_size=1, max_size=4
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(REPLIES, min_size=1, max_size=8))
def test_arbitrary_replies_end_in_a_typed_error_or_an_answer(answers: list[list[bytes]]) -> None:
    turns = iter(answers)

    def script(tag: str, line: bytes) -> bytes | None:
        reply = next(turns, None)
        if reply is None:
            return None
        return b"".join(reply).replace(b"{tag}", tag.encode())

    async def run() -> None:
        outcome: bool | ReconciliationUnavailableError
        try:
            outcome = await lookup(script, timeout=0.3)
        except ReconciliationUnavailableError as exc:
            outcome = exc
        if isinstance(outcome, ReconciliationUnavailableError):
            assert APP_PASSWORD not in str(outcome) and outcome.hint

    asyncio.run(asyncio.wait_for(run(), 60))


def test_list_reply_forms() -> None:
    sent = parse_list(b'(\\HasNoChildren \\Sent) "/" "[Gmail]/Sent Mail"')
    assert sent.attributes == {"\\hasnochildren", "\\sent"} and sent.name == "[Gmail]/Sent Mail"
    localised = parse_list(b'(\\Sent) "/" "[Gmail]/&kAFP4W4IMH8w4TD8MOs-"')
    assert localised.name == "[Gmail]/&kAFP4W4IMH8w4TD8MOs-"
    assert parse_list((b'(\\All) "/" {16}', b"[Gmail]/All Mail")).name == "[Gmail]/All Mail"
    assert parse_list(b"(\\Noselect) NIL INBOX").name == "INBOX"
    assert parse_list(b'() "/" "quo\\"ted"').name == 'quo"ted'
    for bad in (b"", b'(\\Sent) "/"', b'(\\Sent) "/" "open', (b'() "/" {3}', b"ab")):
        with pytest.raises(IMAPReplyError):
            parse_list(bad)


def test_message_ids_are_checked_before_any_connection() -> None:
    for bad in ("", " ", "<a\r\nb@c>", "x" * 999, "<a\x00@b>"):
        with pytest.raises(ValueError):
            check_message_id(bad)
    assert check_message_id(" <a@b> ") == "<a@b>"
