"""`GmailSender`, the object an application keeps for its whole life, and the one-shot `send()`.

The sender validates and composes the message before it opens any connection, then hands it to
`delivery.deliver`: a pool of signed-in sessions shared by concurrent sends (`pool`), retries
only where Gmail cannot have accepted the message (`retry`), an optional deadline, a rate limit
and the per-account daily quota (`limits`), and events for the application's hook (`events`).
"""

from __future__ import annotations

import asyncio
import email.message
import logging
import os
import ssl
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Literal

from ._delivery import DeliveryContext, deliver
from ._limits import PROCESS_QUOTAS, AccountQuotas, RateLimiter, default_daily_limit
from ._result import SendResult
from ._retry import RetryPolicy
from ._sink import MessageSink
from .auth._credentials import AppPassword, Credentials, Fallback, TokenSource, fetch_token
from .errors import ConfigurationError, LoginThrottledError
from .events import EventHook, MessageSent, Reporter, TokenRefreshed
from .message._compose import Attachment, OutgoingMessage, compose_message, prepare_message
from .smtp._connection import (
    DEFAULT_TIMEOUT,
    GMAIL_HOST,
    Security,
    SMTPConnection,
    default_port,
    verified_context,
)
from .smtp._pool import ConnectionPool
from .smtp._signin import ConnectionSettings, open_session, session_still_wanted

__all__ = ["GmailSender", "send"]

log = logging.getLogger("gmail_send.sender")

_SECURITIES = ("starttls", "tls", "none")

Addresses = str | Sequence[str] | None
AttachmentInput = Attachment | os.PathLike[str]


