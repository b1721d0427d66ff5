"""Sending a merge: every row through one pooled sender, recorded in the journal as it goes."""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .._result import SendResult
from .._sender import GmailSender
from .._types import MessageFields
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    GmailSendError,
    LoginThrottledError,
    MessageError,
    QuotaExceededError,
    UnknownOutcomeError,
)
from ..message._compose import OutgoingMessage, compose_message
from ..message._templates import Templates
from ._journal import ResumeJournal
from ._rows import MergeRow

__all__ = ["RowOutcome", "RowStatus", "check_rows", "send_rows", "stops_the_run"]

RowStatus = Literal["sent", "failed", "unknown", "already_sent", "not_attempted", "valid"]
"""What became of a row: "sent" (accepted now), "failed" (not accepted), "unknown" (may have
been accepted: never sent again), "already_sent" (by an earlier run, says the journal),
"not_attempted" (the run stopped first), "valid" (a dry run found nothing wrong)."""


@dataclass(frozen=True)
class RowOutcome:
    """One row's outcome.

    Args:
        row: the row.
        status: what became of it (`RowStatus`).
        message_id: its Message-ID, when it was (or may have been) sent.
        error: why it failed or is unknown.
        result: Gmail's answer, when it was sent now (refused recipients included).
        earlier: the status was recorded by an earlier run, not reached now.
    """

    row: MergeRow
    status: RowStatus
    message_id: str | None = None
    error: GmailSendError | None = None
    result: SendResult | None = None
    earlier: bool = False


def stops_the_run(error: GmailSendError) -> bool:
    """A failure every later row would share (settings, sign-in, the daily quota): sending on
    would only add failed logins, which Gmail throttles, or messages over the limit.

    Args:
        error: the error a row's send failed with.
    """
    return isinstance(
        error, (ConfigurationError, AuthenticationError, LoginThrottledError, QuotaExceededError)
    )


def _fields(row: MergeRow, fields: Mapping[str, Any], message_id: str | None) -> dict[str, Any]:
    merged = {**fields, "to": row.to}
    if fields.get("template") is not None or row.context:
        merged["context"] = {**(fields.get("context") or {}), **row.context}
    if message_id is not None:
        merged["message_id"] = message_id
    return merged


def _compose(
    row: MergeRow,
    fields: Mapping[str, Any],
    *,
    account: str | None,
    templates: Templates | None,
    message_id: str | None = None,
) -> OutgoingMessage:
    try:
        return compose_message(
            account=account, templates=templates, **_fields(row, fields, message_id)
        )
    except OSError as exc:  # an attachment that cannot be read
        raise MessageError(f"cannot read an attachment: {exc}") from None


def check_rows(
    rows: Sequence[MergeRow],
    fields: MessageFields | None = None,
    *,
    account: str | None,
    templates: Templates | None = None,
) -> list[RowOutcome]:
    """Render and validate every row's message without connecting (a dry run).

    Args:
        rows: the rows.
        fields: the message fields every row shares (`template`, `subject`, ...).
        account: the signed-in mailbox (the default From).
        templates: what `template` names.

    Returns:
        One outcome per row: "valid", or "failed" with the `MessageError`.
    """
    outcomes = []
    for row in rows:
        try:
            _compose(row, fields or {}, account=account, templates=templates)
        except GmailSendError as exc:
            outcomes.append(RowOutcome(row, "failed", error=exc))
        else:
            outcomes.append(RowOutcome(row, "valid"))
    return outcomes


async def send_rows(
    sender: GmailSender,
    rows: Sequence[MergeRow],
    fields: MessageFields | None = None,
    *,
    journal: ResumeJournal | None = None,
    concurrency: int | None = None,
    on_outcome: Callable[[RowOutcome], object] | None = None,
) -> list[RowOutcome]:
    """Send one message per row through `sender`, its rate and daily limits applied.

    Rows the journal records as sent are skipped ("already_sent"), and rows whose outcome it
    left unknown are reported ("unknown", `earlier=True`) and not sent again. A failure every
    later row would share (`stops_the_run`) stops the run; the rows not reached are
    "not_attempted".

    Args:
        sender: the sender (its `templates` render `template`).
        rows: the rows (`read_merge_file`, `read_address_lines`).
        fields: the message fields every row shares; each row adds `to` and its `context`
            (over the shared `context`, if any).
        journal: where outcomes are recorded (`ResumeJournal`); with it each row gets a
            stable Message-ID, recorded before the message goes out.
        concurrency: rows in flight at once (default: the sender's `max_connections`).
        on_outcome: called with each row's outcome as it is known.

    Returns:
        The outcomes, in the order of `rows`.
    """
    shared: Mapping[str, Any] = fields or {}
    outcomes: dict[int, RowOutcome] = {}
    queue: deque[tuple[int, MergeRow]] = deque()

    def report(index: int, outcome: RowOutcome) -> None:
        outcomes[index] = outcome
        if on_outcome is not None:
            on_outcome(outcome)

    for index, row in enumerate(rows):
        recorded = journal.state(row.key) if journal is not None else None
        state = recorded.get("state") if recorded else None
        if recorded and state == "sent":
            report(index, RowOutcome(row, "already_sent", recorded.get("message_id"), earlier=True))
        elif recorded and state in ("sending", "unknown"):
            report(index, RowOutcome(row, "unknown", recorded.get("message_id"), earlier=True))
        else:
            queue.append((index, row))

    domain = (sender.account or "localhost").rpartition("@")[2]
    stop = False

    async def one(row: MergeRow) -> RowOutcome:
        message_id = journal.message_id(row.key, domain) if journal is not None else None
        compose = functools.partial(
            _compose,
            row,
            shared,
            account=sender.account,
            templates=sender.templates,
            message_id=message_id,
        )
        try:
            outgoing = await asyncio.to_thread(compose)
        except GmailSendError as exc:
            await _record(journal, row, "failed", error=exc.message)
            return RowOutcome(row, "failed", error=exc)
        await _record(
            journal, row, "sending", number=row.number, to=row.to, message_id=outgoing.message_id
        )
        try:
            result = await sender.send_outgoing(outgoing)
        except UnknownOutcomeError as exc:
            await _record(journal, row, "unknown", error=exc.message)
            return RowOutcome(row, "unknown", outgoing.message_id, error=exc)
        except GmailSendError as exc:
            await _record(journal, row, "failed", error=exc.message)
            return RowOutcome(row, "failed", outgoing.message_id, error=exc)
        await _record(journal, row, "sent", accepted=list(result.accepted))
        return RowOutcome(row, "sent", result.message_id, result=result)

    async def worker() -> None:
        nonlocal stop
        while queue and not stop:
            index, row = queue.popleft()
            outcome = await one(row)
            report(index, outcome)
            if outcome.error is not None and stops_the_run(outcome.error):
                stop = True

    width = concurrency if concurrency is not None else sender.settings.max_connections
    await asyncio.gather(*(worker() for _ in range(max(1, min(width, len(queue) or 1)))))
    for index, row in queue:
        report(index, RowOutcome(row, "not_attempted"))
    return [outcomes[index] for index in range(len(rows))]


async def _record(journal: ResumeJournal | None, row: MergeRow, state: Any, **details: Any) -> None:
    if journal is not None:
        await asyncio.to_thread(functools.partial(journal.record, row.key, state, **details))
