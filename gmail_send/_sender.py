"""`GmailSender`, the object an application keeps for its whole life, and the one-shot `send()`.

The sender validates and composes the message before it opens any connection, picks the
transport (SMTP over a pool of signed-in sessions shared by concurrent sends, the Gmail API over
HTTPS, or `auto`'s choice between them, `_transport.AutoChooser`), then hands the message to
`delivery.deliver`: retries only where Gmail cannot have accepted the message (`retry`), an
optional deadline, a rate limit and the per-account daily quota (`limits`), and events for the
application's hook (`events`). The Gmail API's module, and httpx with it, is imported only when
a message is to go that way.
"""

from __future__ import annotations

import asyncio
import email.message
import functools
import logging
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from ._delivery import DeliveryContext
from ._limits import (
    PROCESS_QUOTAS,
    Ledger,
    Pacer,
    ProcessLedger,
    RateLimiter,
    SharedRateLimiter,
    StoreLedger,
    default_daily_limit,
)
from ._options import OPTION_NAMES, Settings
from ._result import SendResult
from ._sink import sink_account
from ._transport import BeforeBody
from ._types import MessageFields, Security, SendArguments, SenderOptions
from .auth._credentials import AppPassword, Credentials, Fallback, OAuth2Token, TokenSource
from .auth._observed import ObservedTokens
from .errors import ConfigurationError, LoginThrottledError
from .events import EventHook, MessageSent, Reporter
from .imap import SentMail, refuse_sink
from .message._compose import OutgoingMessage, compose_message, prepare_message
from .route import Router
from .smtp._connection import SMTPConnection, verified_context
from .smtp._pool import ConnectionPool
from .smtp._signin import ConnectionSettings, open_session, session_still_wanted

__all__ = ["GmailSender", "send"]

log = logging.getLogger("gmail_send.sender")

if TYPE_CHECKING:
    import ssl

    from typing_extensions import Unpack

    from .store import StateStore