class GmailSender:
    """Sends messages through Gmail (or a Gmail-like server) over a pool of reused sessions.

    Keep one for the life of the application: `async with GmailSender(credentials) as gmail:
    await gmail.send(...)`, or call `aclose()` when done. Concurrent sends share up to
    `max_connections` sessions. `credentials=None` means a relay that authorizes by IP address.
    `sink` replaces the network, e.g. with `gmail_send.testing.Outbox` in an application's tests.
    The production options are described in docs/production.md.
    """

    def __init__(
        self,
        credentials: Credentials | None,
        *,
        host: str = GMAIL_HOST,
        port: int | None = None,
        security: Security = "starttls",
        tls_context: ssl.SSLContext | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        local_hostname: str | None = None,
        sink: MessageSink | None = None,
        max_connections: int = 3,
        max_messages_per_connection: int | None = 100,
        idle_timeout: float | None = 60.0,
        pipelining: bool = True,
        retries: int = 3,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        retry_unknown_outcome: bool = False,
        deadline: float | None = None,
        rate_limit: float | None = None,
        daily_limit: int | Literal["auto"] | None = "auto",
        quota_pause: float = 3600.0,
        quotas: AccountQuotas | None = None,
        on_event: EventHook | None = None,
        login_throttle_pause: float = 300.0,
    ) -> None:
        if security not in _SECURITIES:
            raise ConfigurationError(
                f"security must be one of {', '.join(_SECURITIES)}, not {security!r}"
            )
        if credentials is not None and security == "none":
            raise ConfigurationError(
                "credentials are never sent over an unencrypted connection",
                hint="use security='starttls' (port 587) or 'tls' (port 465); security='none' "
                "is only for relays that authorize by IP address (credentials=None)",
            )
        if credentials is not None and not isinstance(
            credentials, (AppPassword, TokenSource, Fallback)
        ):
            raise ConfigurationError(
                "credentials must be an AppPassword, a TokenSource or a Fallback, "
                f"not {type(credentials).__name__}"
            )
        if port is not None and not 0 < port < 65536:
            raise ConfigurationError(f"port must be between 1 and 65535, not {port}")
        self.credentials = credentials
        self.host = host
        self.port = port if port is not None else default_port(security)
        self.security: Security = security
        self.timeout = timeout
        if security != "none":
            # Checked here so a context without certificate checks is refused before any send,
            # and built once (loading the system's CAs) for every session of this sender.
            tls_context = verified_context(tls_context)
        self._settings = ConnectionSettings(
            host=host,
            port=self.port,
            security=security,
            tls_context=tls_context,
            timeout=timeout,
            local_hostname=local_hostname,
        )
        self.sink = sink
        if deadline is not None and not deadline > 0:
            raise ConfigurationError(f"deadline must be positive seconds or None, not {deadline!r}")
        if daily_limit == "auto":
            daily_limit = default_daily_limit(self.account)
        elif daily_limit is not None and (not isinstance(daily_limit, int) or daily_limit < 1):
            raise ConfigurationError(
                f"daily_limit must be >= 1, 'auto' or None, not {daily_limit!r}"
            )
        if not quota_pause > 0:
            raise ConfigurationError(f"quota_pause must be positive seconds, not {quota_pause!r}")
        if not login_throttle_pause >= 0:
            raise ConfigurationError(
                f"login_throttle_pause must be >= 0 seconds, not {login_throttle_pause!r}"
            )
        self.login_throttle_pause = float(login_throttle_pause)
        self._login_blocked_until: float | None = None
        self.daily_limit: int | None = daily_limit
        self.deadline = deadline
        self.on_event = on_event
        self._signin_credentials = _observed(credentials, on_event)
        self._pool = ConnectionPool(
            self._open_connection,
            max_connections=max_connections,
            max_messages_per_connection=max_messages_per_connection,
            idle_timeout=idle_timeout,
            keep=lambda connection: session_still_wanted(connection, credentials),
        )
        self._delivery = DeliveryContext(
            pool=self._pool,
            policy=RetryPolicy(
                retries=retries,
                backoff=backoff,
                max_backoff=max_backoff,
                retry_unknown_outcome=retry_unknown_outcome,
            ),
            quotas=quotas if quotas is not None else PROCESS_QUOTAS,
            account=self.account,
            daily_limit=daily_limit,
            quota_pause=quota_pause,
            rate=RateLimiter(rate_limit) if rate_limit is not None else None,
            on_event=on_event,
            pipelining=pipelining,
        )
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"GmailSender({self.credentials!r}, host={self.host!r}, port={self.port}, "
            f"security={self.security!r})"
        )

    @property
    def account(self) -> str | None:
        """The signed-in mailbox, the default sender."""
        return self.credentials.user if self.credentials is not None else None

    async def __aenter__(self) -> GmailSender:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def send(
        self,
        *,
        to: Addresses = None,
        cc: Addresses = None,
        bcc: Addresses = None,
        reply_to: Addresses = None,
        from_: str | None = None,
        subject: str = "",
        text: str | None = None,
        html: str | None = None,
        attachments: Sequence[AttachmentInput] = (),
        headers: Mapping[str, str] | None = None,
        encoding: Literal["utf-8", "iso-2022-jp"] = "utf-8",
        message_id: str | None = None,
        date: datetime | None = None,
        deadline: float | None = None,
    ) -> SendResult:
        """Compose a message from these parts and send it; see `compose_message` for each.

        `deadline` (seconds, default the sender's) bounds the whole send, retries included.
        """
        outgoing = compose_message(
            account=self.account,
            to=to,
            cc=cc,
            bcc=bcc,
            reply_to=reply_to,
            from_=from_,
            subject=subject,
            text=text,
            html=html,
            attachments=attachments,
            headers=headers,
            encoding=encoding,
            message_id=message_id,
            date=date,
        )
        return await self.send_outgoing(outgoing, deadline=deadline)

    async def send_message(
        self,
        message: email.message.Message,
        *,
        sender: str | None = None,
        recipients: Sequence[str] | None = None,
        deadline: float | None = None,
    ) -> SendResult:
        """Send a ready message (copied, never modified); the envelope comes from its headers
        unless `sender` / `recipients` are given. Bcc headers are not transmitted."""
        outgoing = prepare_message(
            message, account=self.account, sender=sender, recipients=recipients
        )
        return await self.send_outgoing(outgoing, deadline=deadline)

    async def send_outgoing(
        self, outgoing: OutgoingMessage, *, deadline: float | None = None
    ) -> SendResult:
        """Send an already composed and validated message."""
        if self._closed:
            raise ConfigurationError("this GmailSender is closed")
        if deadline is not None and not deadline > 0:
            raise ConfigurationError(f"deadline must be positive seconds, not {deadline!r}")
        if self.sink is not None:
            result = await self.sink.deliver(outgoing)
            self._delivery.reporter.report(
                MessageSent(
                    self.account,
                    message_id=result.message_id,
                    attempts=1,
                    connection_id=None,
                    accepted=len(result.accepted),
                    refused=len(result.refused),
                ),
                "message handed to the sink",
            )
            return result
        self._in_flight += 1
        self._idle.clear()
        try:
            return await deliver(self._delivery, outgoing, deadline=deadline or self.deadline)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _open_connection(self) -> SMTPConnection:
        """A new signed-in session, unless Gmail said 454 4.7.0 within `login_throttle_pause`.

        While that hold-off lasts no new session is attempted (sessions already open keep
        working): every further login would count against the account and prolong the block.
        """
        blocked_until = self._login_blocked_until
        if blocked_until is not None:
            left = blocked_until - time.monotonic()
            if left > 0:
                raise LoginThrottledError(
                    f"Gmail refused a login as too many (454 4.7.0); not signing in again for "
                    f"another {left:.0f} s",
                    hint="wait; every login attempt now prolongs Gmail's block",
                )
            self._login_blocked_until = None
        try:
            return await open_session(self._settings, self._signin_credentials)
        except LoginThrottledError:
            if self.login_throttle_pause > 0:
                self._login_blocked_until = time.monotonic() + self.login_throttle_pause
                self._delivery.reporter.note(
                    "login_throttled",
                    "Gmail refused a login as too many; no new session for %.0f s",
                    self.login_throttle_pause,
                    level=logging.WARNING,
                    retry_after=self.login_throttle_pause,
                )
            raise

    def reset_quota(self, *, count: bool = False) -> None:
        """Let this account send again: lift the pause that Gmail's 550 5.4.5 started.

        The rolling 24-hour count stays (so `daily_limit` still holds) unless `count=True`,
        which forgets it too (e.g. after the account's limit was raised).
        """
        if self.account is not None:
            self._delivery.quotas.reset(self.account, count=count)

    async def aclose(self) -> None:
        """Refuse new sends, let the sends in flight finish, then QUIT every session."""
        self._closed = True
        await self._idle.wait()
        await self._pool.aclose()


