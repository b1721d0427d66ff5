"""The Google Workspace SMTP relay (smtp-relay.gmail.com) as a preset.

The relay accepts mail from a Workspace domain's own servers: signed in with SMTP AUTH (an app
password or XOAUTH2) over TLS, or without signing in from IP addresses registered in the Admin
console (Apps > Google Workspace > Gmail > Routing > SMTP relay service). It allows 10,000
messages per user a day. Unencrypted port 25 (`security="none"`) is used only when asked, and
never with credentials: then nothing protects the message on the way to Google.
"""

from __future__ import annotations

import ssl
from typing import Any

from ._sender import GmailSender
from .auth._credentials import Credentials
from .smtp._connection import DEFAULT_TIMEOUT, Security

__all__ = ["RELAY_DAILY_LIMIT", "WORKSPACE_RELAY_HOST", "workspace_relay"]

WORKSPACE_RELAY_HOST = "smtp-relay.gmail.com"
RELAY_DAILY_LIMIT = 10_000
"""Messages per user a day through the relay (Google's published limit)."""


def workspace_relay(
    credentials: Credentials | None = None,
    *,
    security: Security = "starttls",
    port: int | None = None,
    host: str = WORKSPACE_RELAY_HOST,
    tls_context: ssl.SSLContext | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    local_hostname: str | None = None,
    **options: Any,
) -> GmailSender:
    """A `GmailSender` for the Workspace relay; `credentials=None` relies on the IP address.

    `local_hostname` is the name sent in EHLO: the relay wants one of the domain's host names
    rather than a bare address when it checks IP-registered senders. Other keywords (pool,
    retries, limits, hooks) go to `GmailSender`; the daily limit defaults to the relay's
    10,000 messages per user rather than a mailbox's 500 or 2,000.
    """
    options.setdefault("daily_limit", RELAY_DAILY_LIMIT if credentials is not None else None)
    return GmailSender(
        credentials,
        host=host,
        port=port,
        security=security,
        tls_context=tls_context,
        timeout=timeout,
        local_hostname=local_hostname,
        **options,
    )
