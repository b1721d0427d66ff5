"""The worker behind `MailQueue.work()`: claim due mail, send it, record what happened.

One loop claims due mails for every sender with a free connection (each sender serves its
account, at most `max_connections` mails at once), a task per mail sends it, and a heartbeat
renews the claims it holds every third of the lease. Before a body goes out the mail is marked
as possibly sent, in the database; so a worker that dies is harmless: its mail is queued again
after the lease, or becomes `unknown` if its body may have reached Gmail (never sent again
blindly). What follows a failure is `classify`'s decision (`Decision.later`), with the queue's
`RetryPolicy` for the wait: temporary failures back off, permanent ones end `failed`, Gmail's
sending limit (550 5.4.5, or the daily limit counted in the store) holds every mail of the
account until the oldest send leaves the rolling 24 hours, the login hold-off holds them until
it ends, and an unknown outcome ends `unknown`. Stopping (`MailQueue.stop()`) lets the mails
held finish; cancelling releases them (queued again, or `unknown` if their body went out).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from .._result import TransportName
from .._retry import classify
from .._sender import GmailSender
from ..errors import (
    GmailSendError,
    LoginThrottledError,
    QuotaExceededError,
    UnknownOutcomeError,
)
from ..events import Reporter
from ..store._database import Cursor, StoreUnavailableError
from ..store._state import DAY, paused_until
from . import _claims, _outcomes, _rows, _unknown
from ._claims import Claimed, Route
from ._lookup import LOOKUPS_PER_SENDER, log_fields, look_up_in_worker
from ._records import Awaiting, dump_error, dump_result
from ._senders import check_senders, outgoing_of, routes
from ._unknown import PARTIAL_HINT, Unknown

if TYPE_CHECKING:
    from ..store import StateStore
    from ._queue import MailQueue

__all__ = ["ClaimLostError", "Worker"]

log = logging.getLogger("gmail_send.queue")
T = TypeVar("T")

TRIM_EVERY = 60.0
"""Seconds between two deletions of old bodies (retention)."""


class ClaimLostError(GmailSendError):
    """This worker's claim on a mail ran out and another took it: the body must not be sent."""


