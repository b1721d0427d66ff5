"""The Google Workspace SMTP relay (smtp-relay.gmail.com) as a preset.

The relay accepts mail from a Workspace domain's own servers: signed in with SMTP AUTH (an app
password or XOAUTH2) over TLS, or without signing in from IP addresses registered in the Admin
console (Apps > Google Workspace > Gmail > Routing > SMTP relay service). It allows 10,000
messages per user a day. Unencrypted port 25 (`security="none"`) is used only when asked, and
never with credentials: then nothing protects the message on the way to Google.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._options import SendingLimits
from ._sender import GmailSender
from ._types import SenderOptions
from .auth._credentials import Credentials

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["RELAY_DAILY_LIMIT", "WORKSPACE_RELAY_HOST", "workspace_relay"]

WORKSPACE_RELAY_HOST = "smtp-relay.gmail.com"
RELAY_DAILY_LIMIT = 10_000
"""Messages per user a day through the relay (Google's published limit)."""


def workspace_relay(
    credentials: Credentials | None = None, **options: Unpack[SenderOptions]
) -> GmailSender:
    """A `GmailSender` for the Workspace relay; `credentials=None` relies on the IP address.

    Args:
        credentials: an `AppPassword` or a `TokenSource` of a Workspace user, or None to be
            authorized by the IP address registered in the Admin console.
        **options: the same options as `GmailSender`. `host` defaults to
            smtp-relay.gmail.com and `limits` to `SendingLimits(daily_limit=10_000)`, the
            relay's limit per user rather than a mailbox's 500 or 2,000. For IP-registered
            senders set `pool=PoolOptions(local_hostname=...)`: the relay wants one of the
            domain's host names in EHLO rather than a bare address.
    """
    options.setdefault("host", WORKSPACE_RELAY_HOST)
    options.setdefault("limits", SendingLimits(daily_limit=RELAY_DAILY_LIMIT))
    return GmailSender(credentials, **options)