class GmailSender:
    """Sends messages through Gmail (or a Gmail-like server) over a pool of reused sessions.

    Keep one for the life of the application: `async with GmailSender(credentials) as gmail:
    await gmail.send(...)`, or call `aclose()` when done. Concurrent sends share up to
    `max_connections` sessions. The production options are described in docs/production.md.

    Args:
        credentials: who signs in: an `AppPassword`, a `TokenSource` (`OAuth2Credentials`,
            `ServiceAccount`, `OAuth2Token`, ...) or a `Fallback`; None for a relay that
            authorizes by IP address.
        **options: the sender's options (`SenderOptions`): `transport` ("smtp", "api" or
            "auto"), `api_url`, `host`, `port`, `security`, `tls_context`, `ca_file`,
            `timeout`, `max_connections`, `sink`, `on_event`, `store`, `templates`, and the
            groups `retry=RetryPolicy(...)`, `pool=PoolOptions(...)`,
            `limits=SendingLimits(...)`. Each is described, with its default, on `Settings`.

    Raises:
        ConfigurationError: an option is invalid, credentials would cross an unencrypted
            connection, or the Gmail API is asked for without an OAuth2 token source (or
            without the `[api]` extra).
    """

    def __init__(self, credentials: Credentials | None, **options: Unpack[SenderOptions]) -> None:
        settings = Settings.of(credentials, options, caller="GmailSender")
        security = settings.security
        self.transport = settings.transport
        """The `transport` option: "smtp", "api" or "auto"."""
        if credentials is not None and security == "none" and self.transport != "api":
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
        self.settings = settings
        """Every option this sender was made with, defaults filled in."""
        self.credentials = credentials
        self._api_tokens = _token_source(credentials)
        if self.transport == "api" and self._api_tokens is None:
            raise ConfigurationError(
                "the Gmail API needs an OAuth2 token source "
                f"(credentials are {type(credentials).__name__})",
                hint="give OAuth2Credentials, a ServiceAccount or another TokenSource; app "
                "passwords work over SMTP only (transport='smtp' or 'auto')",
            )
        self.host = settings.host
        self.timeout = settings.timeout
        tls_context = settings.client_tls_context
        verified: ssl.SSLContext | None = None  # IMAP builds one itself when this stays None
        if security != "none" or self.transport != "smtp":
            # Checked here so a context without certificate checks is refused before any send,
            # and built once (loading the system's CAs) for every session and request.
            tls_context = verified = verified_context(tls_context)
        pool, limits = settings.pool, settings.limits
        smtp = ConnectionSettings(
            host=self.host,
            port=settings.resolved_port,
            security=security,
            tls_context=tls_context,
            timeout=self.timeout,
            local_hostname=pool.local_hostname,
            pipelining=pool.pipelining,
            chunking=pool.chunking,
            max_in_flight=pool.max_in_flight,
        )
        self.sink = settings.sink
        self.templates = settings.resolved_templates
        """The `Templates` that `template=` names, or None."""
        daily_limit = limits.daily_limit
        if daily_limit == "auto":
            daily_limit = default_daily_limit(self.account)
        self.login_throttle_pause = float(limits.login_throttle_pause)
        self.daily_limit: int | None = daily_limit
        self.deadline = settings.retry.deadline
        self.on_event = settings.on_event
        self.store, self._owns_store = _state_store(settings.store)
        """The `StateStore` shared with other processes, or None."""
        self._ledger: Ledger = (
            StoreLedger(self.store)
            if self.store is not None
            else ProcessLedger(limits.quotas if limits.quotas is not None else PROCESS_QUOTAS)
        )
        self._observe_tokens(credentials, self.store)
        self._pool = ConnectionPool(
            self._open_connection,
            max_connections=settings.max_connections,
            max_messages_per_connection=pool.max_messages_per_connection,
            idle_timeout=pool.idle_timeout,
            keep=lambda connection: session_still_wanted(connection, credentials),
            expected_capacity=pool.max_in_flight if pool.chunking and pool.pipelining else 1,
        )
        self._delivery = DeliveryContext(
            policy=settings.retry,
            ledger=self._ledger,
            account=self.account,
            daily_limit=daily_limit,
            quota_pause=limits.quota_pause,
            rate=_pacer(limits.rate_limit, self.store, self.account),
            on_event=settings.on_event,
        )
        self._router = Router(
            transport=self.transport,
            settings=settings,
            delivery=self._delivery,
            pool=self._pool,
            smtp=smtp,
            tokens=self._api_tokens,
            account=self.account,
        )
        self._sent_mail = SentMail(settings, verified, self._delivery.reporter)
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"GmailSender({self.credentials!r}, transport={self.transport!r}, "
            f"host={self.host!r}, port={self.port}, security={self.security!r})"
        )

    @property
    def port(self) -> int:
        """The SMTP port sessions connect to (`auto` may move it to the other of 587/465)."""
        return self._router.smtp.port

    @property
    def security(self) -> Security:
        """How SMTP sessions are encrypted (follows `port`)."""
        return self._router.smtp.security

    @property
    def account(self) -> str | None:
        """The signed-in mailbox, the default sender (without credentials, the sink's
        `account`, if it has one: a `MemorySink`'s)."""
        if self.credentials is not None:
            return self.credentials.user
        return sink_account(self.sink)

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
        self, *, deadline: float | None = None, **fields: Unpack[MessageFields]
    ) -> SendResult:
        """Compose a message from keyword fields and send it.

        Args:
            deadline: seconds this send may take in all, retries included (default: the
                sender's `RetryPolicy.deadline`).
            **fields: the message (`MessageFields`): `to`, `cc`, `bcc`, `reply_to`, `from_`,
                `subject`, `text`, `html`, `attachments`, `headers`, `encoding`,
                `message_id`, `date`, `in_reply_to`, `references`, `thread_id`, and `template`
                with `context` (rendered by the sender's `templates`); see
                `gmail_send.message.compose_message`.

        Returns:
            The `SendResult`: Message-ID, accepted and refused recipients, Gmail's reply.

        Raises:
            MessageError: the message is invalid (before any connection is opened).
            GmailSendError: the send failed; the subclass and its `hint` say why.
        """
        compose = functools.partial(
            compose_message, account=self.account, templates=self.templates, **fields
        )
        if fields.get("attachments") or fields.get("template") is not None:
            # Reading files (attachments, templates, their images), encoding megabytes,
            # inspecting archives and rendering would stall the loop.
            outgoing = await asyncio.to_thread(compose)
        else:
            outgoing = compose()
        return await self.send_outgoing(outgoing, deadline=deadline)

    async def send_message(
        self,
        message: email.message.Message,
        *,
        sender: str | None = None,
        recipients: Sequence[str] | None = None,
        deadline: float | None = None,
        thread_id: str | None = None,
    ) -> SendResult:
        """Send a ready message (copied, never modified); the envelope comes from its headers
        unless `sender` / `recipients` are given. Bcc headers are not transmitted over SMTP
        (over the Gmail API they tell Gmail whom to send to, and Gmail removes them).

        Args:
            message: the message, as built by the `email` package (or parsed from a file).
            sender: the envelope sender (MAIL FROM) instead of the one the headers give.
            recipients: the envelope recipients instead of the To, Cc and Bcc headers.
            deadline: seconds this send may take in all, retries included (default: the
                sender's `RetryPolicy.deadline`).
            thread_id: the Gmail thread to file it in (the Gmail API only).

        Returns:
            The `SendResult`.
        """
        prepare = functools.partial(
            prepare_message,
            message,
            account=self.account,
            sender=sender,
            recipients=recipients,
            thread_id=thread_id,
        )
        # A multipart message (attachments) is copied, flattened and checked off the loop.
        outgoing = await asyncio.to_thread(prepare) if message.is_multipart() else prepare()
        return await self.send_outgoing(outgoing, deadline=deadline)

    async def send_outgoing(
        self, outgoing: OutgoingMessage, *, deadline: float | None = None
    ) -> SendResult:
        """Send an already composed and validated message.

        Args:
            outgoing: the message, from `compose_message` or `prepare_message`.
            deadline: seconds this send may take in all, retries included (default: the
                sender's `RetryPolicy.deadline`).

        Returns:
            The `SendResult`.
        """
        return await self._send(outgoing, deadline=deadline)

    async def _send(
        self,
        outgoing: OutgoingMessage,
        *,
        deadline: float | None = None,
        before_body: BeforeBody | None = None,
    ) -> SendResult:
        """`send_outgoing`, awaiting `before_body(transport)` before each attempt writes the
        body (the mail queue records there that the body may go out, and over which transport;
        None for a sink)."""
        if self._closed:
            raise ConfigurationError("this GmailSender is closed")
        if deadline is not None and not deadline > 0:
            raise ConfigurationError(f"deadline must be positive seconds, not {deadline!r}")
        if self.sink is not None:
            if before_body is not None:
                await before_body(None)
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
            return await self._router.deliver(
                outgoing, deadline or self.deadline, before_body=before_body
            )
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    def _use_store(self, store: StateStore) -> None:
        """Share limits, pauses and tokens through `store` from now on (the mail queue gives
        its database to a sender made without one). Only before the first send."""
        if self.store is not None:
            raise ConfigurationError("this GmailSender already has a store")
        self.store, self._owns_store = store, False
        self._ledger = StoreLedger(store)
        self._delivery.ledger = self._ledger
        self._delivery.rate = _pacer(self.settings.limits.rate_limit, store, self.account)
        self._observe_tokens(self.credentials, store)
        self._router.use_tokens(self._api_tokens)

    def _observe_tokens(self, credentials: Credentials | None, store: StateStore | None) -> None:
        """Sign-in's credentials and the Gmail API's token source, shared through `store`
        (when there is one) and observed (a new token is reported)."""
        on_event = self.settings.on_event
        self._signin_credentials = _observed(_shared(credentials, store), on_event)
        if isinstance(self._signin_credentials, TokenSource):
            self._api_tokens = self._signin_credentials  # one observed source for both
        elif self._api_tokens is not None:  # the OAuth2 side of a Fallback
            observed = _observed(_shared(_token_source(credentials), store), on_event)
            self._api_tokens = observed if isinstance(observed, TokenSource) else None

    async def _open_connection(self) -> SMTPConnection:
        """A new signed-in session, unless Gmail said 454 4.7.0 within `login_throttle_pause`.

        While that hold-off lasts no new session is attempted (sessions already open keep
        working): every further login would count against the account and prolong the block.
        With a store, the hold-off is shared by every process of the account.
        """
        account = self.account
        left = await self._ledger.paused_for(account, "login") if account is not None else None
        if left is not None:
            raise LoginThrottledError(
                f"Gmail refused a login as too many (454 4.7.0); not signing in again for "
                f"another {left:.0f} s",
                hint="wait; every login attempt now prolongs Gmail's block",
            )
        try:
            return await open_session(self._router.smtp, self._signin_credentials)
        except LoginThrottledError:
            if self.login_throttle_pause > 0 and account is not None:
                await self._ledger.pause(account, "login", self.login_throttle_pause)
                self._delivery.reporter.note(
                    "login_throttled",
                    "Gmail refused a login as too many; no new session for %.0f s",
                    self.login_throttle_pause,
                    level=logging.WARNING,
                    retry_after=self.login_throttle_pause,
                )
            raise

    async def find_sent(
        self, message_id: str, *, sent_at: float | None = None, wait: float | None = None
    ) -> bool:
        """Whether the account's Sent Mail holds a message with this Message-ID.

        Gmail files a copy of every message smtp.gmail.com accepts in Sent Mail, keeping the
        client's Message-ID, so this settles an `UnknownOutcomeError` of an SMTP send: True,
        Gmail took it; False, no copy appeared within the window, so it was not taken (a copy
        filed later than the window would make a resend a duplicate: choose `wait` with that
        in mind). It signs in to IMAP (`imap_host`, `imap_port`; the same `tls_context` or
        `ca_file` as SMTP) with this sender's credentials and searches until the window ends,
        off the event loop. Over the Gmail API Gmail may replace the Message-ID: a message
        sent that way cannot be found by it.

        Args:
            message_id: the Message-ID, with or without angle brackets (the error's
                `message_id`).
            sent_at: when the body went out (`UnknownOutcomeError.sent_at`, a `time.time()`
                value); the window is counted from there. None: from now.
            wait: the window in seconds (default: the `find_sent_wait` option, 120). 0 searches
                once.

        Returns:
            True when the copy is there, False when it is not once the window has passed.

        Raises:
            MessageError: `message_id` cannot be a Message-ID (or is not ASCII).
            ConfigurationError: `wait` or `sent_at` is not a finite number of seconds, or the
                sender has a sink.
            ReconciliationUnavailableError: no lookup can run; its `reason` and `hint` say why
                (relay, missing scope, IMAP off, sign-in refused, no Sent Mail, TLS,
                unreachable).
        """
        if self._closed:
            raise ConfigurationError("this GmailSender is closed")
        if self.sink is not None:
            raise refuse_sink()
        return await self._sent_mail.find(
            self._signin_credentials, message_id, sent_at=sent_at, wait=wait
        )

    async def reset_quota(self, *, count: bool = False) -> None:
        """Let this account send again: lift the pause that Gmail's 550 5.4.5 started.

        The rolling 24-hour count stays (so `daily_limit` still holds) unless `count=True`,
        which forgets it too (e.g. after the account's limit was raised). With a store, for
        every process.

        Args:
            count: also forget the messages counted in the last 24 hours.
        """
        if self.account is not None:
            await self._ledger.reset(self.account, count=count)

    async def aclose(self) -> None:
        """Refuse new sends, let the sends in flight finish, then QUIT every session (and
        close the Gmail API client's connections)."""
        await self._close(wait_for_goodbye=True)

    async def _close(self, *, wait_for_goodbye: bool) -> None:
        self._closed = True
        await self._idle.wait()
        await self._pool.aclose(wait_for_goodbye=wait_for_goodbye)
        await self._router.aclose()
        self._sent_mail.close()
        if self.store is not None and self._owns_store:
            await self.store.aclose()


