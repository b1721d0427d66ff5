"""`gmail-send send --to-file / --merge`: many messages through `gmail_send.merge`, shown as
lines or a progress bar, then a summary table (or a JSON report with --json).

Each row is a message of its own: a refused or invalid recipient does not stop the rest; a
failure every later message would share (configuration, sign-in, the daily quota) does. With
--resume, outcomes are recorded as they happen and a later run skips what was sent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO, cast

from .._sender import GmailSender
from .._types import MessageFields
from ..errors import MessageError
from ..merge import (
    MergeRow,
    ResumeJournal,
    RowOutcome,
    check_rows,
    read_address_lines,
    read_merge_file,
    send_rows,
    stops_the_run,
)
from ._exit import ExitCode, describe, exit_code_for, overall_code
from ._progress import LineProgress, Progress, ProgressBar

__all__ = ["read_rows", "run_bulk"]

_SHOWN_PROBLEMS = 10
"""A dry run lists this many problems, then counts the rest."""

_LABELS = {
    "sent": "sent",
    "already_sent": "already sent",
    "failed": "failed",
    "unknown": "unknown",
    "not_attempted": "not attempted",
    "valid": "valid",
}


def read_rows(args: argparse.Namespace) -> list[MergeRow]:
    """The rows of --merge or --to-file (MessageError or OSError when they cannot be read)."""
    if args.merge:
        return read_merge_file(args.merge, to_column=args.to_column)
    rows = read_address_lines(Path(args.to_file).read_text(encoding="utf-8").splitlines())
    if not rows:
        raise MessageError(f"{args.to_file} holds no recipient")
    return rows


def run_bulk(
    args: argparse.Namespace,
    settings: Mapping[str, Any],
    rows: Sequence[MergeRow],
    fields: dict[str, Any],
    *,
    out: Callable[[str], object],
    err: Callable[[str], object],
    progress: TextIO | None,
) -> ExitCode:
    """Send (or with --dry-run check) one message per row; print as it goes, then a summary."""
    report = err if args.json else out
    if args.dry_run:
        outcomes = _check(settings, rows, fields)
        codes = [exit_code_for(o.error) for o in outcomes if o.error is not None]
        _print_problems(rows, outcomes, report)
    else:
        journal = ResumeJournal.open(args.resume, template=args.template) if args.resume else None
        view: Progress = (
            ProgressBar(progress, len(rows)) if progress is not None else LineProgress(report)
        )
        printer = _Printer(rows, view, journal)
        try:
            outcomes = asyncio.run(
                _send(settings, rows, fields, journal, args.concurrency, printer.show)
            )
        finally:
            view.finish()
        codes = printer.codes
        left = sum(o.status == "not_attempted" for o in outcomes)
        if left and any(o.error is not None and stops_the_run(o.error) for o in outcomes):
            report(f"stopping: the {left} remaining message(s) would fail the same way")
    code = overall_code(codes)
    if args.json:
        out(json.dumps(_json_report(rows, outcomes, code, args), indent=2, ensure_ascii=False))
    else:
        _print_summary(outcomes, report, dry_run=args.dry_run)
    return code


def _check(
    settings: Mapping[str, Any], rows: Sequence[MergeRow], fields: Mapping[str, Any]
) -> list[RowOutcome]:
    sender = GmailSender(**settings)  # checks the settings; connects to nothing
    shared = cast("MessageFields", fields)
    return check_rows(rows, shared, account=sender.account, templates=sender.templates)


async def _send(
    settings: Mapping[str, Any],
    rows: Sequence[MergeRow],
    fields: Mapping[str, Any],
    journal: ResumeJournal | None,
    concurrency: int,
    show: Callable[[RowOutcome], object],
) -> list[RowOutcome]:
    async with GmailSender(**settings) as gmail:
        return await send_rows(
            gmail,
            rows,
            cast("MessageFields", fields),
            journal=journal,
            concurrency=concurrency,
            on_outcome=show,
        )


class _Printer:
    """Turns each outcome into today's `[n/total] address: ...` lines and an exit code."""

    def __init__(
        self, rows: Sequence[MergeRow], view: Progress, journal: ResumeJournal | None
    ) -> None:
        self._total = len(rows)
        self._position = {row.key: number for number, row in enumerate(rows, 1)}
        self._view = view
        self._journal = journal
        self.codes: list[ExitCode] = []

    def show(self, outcome: RowOutcome) -> None:
        where = f"[{self._position[outcome.row.key]}/{self._total}] {outcome.row.to}"
        status, error, result = outcome.status, outcome.error, outcome.result
        if status == "not_attempted":
            return
        if status == "already_sent":
            self._view.line(f"{where}: already sent {outcome.message_id} (by an earlier run)")
        elif status == "sent" and result is not None and result.refused:
            self.codes.append(ExitCode.PERMANENT)
            self._view.failure(f"{where}: FAILED: refused: {next(iter(result.refused.values()))}")
        elif status == "sent":
            self._view.line(f"{where}: sent {outcome.message_id}")
        elif status == "unknown" and outcome.earlier:
            self.codes.append(ExitCode.UNKNOWN_OUTCOME)
            self._view.failure(
                f"{where}: UNKNOWN: an earlier run may have sent it; not sent again\n"
                f"  Message-ID: {outcome.message_id} (look for it in Sent Mail)"
            )
        elif error is not None:
            self.codes.append(exit_code_for(error))
            text = f"{where}: FAILED: {error.message}"
            if error.hint:
                text += f"\n  hint: {error.hint}"
            if status == "unknown":
                text += f"\n  Message-ID: {outcome.message_id}"
            self._view.failure(text)
        self._view.advance(
            failed=status in ("failed", "unknown") or bool(result and result.refused)
        )