class _ObservedTokens:
    """A token source that reports each new access token (log record and hook)."""

    def __init__(self, source: TokenSource, reporter: Reporter) -> None:
        self._source = source
        self._reporter = reporter
        self._last: int | None = None

    @property
    def user(self) -> str:
        return self._source.user

    async def get_token(self, *, force_refresh: bool = False, rejected: str | None = None) -> str:
        if rejected is not None:  # passed on only to sources that take it
            token = await fetch_token(self._source, rejected=rejected)
        else:
            token = await self._source.get_token(force_refresh=force_refresh)
        forced = force_refresh or rejected is not None
        fingerprint = hash(token)
        if self._last is not None and fingerprint != self._last:
            self._reporter.report(
                TokenRefreshed(self._source.user, forced=forced),
                "the token source handed out a new access token%s",
                " after Gmail rejected one" if forced else "",
            )
        self._last = fingerprint
        return token

    def __repr__(self) -> str:
        return repr(self._source)


def _observed(credentials: Credentials | None, hook: EventHook | None) -> Credentials | None:
    if not isinstance(credentials, TokenSource):
        return credentials  # app passwords and Fallback are no TokenSource: nothing to observe
    return _ObservedTokens(credentials, Reporter(log, hook))


async def send(
    credentials: Credentials | None,
    *,
    host: str = GMAIL_HOST,
    port: int | None = None,
    security: Security = "starttls",
    tls_context: ssl.SSLContext | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    to: Addresses = None,
    cc: Addresses = None,
    bcc: Addresses = None,
    reply_to: Addresses = None,
    from_: str | None = None,
    subject: str = "",
    text: str | None = None,
    html: str | None = None,
    attachments: Sequence[AttachmentInput] = (),
    headers: Mapping[str, str] | None = None,
    encoding: Literal["utf-8", "iso-2022-jp"] = "utf-8",
    message_id: str | None = None,
    date: datetime | None = None,
) -> SendResult:
    """Send one message on a session of its own. For more than one, keep a `GmailSender`."""
    async with GmailSender(
        credentials,
        host=host,
        port=port,
        security=security,
        tls_context=tls_context,
        timeout=timeout,
    ) as gmail:
        return await gmail.send(
            to=to,
            cc=cc,
            bcc=bcc,
            reply_to=reply_to,
            from_=from_,
            subject=subject,
            text=text,
            html=html,
            attachments=attachments,
            headers=headers,
            encoding=encoding,
            message_id=message_id,
            date=date,
        )