def _pacer(rate: float | None, store: StateStore | None, account: str | None) -> Pacer | None:
    """The rate limit: shared by every process of the account with a store, else this one's."""
    if rate is None:
        return None
    if store is not None and account is not None:
        return SharedRateLimiter(store, account, rate)
    return RateLimiter(rate)


def _state_store(store: str | StateStore | None) -> tuple[StateStore | None, bool]:
    """The store the option names (made here from a URL, so closed by the sender)."""
    if store is None:
        return None, False
    if isinstance(store, str):
        from .store import StateStore

        return StateStore(store), True
    return store, False


def _shared(credentials: Credentials | None, store: StateStore | None) -> Credentials | None:
    """With a store, a refreshing token source shares its token with the other processes."""
    if store is None or not isinstance(credentials, TokenSource):
        return credentials
    if isinstance(credentials, OAuth2Token):
        return credentials  # a fixed token: nothing to refresh or share
    from .store import SharedTokens

    return SharedTokens(credentials, store)


def _observed(credentials: Credentials | None, hook: EventHook | None) -> Credentials | None:
    if not isinstance(credentials, TokenSource):
        return credentials  # app passwords and Fallback are no TokenSource: nothing to observe
    return ObservedTokens(credentials, Reporter(log, hook))


def _token_source(credentials: Credentials | None) -> TokenSource | None:
    """What the Gmail API can send with: a token source, or a Fallback's OAuth2 side."""
    if isinstance(credentials, Fallback):
        return credentials.oauth
    return credentials if isinstance(credentials, TokenSource) else None


async def send(credentials: Credentials | None, **arguments: Unpack[SendArguments]) -> SendResult:
    """Send one message on a session of its own. For more than one, keep a `GmailSender`.

    Args:
        credentials: who signs in (see `GmailSender`); None for a relay that trusts the IP.
        **arguments: the message fields (`MessageFields`: `to`, `subject`, `text`, ...) and
            the sender's options (`SenderOptions`: `host`, `port`, `retry`, ...), as keywords.

    Returns:
        The `SendResult`.
    """
    fields, options = split_arguments(arguments)
    gmail = GmailSender(credentials, **options)
    try:
        return await gmail.send(**fields)
    finally:
        # QUIT is written, but its reply is not awaited: nothing depends on it.
        await gmail._close(wait_for_goodbye=False)


def split_arguments(arguments: Mapping[str, Any]) -> tuple[MessageFields, SenderOptions]:
    """The message fields and the sender options among one-shot `send()` keywords."""
    fields = {k: v for k, v in arguments.items() if k not in OPTION_NAMES}
    options = {k: v for k, v in arguments.items() if k in OPTION_NAMES}
    return cast("MessageFields", fields), cast("SenderOptions", options)
