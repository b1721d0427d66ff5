"""A durable mail queue: enqueue in the caller's transaction now, send from a worker later.

    queue = MailQueue("postgresql://app@db/app", account="shop@example.com")
    mail = await queue.enqueue(to="you@example.com", subject="Receipt", text="...")
    ...
    async with GmailSender(credentials) as gmail:   # in the worker process
        await queue.work(gmail)

`enqueue` composes and validates the message at once (bad input fails at the caller) and
stores it in SQLite (`sqlite:///path`, one host) or PostgreSQL (`postgresql://...`, several
hosts) without touching the network, optionally inside the application's own transaction
(`connection=`). Workers claim due mails (PostgreSQL: row locks that skip locked rows; SQLite:
one writer at a time), send them with `GmailSender`s that share the queue's database as their
store, and record each outcome on the mail: `sent`, `failed`, `held` (Gmail's sending limit or
login hold-off), `expired` (`not_after` passed), or `unknown` when the body may have reached
Gmail without an answer. Such a mail is never resent blindly: when its body went out over
SMTP, a worker looks its Message-ID up in the account's Sent Mail (`GmailSender.find_sent`):
found, it is `sent`; not there once the window passed, Gmail did not take it and it is sent
again with the same Message-ID (counted, logged and reported as `MailResent`). Otherwise it
waits for `resolve`. A worker that dies loses its claims after a lease; its mails are then
sent by another worker or, if a body may have gone out, become `unknown`.
"""

from ._queue import DEFAULT_RETRY, MailQueue
from ._records import (
    Awaiting,
    MailStatus,
    QueuedMail,
    ReconcileOutcome,
    Reconciliation,
    RecordedError,
    SettledBy,
)

__all__ = [
    "DEFAULT_RETRY",
    "Awaiting",
    "MailQueue",
    "MailStatus",
    "QueuedMail",
    "ReconcileOutcome",
    "Reconciliation",
    "RecordedError",
    "SettledBy",
]
