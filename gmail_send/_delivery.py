"""Delivering one composed message over the pool: attempts, safe retries, deadline, quota.

`deliver()` is what `GmailSender.send_outgoing` runs for the network. Each attempt borrows a
pooled session and runs one transaction; `classify` (through `RetryPolicy`, which adds the count
and backoff) decides what may be tried again and whether the pool keeps the session. The
Message-ID and bytes never change between attempts. A retry after some recipients were refused
for the moment goes to those recipients only. The deadline bounds everything, backoff included;
when it passes (or the send is cancelled) after the body went out, the outcome is unknown.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ._limits import Ledger, Pacer
from ._result import AuthMethod, SendResult
from ._retry import Decision, RetryPolicy, reply_is_transient
from ._transport import (
    API_UNKNOWN_HINT,
    UNKNOWN_HINT,
    BeforeBody,
    Carrier,
    Progress,
    Route,
    Transport,
)
from .errors import (
    DeadlineExceededError,
    GmailSendError,
    QuotaExceededError,
    RecipientsRefusedError,
    SMTPReply,
    SMTPReplyError,
    TemporaryError,
    UnknownOutcomeError,
)
from .events import EventHook, MessageSent, OutcomeUnknown, QuotaReached, Reporter, SendRetried
from .message._outgoing import OutgoingMessage

__all__ = ["DeliveryContext", "deliver"]

log = logging.getLogger("gmail_send.sender")


@dataclass
class DeliveryContext:
    """The parts of a sender that a delivery uses, whichever transport carries the message."""

    policy: RetryPolicy
    ledger: Ledger
    account: str | None
    daily_limit: int | None
    quota_pause: float
    rate: Pacer | None = None
    on_event: EventHook | None = None
    reporter: Reporter = field(init=False)
    """Logs each happening under the sender's logger and reports events to `on_event`."""

    def __post_init__(self) -> None:
        self.reporter = Reporter(log, self.on_event)


@dataclass
class _Run:
    """What one delivery has achieved so far (read when a deadline or cancellation ends it)."""

    outgoing: OutgoingMessage
    pending: list[str]
    route: Route
    accepted: list[str] = field(default_factory=list)
    refused: dict[str, SMTPReply] = field(default_factory=dict)
    last_reply: dict[str, SMTPReply] = field(default_factory=dict)
    progress: Progress = field(default_factory=Progress)
    maybe_sent: bool = False
    ticket: str | None = None
    attempts: int = 0
    final_reply: SMTPReply | None = None
    auth_method: AuthMethod | None = None
    connection_id: int | None = None
    gmail_id: str | None = None
    thread_id: str | None = None
    before_body: BeforeBody | None = None

    def accepted_in_order(self) -> tuple[str, ...]:
        """The recipients accepted so far, in the message's order."""
        order = {a: n for n, a in enumerate(self.outgoing.recipients)}
        return tuple(sorted(self.accepted, key=order.__getitem__))

    def result(self) -> SendResult:
        for address in self.pending:
            self.refused.setdefault(
                address, self.last_reply.get(address, SMTPReply(451, "4.3.0", "not retried"))
            )
        return SendResult(
            message_id=self.outgoing.message_id,
            accepted=self.accepted_in_order(),
            refused=dict(self.refused),
            reply=self.final_reply if self.route.transport == "api" else _ok(self.final_reply),
            auth_method=self.auth_method,
            gmail_id=self.gmail_id,
            thread_id=self.thread_id,
            transport=self.route.transport,
            transport_reason=self.route.reason,
        )


def _ok(reply: SMTPReply | None) -> SMTPReply:
    return reply or SMTPReply(250, "2.0.0", "OK")


async def deliver(
    context: DeliveryContext,
    transport: Transport[Any],
    outgoing: OutgoingMessage,
    *,
    deadline: float | None,
    route: Route,
    before_body: BeforeBody | None = None,
) -> SendResult:
    """Send `outgoing` over `transport`, retrying where safe, within `deadline` seconds (None:
    no bound); `route` says which transport it is and why (for the result and events).

    `before_body(route.transport)` is awaited before each attempt writes the body (see
    `Progress`)."""
    account = context.account
    ticket: str | None = None
    if account is not None:
        try:
            ticket = await context.ledger.admit(account, context.daily_limit)
        except QuotaExceededError as exc:
            paused = await context.ledger.paused_for(account, "quota") is not None
            source: Literal["daily_limit", "server"] = "server" if paused else "daily_limit"
            context.reporter.report(
                QuotaReached(account, source, exc.retry_after),
                "not sending: %s",
                "Gmail paused this account" if paused else "the daily limit is reached",
                level=logging.WARNING,
            )
            raise
    run = _Run(outgoing, list(outgoing.recipients), route, ticket=ticket, before_body=before_body)
    try:
        if deadline is None:
            result = await _attempts(context, transport, run, None)
        else:
            result = await asyncio.wait_for(
                _attempts(context, transport, run, time.monotonic() + deadline), deadline
            )
    except GmailSendError as exc:
        await _settle(context, run, sent=run.maybe_sent or isinstance(exc, UnknownOutcomeError))
        raise
    except asyncio.TimeoutError:
        result = await _after_deadline(context, run, deadline)
    except BaseException:  # cancelled
        body_out = run.progress.body_sent
        await _settle(context, run, sent=run.maybe_sent or body_out)
        if body_out:
            _report_unknown(context, run, "the send was cancelled after the body went out")
        raise
    await _settle(context, run, sent=True)
    context.reporter.report(
        MessageSent(
            account,
            message_id=result.message_id,
            attempts=run.attempts,
            connection_id=run.connection_id,
            accepted=len(result.accepted),
            refused=len(result.refused),
            transport=route.transport,
        ),
        "message sent",
        attempt=run.attempts,
    )
    return result


