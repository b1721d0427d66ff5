"""The exceptions gmail_send raises: one tree, each carrying a hint of what to do.

```
GmailSendError                          .hint: str | None; .reply: SMTPReply | None (SMTP) or
│                                       .api_reply: APIReply | None (the Gmail API), and
│                                       .code, .enhanced_code, .server_message (each | None):
│                                       set only when a server reply caused the error
├── MessageError (also ValueError)      bad input, raised before any connection is opened
│   ├── HeaderInjectionError            CR, LF or NUL in a header value or address
│   ├── InvalidAddressError             an address that does not parse
│   ├── NoRecipientsError               nobody to send to
│   ├── TooManyRecipientsError          more than 100 envelope recipients
│   ├── BlockedAttachmentError          a file type Gmail refuses (.exe, .js, ...)
│   ├── MessageTooLargeError            over Gmail's SIZE limit once encoded
│   └── TemplateError                   .template, .variable: a template did not render
├── ConfigurationError                  missing or contradictory settings, unreadable token file
├── GmailConnectionError (also ConnectionError)  DNS, TCP, TLS, server went away;
│   │                                   .after_greeting: the server had answered first
│   └── TLSError                        no STARTTLS offered, handshake or certificate failed
├── AuthenticationError                 .mechanism tried; .oauth_status, .oauth_scope (decoded
│   │                                   334 JSON) for XOAUTH2
│   └── TokenError                      the token source could not produce an access token
├── SMTPReplyError                      .retryable: bool (an SMTP reply, or the API's HTTP error)
│   ├── TemporaryError                  4xx, 429, 503: retryable later; .retry_after
│   │   └── LoginThrottledError         454 4.7.0 too many login attempts: wait minutes
│   ├── RecipientsRefusedError          .refused: every recipient refused
│   ├── QuotaExceededError              .retry_after: float | None (daily sending limit)
│   └── PermanentError                  other 5xx
├── UnknownOutcomeError                 .message_id, .sent_at, .transport, .accepted: lost after
│                                       the body was sent (or, over the API, a 5xx answer after it)
├── ReconciliationUnavailableError      .reason: the Sent Mail lookup (find_sent) cannot run
├── DeadlineExceededError (also TimeoutError)  send()'s deadline passed before Gmail accepted it
└── QueueError                          a request to the mail queue (`MailQueue`) was refused
    ├── MailNotFoundError (also LookupError)  no mail with that id
    ├── MailStateError                  .status: the mail's status does not allow it
    └── IdempotencyConflictError (also ValueError)  the key names a mail with other fields
```

An error is complete when it is raised and never changed afterwards. `reply` (SMTP) or
`api_reply` (the Gmail API: HTTP status, Google's reason and message) and `code` are `None`
when the error is the library's own decision (the client-side daily limit, Gmail's pause
being remembered, the login hold-off, a closed sender, bad configuration, a server that lacks an
extension the message needs): only a reply the server actually sent fills them.

This module imports nothing else from gmail_send, so every layer can use it. Secrets never go
into these messages: callers pass server replies and descriptions only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, NamedTuple

__all__ = [
    "APIReply",
    "AuthenticationError",
    "BlockedAttachmentError",
    "ConfigurationError",
    "DeadlineExceededError",
    "GmailConnectionError",
    "GmailSendError",
    "HeaderInjectionError",
    "IdempotencyConflictError",
    "InvalidAddressError",
    "LoginThrottledError",
    "MailNotFoundError",
    "MailStateError",
    "MessageError",
    "MessageTooLargeError",
    "NoRecipientsError",
    "PermanentError",
    "QueueError",
    "QuotaExceededError",
    "RecipientsRefusedError",
    "ReconciliationUnavailableError",
    "SMTPReply",
    "SMTPReplyError",
    "TLSError",
    "TemplateError",
    "TemporaryError",
    "TokenError",
    "TooManyRecipientsError",
    "UnknownOutcomeError",
]


class SMTPReply(NamedTuple):
    """One server reply: the basic code, the enhanced status code if any, and the text.

    Attributes:
        code: the basic reply code, e.g. 550.
        enhanced_code: the enhanced status code (RFC 3463), e.g. "5.4.5", or None.
        message: the reply's text, without the codes.
    """

    code: int
    enhanced_code: str | None
    message: str

    def __str__(self) -> str:
        enhanced = f" {self.enhanced_code}" if self.enhanced_code else ""
        return f"{self.code}{enhanced} {self.message}".rstrip()


class APIReply(NamedTuple):
    """One error answer of the Gmail API: the HTTP status, Google's reason and message.

    `reason` is the first `errors[].reason` of Google's error JSON (`insufficientPermissions`,
    `rateLimitExceeded`, ...) or None when the answer had none; `message` is its `message`
    (or the start of a body that was not Google's JSON).

    Attributes:
        status: the HTTP status of the answer, e.g. 429.
        reason: the first `errors[].reason` of Google's error JSON; None when it had none.
        message: Google's `message`, or the start of a body that was not Google's JSON.
    """

    status: int
    reason: str | None
    message: str

    def __str__(self) -> str:
        status = f"HTTP {self.status}" + (f" {self.reason}" if self.reason else "")
        return f"{status}: {self.message}" if self.message else status


class GmailSendError(Exception):
    """Root of every error gmail_send raises; `hint` says what to do about it.

    `reply` is the SMTP reply that caused the error, if one did, `api_reply` the Gmail API's
    error answer; `code` (the SMTP code or the HTTP status), `enhanced_code` and
    `server_message` are their parts; all are None when no server answer caused the error.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        reply: SMTPReply | None = None,
        api_reply: APIReply | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.reply = reply
        self.api_reply = api_reply
        self.code: int | None = None
        self.server_message: str | None = None
        if reply is not None:
            self.code, self.server_message = reply.code, reply.message
        elif api_reply is not None:
            self.code, self.server_message = api_reply.status, api_reply.message
        self.enhanced_code: str | None = reply.enhanced_code if reply is not None else None

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} (hint: {self.hint})"
        return self.message


