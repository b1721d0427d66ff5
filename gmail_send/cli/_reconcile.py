"""`gmail-send queue reconcile`: look unknown mails up in the account's Sent Mail now.

The sender is configured like the worker's (`GMAIL_SEND_*` and the same flags); each mail's
outcome is printed on a line of its own (a hint below it when the lookup could not run), or as
JSON with `--json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Mapping
from typing import Any

from .._sender import GmailSender
from ..errors import ConfigurationError, GmailSendError
from ..queue import MailQueue, Reconciliation
from ._exit import ExitCode
from ._queue import (
    Output,
    describe,
    failed_action,
    mail_as_json,
    parse_duration,
    print_err,
    queue_flag,
    sender_settings,
)
from ._settings import add_connection_flags

__all__ = [
    "add_reconcile_command",
    "describe_reconciliation",
    "reconciliation_as_json",
    "run_reconcile",
    "run_reconcile_command",
]


def add_reconcile_command(actions: Any) -> None:
    """Add `reconcile` to the `queue` actions."""
    reconcile = actions.add_parser(
        "reconcile",
        help="look unknown mails up in the account's Sent Mail now and settle them",
        description="Looks the Message-ID of unknown mails up in the account's Sent Mail "
        "(IMAP) with a sender configured like `gmail-send send`: found, the mail is sent; not "
        "there once the window passed, it is queued again with the same Message-ID; a lookup "
        "that cannot run says why. Exit code 0 when every mail was settled, 1 when one stays "
        "unknown (or no such mail), 78 for missing configuration.",
    )
    queue_flag(reconcile)
    reconcile.add_argument(
        "--id", dest="ids", action="append", metavar="ID", help="only this mail (repeat for more)"
    )
    reconcile.add_argument(
        "--wait",
        type=parse_duration,
        metavar="SECONDS",
        help="the window, from when each body went out (default: GMAIL_SEND_FIND_SENT_WAIT, 120)",
    )
    reconcile.add_argument("--json", action="store_true", help="print JSON")
    add_connection_flags(reconcile)
    reconcile.set_defaults(handler=run_reconcile_command)


def run_reconcile_command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """`gmail-send queue reconcile`: the sender's settings as for the worker, then the
    lookups."""
    try:
        url, settings = sender_settings(args, environ)
    except ConfigurationError as exc:
        print_err(f"gmail-send queue reconcile: {describe(exc)}")
        return ExitCode.CONFIG
    return run_reconcile(args, settings, url, out=print, err=print_err)


def run_reconcile(
    args: argparse.Namespace,
    settings: Mapping[str, Any],
    url: str,
    *,
    out: Output,
    err: Output,
) -> int:
    """Look the unknown mails up now and print what became of each; the exit code."""
    try:
        done = asyncio.run(_reconcile(MailQueue(url), settings, args))
    except GmailSendError as exc:
        return failed_action("reconcile", exc, err)
    if args.json:
        out(json.dumps([reconciliation_as_json(r) for r in done], indent=2))
    elif not done:
        out("(no unknown mails)")
    for item in [] if args.json else done:
        out(f"{item.mail.id}  {describe_reconciliation(item)}")
    settled = all(r.outcome in ("found", "not_found", "overtaken") for r in done)
    return ExitCode.OK if settled else ExitCode.FAILED


async def _reconcile(
    queue: MailQueue, settings: Mapping[str, Any], args: argparse.Namespace
) -> list[Reconciliation]:
    async with queue, GmailSender(**settings) as sender:
        return await queue.reconcile(sender, ids=args.ids, wait=args.wait)


def describe_reconciliation(item: Reconciliation) -> str:
    """One line (and a hint) on what a lookup did with a mail."""
    mail = item.mail
    if item.outcome == "found":
        return "found in the Sent Mail: sent"
    if item.outcome == "not_found":
        return (
            f"not in the Sent Mail: Gmail did not take it; queued again with the same "
            f"Message-ID (resend {mail.resends})"
        )
    if item.outcome == "overtaken":
        return f"settled meanwhile by someone else: {mail.status}"
    error = item.error
    if item.outcome == "unavailable" and error is not None:
        reason = getattr(error, "reason", type(error).__name__)
        hint = mail.last_error.hint if mail.last_error is not None else error.hint
        return f"unavailable ({reason}): {error.message}" + (f"\n  hint: {hint}" if hint else "")
    hint = mail.last_error.hint if mail.last_error is not None else None
    return "not looked up: awaits resolve" + (f"\n  hint: {hint}" if hint else "")


def reconciliation_as_json(item: Reconciliation) -> dict[str, Any]:
    """A `Reconciliation` as JSON-ready values: the outcome, the reason, the mail."""
    error = item.error
    return {
        "outcome": item.outcome,
        "reason": None if error is None else getattr(error, "reason", type(error).__name__),
        "mail": mail_as_json(item.mail),
    }