def _print_problems(
    rows: Sequence[MergeRow], outcomes: Sequence[RowOutcome], report: Callable[[str], object]
) -> None:
    problems = [(n, o) for n, o in enumerate(outcomes, 1) if o.error is not None]
    for number, outcome in problems[:_SHOWN_PROBLEMS]:
        assert outcome.error is not None
        report(f"[{number}/{len(rows)}] {outcome.row.to}: {describe(outcome.error)}")
    if len(problems) > _SHOWN_PROBLEMS:
        report(f"... and {len(problems) - _SHOWN_PROBLEMS} more")


def _counts(outcomes: Sequence[RowOutcome]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for outcome in outcomes:
        refused = outcome.result is not None and bool(outcome.result.refused)
        counts["failed" if refused else outcome.status] += 1
    return counts


def _print_summary(
    outcomes: Sequence[RowOutcome], report: Callable[[str], object], *, dry_run: bool
) -> None:
    counts = _counts(outcomes)
    labels = {"valid": "valid", "failed": "invalid"} if dry_run else _LABELS
    table = [(label, counts[status]) for status, label in labels.items() if counts[status]]
    width = max(len(label) for label, _ in [*table, ("total", 0)])
    for label, count in [*table, ("total", len(outcomes))]:
        report(f"  {label:<{width}}  {count:>6}")
    if dry_run:
        invalid = counts["failed"]
        report(
            f"dry run: {counts['valid']} of {len(outcomes)} message(s) are valid"
            f"{f', {invalid} are not' if invalid else ''}; nothing was sent"
        )
        return
    summary = f"summary: {counts['sent']} sent, {counts['failed']} failed"
    for status in ("unknown", "already_sent", "not_attempted"):
        if counts[status]:
            summary += f", {counts[status]} {_LABELS[status]}"
    report(f"{summary} (of {len(outcomes)})")


def _json_report(
    rows: Sequence[MergeRow], outcomes: Sequence[RowOutcome], code: ExitCode, args: Any
) -> dict[str, Any]:
    counts = _counts(outcomes)
    return {
        "dry_run": bool(args.dry_run),
        "journal": args.resume,
        "total": len(rows),
        "counts": {status: counts[status] for status in _LABELS if counts[status]},
        "exit_code": int(code),
        "rows": [_json_row(number, outcome) for number, outcome in enumerate(outcomes, 1)],
    }


def _json_row(position: int, outcome: RowOutcome) -> dict[str, Any]:
    error, result = outcome.error, outcome.result
    return {
        "position": position,
        "row": outcome.row.number,
        "to": outcome.row.to,
        "status": outcome.status,
        "earlier_run": outcome.earlier,
        "message_id": outcome.message_id,
        "error": None
        if error is None
        else {"type": type(error).__name__, "message": error.message, "hint": error.hint},
        "refused": {a: str(r) for a, r in result.refused.items()} if result else {},
    }
