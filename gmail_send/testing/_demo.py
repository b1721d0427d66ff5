"""The end-to-end demo: a real send through the library to the bundled local Gmail.

It runs the same code path as a send to smtp.gmail.com: an expired access token refreshed
through an OAuth2 token endpoint (a local one, called by google-auth's own HTTP transport),
STARTTLS with certificate verification (against a throw-away CA), SASL XOAUTH2, the mail
transaction. Nothing leaves this machine.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from email.message import EmailMessage

from .._result import SendResult
from .._sender import GmailSender
from ..auth._oauth2 import OAuth2Credentials
from ..message._compose import Attachment
from ._accounts import LocalAccount
from ._server import LocalGmail
from ._token_endpoint import LocalTokenEndpoint
from ._watch import watch

__all__ = ["run_demo"]

DEMO_ACCOUNT = "demo@gmail.com"


async def run_demo(
    echo: Callable[[str], object] = print, *, web: bool = False, serve_seconds: float = 600.0
) -> SendResult:
    """Start a local Gmail, send one message to it and describe what arrived.

    Args:
        echo: where each line of the description goes.
        web: serve the inbox page too, and keep serving after the send (until Ctrl-C or
            `serve_seconds`), so the message can be looked at in a browser.
        serve_seconds: how long to keep serving with `web`.
    """
    account = LocalAccount(DEMO_ACCOUNT, app_password=secrets.token_hex(8))
    async with (
        LocalGmail(security="starttls", accounts=[account], web=web) as gmail,
        LocalTokenEndpoint(gmail=gmail, signed_in_user=DEMO_ACCOUNT) as endpoint,
    ):
        echo(f"local Gmail listening on {gmail.host}:{gmail.port} (STARTTLS, test CA)")
        echo(f"local OAuth2 token endpoint at {endpoint.token_uri}")
        # A token file as `gmail-send auth` writes it, its access token already expired.
        credentials = OAuth2Credentials.from_info(
            endpoint.token_info(DEMO_ACCOUNT, access_token_lifetime=-60)
        )
        async with GmailSender(
            credentials,
            host=gmail.host,
            port=gmail.port,
            security="starttls",
            tls_context=gmail.client_tls_context(),
        ) as sender:
            result = await sender.send(
                from_=f"gmail_send demo <{DEMO_ACCOUNT}>",
                to="Recipient <you@example.com>",
                bcc="audit@example.com",
                subject="Hello from gmail_send / ご注文ありがとうございます",
                text="This message went through STARTTLS and XOAUTH2.\n",
                html="<p>This message went through <b>STARTTLS</b> and <b>XOAUTH2</b>.</p>",
                attachments=[Attachment("領収書 / receipt\n".encode(), filename="領収書.txt")],
                headers={"X-Demo": "1"},
            )
        echo(f"access token refreshed {endpoint.refresh_count} time(s) through the endpoint")
        echo(f"sent: {result.message_id} via {result.auth_method}, reply {result.reply}")
        received = gmail.messages[-1]
        echo(f"server received: MAIL FROM:<{received.mail_from}>")
        for rcpt in received.rcpt_tos:
            echo(f"                 RCPT TO:<{rcpt}>")
        echo(f"                 {len(received.data):,} bytes, signed in as {received.session_user}")
        _describe(received.parsed(), echo)
        if gmail.web_url is not None:
            echo(f"inbox in the browser: {gmail.web_url} (Ctrl-C to stop)")
            await watch(gmail, serve_seconds, echo)
    return result


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
