"""What tests of the local Gmail share: its one account, and a sender pointed at a server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gmail_send import AccountQuotas, AppPassword, GmailSender, RetryPolicy, SendingLimits
from gmail_send.testing import LocalAccount, LocalGmail

if TYPE_CHECKING:
    from gmail_send import Credentials

ACCOUNT = "me@gmail.com"
APP_PASSWORD = "abcdefghijklmnop"
NORMAL_PASSWORD = "correct horse battery"
ACCESS_TOKEN = "ya29.local-test-token-0123456789"
ALIAS = "shop@example.com"

QUICK_RETRY = RetryPolicy(backoff=0.01)
"""Retries a test can wait for."""

SERVER_MODES: dict[str, dict[str, bool]] = {
    "data": {"pipelining": False, "chunking": False},
    "data-pipelined": {"pipelining": True, "chunking": False},
    "bdat": {"pipelining": False, "chunking": True},
    "bdat-pipelined": {"pipelining": True, "chunking": True},
}
"""How a local server takes a message (`start_gmail(**SERVER_MODES[mode])`): with DATA or
BDAT, one command at a time or pipelined; "bdat-pipelined" is how smtp.gmail.com does it, and
there the body goes out in the same write as MAIL and RCPT."""


def account() -> LocalAccount:
    """The local server's account: app password, normal password and one alias."""
    return LocalAccount(
        ACCOUNT, app_password=APP_PASSWORD, password=NORMAL_PASSWORD, aliases=(ALIAS,)
    )


def sender_for(
    server: LocalGmail, credentials: Credentials | None = None, **options: Any
) -> GmailSender:
    """A sender for `server` (the app password unless given), with its own daily count and
    quick backoff unless the test passes `limits` or `retry` itself."""
    options.setdefault("limits", SendingLimits(quotas=AccountQuotas()))
    options.setdefault("retry", QUICK_RETRY)
    return GmailSender(
        credentials or AppPassword(ACCOUNT, APP_PASSWORD),
        host=server.host,
        port=server.port,
        tls_context=server.client_tls_context(),
        **options,
    )
