"""`gmail-send send`: its flags, the checks of how they combine, and the settings it sends with."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from ._settings import add_connection_flags, overrides, settings_environ

__all__ = ["add_send", "run_send_command"]


def _concurrency(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"from 1 to 100, not {value}")
    return value


def add_send(commands: Any) -> None:
    send = commands.add_parser(
        "send",
        help="send a message (prints its Message-ID)",
        description="Send one message; with --to-file one message per recipient line; with "
        "--merge one templated message per row of a CSV or JSON Lines file. "
        "Exit codes: 0 sent, 65 bad input, 69 rejected for good, 75 temporary failure "
        "(retry later), 76 unknown outcome (may have been delivered), 77 authentication "
        "failed, 78 configuration missing; for many messages, 1 when failures differ in kind.",
    )
    send.add_argument(
        "--to", action="append", default=[], metavar="ADDRESS", help="a recipient (repeat for more)"
    )
    send.add_argument("--cc", action="append", default=[], metavar="ADDRESS")
    send.add_argument("--bcc", action="append", default=[], metavar="ADDRESS")
    send.add_argument("--reply-to", action="append", default=[], metavar="ADDRESS")
    send.add_argument(
        "--from",
        dest="from_",
        metavar="ADDRESS",
        help="the sender (default: the account; aliases must be verified)",
    )
    send.add_argument("--subject", help="the subject (required unless a template gives it)")
    body = send.add_mutually_exclusive_group()
    body.add_argument("--text", help="the plain-text body")
    body.add_argument("--text-file", metavar="FILE", help="read the body from FILE (- = stdin)")
    send.add_argument("--html-file", metavar="FILE", help="an HTML body (alternative part)")
    send.add_argument(
        "--attach",
        action="append",
        default=[],
        metavar="FILE",
        help="attach a file (repeat for more)",
    )
    send.add_argument(
        "--template",
        metavar="NAME",
        help="render NAME.subject.txt, NAME.txt and NAME.html from the templates folder "
        "(explicit --subject, --text, --html-file win)",
    )
    send.add_argument(
        "--templates",
        metavar="FOLDER",
        help="the templates folder (overrides GMAIL_SEND_TEMPLATES)",
    )
    many = send.add_argument_group("many messages")
    many.add_argument(
        "--to-file",
        metavar="FILE",
        help="send one message per line of FILE (an address per line; # for comments)",
    )
    many.add_argument(
        "--merge",
        metavar="FILE",
        help="send one message per row of FILE, rendered with --template: a CSV file with a "
        "header row (one column the address, the others the template's context), or "
        "JSON Lines (*.jsonl, *.ndjson)",
    )
    many.add_argument(
        "--to-column",
        metavar="NAME",
        help="the --merge column holding the address (default: to, email, e-mail, "
        "email_address or address)",
    )
    many.add_argument(
        "--resume",
        metavar="JOURNAL",
        help="record each message's outcome in JOURNAL; run again with the same JOURNAL to "
        "send only what was not sent (a message whose outcome is unknown is reported, "
        "never sent twice)",
    )
    many.add_argument(
        "--dry-run",
        action="store_true",
        help="render and check every message without connecting; report the problems",
    )
    many.add_argument(
        "--json", action="store_true", help="print a machine-readable report on standard output"
    )
    many.add_argument(
        "--concurrency",
        type=_concurrency,
        default=1,
        metavar="N",
        help="messages in flight at once (default 1); sessions are bounded by "
        "GMAIL_SEND_MAX_CONNECTIONS",
    )
    add_connection_flags(send)
    send.add_argument(
        "--sink",
        choices=("memory", "local"),
        help="development: memory logs the message and sends nothing (no credentials needed); "
        "local sends only to a local Gmail (GMAIL_SEND_SINK)",
    )
    send.set_defaults(handler=run_send_command)


def _usage_problem(args: argparse.Namespace) -> str | None:
    direct = bool(args.to or args.cc or args.bcc)
    bulk = [flag for flag, value in (("--to-file", args.to_file), ("--merge", args.merge)) if value]
    if len(bulk) > 1:
        return "--to-file and --merge are two ways to send many messages: give one"
    if bulk and direct:
        return (
            f"{bulk[0]} sends one message per row; it cannot be combined with --to, --cc or --bcc"
        )
    if not bulk and not direct:
        return "no recipient: give --to (or --cc, --bcc, --to-file, --merge)"
    if args.merge and not args.template:
        return "--merge needs --template NAME: each row is the context of the template"
    if args.to_column and not args.merge:
        return "--to-column applies to --merge only"
    if not bulk:
        for flag, value in (("--resume", args.resume), ("--json", args.json)):
            if value:
                return f"{flag} applies to many messages (--to-file or --merge)"
    if args.subject is None and not args.template:
        return "no subject: give --subject (or a --template that has one)"
    return None


def run_send_command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from ..config import from_env
    from ..errors import ConfigurationError
    from ._send import ExitCode, run_send

    problem = _usage_problem(args)
    if problem is not None:
        print(f"gmail-send send: {problem}", file=sys.stderr)
        return ExitCode.USAGE
    try:
        try:
            settings = from_env(settings_environ(args, environ), **overrides(args))
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
    except ConfigurationError as exc:
        hint = f"\n  hint: {exc.hint}" if exc.hint else ""
        print(f"gmail-send send: {exc.message}{hint}", file=sys.stderr)
        return ExitCode.CONFIG
    progress = sys.stderr if _is_terminal(sys.stderr) else None
    try:
        return run_send(args, settings, out=print, err=_print_err, progress=progress)
    except KeyboardInterrupt:
        print("gmail-send send: interrupted (messages reported as sent were sent)", file=sys.stderr)
        return 130


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _print_err(text: str) -> None:
    print(text, file=sys.stderr)
