"""Settling an `unknown` mail by looking its Message-ID up in the account's Sent Mail.

`look_up` runs `GmailSender.find_sent` for one mail a lookup holds (see `_unknown`), with the
window measured from when the body of its latest attempt went out, and writes the outcome in
one transaction that names the lookup's claim (so `resolve` meanwhile wins): found, the mail
ends `sent` (`settled_by` "lookup", no result); not found, Gmail did not take it and it is
queued again at once with the same bytes and Message-ID, counted in `resends`, logged at
WARNING and reported as `MailResent`; unavailable, it stays `unknown` with the reason and hint
in `last_error`, looked up again after a back-off when the cause may pass, else parked for
the operator's `reconcile`. The worker runs it for due mails; `MailQueue.reconcile` (and
`gmail-send queue reconcile`) runs it now.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..errors import (
    ConfigurationError,
    GmailSendError,
    MailNotFoundError,
    MailStateError,
    ReconciliationUnavailableError,
)
from ..events import MailResent, MailSettled, Reporter
from . import _rows, _unknown
from ._records import QueuedMail, ReconcileOutcome, Reconciliation, dump_error
from ._rows import Route
from ._unknown import Unknown

if TYPE_CHECKING:
    from .._sender import GmailSender
    from ..store._database import Cursor
    from ._queue import MailQueue

__all__ = ["LOOKUPS_PER_SENDER", "look_up", "reconcile", "routes"]

log = logging.getLogger("gmail_send.queue")

LOOKUPS_PER_SENDER = 4
"""Lookups one sender runs at once (each holds an IMAP connection, not an SMTP slot)."""

Routes = list[tuple["GmailSender", tuple[str, ...] | None, tuple[str, ...]]]


def routes(senders: Sequence[GmailSender]) -> Routes:
    """Each sender with the accounts it serves (None: every account the others do not)."""
    named = tuple(s.account.lower() for s in senders if s.account is not None)
    return [(s, (s.account.lower(),) if s.account is not None else None, named) for s in senders]


def _serves(accounts: tuple[str, ...] | None, others: tuple[str, ...], account: str) -> bool:
    return account in accounts if accounts is not None else account not in others


def _fields(mail: Unknown) -> dict[str, object]:
    return {"mail_id": mail.id, "message_id": mail.message_id, "account": mail.account}


async def look_up(
    queue: MailQueue, sender: GmailSender, mail: Unknown, *, wait: float | None = None
) -> Reconciliation:
    """Look `mail` up in the Sent Mail with `sender` and write the outcome (see the module).

    Raises:
        StoreUnavailableError: the outcome could not be written (the lookup's lease runs out
            and the mail is looked up again).
    """
    reporter = Reporter(log, sender.on_event)
    window = sender.settings.find_sent_wait if wait is None else wait
    try:
        present = await sender.find_sent(mail.message_id, sent_at=mail.sent_at, wait=wait)
    except asyncio.CancelledError:
        await asyncio.shield(queue._run(lambda c, now: _unknown.let_go(c, mail, now=now)))
        raise
    except ReconciliationUnavailableError as exc:
        return await _unavailable(queue, mail, exc, reporter, temporary=exc.temporary)
    except GmailSendError as exc:
        return await _unavailable(queue, mail, exc, reporter, temporary=True)
    if present:
        written, after = await queue._run(_written(_unknown.found, mail))
        if written:
            reporter.report(
                MailSettled(mail.account, mail_id=mail.id, message_id=mail.message_id),
                "mail %s: found in the account's Sent Mail; it is sent",
                mail.id,
            )
        return Reconciliation(after, "found" if written else "overtaken")
    written, after = await queue._run(_written(_unknown.not_found, mail))
    if written:
        reporter.report(
            MailResent(
                mail.account,
                mail_id=mail.id,
                message_id=mail.message_id,
                sent_at=mail.sent_at,
                wait=window,
                resends=after.resends,
            ),
            "mail %s: Message-ID %s not in the account's Sent Mail %g s after its body went "
            "out; Gmail did not take it: sending it again (resend %d; a duplicate if Gmail "
            "files its copy later than that)",
            mail.id,
            mail.message_id,
            window,
            after.resends,
            level=logging.WARNING,
        )
    return Reconciliation(after, "not_found" if written else "overtaken")


def _written(
    write: Callable[..., bool], mail: Unknown
) -> Callable[[Cursor, float], tuple[bool, QueuedMail]]:
    """A database operation: write a lookup's outcome with `write`, then read the mail back."""

    def operation(cursor: Cursor, now: float) -> tuple[bool, QueuedMail]:
        written = write(cursor, mail, now=now)
        after = _rows.get(cursor, mail.id)
        assert after is not None
        return written, after

    return operation


