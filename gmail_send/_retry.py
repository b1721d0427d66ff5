"""Which failed sends may be tried again, and how long to wait first.

A message is retried automatically only where Gmail cannot have accepted it:

- the connection broke before the message body went out, including a drop after the server's
  greeting while the session was being set up (EHLO, STARTTLS, sign-in); a server that cannot
  be reached is reported at once: DNS failure, refused port, connect timeout, TLS failure;
- a transient reply: 421, 450, 451 (and other 4xx marked retryable; never 452 4.5.3, which
  needs the message split);
- recipients refused with such a transient reply, while others took the message: only those
  recipients are tried again.

Never retried: 5xx replies, authentication failures (sign-in has its own rule: one forced token
refresh), `454 4.7.0 Too many login attempts` (retrying soon makes it worse; the sender then
attempts no new session for `login_throttle_pause` seconds), the daily limit,
bad input, and `UnknownOutcomeError` (the body went out and no answer came) unless the caller
opted in with `retry_unknown_outcome=True`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import (
    ConfigurationError,
    GmailConnectionError,
    GmailSendError,
    LoginThrottledError,
    QuotaExceededError,
    SMTPReply,
    TemporaryError,
    TLSError,
    UnknownOutcomeError,
)

__all__ = ["RetryPolicy", "reply_is_transient"]


def reply_is_transient(reply: SMTPReply) -> bool:
    """A 4xx reply after which the same message may simply be sent again later."""
    if not 400 <= reply.code < 500:
        return False
    return not (reply.code == 452 and reply.enhanced_code == "4.5.3") and reply.code != 454


@dataclass(frozen=True)
class RetryPolicy:
    """`retries` further attempts at most, after jittered exponential backoff.

    The n-th retry waits a random time between half and all of `min(backoff * 2**(n-1),
    max_backoff)` seconds (jitter keeps many senders from retrying in step).
    """

    retries: int = 3
    backoff: float = 1.0
    max_backoff: float = 30.0
    retry_unknown_outcome: bool = False
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.retries, int) or self.retries < 0:
            raise ConfigurationError(f"retries must be a whole number >= 0, not {self.retries!r}")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ConfigurationError("backoff and max_backoff must not be negative")

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1 for the first)."""
        ceiling = min(self.backoff * 2.0 ** (retry - 1), self.max_backoff)
        return float(ceiling * (0.5 + 0.5 * self.random()))

    def should_retry(self, error: GmailSendError) -> bool:
        """Whether sending the same message again is safe and may succeed."""
        if isinstance(error, UnknownOutcomeError):
            return self.retry_unknown_outcome
        if isinstance(error, (LoginThrottledError, QuotaExceededError, TLSError)):
            return False
        if isinstance(error, GmailConnectionError):
            return True
        if isinstance(error, TemporaryError):
            return error.retryable
        return False
