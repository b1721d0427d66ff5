"""Which failed sends may be tried again, on which session, and how long to wait first.

`classify(error)` is the one place that decides, for any failure of a send, whether the same
message may be sent again and whether the session it failed on may carry it. The delivery
(`_delivery.py`) asks it after each attempt, also to decide whether the pool keeps the session;
sign-in (`smtp/_signin.py`) asks it whether Gmail rejected an access token. The stage a failure
happened at is part of the error as it was raised: a reply error is typed by the command it
answered (see `smtp/_replies.py`), `GmailConnectionError.after_greeting` says whether the server
had answered, and `UnknownOutcomeError` means the body had gone out.

A message is retried automatically only where Gmail cannot have accepted it:

- the connection broke before the message body went out, including a drop after the server's
  greeting while the session was being set up (EHLO, STARTTLS, sign-in): on a new session;
- a transient reply to the session or the whole message: 421, 450, 451, 454 to STARTTLS (and
  other 4xx; never 452 4.5.3, which needs the message split): on a new session;
- recipients refused with such a transient reply: only those recipients are tried again, and
  the session stays usable (the server answered; only the recipients were refused);
- over the Gmail API: 429, 503 and the rate-limit reasons (`TemporaryError` with `api_reply`),
  after at least the `Retry-After` the answer asked for; the client stays usable. A 401 is the
  API's rejected token: one new token, as for SMTP sign-in.

Never retried: a server that cannot be reached (DNS failure, refused port, connect timeout), a
server without STARTTLS and other TLS failures, 5xx replies, authentication failures (sign-in
has its own rule: one new token after Gmail rejected one), `454 4.7.0 Too many login attempts`
(retrying soon makes it worse; the sender then attempts no new session for
`login_throttle_pause` seconds), the daily limit, bad input or settings, and
`UnknownOutcomeError` (the body went out and no answer came, or the API answered with a 5xx
other than 503 after it) unless the caller opted in with `retry_unknown_outcome=True`.

`Decision.later` answers the mail queue's question: may the same message be sent again after
a while (minutes, from the queue), because nothing can have been accepted and the cause may
pass? Yes for everything retried above (the Gmail API's 429, 503 and rate limits included),
and also for a server that cannot be reached, the token endpoint failing (no login was
tried), Gmail's login throttling and sending limits (the queue holds the account's mail until
they pass) and a passed deadline; no for the outcome unknown (over either transport), TLS
failures, credentials Gmail refused, final replies or API answers, and bad input or settings.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import (
    AuthenticationError,
    ConfigurationError,
    DeadlineExceededError,
    GmailConnectionError,
    GmailSendError,
    LoginThrottledError,
    QuotaExceededError,
    RecipientsRefusedError,
    SMTPReplyError,
    TLSError,
    TokenError,
    UnknownOutcomeError,
)
from .smtp._replies import reply_is_transient

__all__ = ["Action", "Decision", "RetryPolicy", "classify", "reply_is_transient"]


class Action(enum.Enum):
    """What may follow a failed attempt."""

    RETRY_SAME_SESSION = "retry; the session stays usable"
    RETRY_NEW_SESSION = "retry on a new session"
    DO_NOT_RETRY = "do not retry"


@dataclass(frozen=True)
class Decision:
    """`classify`'s answer: the action and why, in words for logs."""

    action: Action
    reason: str
    idle_close: bool = False
    """The failure is how a session that Gmail closed while it sat idle shows (a 421, or a drop
    before the body). When it happens on a session kept from an earlier send, the delivery
    replaces that session at once, without waiting and without counting a retry."""
    new_token: bool = False
    """Gmail rejected an access token: sign-in asks the token source once for a new one."""
    later: bool = False
    """Sending the same message again after a while (from a queue) is safe and may succeed."""

    @property
    def retry(self) -> bool:
        """Whether sending the same message again is safe and may succeed."""
        return self.action is not Action.DO_NOT_RETRY

    @property
    def keep_session(self) -> bool:
        """Whether the session the attempt ran on may carry the next message."""
        return self.action is not Action.RETRY_NEW_SESSION


def _no(reason: str, *, new_token: bool = False, later: bool = False) -> Decision:
    return Decision(Action.DO_NOT_RETRY, reason, new_token=new_token, later=later)


