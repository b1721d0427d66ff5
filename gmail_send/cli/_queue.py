"""`gmail-send worker` and `gmail-send queue ...`: the mail queue from the shell.

`worker` runs `MailQueue.work()` with a sender configured like `gmail-send send` (the
`GMAIL_SEND_*` variables and the same flags) until SIGTERM or Ctrl-C: the first signal stops
claiming and lets the mails it holds finish (for at most `--grace` seconds, then they are
released: queued again, or `unknown` if their body went out); a second signal releases them at
once. `queue status|list|retry|resolve|cancel|purge` look at and act on the queue, printing a
table, or JSON with `--json`; `queue reconcile` looks unknown mails up in the Sent Mail now,
with a sender configured like the worker's. The queue's URL is `--queue` or `GMAIL_SEND_QUEUE`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from .._sender import GmailSender
from ..errors import ConfigurationError, GmailSendError
from ..queue import MailQueue, QueuedMail
from ..queue._records import STATUSES
from ._exit import ExitCode
from ._settings import add_connection_flags, overrides, settings_environ

__all__ = [
    "add_queue_commands",
    "describe",
    "mail_as_json",
    "parse_duration",
    "print_err",
    "queue_flag",
    "queue_url",
    "run_queue",
    "run_queue_command",
    "run_worker",
    "run_worker_command",
    "sender_settings",
]

Output = Callable[[str], object]


def parse_duration(text: str) -> float:
    """argparse type of a duration: seconds, or a number with s, m, h or d (`30d`)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90, 15m, 12h, 30d)")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * unit


def add_queue_commands(commands: Any) -> Any:
    """Add `worker` (with the settings flags every command shares) and `queue` to the parser's
    subcommands; return the `queue` actions (`_reconcile` adds one)."""
    worker = commands.add_parser(
        "worker",
        help="send the mail queue's due mail until SIGTERM (a systemd or container process)",
        description="Sends the mail of a queue (MailQueue) with a sender configured like "
        "`gmail-send send`. SIGTERM or Ctrl-C stops it: it claims nothing more and finishes "
        "what it holds (for at most --grace seconds; then, or at a second signal, it releases "
        "it). Exit code 0 after a clean stop, 78 for missing configuration.",
    )
    queue_flag(worker)
    worker.add_argument(
        "--lease",
        type=parse_duration,
        default=60.0,
        metavar="SECONDS",
        help="how long a mail stays claimed without a heartbeat (default 60)",
    )
    worker.add_argument(
        "--grace",
        type=parse_duration,
        default=30.0,
        metavar="SECONDS",
        help="after SIGTERM, how long the mails held may take to finish (default 30)",
    )
    worker.add_argument(
        "--retention",
        type=parse_duration,
        default=7 * 86400.0,
        metavar="DURATION",
        help="keep the bodies of ended mails this long (default 7d)",
    )
    worker.add_argument(
        "--until-empty", action="store_true", help="exit once nothing is due or being sent"
    )
    worker.add_argument(
        "--no-settle-unknown",
        dest="settle_unknown",
        action="store_false",
        help="leave unknown outcomes to the operator instead of looking them up in the Sent Mail",
    )
    add_connection_flags(worker)
    worker.set_defaults(handler=run_worker_command)

    queue = commands.add_parser(
        "queue",
        help="look at the mail queue and act on its mails",
        description="Commands on a mail queue (MailQueue). Exit codes: 0 done, 1 no such "
        "mail or a status that does not allow it (reconcile: or a mail left unknown), 78 "
        "configuration missing.",
    )
    actions = queue.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="how many mails have each status")
    listing = actions.add_parser("list", help="the newest mails first")
    listing.add_argument(
        "--status", action="append", choices=STATUSES, help="only this status (repeat for more)"
    )
    listing.add_argument("--account", help="only this account's mails")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    retry = actions.add_parser(
        "retry", help="send failed, expired or held mails again (held: lifts the account's hold)"
    )
    resolve = actions.add_parser("resolve", help="settle mails whose outcome is unknown")
    outcome = resolve.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--sent", action="store_true", help="they were delivered")
    outcome.add_argument("--not-sent", action="store_true", help="they were not: queue them again")
    cancel = actions.add_parser("cancel", help="take queued or held mails out")
    for parser in (retry, resolve, cancel):
        parser.add_argument("ids", nargs="+", metavar="ID", help="the mail's id")
    purge = actions.add_parser("purge", help="delete mails that ended long ago")
    purge.add_argument(
        "--older-than",
        type=parse_duration,
        required=True,
        metavar="DURATION",
        help="ended more than this long ago (e.g. 30d)",
    )
    for parser in (status, listing, retry, resolve, cancel, purge):
        queue_flag(parser)
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.set_defaults(handler=run_queue_command)
    return actions