async def _settle(context: DeliveryContext, run: _Run, *, sent: bool) -> None:
    if context.account is None:
        return
    await context.ledger.settle(context.account, run.ticket, sent=sent or bool(run.accepted))


async def _after_deadline(
    context: DeliveryContext, run: _Run, deadline: float | None
) -> SendResult:
    if run.progress.body_sent:
        await _settle(context, run, sent=True)
        reason = f"the deadline of {deadline} s passed after the body went out"
        _report_unknown(context, run, reason)
        transport = run.route.transport
        raise UnknownOutcomeError(
            f"{reason}; Gmail may or may not have accepted it",
            message_id=run.outgoing.message_id,
            hint=API_UNKNOWN_HINT if transport == "api" else UNKNOWN_HINT,
            accepted=run.accepted_in_order(),
            sent_at=run.progress.body_sent_at,
            transport=transport,
        ) from None
    if run.accepted:
        return run.result()  # settled by the caller
    await _settle(context, run, sent=run.maybe_sent)
    raise DeadlineExceededError(
        f"the message was not sent within the deadline of {deadline} s",
        hint="nothing was delivered; sending again is safe",
    ) from None


def _report_unknown(context: DeliveryContext, run: _Run, reason: str) -> None:
    context.reporter.report(
        OutcomeUnknown(context.account, run.outgoing.message_id, reason),
        "outcome unknown: %s",
        reason,
        level=logging.WARNING,
        attempt=run.attempts,
        connection_id=run.progress.connection_id,
    )


async def _attempts(
    context: DeliveryContext, transport: Transport[Any], run: _Run, deadline_at: float | None
) -> SendResult:
    policy = context.policy
    retries = 0
    free_reconnect = True
    while True:
        run.attempts += 1
        outgoing = run.outgoing
        if len(run.pending) != len(outgoing.recipients):
            outgoing = dataclasses.replace(outgoing, recipients=tuple(run.pending))
        if context.rate is not None:
            await context.rate.wait()
        hook = run.before_body
        run.progress = Progress(
            None if hook is None else functools.partial(hook, run.route.transport)
        )
        connection: Carrier | None = None
        reused = False
        result: SendResult | None = None
        error: GmailSendError | None = None
        try:
            connection = await transport.acquire()
            reused = connection.messages_sent > 0
            result = await connection.send(outgoing, progress=run.progress)
        except GmailSendError as exc:
            error = exc
        except BaseException:  # cancelled: no further send may go on this session
            if connection is not None:
                transport.release(connection, reusable=False)
            raise
        decision = policy.decide(error) if error is not None else None
        if connection is not None:
            # A failure that calls for a new session (a drop, a 421, a transient reply to the
            # whole message) retires this one; after a success or a refusal it stays usable.
            transport.release(connection, reusable=decision is None or decision.keep_session)
        connection_id = connection.id if connection is not None else None
        _note_attempt(context, run, connection_id, error, decision)
        if result is not None:
            run.maybe_sent = True
            run.final_reply, run.auth_method = result.reply, result.auth_method
            run.gmail_id, run.thread_id = result.gmail_id, result.thread_id
            run.connection_id = connection_id
            run.accepted += result.accepted
            await _note_partial_quota(context, run, result.refused)
            if not _split_refused(run, result.refused):
                return run.result()
        else:
            assert error is not None and decision is not None
            if isinstance(error, RecipientsRefusedError):
                _split_refused(run, error.refused)
            else:
                error = await _note_failure(context, run, error)
            if not decision.retry:
                if isinstance(error, UnknownOutcomeError):
                    raise _with_accepted(run, error)
                if run.accepted:
                    return run.result()
                raise error
            if reused and free_reconnect and decision.idle_close:
                # A kept session had been closed by Gmail before this message could be
                # accepted: replace it at once, without using up a retry.
                free_reconnect = False
                context.reporter.note(
                    "reconnect",
                    "kept session was closed; reconnecting",
                    message_id=run.outgoing.message_id,
                    attempt=run.attempts,
                    connection_id=connection_id,
                )
                continue
        retries += 1
        delay = policy.delay(retries)
        if isinstance(error, TemporaryError) and error.retry_after is not None:
            delay = max(delay, error.retry_after)  # the server said how long to wait
        out_of_time = deadline_at is not None and time.monotonic() + delay >= deadline_at
        if retries > policy.retries or out_of_time:
            if isinstance(error, UnknownOutcomeError):
                raise _with_accepted(run, error)
            if run.accepted:
                return run.result()
            if error is None:  # pragma: no cover - a result always has an accepted recipient
                raise RuntimeError("no recipient accepted and no error")
            raise error
        context.reporter.report(
            SendRetried(
                context.account,
                message_id=run.outgoing.message_id,
                attempt=run.attempts,
                delay=delay,
                error=error or _temporary(run),
                recipients=len(run.pending),
            ),
            "retrying in %.2f s",
            delay,
            connection_id=connection_id,
        )
        await asyncio.sleep(delay)


