"""`MailQueue.reconcile`: the operator's lookups of `unknown` mails in the Sent Mail, now.

Every unknown mail named (or, without ids, every one, read a page at a time, the oldest first)
is looked up with the sender of its account (`_lookup.look_up`), at most `LOOKUPS_PER_SENDER`
at once per sender; those a lookup cannot settle (awaiting `resolve`) are reported as such. A
lookup that fails unexpectedly is reported as "unavailable" for its mail; the others go on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import ConfigurationError, GmailSendError, MailNotFoundError, MailStateError
from . import _rows, _unknown
from ._claims import Route
from ._lookup import LOOKUPS_PER_SENDER, log_fields, look_up, unexpected
from ._records import QueuedMail, ReconcileOutcome, Reconciliation
from ._senders import routes, serves
from ._unknown import Unknown

if TYPE_CHECKING:
    from .._sender import GmailSender
    from ..store._database import Cursor
    from ._queue import MailQueue

__all__ = ["PAGE", "reconcile"]

log = logging.getLogger("gmail_send.queue")

PAGE = 500
"""Unknown mails read at a time when `reconcile` looks every one up."""


async def reconcile(
    queue: MailQueue,
    senders: Sequence[GmailSender],
    *,
    ids: Sequence[str] | None,
    wait: float | None,
) -> list[Reconciliation]:
    """`MailQueue.reconcile`: look up now the unknown mails named (or every one, the oldest
    first) that a lookup can settle, each with the sender of its account; the others are
    reported."""
    if not senders:
        raise ConfigurationError("reconcile() needs at least one GmailSender")
    served = routes(senders)

    def sender_of(account: str) -> GmailSender | None:
        for sender, accounts, others in served:
            if serves(accounts, others, account.lower()):
                return sender
        return None

    slots = {sender: asyncio.Semaphore(LOOKUPS_PER_SENDER) for sender in senders}

    async def one(mail: QueuedMail, sender: GmailSender) -> Reconciliation:
        async with slots[sender]:
            try:
                return await _reconcile_one(queue, sender, mail, wait=wait)
            except Exception as exc:  # this mail's alone: the other lookups go on
                log.exception("looking up mail %s failed", mail.id, extra=log_fields(mail))
                known = exc if isinstance(exc, GmailSendError) else unexpected(exc)
                return Reconciliation(mail, "unavailable", known)

    async def run(mails: list[QueuedMail]) -> list[Reconciliation]:
        chosen = []
        for mail in mails:
            sender = sender_of(mail.account)
            if sender is None:
                if ids is not None:
                    raise ConfigurationError(f"no sender for {mail.account} (mail {mail.id})")
                continue
            chosen.append((mail, sender))
        return list(await asyncio.gather(*(one(mail, sender) for mail, sender in chosen)))

    if ids is not None:
        return await run(await queue._run(lambda cursor, now: _named(cursor, ids)))
    done: list[Reconciliation] = []
    after: tuple[float, str] | None = None
    while True:
        page = functools.partial(_page, after=after)
        mails, after = await queue._run(page)
        done.extend(await run(mails))
        if after is None:
            return done


def _page(
    cursor: Cursor, now: float, *, after: tuple[float, str] | None
) -> tuple[list[QueuedMail], tuple[float, str] | None]:
    return _unknown.unknown_mails(cursor, after=after, limit=PAGE)


def _named(cursor: Cursor, ids: Sequence[str]) -> list[QueuedMail]:
    """The mails of `ids`, each of which must exist and be `unknown`."""
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
    return sorted(found, key=lambda mail: (mail.created_at, mail.id))


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