class MessageError(GmailSendError, ValueError):
    """The message or its envelope is invalid; raised before any connection is opened."""


class HeaderInjectionError(MessageError):
    """A header value or address holds CR, LF or NUL, which could forge extra headers."""


class InvalidAddressError(MessageError):
    """An e-mail address does not parse as one mailbox."""


class NoRecipientsError(MessageError):
    """The message has no recipient in To, Cc, Bcc or the explicit envelope."""


class TooManyRecipientsError(MessageError):
    """More envelope recipients than Gmail's SMTP accepts for one message."""


class BlockedAttachmentError(MessageError):
    """An attachment of a type Gmail refuses (it would answer 552 5.7.0)."""


class MessageTooLargeError(MessageError):
    """The encoded message is larger than Gmail's SIZE limit."""

    def __init__(self, message: str, *, size: int, limit: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.size = size
        self.limit = limit


class TemplateError(MessageError):
    """A message template did not render: not found, a syntax error, or a variable the
    context lacks. `template` is the file (e.g. "welcome.html"), `variable` the missing name."""

    def __init__(
        self,
        message: str,
        *,
        template: str | None = None,
        variable: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.template = template
        self.variable = variable


class ConfigurationError(GmailSendError):
    """Settings are missing or contradict each other, or a credentials file is unusable."""


class GmailConnectionError(GmailSendError, ConnectionError):
    """The server could not be reached, or the connection broke before the message was sent.

    `after_greeting` is true when the server had answered (220) before the connection broke:
    the session broke while it was set up (EHLO, STARTTLS, sign-in) or during a transaction
    before the body went out, and a send may try again on a new session. It is false when the
    server could not be reached at all (DNS, refused port, connect timeout).
    """

    def __init__(
        self, message: str, *, hint: str | None = None, after_greeting: bool = False
    ) -> None:
        super().__init__(message, hint=hint)
        self.after_greeting = after_greeting


class TLSError(GmailConnectionError):
    """No encrypted session: the server did not offer STARTTLS, or the TLS handshake failed
    (most often because the certificate could not be verified). Never retried."""


class AuthenticationError(GmailSendError):
    """Gmail did not accept the credentials, or none could be obtained.

    `mechanism` is the login mechanism that was refused ("xoauth2", "login" or "plain"; "bearer"
    for an access token the Gmail API refused), None when no login was tried. For XOAUTH2
    failures `oauth_status` and `oauth_scope` hold what Gmail's 334 challenge said.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        reply: SMTPReply | None = None,
        mechanism: str | None = None,
        oauth_status: str | None = None,
        oauth_scope: str | None = None,
        api_reply: APIReply | None = None,
    ) -> None:
        super().__init__(message, hint=hint, reply=reply, api_reply=api_reply)
        self.mechanism = mechanism
        self.oauth_status = oauth_status
        self.oauth_scope = oauth_scope


class TokenError(AuthenticationError):
    """The token source could not produce an access token (refresh failed, endpoint down, ...)."""


class SMTPReplyError(GmailSendError):
    """Gmail answered with an error, or the library refused the same way.

    `reply` (and `code`, ...) is the server's SMTP reply, `api_reply` the Gmail API's error
    answer; both are None when the library decided on its own (the client-side daily limit,
    the login hold-off, a server without 8BITMIME). `retryable` says whether sending the same
    message again later can succeed: true for most 4xx replies (and the API's 429 and 503),
    false for 5xx, for 4xx replies that need a change first (452 4.5.3) and for the library's
    own refusals.
    """

    def __init__(
        self,
        message: str,
        *,
        reply: SMTPReply | None = None,
        hint: str | None = None,
        retryable: bool | None = None,
        api_reply: APIReply | None = None,
    ) -> None:
        super().__init__(message, hint=hint, reply=reply, api_reply=api_reply)
        if retryable is None:
            retryable = reply is not None and 400 <= reply.code < 500
        self.retryable = retryable


class TemporaryError(SMTPReplyError):
    """A 4xx reply (over the API: 429, 503): nothing was delivered, and the same message may
    be sent again later; `retry_after` is the wait the server asked for (Retry-After), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        reply: SMTPReply | None = None,
        hint: str | None = None,
        retryable: bool | None = None,
        api_reply: APIReply | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, reply=reply, hint=hint, retryable=retryable, api_reply=api_reply)
        self.retry_after = retry_after


class LoginThrottledError(TemporaryError):
    """Gmail saw too many logins (454 4.7.0); retrying at once makes it worse."""


class RecipientsRefusedError(SMTPReplyError):
    """Every recipient was refused, so nothing was sent. `refused` maps address -> reply.

    `reply` is the first refusal; `retryable` is true only when some recipient was refused for
    the moment (a retry goes to those), never for `452 4.5.3` (too many recipients: split).
    """

    def __init__(
        self,
        message: str,
        *,
        reply: SMTPReply,
        refused: Mapping[str, SMTPReply],
        hint: str | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message, reply=reply, hint=hint, retryable=retryable)
        self.refused = dict(refused)


class QuotaExceededError(SMTPReplyError):
    """The account's sending limit is reached; `retry_after` is seconds to wait, if known.

    `reply` is Gmail's `550 5.4.5` (`api_reply` the API's 429 "(Mail sending)") when Gmail
    said so in this send; both are None when the client-side daily limit, or the pause an
    earlier answer started, refused the send before connecting.
    """

    def __init__(
        self,
        message: str,
        *,
        reply: SMTPReply | None = None,
        retry_after: float | None = None,
        hint: str | None = None,
        api_reply: APIReply | None = None,
    ) -> None:
        super().__init__(message, reply=reply, hint=hint, retryable=False, api_reply=api_reply)
        self.retry_after = retry_after


class PermanentError(SMTPReplyError):
    """A 5xx reply, or a message this server cannot take (`reply` None): sending the same
    message again will fail the same way."""


class UnknownOutcomeError(GmailSendError):
    """The connection broke after the message body was sent and before Gmail's answer (over
    the API also: a 5xx answer other than 503 after the body went out, in `api_reply`).

    The message may or may not have been accepted; resending risks a duplicate. `message_id`
    identifies it so the recipient's copy can be looked for; after an SMTP send,
    `GmailSender.find_sent(error.message_id, sent_at=error.sent_at)` asks the account's Sent
    Mail. `accepted` lists the recipients an earlier transaction of the same send already
    delivered to (when a retry for recipients refused for the moment is the one whose outcome
    is unknown); it is empty otherwise.

    Attributes:
        message_id: the Message-ID of the message (the same on every attempt).
        accepted: recipients an earlier transaction of this send delivered to.
        sent_at: when the body went out (a `time.time()` value): a lookup's window starts
            there. None when not known.
        transport: "smtp" or "api": which transport carried the body. Gmail keeps the
            client's Message-ID over SMTP; over the API it may replace it, so only an SMTP
            send can be settled by `find_sent`.
    """

    def __init__(
        self,
        message: str,
        *,
        message_id: str,
        hint: str | None = None,
        accepted: tuple[str, ...] = (),
        api_reply: APIReply | None = None,
        sent_at: float | None = None,
        transport: Literal["smtp", "api"] | None = None,
    ) -> None:
        super().__init__(message, hint=hint, api_reply=api_reply)
        self.message_id = message_id
        self.accepted = accepted
        self.sent_at = sent_at
        self.transport = transport


UnavailableReason = Literal[
    "relay", "scope", "imap_disabled", "sign_in", "no_sent_mailbox", "tls", "unreachable"
]


class ReconciliationUnavailableError(GmailSendError):
    """The account's Sent Mail cannot be searched, so an unknown outcome cannot be settled.

    `reason` says why: "relay" (the Workspace relay files no Sent copy and has no mailbox to
    sign in to), "scope" (the access token lacks https://mail.google.com/, e.g. a gmail.send
    token), "imap_disabled" (IMAP is off for the account or the domain), "sign_in" (IMAP
    refused the credentials), "no_sent_mailbox" (no mailbox with the \\Sent or \\All
    attribute), "tls" (the server's certificate could not be verified) or "unreachable" (the
    IMAP server could not be reached, broke off, or is busy: the only reason that may pass by
    itself). `hint` says what to do.

    Attributes:
        reason: why the lookup cannot run (see above).
    """

    def __init__(
        self,
        message: str,
        *,
        reason: UnavailableReason,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason

    @property
    def temporary(self) -> bool:
        """Whether trying again later may succeed (the server could not be reached)."""
        return self.reason == "unreachable"


class DeadlineExceededError(GmailSendError, TimeoutError):
    """The send's deadline passed before the message was sent; nothing was delivered.

    (When the deadline passes after the body was sent, `UnknownOutcomeError` is raised instead.)
    """


class QueueError(GmailSendError):
    """The mail queue refused a request (see `gmail_send.queue.MailQueue`)."""


class MailNotFoundError(QueueError, LookupError):
    """No mail with this id is in the queue (never enqueued, or purged)."""


class MailStateError(QueueError):
    """The mail's status does not allow the request: e.g. cancelling a mail being sent, or
    resolving one whose outcome is known. `status` is the status it has."""

    def __init__(self, message: str, *, status: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class IdempotencyConflictError(QueueError, ValueError):
    """The idempotency key was given before with different message fields; `mail_id` is the
    mail that key names."""

    def __init__(self, message: str, *, mail_id: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.mail_id = mail_id