def classify(error: GmailSendError, *, retry_unknown_outcome: bool = False) -> Decision:
    """Decide what may follow `error`, following the rules in this module's doc."""
    if isinstance(error, UnknownOutcomeError):
        if retry_unknown_outcome:
            return Decision(
                Action.RETRY_NEW_SESSION,
                "no answer came after the body; resending, as retry_unknown_outcome allows",
                later=True,
            )
        return _no("the body went out and no answer came: a resend could duplicate the message")
    if isinstance(error, TLSError):
        return _no("no verified TLS session: trying again would fail the same way")
    if isinstance(error, GmailConnectionError):
        if error.after_greeting:
            return Decision(
                Action.RETRY_NEW_SESSION,
                "the connection broke before the body went out",
                idle_close=True,
                later=True,
            )
        return _no("the server cannot be reached", later=True)
    if isinstance(error, AuthenticationError):
        rejected_token = not isinstance(error, TokenError) and (
            (error.mechanism == "xoauth2" and error.code == 535)
            or (error.mechanism == "bearer" and error.code == 401)
        )
        if rejected_token:
            return _no(
                "Gmail rejected the access token; one new token is asked for, once",
                new_token=True,
            )
        if isinstance(error, TokenError) and error.api_reply is None:
            return _no("no access token could be obtained (no login was tried)", later=True)
        if isinstance(error, TokenError):
            return _no("the Gmail API refused the token's scopes")
        return _no("the credentials were not accepted")
    if isinstance(error, LoginThrottledError):
        return _no("Gmail throttles logins: trying again soon prolongs the block", later=True)
    if isinstance(error, QuotaExceededError):
        return _no("the account's sending limit is reached", later=True)
    if isinstance(error, RecipientsRefusedError):
        if error.retryable:
            return Decision(
                Action.RETRY_SAME_SESSION, "recipients were refused for the moment", later=True
            )
        return _no("every recipient was refused for good")
    if isinstance(error, SMTPReplyError) and error.api_reply is not None:
        if error.retryable:
            return Decision(Action.RETRY_SAME_SESSION, "the Gmail API asked to wait", later=True)
        return _no("the Gmail API's answer is final")
    if isinstance(error, SMTPReplyError):
        if error.retryable:
            return Decision(
                Action.RETRY_NEW_SESSION,
                "a transient reply",
                idle_close=error.code == 421,
                later=True,
            )
        return _no("the reply is final" if error.reply is not None else "the server cannot take it")
    if isinstance(error, DeadlineExceededError):
        return _no("the deadline passed before the message was sent", later=True)
    return _no("not a temporary failure")


@dataclass(frozen=True)
class RetryPolicy:
    """`retries` further attempts at most, after jittered exponential backoff.

    The n-th retry waits a random time between half and all of `min(backoff * 2**(n-1),
    max_backoff)` seconds (jitter keeps many senders from retrying in step). What may be retried
    is `classify`'s decision; `retry_unknown_outcome=True` lets it resend after an unknown
    outcome too.

    Args:
        retries: further attempts after the first, at most.
        backoff: seconds before the first retry (doubled for each further one).
        max_backoff: the longest wait between two attempts.
        retry_unknown_outcome: also resend when the body went out and no answer came; this
            risks a duplicate, so it is off by default.
        deadline: seconds one send may take in all, retries and waits included (None: no
            bound); `GmailSender.send(deadline=...)` overrides it per message.
        random: the jitter's source of numbers in [0, 1) (a seam for tests).
    """

    retries: int = 3
    backoff: float = 1.0
    max_backoff: float = 30.0
    retry_unknown_outcome: bool = False
    deadline: float | None = None
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.retries, int) or self.retries < 0:
            raise ConfigurationError(f"retries must be a whole number >= 0, not {self.retries!r}")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ConfigurationError("backoff and max_backoff must not be negative")
        if self.deadline is not None and not self.deadline > 0:
            raise ConfigurationError(
                f"deadline must be positive seconds or None, not {self.deadline!r}"
            )

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1 for the first).

        Args:
            retry: which retry: `backoff` doubles with each, up to `max_backoff`, and a random
                part of it (up to half) is taken off.
        """
        ceiling = min(self.backoff * 2.0 ** (retry - 1), self.max_backoff)
        return float(ceiling * (0.5 + 0.5 * self.random()))

    def decide(self, error: GmailSendError) -> Decision:
        """`classify(error)` under this policy.

        Args:
            error: the error an attempt failed with.
        """
        return classify(error, retry_unknown_outcome=self.retry_unknown_outcome)

    def should_retry(self, error: GmailSendError) -> bool:
        """Whether sending the same message again is safe and may succeed.

        Args:
            error: the error an attempt failed with.
        """
        return self.decide(error).retry
