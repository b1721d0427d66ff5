"""The end-to-end demo: a real send through the library to the bundled local Gmail.

It runs the same code path as a send to smtp.gmail.com (or, with `transport="api"`, to the Gmail
API): an expired access token refreshed through an OAuth2 token endpoint (a local one, called
by google-auth's own HTTP transport), TLS with certificate verification (against a throw-away
CA), then STARTTLS, SASL XOAUTH2 and the mail transaction, or users.messages.send over HTTPS
with the narrow gmail.send scope. Over SMTP it then settles two unknown outcomes (the
connection cut after the body went out) by looking for the Message-ID in the account's Sent
Mail over IMAP: one Gmail took, one it did not. Nothing leaves this machine.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Literal

from .._result import SendResult
from .._sender import GmailSender
from ..auth._oauth2 import OAuth2Credentials
from ..auth._scopes import MAIL_SCOPE, SEND_SCOPE
from ..errors import UnknownOutcomeError
from ..message._compose import Attachment
from ._accounts import LocalAccount
from ._api_server import LocalGmailAPI
from ._records import ReceivedMessage
from ._server import LocalGmail
from ._token_endpoint import LocalTokenEndpoint
from ._watch import watch

__all__ = ["run_demo"]

DEMO_ACCOUNT = "demo@gmail.com"


async def run_demo(
    echo: Callable[[str], object] = print,
    *,
    transport: Literal["smtp", "api"] = "smtp",
    web: bool = False,
    serve_seconds: float = 600.0,
) -> SendResult:
    """Start a local Gmail (and its Gmail API), send one message over `transport` and
    describe what arrived.

    Args:
        echo: where each line of the description goes.
        transport: "smtp" (XOAUTH2 over STARTTLS) or "api" (the local Gmail API).
        web: serve the inbox page too, and keep serving after the send (until Ctrl-C or
            `serve_seconds`), so the message can be looked at in a browser.
        serve_seconds: how long to keep serving with `web`.
    """
    account = LocalAccount(DEMO_ACCOUNT, app_password=secrets.token_hex(8))
    scope = SEND_SCOPE if transport == "api" else MAIL_SCOPE
    async with (
        LocalGmail(security="starttls", accounts=[account], web=web) as gmail,
        LocalGmailAPI(gmail) as api,
        LocalTokenEndpoint(gmail=gmail, signed_in_user=DEMO_ACCOUNT) as endpoint,
    ):
        echo(f"local Gmail listening on {gmail.host}:{gmail.port} (STARTTLS, test CA)")
        echo(f"local Gmail API at {api.url} (HTTPS, test CA)")
        echo(f"local OAuth2 token endpoint at {endpoint.token_uri}")
        # A token file as `gmail-send auth` writes it, its access token already expired.
        credentials = OAuth2Credentials.from_info(
            endpoint.token_info(DEMO_ACCOUNT, scopes=[scope], access_token_lifetime=-60)
        )
        async with GmailSender(
            credentials,
            transport=transport,
            api_url=api.url,
            host=gmail.host,
            port=gmail.port,
            security="starttls",
            tls_context=gmail.client_tls_context(),
            imap_host=gmail.host,
            imap_port=gmail.imap_port,
        ) as sender:
            result = await sender.send(
                from_=f"gmail_send demo <{DEMO_ACCOUNT}>",
                to="Recipient <you@example.com>",
                bcc="audit@example.com",
                subject="Hello from gmail_send / ご注文ありがとうございます",
                text=f"This message went through {_HOW[transport]}.\n",
                html=f"<p>This message went through <b>{_HOW[transport]}</b>.</p>",
                attachments=[Attachment("領収書 / receipt\n".encode(), filename="領収書.txt")],
                headers={"X-Demo": "1"},
            )
            echo(f"access token refreshed {endpoint.refresh_count} time(s) through the endpoint")
            _report(result, gmail.messages[-1], echo)
            if transport == "smtp":
                await _reconcile(sender, gmail, echo)
        if gmail.web_url is not None:
            echo(f"inbox in the browser: {gmail.web_url} (Ctrl-C to stop)")
            await watch(gmail, serve_seconds, echo)
    return result


def _report(result: SendResult, received: ReceivedMessage, echo: Callable[[str], object]) -> None:
    if result.transport == "api":
        echo(f"sent: {result.message_id} through the Gmail API, Gmail id {result.gmail_id}")
    else:
        echo(f"sent: {result.message_id} via {result.auth_method}, reply {result.reply}")
    if received.via == "smtp":
        echo(f"server received: MAIL FROM:<{received.mail_from}>")
        for rcpt in received.rcpt_tos:
            echo(f"                 RCPT TO:<{rcpt}>")
    else:
        echo(f"server received: sender {received.mail_from} (through the Gmail API)")
        for rcpt in received.rcpt_tos:
            echo(f"                 recipient {rcpt} (from To, Cc and Bcc)")
    echo(f"                 {len(received.data):,} bytes, signed in as {received.session_user}")
    _describe(received.parsed(), echo)


async def _reconcile(sender: GmailSender, gmail: LocalGmail, echo: Callable[[str], object]) -> None:
    """Two sends whose connection is cut after the body: one Gmail stored, one it lost."""
    echo("reconciliation: the connection is cut after the body went out, twice")
    for stage, label in (("data_end_stored", "after storing"), ("data_end", "before storing")):
        gmail.drop_connection(stage)  # type: ignore[arg-type]
        try:
            await sender.send(to="you@example.com", subject=f"Cut {label}", text="Hello\n")
        except UnknownOutcomeError as exc:
            unknown = exc
        else:  # pragma: no cover - the server cut the connection
            raise RuntimeError("the local Gmail did not cut the connection")
        echo(f"  {unknown.message_id}: cut {label} it; to the client the outcome is unknown")
        started = time.monotonic()
        found = await sender.find_sent(unknown.message_id, sent_at=unknown.sent_at, wait=3.0)
        took = time.monotonic() - started
        if found:
            echo(f"  found in Sent Mail over IMAP in {took:.2f} s: Gmail took it, not resent")
            continue
        echo("  not in Sent Mail when the 3 s window ended: Gmail did not take it")
        again = await sender.send(  # as the application would: the same Message-ID
            to="you@example.com",
            subject=f"Cut {label}",
            text="Hello\n",
            message_id=unknown.message_id,
        )
        echo(f"  sent again with the same Message-ID: {again.message_id}")
    copies = sum(1 for m in gmail.messages if b"Subject: Cut " in m.data)
    echo(f"  the server accepted {copies} messages for those 2 sends: none lost, none twice")


_HOW = {"smtp": "STARTTLS and XOAUTH2", "api": "the Gmail API with the gmail.send scope"}


def _describe(message: EmailMessage, echo: Callable[[str], object]) -> None:
    for name in ("From", "To", "Subject", "Message-ID", "Date"):
        echo(f"  {name}: {message[name]}")
    echo(f"  Bcc header present: {'Bcc' in message}")
    for part in message.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        label = f" ({filename})" if filename else ""
        echo(f"  part {part.get_content_type()}{label}")