async def _unavailable(
    queue: MailQueue,
    mail: Unknown,
    exc: GmailSendError,
    reporter: Reporter,
    *,
    temporary: bool,
) -> Reconciliation:
    """The lookup could not run: again after a back-off when `temporary`, else parked (a
    relay's mail for `resolve`: no lookup can ever run for it)."""
    again_at = None
    never = getattr(exc, "reason", None) == "relay"
    if temporary:
        again_at = queue._clock() + queue.retry_policy.delay(mail.lookups + 1)
        then = "looked up again later"
    elif never:
        then = f"find out whether it arrived, then `gmail-send queue resolve --sent {mail.id}`"
    else:
        then = f"then `gmail-send queue reconcile --id {mail.id}`"
    hint = f"{exc.hint}; {then}" if exc.hint else then
    error = dump_error(exc, hint=hint)

    write = functools.partial(_unknown.unavailable, error=error, again_at=again_at, never=never)
    written, after = await queue._run(_written(write, mail))
    if written:
        reporter.note(
            "lookup_unavailable",
            "mail %s: cannot look it up in the Sent Mail (%s): %s",
            mail.id,
            getattr(exc, "reason", type(exc).__name__),
            exc.message,
            level=logging.WARNING,
            **_fields(mail),
        )
    return Reconciliation(after, "unavailable" if written else "overtaken", exc)


async def reconcile(
    queue: MailQueue,
    senders: Sequence[GmailSender],
    *,
    ids: Sequence[str] | None,
    wait: float | None,
) -> list[Reconciliation]:
    """`MailQueue.reconcile`: look up now the unknown mails named (or every one) that a
    lookup can settle, each with the sender of its account; the others are reported."""
    if not senders:
        raise ConfigurationError("reconcile() needs at least one GmailSender")
    served = routes(senders)

    def sender_of(account: str) -> GmailSender | None:
        for sender, accounts, others in served:
            if _serves(accounts, others, account.lower()):
                return sender
        return None

    def candidates(cursor: Cursor, now: float) -> list[QueuedMail]:
        if ids is None:
            return _rows.list_mails(cursor, statuses=("unknown",), account=None, limit=10_000)
        found = []
        for mail_id in ids:
            mail = _rows.get(cursor, mail_id)
            if mail is None:
                raise MailNotFoundError(f"no mail {mail_id!r} in the queue")
            if mail.status != "unknown":
                raise MailStateError(
                    f"cannot reconcile mail {mail_id}: it is {mail.status}, not unknown",
                    status=mail.status,
                )
            found.append(mail)
        return found

    mails = await queue._run(candidates)
    chosen = []
    for mail in reversed(mails):  # the oldest first
        sender = sender_of(mail.account)
        if sender is None:
            if ids is not None:
                raise ConfigurationError(f"no sender for {mail.account} (mail {mail.id})")
            continue
        chosen.append((mail, sender))
    slots = {sender: asyncio.Semaphore(LOOKUPS_PER_SENDER) for sender in senders}

    async def one(mail: QueuedMail, sender: GmailSender) -> Reconciliation:
        async with slots[sender]:
            return await _reconcile_one(queue, sender, mail, wait=wait)

    return list(await asyncio.gather(*(one(mail, sender) for mail, sender in chosen)))


async def _reconcile_one(
    queue: MailQueue, sender: GmailSender, mail: QueuedMail, *, wait: float | None
) -> Reconciliation:
    window = sender.settings.find_sent_wait if wait is None else wait
    lease = window + queue.lease  # no heartbeat here: the lease covers the whole window
    route = Route((mail.account.lower(),), (), 1)

    def claim(cursor: Cursor, now: float) -> tuple[list[Unknown], QueuedMail | None]:
        taken = _unknown.claim_lookups(
            cursor, route, worker=queue.worker_name, lease=lease, now=now, limit=1, ids=[mail.id]
        )
        return taken, None if taken else _rows.get(cursor, mail.id)

    taken, now_mail = await queue._run(claim)
    if not taken:
        assert now_mail is not None
        outcome: ReconcileOutcome = "overtaken"
        if now_mail.status == "unknown" and now_mail.awaiting == "resolve":
            outcome = "not_looked_up"
        return Reconciliation(now_mail, outcome)
    return await look_up(queue, sender, taken[0], wait=wait)