def _with_accepted(run: _Run, error: UnknownOutcomeError) -> UnknownOutcomeError:
    """The error to raise: a new one listing the recipients an earlier transaction of this
    send delivered to, if any (chained to `error`, which stays as it was raised)."""
    if not run.accepted:
        return error
    complete = UnknownOutcomeError(
        error.message,
        message_id=error.message_id,
        hint=error.hint,
        accepted=run.accepted_in_order(),
        api_reply=error.api_reply,
        sent_at=error.sent_at,
        transport=error.transport,
    )
    complete.__cause__ = error
    return complete


async def _note_partial_quota(
    context: DeliveryContext, run: _Run, refused: Mapping[str, SMTPReply]
) -> None:
    """A 550 5.4.5 for some recipients (others accepted) still means the account is stopped."""
    account = context.account
    if account is None or not any(r.enhanced_code == "5.4.5" for r in refused.values()):
        return
    await _pause_account(context, account, run)


async def _pause_account(
    context: DeliveryContext, account: str, run: _Run, seconds: float | None = None
) -> None:
    pause = context.quota_pause if seconds is None else seconds
    await context.ledger.pause(account, "quota", pause)
    context.reporter.report(
        QuotaReached(account, "server", pause),
        "Gmail reports the daily sending limit reached; pausing this account",
        level=logging.WARNING,
        message_id=run.outgoing.message_id,
    )


def _split_refused(run: _Run, refused: Mapping[str, SMTPReply]) -> bool:
    """Keep permanent refusals; set `pending` to the transient ones. True if any is pending."""
    transient = {a: r for a, r in refused.items() if reply_is_transient(r)}
    run.refused.update({a: r for a, r in refused.items() if a not in transient})
    run.last_reply.update(transient)
    run.pending = [a for a in run.outgoing.recipients if a in transient]
    return bool(run.pending)


async def _note_failure(
    context: DeliveryContext, run: _Run, error: GmailSendError
) -> GmailSendError:
    """Record a failed attempt; return the error to go on with (a new, complete one when
    Gmail's 550 5.4.5 paused the account: it says for how long)."""
    if isinstance(error, SMTPReplyError) and error.reply is not None:
        run.last_reply.update(dict.fromkeys(run.pending, error.reply))
    if isinstance(error, UnknownOutcomeError):
        run.maybe_sent = True
        reason = "the connection broke after the body went out"
        if error.api_reply is not None:
            reason = f"the Gmail API answered {error.api_reply.status} after the body went out"
        _report_unknown(context, run, reason)
    account = context.account
    said_by_gmail = error.enhanced_code == "5.4.5" or error.api_reply is not None
    if isinstance(error, QuotaExceededError) and said_by_gmail and account is not None:
        pause = error.retry_after or context.quota_pause  # the API says until when
        await _pause_account(context, account, run, pause)
        paused = QuotaExceededError(
            f"{error.message}; no message is sent for {account} for {pause:.0f} s",
            reply=error.reply,
            retry_after=pause,
            hint=error.hint,
            api_reply=error.api_reply,
        )
        paused.__cause__ = error
        return paused
    return error


def _temporary(run: _Run) -> GmailSendError:
    """What SendRetried names as the error when only some recipients are tried again."""
    first = run.last_reply[run.pending[0]]  # _split_refused noted each pending one's reply
    return TemporaryError(f"recipients refused for now: {', '.join(run.pending)}", reply=first)


def _note_attempt(
    context: DeliveryContext,
    run: _Run,
    connection_id: int | None,
    error: GmailSendError | None,
    decision: Decision | None,
) -> None:
    context.reporter.note(
        "attempt_failed" if error else "attempt_done",
        "attempt %s %s%s",
        run.attempts,
        "failed" if error else "done",
        f" ({decision.reason}: {decision.action.value})" if decision else "",
        message_id=run.outgoing.message_id,
        attempt=run.attempts,
        connection_id=connection_id,
        error=type(error).__name__ if error else None,
        decision=decision.action.name if decision else None,
    )
