"""Send e-mail through Gmail from async Python, with OAuth2 (XOAUTH2) or an app password.

from gmail_send import GmailSender, OAuth2Token

async with GmailSender(OAuth2Token("me@gmail.com", access_token)) as gmail:
    result = await gmail.send(to="you@example.com", subject="Hello", text="Hi")

Every name is loaded on first use (PEP 562), so `import gmail_send` loads none of its modules
and an application that signs in with an app password never imports google-auth, its HTTP
transport (`requests`) or `cryptography`. Those load with the OAuth2 names
(`OAuth2Credentials`, `ServiceAccount`), or when `from_env` finds an OAuth2 source configured.
Jinja2 loads only when a `Templates` is made.
"""

from __future__ import annotations

import importlib

# Not `from typing import TYPE_CHECKING`: typing (with re, enum, collections) is most of what a
# bare `import gmail_send` would cost. Type checkers treat this name as True.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._limits import AccountQuotas
    from ._options import PoolOptions, SendingLimits, Settings
    from ._relay import workspace_relay
    from ._result import SendResult
    from ._retry import RetryPolicy
    from ._sender import GmailSender, send
    from ._sink import MemorySink, MessageSink
    from ._types import MessageFields, Security, SendArguments, SenderOptions, Transport
    from .auth._credentials import (
        AppPassword,
        Credentials,
        Fallback,
        OAuth2Token,
        TokenFunction,
        TokenSource,
    )
    from .auth._oauth2 import OAuth2Credentials
    from .auth._service_account import ServiceAccount
    from .config import from_env
    from .errors import (
        APIReply,
        AuthenticationError,
        BlockedAttachmentError,
        ConfigurationError,
        DeadlineExceededError,
        GmailConnectionError,
        GmailSendError,
        HeaderInjectionError,
        IdempotencyConflictError,
        InvalidAddressError,
        LoginThrottledError,
        MailNotFoundError,
        MailStateError,
        MessageError,
        MessageTooLargeError,
        NoRecipientsError,
        PermanentError,
        QueueError,
        QuotaExceededError,
        RecipientsRefusedError,
        ReconciliationUnavailableError,
        SMTPReply,
        SMTPReplyError,
        TemplateError,
        TemporaryError,
        TLSError,
        TokenError,
        TooManyRecipientsError,
        UnknownOutcomeError,
    )
    from .events import (
        EventHook,
        MailResent,
        MailSettled,
        MessageSent,
        OutcomeUnknown,
        QuotaReached,
        SendEvent,
        SendRetried,
        TokenRefreshed,
        TransportChosen,
    )
    from .message._compose import Attachment, OutgoingMessage
    from .message._templates import Templates
    from .queue._queue import MailQueue
    from .queue._records import (
        Awaiting,
        MailStatus,
        QueuedMail,
        ReconcileOutcome,
        Reconciliation,
        RecordedError,
        SettledBy,
    )
    from .sync import SyncGmailSender, send_sync

__version__ = "0.1.0"

