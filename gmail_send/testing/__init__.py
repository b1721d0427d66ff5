"""Test helpers for gmail_send: a local Gmail-like SMTP and IMAP server and Gmail API with
real TLS.

    from gmail_send.testing import LocalAccount, LocalGmail

    account = LocalAccount("me@gmail.com", app_password="abcd efgh ijkl mnop")
    async with LocalGmail(accounts=[account]) as gmail:
        ...  # send to gmail.host:gmail.port with tls_context=gmail.client_tls_context()
        assert gmail.messages[-1].rcpt_tos == ("you@example.com",)

Needs the optional extra: `pip install 'gmail-send[testing]'` (aiosmtpd, trustme), except the
in-memory `Outbox`. The core package never imports this one. `python -m gmail_send.testing`
runs a server by hand.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._accounts import LocalAccount, TokenValidator, TokenVerdict
    from ._api_server import APIFault, APIRequestRecord, LocalGmailAPI
    from ._background import LocalGmailThread
    from ._faults import DropStage, Hold, HoldStage, InjectStage, ReplyLike, format_reply
    from ._outbox import Outbox, SentMessage
    from ._pauses import Pause, PauseStage
    from ._records import (
        AuthAttempt,
        IMAPSessionRecord,
        ReceivedMessage,
        SessionRecord,
        TransactionRecord,
    )
    from ._server import DEFAULT_CLOSE_REPLY, LocalGmail
    from ._state import GMAIL_SIZE_LIMIT, Security
    from ._tls import TestCertificates
    from ._token_endpoint import LocalTokenEndpoint

# Names are loaded on first use, so the in-memory Outbox works without the [testing] extra;
# everything else needs aiosmtpd and trustme and says how to install them.
_WHERE = {
    "LocalAccount": "_accounts",
    "APIFault": "_api_server",
    "APIRequestRecord": "_api_server",
    "LocalGmailAPI": "_api_server",
    "TokenValidator": "_accounts",
    "TokenVerdict": "_accounts",
    "LocalGmailThread": "_background",
    "DropStage": "_faults",
    "Hold": "_faults",
    "HoldStage": "_faults",
    "InjectStage": "_faults",
    "ReplyLike": "_faults",
    "format_reply": "_faults",
    "Outbox": "_outbox",
    "SentMessage": "_outbox",
    "Pause": "_pauses",
    "PauseStage": "_pauses",
    "AuthAttempt": "_records",
    "IMAPSessionRecord": "_records",
    "ReceivedMessage": "_records",
    "SessionRecord": "_records",
    "TransactionRecord": "_records",
    "DEFAULT_CLOSE_REPLY": "_server",
    "LocalGmail": "_server",
    "GMAIL_SIZE_LIMIT": "_state",
    "Security": "_state",
    "TestCertificates": "_tls",
    "LocalTokenEndpoint": "_token_endpoint",
}
_WITHOUT_EXTRA = {"_outbox"}


def _require_extra() -> None:
    try:
        import aiosmtpd  # noqa: F401
        import trustme  # noqa: F401
    except ImportError as missing:
        raise ImportError(
            f"gmail_send.testing needs the [testing] extra ({missing.name} is missing): "
            "pip install 'gmail-send[testing]'",
            name=missing.name,
        ) from missing


def _load(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if module not in _WITHOUT_EXTRA:
        _require_extra()
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


if not TYPE_CHECKING:
    # PEP 562 hook, hidden from type checkers: they see the names imported above, and a
    # misspelt one is an error there instead of an Any.
    __getattr__ = _load

__all__ = [
    "DEFAULT_CLOSE_REPLY",
    "GMAIL_SIZE_LIMIT",
    "APIFault",
    "APIRequestRecord",
    "AuthAttempt",
    "DropStage",
    "Hold",
    "HoldStage",
    "IMAPSessionRecord",
    "InjectStage",
    "LocalAccount",
    "LocalGmail",
    "LocalGmailAPI",
    "LocalGmailThread",
    "LocalTokenEndpoint",
    "Outbox",
    "Pause",
    "PauseStage",
    "ReceivedMessage",
    "ReplyLike",
    "Security",
    "SentMessage",
    "SessionRecord",
    "TestCertificates",
    "TokenValidator",
    "TokenVerdict",
    "TransactionRecord",
    "format_reply",
]
