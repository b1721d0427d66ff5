"""`MailQueue`: mail stored in SQLite or PostgreSQL at once, and sent by a worker later.

`enqueue` composes and validates the message where it is called (bad input fails there), and
stores its bytes (no Bcc header), envelope (every recipient, Bcc included) and Message-ID in
milliseconds, without touching the network; optionally inside the caller's own transaction.
`work` sends what is due through `GmailSender`s (see `_worker`). Every database call runs in a
worker thread (or on psycopg's async connection), never on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import email.message
import functools
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .._retry import RetryPolicy
from .._types import MessageFields
from ..errors import ConfigurationError, MessageError
from ..message._compose import compose_message, prepare_message
from ..message._outgoing import OutgoingMessage
from ._enqueue import NewMail, check_window, new_mail
from ._joined import store_mail, store_mail_sync
from ._operations import QueueDatabase, refuse_loop_thread, seconds
from ._records import QueuedMail, Reconciliation

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._sender import GmailSender

__all__ = ["DEFAULT_RETRY", "MailQueue"]

DEFAULT_RETRY = RetryPolicy(retries=9, backoff=30.0, max_backoff=3600.0)
"""The queue's own retries after a temporary failure: 10 attempts over about 3 hours."""


class MailQueue(QueueDatabase):
    """A durable queue of mail in SQLite (one host) or PostgreSQL (several hosts).

    Args:
        url: `sqlite:///path/to/queue.db` or `postgresql://user:password@host/db` (the
            `[postgres]` extra); the same URLs as `GmailSender(store=...)`, and usually the
            same database. The tables are created by gmail_send on first use.
        account: the default sending account of `enqueue` (the default From and the
            Message-ID's domain); a mail may name another with `enqueue(account=...)`.
        retry: the queue's retries after temporary failures (`retries` further attempts,
            `backoff` doubling up to `max_backoff`); `retry_unknown_outcome` and `deadline` are
            refused (a mail's deadline is its `not_after`).
        lease: seconds a worker holds a mail without renewing its claim (it renews every third
            of it); a worker that died loses its mails after this long.
        retention: how long the bytes of a mail that ended (`sent`, `failed`, `expired`,
            `cancelled`) are kept; its row stays until `purge`.
        poll: seconds an idle worker waits before looking for due mail again (at most 1).
        settle_unknown: whether workers settle `unknown` mails whose body went out over SMTP
            by looking their Message-ID up in the account's Sent Mail (the senders'
            `find_sent`, over IMAP): found, `sent`; not there once the window passed
            (`find_sent_wait`, counted from when the body went out), sent again with the same
            Message-ID and reported (`MailResent`). False leaves every unknown mail to the
            operator (`reconcile`, `resolve`).
        clock: the wall clock, in seconds since the epoch (tests replace it to move time).
    """

    def __init__(
        self,
        url: str,
        *,
        account: str | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        lease: float = 60.0,
        retention: float | timedelta = timedelta(days=7),
        poll: float = 0.5,
        settle_unknown: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(url, clock=clock)
        if account is not None and (not isinstance(account, str) or "@" not in account):
            raise ConfigurationError(f"account must be an e-mail address, not {account!r}")
        self.account = account
        if not isinstance(retry, RetryPolicy):
            raise ConfigurationError(f"retry must be a RetryPolicy, not {type(retry).__name__}")
        if retry.retry_unknown_outcome or retry.deadline is not None:
            raise ConfigurationError(
                "the queue's RetryPolicy takes no retry_unknown_outcome and no deadline",
                hint="a mail whose outcome is unknown is never resent blindly; give a mail a "
                "deadline with enqueue(not_after=...)",
            )
        self.retry_policy = retry
        """The `retry=` policy: waits and attempts after temporary failures."""
        self.lease = seconds(lease, "lease")
        self.retention = seconds(retention, "retention")
        self.poll = seconds(poll, "poll")
        if self.poll > 1.0:
            raise ConfigurationError("poll must be at most 1 second (idle workers wake that fast)")
        if not isinstance(settle_unknown, bool):
            raise ConfigurationError(
                f"settle_unknown must be True or False, not {settle_unknown!r}"
            )
        self.settle_unknown = settle_unknown
        """The `settle_unknown=` option: workers look unknown mails up in the Sent Mail."""
        self._stops: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.worker_name = f"{socket.gethostname()}:{os.getpid()}"
        """How this process's workers sign their claims (for `gmail-send queue list`)."""

    def __repr__(self) -> str:
        return f"MailQueue({self.name!r}, account={self.account!r})"

    # -- enqueue ----------------------------------------------------------------------------

    def _compose(self, account: str | None, fields: MessageFields) -> tuple[OutgoingMessage, str]:
        if fields.get("thread_id") is not None:
            raise MessageError(
                "the mail queue does not keep thread_id",
                hint="send replies that must go into a Gmail thread with GmailSender.send; "
                "In-Reply-To and References still thread a queued reply in mail programs",
            )
        chosen = account if account is not None else self.account
        outgoing = compose_message(account=chosen, **fields)
        return outgoing, (chosen or outgoing.sender)

    def _prepare(
        self,
        message: email.message.Message,
        account: str | None,
        sender: str | None,
        recipients: Sequence[str] | None,
    ) -> tuple[OutgoingMessage, str]:
        chosen = account if account is not None else self.account
        outgoing = prepare_message(message, account=chosen, sender=sender, recipients=recipients)
        return outgoing, (chosen or outgoing.sender)

    def _new(
        self,
        made: tuple[OutgoingMessage, str],
        fields: Mapping[str, Any],
        idempotency_key: str | None,
        not_before: datetime | None,
        not_after: datetime | None,
    ) -> NewMail:
        outgoing, account = made
        now = self._clock()
        start, end = check_window(not_before, not_after, now=now)
        return new_mail(
            outgoing,
            account=account,
            not_before=start,
            not_after=end,
            idempotency_key=idempotency_key,
            fields=fields,
            now=now,
        )

    async def enqueue(
        self,
        *,
        account: str | None = None,
        idempotency_key: str | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        connection: Any = None,
        **fields: Unpack[MessageFields],
    ) -> QueuedMail:
        """Compose a message from keyword fields and store it to be sent by a worker.

        Args:
            account: the account that sends it (default: the queue's `account`, else the
                From address); a worker sends it with that account's sender. `from_` stays
                the From header (the account or a verified alias).
            idempotency_key: the same key with the same fields returns the first mail instead
                of a second one; with other fields, `IdempotencyConflictError`.
            not_before: a timezone-aware time before which it is not sent.
            not_after: a timezone-aware time after which an unsent mail ends `expired`.
            connection: the application's connection to the queue's database, to enqueue in
                its transaction: a psycopg `Connection` or `AsyncConnection` (a
                `sqlite3.Connection` only with `enqueue_sync`).
            **fields: the message (`MessageFields`), as for `GmailSender.send`.

        Returns:
            The `QueuedMail`, status `queued`.

        Raises:
            MessageError: the message or the times are invalid (nothing is stored).
            IdempotencyConflictError: the key was used with other fields.
            ConfigurationError: the connection is not to the queue's database.
            StoreUnavailableError: the database failed.
        """
        if fields.get("attachments"):  # files are read and encoded off the loop
            made = await asyncio.to_thread(self._compose, account, fields)
        else:
            made = self._compose(account, fields)
        mail = self._new(made, fields, idempotency_key, not_before, not_after)
        return await store_mail(self, mail, connection)

    def enqueue_sync(
        self,
        *,
        account: str | None = None,
        idempotency_key: str | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        connection: Any = None,
        **fields: Unpack[MessageFields],
    ) -> QueuedMail:
        """`enqueue` for code without `await` (Django views, Flask); the same arguments.

        Not from a thread that runs an event loop: use `await enqueue(...)` there.

        Args:
            account: see `enqueue`.
            idempotency_key: see `enqueue`.
            not_before: see `enqueue`.
            not_after: see `enqueue`.
            connection: see `enqueue`; may also be a `sqlite3.Connection`, used here on the
                caller's thread.
            **fields: the message (`MessageFields`), as for `GmailSender.send`.

        Returns:
            The `QueuedMail`, status `queued`.
        """
        refuse_loop_thread("enqueue_sync", "enqueue")
        made = self._compose(account, fields)
        mail = self._new(made, fields, idempotency_key, not_before, not_after)
        return store_mail_sync(self, mail, connection)

    async def enqueue_message(
        self,
        message: email.message.Message,
        *,
        sender: str | None = None,
        recipients: Sequence[str] | None = None,
        account: str | None = None,
        idempotency_key: str | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        connection: Any = None,
    ) -> QueuedMail:
        """Store a ready message (copied, never modified), as `GmailSender.send_message` sends
        one: the envelope comes from its headers unless `sender` / `recipients` are given, and
        Bcc headers are not stored. The other arguments are `enqueue`'s.

        Args:
            message: an `email.message.Message` (or `EmailMessage`).
            sender: the envelope sender (default: the From header, else the account).
            recipients: the envelope recipients (default: To, Cc and Bcc).
            account: see `enqueue`.
            idempotency_key: see `enqueue` (the Message-ID and Date headers do not count).
            not_before: see `enqueue`.
            not_after: see `enqueue`.
            connection: see `enqueue`.
        """
        prepare = functools.partial(self._prepare, message, account, sender, recipients)
        made = await asyncio.to_thread(prepare) if message.is_multipart() else prepare()
        mail = self._new(made, {}, idempotency_key, not_before, not_after)
        return await store_mail(self, mail, connection)

    def enqueue_message_sync(
        self,
        message: email.message.Message,
        *,
        sender: str | None = None,
        recipients: Sequence[str] | None = None,
        account: str | None = None,
        idempotency_key: str | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        connection: Any = None,
    ) -> QueuedMail:
        """`enqueue_message` for code without `await`; the same arguments.

        Args:
            message: an `email.message.Message` (or `EmailMessage`).
            sender: the envelope sender (default: the From header, else the account).
            recipients: the envelope recipients (default: To, Cc and Bcc).
            account: see `enqueue`.
            idempotency_key: see `enqueue_message`.
            not_before: see `enqueue`.
            not_after: see `enqueue`.
            connection: see `enqueue`; may also be a `sqlite3.Connection` (see
                `enqueue_sync`).

        Returns:
            The `QueuedMail`, status `queued`.
        """
        refuse_loop_thread("enqueue_message_sync", "enqueue_message")
        made = self._prepare(message, account, sender, recipients)
        mail = self._new(made, {}, idempotency_key, not_before, not_after)
        return store_mail_sync(self, mail, connection)

    # -- the worker -------------------------------------------------------------------------

    async def work(self, *senders: GmailSender, until_empty: bool = False) -> None:
        """Send due mail through `senders` until `stop()` (or cancellation), or, with
        `until_empty`, until no mail is due or being sent.

        Each sender serves its account's mails (a sender without account, a relay, serves
        every other account), at most its `max_connections` at once. A sender without a
        `store` gets the queue's database as its store, so every worker shares the limits and
        hold-offs; see the `gmail_send.queue` docs for what happens after each failure.

        Args:
            *senders: `GmailSender`s, at most one per account.
            until_empty: return once nothing is due or in progress instead of waiting for more.

        Raises:
            ConfigurationError: a sender has another store, retries unknown outcomes, or two
                senders share an account.
        """
        from ._worker import Worker

        if self._store is None:
            from ..store import StateStore

            self._store = StateStore(self._url, clock=self._clock)
        worker = Worker(self, self._store, senders, name=self.worker_name)
        stop = (asyncio.get_running_loop(), asyncio.Event())
        self._stops.add(stop)
        try:
            await worker.run(until_empty=until_empty, stop=stop[1])
        finally:
            self._stops.discard(stop)

    async def serve(
        self, *senders: GmailSender, grace: float = 30.0, until_empty: bool = False
    ) -> None:
        """`work()` as the main task of a process (a systemd service, a container, a Django
        management command): SIGTERM or SIGINT stops it cleanly. The first signal stops
        claiming and lets the mails held finish for at most `grace` seconds, then releases
        them (queued again, or `unknown` if their body went out); a second releases at once.

        Args:
            *senders: as for `work`.
            grace: seconds the mails held may take to finish after the first signal.
            until_empty: as for `work`.
        """
        from ._serve import serve

        await serve(self, senders, grace=grace, until_empty=until_empty)

    async def reconcile(
        self,
        *senders: GmailSender,
        ids: Sequence[str] | None = None,
        wait: float | None = None,
    ) -> list[Reconciliation]:
        """Look `unknown` mails up in their account's Sent Mail now, each with the sender of
        its account, and settle them as a worker does: found, `sent`; not there once the
        window passed, queued again with the same Message-ID (a resend, reported); the lookup
        unavailable, still `unknown` with the reason and hint. Mails parked after a lookup
        could not run for good (`awaiting == "reconcile"`) are looked up too, and a lookup a
        worker runs meanwhile is taken over. It takes as long as the longest window.

        Args:
            *senders: `GmailSender`s whose `find_sent` looks (one per account; a relay's
                cannot).
            ids: these mails (each must be `unknown`); None: every unknown mail of the
                senders' accounts, those awaiting `resolve` reported as "not_looked_up".
            wait: the window in seconds, counted from when each body went out (default: each
                sender's `find_sent_wait`).

        Returns:
            A `Reconciliation` per mail, the oldest first; a lookup that failed unexpectedly
            is its mail's "unavailable" (the others go on).

        Raises:
            MailNotFoundError: a mail of `ids` does not exist.
            MailStateError: a mail of `ids` is not `unknown`.
            ConfigurationError: no sender serves a mail of `ids`.
            StoreUnavailableError: the database failed.
        """
        from ..imap import check_seconds
        from ._reconcile import reconcile

        window = check_seconds(wait, "wait", optional=True)  # NaN and infinity refused
        return await reconcile(self, senders, ids=ids, wait=window)

    def stop(self) -> None:
        """Ask running workers to stop: they claim nothing more, finish the mails they hold
        and return from `work()`. (Cancelling `work()` instead releases those mails at once.)
        Safe to call from any thread and from a signal handler."""
        for loop, event in list(self._stops):
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)
