"""Send e-mail through Gmail from async Python, with OAuth2 (XOAUTH2) or an app password.

from gmail_send import GmailSender, OAuth2Token

async with GmailSender(OAuth2Token("me@gmail.com", access_token)) as gmail:
    result = await gmail.send(to="you@example.com", subject="Hello", text="Hi")
"""

from ._limits import AccountQuotas
from ._options import PoolOptions, SendingLimits
from ._relay import workspace_relay
from ._result import SendResult
from ._retry import RetryPolicy
from ._sender import GmailSender, send
from ._sink import MessageSink
from ._types import MessageFields, Security, SendArguments, SenderOptions
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
from .config import Settings, from_env
from .errors import (
    AuthenticationError,
    BlockedAttachmentError,
    ConfigurationError,
    DeadlineExceededError,
    GmailConnectionError,
    GmailSendError,
    HeaderInjectionError,
    InvalidAddressError,
    LoginThrottledError,
    MessageError,
    MessageTooLargeError,
    NoRecipientsError,
    PermanentError,
    QuotaExceededError,
    RecipientsRefusedError,
    SMTPReply,
    SMTPReplyError,
    TemporaryError,
    TLSError,
    TokenError,
    TooManyRecipientsError,
    UnknownOutcomeError,
)
from .events import (
    EventHook,
    MessageSent,
    OutcomeUnknown,
    QuotaReached,
    SendEvent,
    SendRetried,
    TokenRefreshed,
)
from .message._compose import Attachment, OutgoingMessage
from .sync import SyncGmailSender, send_sync

__version__ = "0.1.0"

__all__ = [
    "AccountQuotas",
    "AppPassword",
    "Attachment",
    "AuthenticationError",
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
    "InvalidAddressError",
    "LoginThrottledError",
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
    "QuotaExceededError",
    "QuotaReached",
    "RecipientsRefusedError",
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
    "SyncGmailSender",
    "TLSError",
    "TemporaryError",
    "TokenError",
    "TokenFunction",
    "TokenRefreshed",
    "TokenSource",
    "TooManyRecipientsError",
    "UnknownOutcomeError",
    "__version__",
    "from_env",
    "send",
    "send_sync",
    "workspace_relay",
]