# Public name -> the module that defines it, imported on first access and then cached in the
# package's namespace (so __getattr__ runs once per name).
_LAZY = {
    "AccountQuotas": "._limits",
    "PoolOptions": "._options",
    "SendingLimits": "._options",
    "Settings": "._options",
    "MemorySink": "._sink",
    "MessageSink": "._sink",
    "MessageFields": "._types",
    "Security": "._types",
    "SendArguments": "._types",
    "SenderOptions": "._types",
    "Transport": "._types",
    "workspace_relay": "._relay",
    "SendResult": "._result",
    "RetryPolicy": "._retry",
    "GmailSender": "._sender",
    "send": "._sender",
    "AppPassword": ".auth._credentials",
    "Credentials": ".auth._credentials",
    "Fallback": ".auth._credentials",
    "OAuth2Token": ".auth._credentials",
    "TokenFunction": ".auth._credentials",
    "TokenSource": ".auth._credentials",
    "OAuth2Credentials": ".auth._oauth2",
    "ServiceAccount": ".auth._service_account",
    "from_env": ".config",
    "APIReply": ".errors",
    "AuthenticationError": ".errors",
    "BlockedAttachmentError": ".errors",
    "ConfigurationError": ".errors",
    "DeadlineExceededError": ".errors",
    "GmailConnectionError": ".errors",
    "GmailSendError": ".errors",
    "HeaderInjectionError": ".errors",
    "IdempotencyConflictError": ".errors",
    "InvalidAddressError": ".errors",
    "LoginThrottledError": ".errors",
    "MailNotFoundError": ".errors",
    "MailStateError": ".errors",
    "MessageError": ".errors",
    "MessageTooLargeError": ".errors",
    "NoRecipientsError": ".errors",
    "PermanentError": ".errors",
    "QueueError": ".errors",
    "QuotaExceededError": ".errors",
    "ReconciliationUnavailableError": ".errors",
    "RecipientsRefusedError": ".errors",
    "SMTPReply": ".errors",
    "SMTPReplyError": ".errors",
    "TemplateError": ".errors",
    "TemporaryError": ".errors",
    "TLSError": ".errors",
    "TokenError": ".errors",
    "TooManyRecipientsError": ".errors",
    "UnknownOutcomeError": ".errors",
    "EventHook": ".events",
    "MailResent": ".events",
    "MailSettled": ".events",
    "MessageSent": ".events",
    "OutcomeUnknown": ".events",
    "QuotaReached": ".events",
    "SendEvent": ".events",
    "SendRetried": ".events",
    "TokenRefreshed": ".events",
    "TransportChosen": ".events",
    "Attachment": ".message._compose",
    "OutgoingMessage": ".message._compose",
    "MailQueue": ".queue._queue",
    "MailStatus": ".queue._records",
    "QueuedMail": ".queue._records",
    "Reconciliation": ".queue._records",
    "RecordedError": ".queue._records",
    "Awaiting": ".queue._records",
    "ReconcileOutcome": ".queue._records",
    "SettledBy": ".queue._records",
    "Templates": ".message._templates",
    "SyncGmailSender": ".sync",
    "send_sync": ".sync",
}

# Submodules that `import gmail_send` used to load: `gmail_send.errors.TokenError` after a
# bare `import gmail_send` keeps working.
_SUBMODULES = frozenset({"auth", "config", "errors", "events", "message", "smtp", "sync"})


def _load(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module, __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


if not TYPE_CHECKING:
    # PEP 562 hook, hidden from type checkers: they see the names imported above, and a
    # misspelt one is an error there instead of an Any.
    __getattr__ = _load


def __dir__() -> list[str]:
    # What the package offers, loaded or not: the public names and the public submodules.
    return sorted({*__all__, *_SUBMODULES})


__all__ = [
    "APIReply",
    "AccountQuotas",
    "AppPassword",
    "Attachment",
    "AuthenticationError",
    "Awaiting",
    "BlockedAttachmentError",
    "ConfigurationError",
    "Credentials",
    "DeadlineExceededError",
    "EventHook",
    "Fallback",
    "GmailConnectionError",
    "GmailSendError",
    "GmailSender",
    "HeaderInjectionError",
    "IdempotencyConflictError",
    "InvalidAddressError",
    "LoginThrottledError",
    "MailNotFoundError",
    "MailQueue",
    "MailResent",
    "MailSettled",
    "MailStateError",
    "MailStatus",
    "MemorySink",
    "MessageError",
    "MessageFields",
    "MessageSent",
    "MessageSink",
    "MessageTooLargeError",
    "NoRecipientsError",
    "OAuth2Credentials",
    "OAuth2Token",
    "OutcomeUnknown",
    "OutgoingMessage",
    "PermanentError",
    "PoolOptions",
    "QueueError",
    "QueuedMail",
    "QuotaExceededError",
    "QuotaReached",
    "RecipientsRefusedError",
    "ReconcileOutcome",
    "Reconciliation",
    "ReconciliationUnavailableError",
    "RecordedError",
    "RetryPolicy",
    "SMTPReply",
    "SMTPReplyError",
    "Security",
    "SendArguments",
    "SendEvent",
    "SendResult",
    "SendRetried",
    "SenderOptions",
    "SendingLimits",
    "ServiceAccount",
    "Settings",
    "SettledBy",
    "SyncGmailSender",
    "TLSError",
    "TemplateError",
    "Templates",
    "TemporaryError",
    "TokenError",
    "TokenFunction",
    "TokenRefreshed",
    "TokenSource",
    "TooManyRecipientsError",
    "Transport",
    "TransportChosen",
    "UnknownOutcomeError",
    "__version__",
    "from_env",
    "send",
    "send_sync",
    "workspace_relay",
]