def queue_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--queue",
        metavar="URL",
        help="sqlite:///path.db or postgresql://user@host/db (default: GMAIL_SEND_QUEUE; keep "
        "a PostgreSQL password in PGPASSWORD or ~/.pgpass, not on the command line)",
    )


def queue_url(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    url = args.queue or environ.get("GMAIL_SEND_QUEUE")
    if not url:
        raise ConfigurationError(
            "no queue: give --queue URL or set GMAIL_SEND_QUEUE",
            hint="sqlite:///path/to/queue.db or postgresql://user@host/db",
        )
    return str(url)


# -- the worker ------------------------------------------------------------------------------


def sender_settings(
    args: argparse.Namespace, environ: Mapping[str, str]
) -> tuple[str, Mapping[str, Any]]:
    """The queue's URL and the sender's settings (the flags and `GMAIL_SEND_*`), as the worker
    and `queue reconcile` load them.

    Raises:
        ConfigurationError: no queue, or settings missing or invalid.
    """
    from ..config import from_env

    url = queue_url(args, environ)
    try:
        return url, from_env(settings_environ(args, environ), **overrides(args))
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def run_worker_command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """`gmail-send worker`: the settings from the flags and `GMAIL_SEND_*`, then the worker."""
    try:
        url, settings = sender_settings(args, environ)
    except ConfigurationError as exc:
        hint = f"\n  hint: {exc.hint}" if exc.hint else ""
        print_err(f"gmail-send worker: {exc.message}{hint}")
        return ExitCode.CONFIG
    return run_worker(args, settings, url, err=print_err)


def print_err(text: str) -> None:
    print(text, file=sys.stderr)


def run_worker(
    args: argparse.Namespace, settings: Mapping[str, Any], url: str, *, err: Output
) -> int:
    """Run the worker until a signal stops it; the exit code."""
    logging.getLogger("gmail_send.queue").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        queue = MailQueue(
            url, lease=args.lease, retention=args.retention, settle_unknown=args.settle_unknown
        )
        asyncio.run(_work(queue, settings, args, err))
    except GmailSendError as exc:
        err(f"gmail-send worker: {describe(exc)}")
        return ExitCode.CONFIG if isinstance(exc, ConfigurationError) else ExitCode.FAILED
    return ExitCode.OK


async def _work(
    queue: MailQueue, settings: Mapping[str, Any], args: argparse.Namespace, err: Output
) -> None:
    async with queue, GmailSender(**settings) as sender:
        err(
            f"gmail-send worker: sending from {queue.name} as {sender.account or 'a relay'} "
            "(SIGTERM or Ctrl-C stops)"
        )
        await queue.serve(sender, grace=args.grace, until_empty=args.until_empty)


# -- queue commands --------------------------------------------------------------------------


def run_queue_command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """`gmail-send queue ACTION`: the queue's URL from --queue or GMAIL_SEND_QUEUE, then it."""
    try:
        url = queue_url(args, environ)
    except ConfigurationError as exc:
        print_err(f"gmail-send queue {args.action}: {exc.message}")
        return ExitCode.CONFIG
    return run_queue(args, url, out=print, err=print_err)


def run_queue(args: argparse.Namespace, url: str, *, out: Output, err: Output) -> int:
    """Run `gmail-send queue ACTION`; the exit code."""
    try:
        return asyncio.run(_act(MailQueue(url), args, out))
    except GmailSendError as exc:
        return failed_action(args.action, exc, err)


def failed_action(action: str, exc: GmailSendError, err: Output) -> int:
    """Print why `gmail-send queue ACTION` failed; the exit code: CONFIG for settings that
    must be fixed, FAILED for a refused request (no such mail, a status that does not allow
    it) or a failing database."""
    err(f"gmail-send queue {action}: {describe(exc)}")
    return ExitCode.CONFIG if isinstance(exc, ConfigurationError) else ExitCode.FAILED


async def _act(queue: MailQueue, args: argparse.Namespace, out: Output) -> int:
    async with queue:
        action = args.action
        if action == "status":
            counts = await queue.counts()
            awaiting = await queue.awaiting()
            resends = await queue.resends()
            if args.json:
                out(
                    json.dumps(
                        {**counts, "unknown_awaiting": awaiting, "resends": resends}, indent=2
                    )
                )
            else:
                out(table(["status", "mails"], [[s, str(n)] for s, n in counts.items()]))
                out(
                    f"\nunknown: {awaiting['lookup']} awaiting a lookup, "
                    f"{awaiting['reconcile'] + awaiting['resolve']} awaiting the operator "
                    f"({awaiting['reconcile']} reconcile, {awaiting['resolve']} resolve)"
                )
                out(f"resent after a lookup did not find them: {resends}")
            return ExitCode.OK
        if action == "purge":
            purged = await queue.purge(older_than=args.older_than)
            out(json.dumps({"purged": purged}) if args.json else f"purged {purged} mail(s)")
            return ExitCode.OK
        if action == "list":
            statuses = tuple(args.status or ())
            mails = await queue.mails(status=statuses, account=args.account, limit=args.limit)
        else:
            mails = []
            for mail_id in args.ids:
                if action == "retry":
                    mails.append(await queue.retry(mail_id))
                elif action == "cancel":
                    mails.append(await queue.cancel(mail_id))
                else:
                    mails.append(await queue.resolve(mail_id, sent=bool(args.sent)))
        out(json.dumps([mail_as_json(m) for m in mails], indent=2) if args.json else listing(mails))
        return ExitCode.OK


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def mail_as_json(mail: QueuedMail) -> dict[str, Any]:
    """A `QueuedMail` as JSON-ready values (times in ISO 8601, UTC)."""
    error = mail.last_error
    result = mail.result
    return {
        "id": mail.id,
        "message_id": mail.message_id,
        "account": mail.account,
        "status": mail.status,
        "attempts": mail.attempts,
        "resends": mail.resends,
        "settled_by": mail.settled_by,
        "awaiting": mail.awaiting,
        "transport": mail.transport,
        "created_at": _time(mail.created_at),
        "updated_at": _time(mail.updated_at),
        "next_attempt_at": _time(mail.next_attempt_at),
        "last_error": None
        if error is None
        else {
            "type": error.type,
            "code": error.code,
            "enhanced_code": error.enhanced_code,
            "message": error.message,
            "hint": error.hint,
        },
        "result": None
        if result is None
        else {
            "accepted": list(result.accepted),
            "refused": {address: str(reply) for address, reply in result.refused.items()},
            "reply": str(result.reply) if result.reply is not None else None,
            "transport": result.transport,
            "gmail_id": result.gmail_id,
        },
    }


def _short(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def listing(mails: Sequence[QueuedMail]) -> str:
    """The mails as a table."""
    rows = []
    for mail in mails:
        error = mail.last_error
        rows.append(
            [
                mail.id,
                mail.status,
                str(mail.attempts),
                mail.account,
                _short(mail.created_at),
                _short(mail.next_attempt_at),
                "-" if error is None else f"{error.type}{f' {error.code}' if error.code else ''}",
                mail.message_id,
            ]
        )
    header = ["id", "status", "tries", "account", "created (UTC)", "next (UTC)", "last error"]
    return table([*header, "message-id"], rows) if rows else "(no mails)"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns as wide as their widest cell, separated by two spaces."""
    widths = [max(len(row[n]) for row in [header, *rows]) for n in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)


def describe(exc: GmailSendError) -> str:
    hint = f"\n  hint: {exc.hint}" if exc.hint else ""
    return f"{exc.message}{hint}"