class Worker:
    """One run of `MailQueue.work()` (see the module docstring)."""

    def __init__(
        self, queue: MailQueue, store: StateStore, senders: Sequence[GmailSender], *, name: str
    ) -> None:
        check_senders(senders, queue)
        for sender in senders:
            if sender.store is None:
                sender._use_store(store)
        self.queue = queue
        self.name = name
        self._routes = routes(senders)
        self._busy: dict[GmailSender, int] = dict.fromkeys(senders, 0)
        self._looking: dict[GmailSender, int] = dict.fromkeys(senders, 0)
        self._held: dict[str, Claimed | Unknown] = {}
        self._reporter = Reporter(log)

    async def _db(self, operation: Callable[[Cursor, float], T]) -> T:
        return await self.queue._run(operation)

    def _route(self, sender: GmailSender, limit: int) -> Route:
        for candidate, accounts, others in self._routes:
            if candidate is sender:
                return Route(accounts, others, limit)
        raise AssertionError("unknown sender")

    async def run(self, *, until_empty: bool, stop: asyncio.Event) -> None:
        tasks: set[asyncio.Task[None]] = set()
        heartbeat = asyncio.create_task(self._heartbeat())
        stopping = asyncio.create_task(stop.wait())
        next_trim = 0.0
        failures = 0
        try:
            while not stop.is_set():
                if time.monotonic() >= next_trim:
                    next_trim = time.monotonic() + TRIM_EVERY
                    await self._trim()
                try:
                    wanted, batch, lookups = await self._claim()
                    failures = 0
                except StoreUnavailableError as exc:
                    if until_empty:
                        raise
                    failures += 1
                    log.warning(
                        "cannot claim mail: %s", exc.message, extra={"event": "claim_failed"}
                    )
                    pause = min(30.0, self.queue.poll * 2**failures)
                    await asyncio.wait([stopping], timeout=pause)
                    continue
                for mail, sender in batch:
                    tasks.add(asyncio.create_task(self._send(mail, sender)))
                for unknown, sender in lookups:
                    tasks.add(asyncio.create_task(self._look_up(unknown, sender)))
                if until_empty and not tasks and not await self._left():
                    return
                if wanted and len(batch) == wanted:
                    await asyncio.sleep(0)  # maybe more is due: claim again at once
                    continue
                done, _ = await asyncio.wait(
                    {stopping, *tasks}, timeout=self.queue.poll, return_when="FIRST_COMPLETED"
                )
                for task in done - {stopping}:
                    tasks.discard(task)
                    if task.exception() is not None:  # pragma: no cover - a bug in _send
                        log.error("a send task failed", exc_info=task.exception())
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            for helper in (heartbeat, stopping):
                helper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await helper

    async def _claim(
        self,
    ) -> tuple[int, list[tuple[Claimed, GmailSender]], list[tuple[Unknown, GmailSender]]]:
        """Sweep, then claim for every sender with free connections, and lookups for every
        sender with free lookup slots: (sends asked for, sends claimed, lookups claimed)."""
        free = {
            sender: sender.settings.max_connections - busy for sender, busy in self._busy.items()
        }
        wanted = sum(n for n in free.values() if n > 0)
        free_lookups = {
            sender: LOOKUPS_PER_SENDER - looking if self.queue.settle_unknown else 0
            for sender, looking in self._looking.items()
        }
        if not wanted and not any(n > 0 for n in free_lookups.values()):
            return 0, [], []
        lease = self.queue.lease
        Claims = tuple[list[tuple[Claimed, GmailSender]], list[tuple[Unknown, GmailSender]]]

        def operation(cursor: Cursor, now: float) -> Claims:
            _claims.sweep(cursor, now=now)
            claimed = []
            for sender, limit in free.items():
                route = self._route(sender, limit)
                for mail in _claims.claim(cursor, route, worker=self.name, lease=lease, now=now):
                    claimed.append((mail, sender))
            lookups = []
            for sender, limit in free_lookups.items():
                route = self._route(sender, limit)
                for unknown in _unknown.claim_lookups(
                    cursor, route, worker=self.name, lease=lease, now=now, limit=limit
                ):
                    lookups.append((unknown, sender))
            return claimed, lookups

        batch, lookups = await self._db(operation)
        for mail, sender in batch:
            self._held[mail.claim] = mail
            self._busy[sender] += 1
        for unknown, sender in lookups:
            self._held[unknown.claim] = unknown
            self._looking[sender] += 1
        return wanted, batch, lookups

    async def _left(self) -> bool:
        lookups = self.queue.settle_unknown

        def operation(cursor: Cursor, now: float) -> bool:
            return any(
                _claims.in_progress(cursor, Route(accounts, others, 0), now=now, lookups=lookups)
                for _, accounts, others in self._routes
            )

        return await self._db(operation)

    async def _trim(self) -> None:
        before = self.queue._clock() - self.queue.retention
        try:
            await self._db(lambda cursor, now: _rows.trim_bodies(cursor, before=before))
        except StoreUnavailableError as exc:
            log.warning("cannot delete old bodies: %s", exc.message, extra={"event": "trim_failed"})

    async def _heartbeat(self) -> None:
        lease = self.queue.lease
        while True:
            await asyncio.sleep(lease / 3)
            sending = [c for c, mail in self._held.items() if isinstance(mail, Claimed)]
            looking = [c for c, mail in self._held.items() if not isinstance(mail, Claimed)]
            claims = sending + looking
            if not claims:
                continue
            try:
                await self._db(functools.partial(_renew, sending, looking, lease))
            except StoreUnavailableError as exc:
                log.warning(
                    "cannot renew the lease of %d mails: %s",
                    len(claims),
                    exc.message,
                    extra={"event": "heartbeat_failed"},
                )

    async def _send(self, mail: Claimed, sender: GmailSender) -> None:
        try:
            await self._attempt(mail, sender)
        finally:
            self._held.pop(mail.claim, None)
            self._busy[sender] -= 1

    async def _look_up(self, mail: Unknown, sender: GmailSender) -> None:
        try:
            await look_up_in_worker(self.queue, sender, mail)
        finally:
            self._held.pop(mail.claim, None)
            self._looking[sender] -= 1

    async def _attempt(self, mail: Claimed, sender: GmailSender) -> None:
        self._note(mail, "mail_claimed", "sending mail %s", level=logging.DEBUG)
        if mail.data is None:
            await self._end(mail, "failed", error=GmailSendError("the mail's body is missing"))
            return

        async def before_body(transport: TransportName | None) -> None:
            lease = self.queue.lease
            at = time.time()  # a lookup's window starts here, on the wall clock

            def operation(cursor: Cursor, now: float) -> bool:
                return _claims.body_out(cursor, mail, transport, at=at, lease=lease, now=now)

            if not await self._db(operation):
                raise ClaimLostError(f"the claim on mail {mail.id} was lost to another worker")

        try:
            outgoing = outgoing_of(mail)
            result = await sender._send(outgoing, before_body=before_body)
        except asyncio.CancelledError:
            await asyncio.shield(self._release(mail))
            raise
        except ClaimLostError:
            self._note(mail, "mail_claim_lost", "mail %s was taken over", level=logging.WARNING)
        except GmailSendError as exc:
            await self._failed(mail, sender, exc)
        except Exception as exc:
            log.exception("sending mail %s failed unexpectedly", mail.id, extra=log_fields(mail))
            await self._unknown(mail, exc)
        else:
            sent = functools.partial(
                _outcomes.end,
                status="sent",
                result=dump_result(result),
                settled_by=result.transport,
            )
            if await self._record(mail, lambda c, now: sent(c, mail, now=now)):
                self._note(mail, "mail_sent", "mail %s sent")

    def _note(
        self, mail: Claimed, name: str, message: str, *args: object, level: int = logging.INFO
    ) -> None:
        self._reporter.note(name, message, mail.id, *args, level=level, **log_fields(mail))

    async def _end(
        self,
        mail: Claimed,
        status: str,
        *,
        error: BaseException | None = None,
        result: str | None = None,
    ) -> bool:
        text = dump_error(error) if error is not None else None
        return await self._record(
            mail, lambda c, now: _outcomes.end(c, mail, status, now=now, error=text, result=result)
        )

    async def _unknown(self, mail: Claimed, error: BaseException) -> bool:
        """The outcome is unknown: it awaits a lookup when the body went out over SMTP, else
        `resolve` (always when part of the send was delivered: a copy exists anyway)."""
        accepted = getattr(error, "accepted", ())
        awaiting: Awaiting | None = "resolve" if accepted else None
        hint = PARTIAL_HINT.format(accepted=", ".join(accepted)) if accepted else None
        text = dump_error(error)
        sent_at = getattr(error, "sent_at", None)
        return await self._record(
            mail,
            lambda c, now: _outcomes.end_unknown(
                c,
                mail,
                error=text,
                awaiting=awaiting,
                resolve_hint=hint,
                now=now,
                sent_at=sent_at,
            ),
        )

    async def _record(self, mail: Claimed, operation: Callable[[Cursor, float], bool]) -> bool:
        """Write an outcome; a database that fails leaves the mail `sending` until its lease
        runs out (then it is queued again or, if its body went out, `unknown`)."""
        try:
            written = await asyncio.shield(self._db(operation))
        except StoreUnavailableError as exc:
            self._note(mail, "record_failed", "mail %s: outcome not recorded: %s", exc.message)
            return False
        if not written:
            self._note(mail, "mail_claim_lost", "mail %s was taken over", level=logging.WARNING)
        return written

    async def _release(self, mail: Claimed) -> None:
        try:
            await self._db(lambda c, now: _claims.release(c, mail, now=now))
        except StoreUnavailableError as exc:
            self._note(mail, "release_failed", "mail %s not released: %s", exc.message)

    async def _failed(self, mail: Claimed, sender: GmailSender, exc: GmailSendError) -> None:
        error = dump_error(exc)
        warn = logging.WARNING
        if isinstance(exc, UnknownOutcomeError):
            await self._unknown(mail, exc)
            self._note(mail, "mail_unknown", "mail %s: outcome unknown: %s", exc, level=warn)
            return
        if isinstance(exc, (QuotaExceededError, LoginThrottledError)):
            until = await self._hold(mail, sender, exc, error)
            self._note(mail, "mail_held", "mail %s: account held until %s", time.ctime(until))
            return
        decision = classify(exc)
        retry = self.queue.retry_policy
        if decision.later and mail.attempts <= retry.retries:
            until = self.queue._clock() + retry.delay(mail.attempts)
            await self._record(
                mail, lambda c, now: _outcomes.back_off(c, mail, until=until, error=error, now=now)
            )
            self._note(mail, "mail_retry_later", "mail %s: %s; again later", decision.reason)
            return
        await self._end(mail, "failed", error=exc)
        self._note(mail, "mail_failed", "mail %s failed: %s", decision.reason, level=warn)

    async def _hold(
        self, mail: Claimed, sender: GmailSender, exc: GmailSendError, error: str
    ) -> float:
        """Hold the account's mails: until the login hold-off ends, or until the oldest send
        of the rolling 24 hours has left it (at least the quota pause)."""
        limits = sender.settings.limits

        def operation(cursor: Cursor, now: float) -> float:
            if isinstance(exc, LoginThrottledError):
                until = paused_until(cursor, mail.account, "login")
                until = max(until or 0.0, now + (limits.login_throttle_pause or 60.0))
            else:
                retry_after = getattr(exc, "retry_after", None)
                until = now + (retry_after if retry_after else limits.quota_pause)
                oldest = _outcomes.oldest_send(cursor, mail.account, now=now)
                if oldest is not None:
                    until = max(until, oldest + DAY)
            _outcomes.hold(cursor, mail, until=until, error=error, now=now)
            return until

        try:
            return await asyncio.shield(self._db(operation))
        except StoreUnavailableError as store_error:
            self._note(mail, "record_failed", "mail %s not held: %s", store_error.message)
            return time.time()


def _renew(
    sending: list[str], looking: list[str], lease: float, cursor: Cursor, now: float
) -> None:
    _claims.heartbeat(cursor, sending=sending, looking=looking, lease=lease, now=now)
