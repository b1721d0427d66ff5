"""Settling an `unknown` mail by looking its Message-ID up in the account's Sent Mail.

`look_up` runs `GmailSender.find_sent` for one mail a lookup holds (see `_unknown`), with the
window measured from when the body of its latest attempt went out, and writes the outcome in
one transaction that names the lookup's claim (so `resolve` meanwhile wins): found, the mail
ends `sent` (`settled_by` "lookup", no result); not found, Gmail did not take it and it is
queued again at once with the same bytes and Message-ID, counted in `resends`, logged at
WARNING and reported as `MailResent`; unavailable, it stays `unknown` with the reason and hint
in `last_error`: looked up again after a back-off when the cause may pass (IMAP unreachable,
the store failing, an unexpected error), parked for the operator's `reconcile` when it must be
fixed first (IMAP off, a sink sender, bad settings), or for `resolve` when no lookup can ever
settle it (a relay, a Message-ID `find_sent` refuses). The workers run it for due mails
(`look_up_in_worker`); `MailQueue.reconcile` runs it now.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ..errors import (
    ConfigurationError,
    GmailSendError,
    MessageError,
    ReconciliationUnavailableError,
)
from ..events import MailResent, MailSettled, Reporter
from ..store._database import StoreUnavailableError
from . import _rows, _unknown
from ._records import Awaiting, QueuedMail, Reconciliation, dump_error
from ._unknown import Unknown

if TYPE_CHECKING:
    from .._sender import GmailSender
    from ..store._database import Cursor
    from ._queue import MailQueue

__all__ = ["LOOKUPS_PER_SENDER", "log_fields", "look_up", "look_up_in_worker", "unexpected"]

log = logging.getLogger("gmail_send.queue")

LOOKUPS_PER_SENDER = 4
"""Lookups one sender runs at once in one process (each holds an IMAP connection, not an SMTP
slot); several worker processes add theirs up."""


class _Named(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def message_id(self) -> str: ...
    @property
    def account(self) -> str: ...


def log_fields(mail: _Named) -> dict[str, object]:
    """The fields of a log line about `mail` (a claim or a lookup's hold)."""
    return {"mail_id": mail.id, "message_id": mail.message_id, "account": mail.account}


def unexpected(exc: Exception) -> GmailSendError:
    """A lookup's error that is no `GmailSendError` (a bug), as one that names its type."""
    error = GmailSendError(f"the lookup failed unexpectedly: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


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
        then: Awaiting = "lookup" if exc.temporary else "reconcile"
        return await _unavailable(queue, mail, exc, reporter, then=then)
    except MessageError as exc:  # a Message-ID find_sent refuses: no lookup can ever run
        return await _unavailable(queue, mail, exc, reporter, then="resolve")
    except StoreUnavailableError as exc:  # a ConfigurationError that may pass
        return await _unavailable(queue, mail, exc, reporter, then="lookup")
    except ConfigurationError as exc:  # a sink sender, bad options: fixed by the operator
        return await _unavailable(queue, mail, exc, reporter, then="reconcile")
    except GmailSendError as exc:
        return await _unavailable(queue, mail, exc, reporter, then="lookup")
    except Exception as exc:
        log.exception("looking up mail %s failed unexpectedly", mail.id, extra=log_fields(mail))
        return await _unavailable(queue, mail, exc, reporter, then="lookup")
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


async def look_up_in_worker(queue: MailQueue, sender: GmailSender, mail: Unknown) -> None:
    """A worker's lookup: a database that fails leaves the mail to be looked up again once the
    lookup's lease runs out; an unexpected error is recorded as the lookup unavailable, looked
    up again after a back-off (never in a tight loop)."""
    try:
        await look_up(queue, sender, mail)
    except StoreUnavailableError as exc:
        log.warning(
            "mail %s: the lookup's outcome was not recorded: %s",
            mail.id,
            exc.message,
            extra={"event": "record_failed", "mail_id": mail.id},
        )
    except Exception as exc:
        log.exception("looking up mail %s failed unexpectedly", mail.id, extra=log_fields(mail))
        reporter = Reporter(log, sender.on_event)
        try:
            await _unavailable(queue, mail, exc, reporter, then="lookup")
        except Exception:
            log.exception("mail %s: the lookup's failure was not recorded", mail.id)


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


def _then(exc: Exception, mail: Unknown, then: Awaiting) -> str:
    """What follows a lookup that could not run, for its hint."""
    if then == "lookup":
        return "looked up again later"
    if then == "reconcile":
        fix = "" if isinstance(exc, GmailSendError) and exc.hint else "fix the sender's settings, "
        return f"{fix}then `gmail-send queue reconcile --id {mail.id}`"
    if isinstance(exc, MessageError):
        return (
            "no lookup can search for this Message-ID: look for it in the account's Sent Mail, "
            f"then `gmail-send queue resolve --sent {mail.id}` (or --not-sent to send it again)"
        )
    return f"find out whether it arrived, then `gmail-send queue resolve --sent {mail.id}`"


async def _unavailable(
    queue: MailQueue,
    mail: Unknown,
    exc: Exception,
    reporter: Reporter,
    *,
    then: Awaiting,
) -> Reconciliation:
    """The lookup could not run: looked up again after a back-off (`then` "lookup"), or
    parked for the operator's "reconcile" or "resolve" (a relay's mail always awaits
    `resolve`: no lookup can ever run for it)."""
    if getattr(exc, "reason", None) == "relay":
        then = "resolve"
    again_at = None
    if then == "lookup":
        again_at = queue._clock() + queue.retry_policy.delay(mail.lookups + 1)
    what = _then(exc, mail, then)
    own = exc.hint if isinstance(exc, GmailSendError) else None
    error = dump_error(exc, hint=f"{own}; {what}" if own else what)

    write = functools.partial(
        _unknown.unavailable, error=error, again_at=again_at, never=then == "resolve"
    )
    written, after = await queue._run(_written(write, mail))
    if written:
        reporter.note(
            "lookup_unavailable",
            "mail %s: cannot look it up in the Sent Mail (%s): %s",
            mail.id,
            getattr(exc, "reason", type(exc).__name__),
            exc.message if isinstance(exc, GmailSendError) else str(exc),
            level=logging.WARNING,
            **log_fields(mail),
        )
    known = exc if isinstance(exc, GmailSendError) else unexpected(exc)
    return Reconciliation(after, "unavailable" if written else "overtaken", known)
