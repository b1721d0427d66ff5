"""`gmail-send send`: one message; many (--to-file, --merge) go to `_bulk`.

Exit codes (`ExitCode`, sysexits-style) tell a script what happened: bad input, configuration,
authentication, temporary failure (try again later), permanent rejection, unknown outcome.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from .._result import SendResult
from .._sender import GmailSender
from ..errors import GmailSendError, MessageError, UnknownOutcomeError
from ..message._compose import compose_message
from ._exit import ExitCode, describe, exit_code_for

__all__ = ["ExitCode", "describe", "exit_code_for", "read_recipients", "run_send"]


def read_recipients(lines: Sequence[str]) -> list[str]:
    """The recipients of a file: one address (or `Name <address>`) per line; blank lines and
    lines starting with # are skipped."""
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _body(args: argparse.Namespace, stdin: TextIO) -> tuple[str | None, str | None]:
    if args.template and not (args.text is not None or args.text_file or args.html_file):
        return None, None  # the template gives the body
    text: str | None = args.text
    if args.text_file == "-":
        text = stdin.read()
    elif args.text_file is not None:
        text = Path(args.text_file).read_text(encoding="utf-8")
    html = Path(args.html_file).read_text(encoding="utf-8") if args.html_file else None
    if text is None and html is None:
        if stdin.isatty():
            raise MessageError(
                "no message body",
                hint="give --text, --text-file FILE (- for standard input), --html-file, "
                "or pipe the text in",
            )
        text = stdin.read()
    return text, html


def _check_attachments(paths: Sequence[str]) -> None:
    """Open each attachment once before anything is sent, so that a missing file is one
    bad-input error (OSError), not a failure of every message of a recipients file."""
    for path in paths:
        with Path(path).open("rb"):
            pass


def run_send(
    args: argparse.Namespace,
    settings: Mapping[str, Any],
    *,
    out: Callable[[str], object],
    err: Callable[[str], object],
    stdin: TextIO | None = None,
    progress: TextIO | None = None,
) -> ExitCode:
    """Run `gmail-send send` with parsed arguments and `from_env()` settings; the body may
    come from `stdin` (default: sys.stdin at the time of the call). Many messages show a
    progress bar on `progress` (a terminal) when given, else one line each."""
    from ._bulk import read_rows, run_bulk

    try:
        text, html = _body(args, sys.stdin if stdin is None else stdin)
        rows = read_rows(args) if args.to_file or args.merge else None
        _check_attachments(args.attach)
    except GmailSendError as exc:
        err(f"gmail-send send: {describe(exc)}")
        return exit_code_for(exc)
    except (OSError, UnicodeDecodeError) as exc:
        err(f"gmail-send send: cannot read the input: {exc}")
        return ExitCode.BAD_INPUT
    common: dict[str, Any] = {
        "cc": args.cc or None,
        "bcc": args.bcc or None,
        "reply_to": args.reply_to or None,
        "from_": args.from_,
        "subject": args.subject or "",
        "text": text,
        "html": html,
        "attachments": [Path(p) for p in args.attach],
    }
    if args.template:
        common["template"] = args.template
    try:
        if rows is not None:
            return run_bulk(args, settings, rows, common, out=out, err=err, progress=progress)
        if args.dry_run:
            return _check_one(settings, args.to, common, out=out, err=err)
        return asyncio.run(_send_one(settings, args.to, common, out=out, err=err))
    except GmailSendError as exc:  # settings GmailSender refuses
        err(f"gmail-send send: {describe(exc)}")
        return exit_code_for(exc)


async def _send_one(
    settings: Mapping[str, Any],
    to: list[str],
    common: dict[str, Any],
    *,
    out: Callable[[str], object],
    err: Callable[[str], object],
) -> ExitCode:
    try:
        async with GmailSender(**settings) as gmail:
            result = await gmail.send(to=to or None, **common)
    except GmailSendError as exc:
        err(f"gmail-send send: {describe(exc)}")
        if isinstance(exc, UnknownOutcomeError):
            err(f"  Message-ID: {exc.message_id}")
        return exit_code_for(exc)
    except OSError as exc:  # an attachment that cannot be read
        err(f"gmail-send send: {exc}")
        return ExitCode.BAD_INPUT
    out(result.message_id)
    return _report_refused(result, err)


def _check_one(
    settings: Mapping[str, Any],
    to: list[str],
    common: dict[str, Any],
    *,
    out: Callable[[str], object],
    err: Callable[[str], object],
) -> ExitCode:
    sender = GmailSender(**settings)
    try:
        compose_message(account=sender.account, templates=sender.templates, to=to, **common)
    except GmailSendError as exc:
        err(f"gmail-send send: {describe(exc)}")
        return exit_code_for(exc)
    except OSError as exc:
        err(f"gmail-send send: {exc}")
        return ExitCode.BAD_INPUT
    out("dry run: the message is valid; nothing was sent")
    return ExitCode.OK


def _report_refused(result: SendResult, err: Callable[[str], object]) -> ExitCode:
    for address, reply in result.refused.items():
        err(f"gmail-send send: Gmail refused {address}: {reply} (the others got the message)")
    return ExitCode.PERMANENT if result.refused else ExitCode.OK
