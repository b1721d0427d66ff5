"""Test helpers for gmail_send: a local Gmail-like SMTP server with real TLS.

    from gmail_send.testing import LocalAccount, LocalGmail

    account = LocalAccount("me@gmail.com", app_password="abcd efgh ijkl mnop")
    async with LocalGmail(accounts=[account]) as gmail:
        ...  # send to gmail.host:gmail.port with tls_context=gmail.client_tls_context()
        assert gmail.messages[-1].rcpt_tos == ("you@example.com",)

Needs the optional extra: `pip install 'gmail-send[testing]'` (aiosmtpd, trustme). The core
package never imports this one. `python -m gmail_send.testing` runs a server by hand.
"""

try:
    import aiosmtpd  # noqa: F401
    import trustme  # noqa: F401
except ImportError as _missing:  # pragma: no cover - depends on the installation
    raise ImportError(
        f"gmail_send.testing needs the [testing] extra ({_missing.name} is missing): "
        "pip install 'gmail-send[testing]'",
        name=_missing.name,
    ) from _missing

from .accounts import LocalAccount, TokenValidator, TokenVerdict
from .background import LocalGmailThread
from .faults import DropStage, InjectStage, ReplyLike, format_reply
from .outbox import Outbox, SentMessage
from .records import AuthAttempt, ReceivedMessage, SessionRecord
from .server import DEFAULT_CLOSE_REPLY, LocalGmail
from .state import GMAIL_SIZE_LIMIT, Security
from .tls import TestCertificates
from .token_endpoint import LocalTokenEndpoint

__all__ = [
    "DEFAULT_CLOSE_REPLY",
    "GMAIL_SIZE_LIMIT",
    "AuthAttempt",
    "DropStage",
    "InjectStage",
    "LocalAccount",
    "LocalGmail",
    "LocalGmailThread",
    "LocalTokenEndpoint",
    "Outbox",
    "ReceivedMessage",
    "ReplyLike",
    "Security",
    "SentMessage",
    "SessionRecord",
    "TestCertificates",
    "TokenValidator",
    "TokenVerdict",
    "format_reply",
]
