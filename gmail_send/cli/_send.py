"""`gmail-send send`: one message, or one message per line of a recipients file.

Exit codes tell a script what happened (`ExitCode`, sysexits-style): bad input, configuration,
authentication, temporary failure (try again later), permanent rejection, unknown outcome.
With a recipients file each line is a message of its own: progress is printed as it goes, a
refused or invalid recipient does not stop the rest, and a final summary counts the outcomes.
Only a failure that every later message would share (configuration, sign-in) stops the run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Mapping, Sequence
from enum import IntEnum
from pathlib import Path
from typing import Any, TextIO

from .._result import SendResult
from .._sender import GmailSender
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    GmailConnectionError,
    GmailSendError,
    LoginThrottledError,
    MessageError,
    QuotaExceededError,
    SMTPReplyError,
    TemporaryError,
    UnknownOutcomeError,
)

__all__ = ["ExitCode", "exit_code_for", "read_recipients", "run_send"]


class ExitCode(IntEnum):
    """Exit codes of gmail-send (the numbers of BSD's sysexits.h where one fits)."""

    OK = 0
    FAILED = 1
    """doctor: a check failed; send with a recipients file: failures of different kinds."""
    USAGE = 2
    """The command line is wrong (argparse)."""
    BAD_INPUT = 65
    """The message is invalid (address, header, attachment, size): nothing was sent."""
    PERMANENT = 69
    """Gmail rejected the message or a recipient for good: do not retry unchanged."""
    TEMPORARY = 75
    """A temporary failure (4xx, network): nothing was sent; retry later."""
    UNKNOWN_OUTCOME = 76
    """The connection broke after the message was sent: it may have been delivered."""
    AUTH = 77
    """Gmail refused the credentials, or no access token could be obtained."""
    CONFIG = 78
    """Settings are missing or contradictory (GMAIL_SEND_* variables, flags)."""


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code for an error gmail_send raised."""
    if isinstance(exc, MessageError):
        return ExitCode.BAD_INPUT
    if isinstance(exc, ConfigurationError):
        return ExitCode.CONFIG
    if isinstance(exc, AuthenticationError):
        return ExitCode.AUTH
    if isinstance(exc, UnknownOutcomeError):
        return ExitCode.UNKNOWN_OUTCOME
    if isinstance(exc, (TemporaryError, GmailConnectionError)):
        return ExitCode.TEMPORARY
    if isinstance(exc, SMTPReplyError):
        return ExitCode.PERMANENT
    return ExitCode.FAILED


def _fatal(exc: GmailSendError) -> bool:
    """A failure every later message would share: stop a recipients-file run (going on would
    only add failed logins, which Gmail throttles, or messages over the daily limit)."""
    return isinstance(
        exc, (ConfigurationError, AuthenticationError, LoginThrottledError, QuotaExceededError)
    )


def read_recipients(lines: Sequence[str]) -> list[str]:
    """The recipients of a file: one address (or `Name <address>`) per line; blank lines and
    lines starting with # are skipped."""
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _describe(exc: GmailSendError) -> str:
    hint = f"\n  hint: {exc.hint}" if exc.hint else ""
    return f"{exc.message}{hint}"


def _body(args: argparse.Namespace, stdin: TextIO) -> tuple[str | None, str | None]:
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
) -> ExitCode:
    """Run `gmail-send send` with parsed arguments and `from_env()` settings; the body may
    come from `stdin` (default: sys.stdin at the time of the call)."""
    try:
        text, html = _body(args, sys.stdin if stdin is None else stdin)
        recipients: list[str] | None = None
        if args.to_file is not None:
            recipients = read_recipients(
                Path(args.to_file).read_text(encoding="utf-8").splitlines()
            )
            if not recipients:
                raise MessageError(f"{args.to_file} holds no recipient")
        _check_attachments(args.attach)
    except GmailSendError as exc:
        err(f"gmail-send send: {_describe(exc)}")
        return exit_code_for(exc)
    except (OSError, UnicodeDecodeError) as exc:
        err(f"gmail-send send: cannot read the input: {exc}")
        return ExitCode.BAD_INPUT
    common: dict[str, Any] = {
        "cc": args.cc or None,
        "bcc": args.bcc or None,
        "reply_to": args.reply_to or None,
        "from_": args.from_,
        "subject": args.subject,
        "text": text,
        "html": html,
        "attachments": [Path(p) for p in args.attach],
    }
    try:
        if recipients is None:
            return asyncio.run(_send_one(settings, args.to, common, out=out, err=err))
        return asyncio.run(_send_each(settings, recipients, common, out=out, err=err))
    except GmailSendError as exc:  # settings GmailSender refuses
        err(f"gmail-send send: {_describe(exc)}")
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
        err(f"gmail-send send: {_describe(exc)}")
        if isinstance(exc, UnknownOutcomeError):
            err(f"  Message-ID: {exc.message_id}")
        return exit_code_for(exc)
    except OSError as exc:  # an attachment that cannot be read
        err(f"gmail-send send: {exc}")
        return ExitCode.BAD_INPUT
    out(result.message_id)
    return _report_refused(result, err)


def _report_refused(result: SendResult, err: Callable[[str], object]) -> ExitCode:
    for address, reply in result.refused.items():
        err(f"gmail-send send: Gmail refused {address}: {reply} (the others got the message)")
    return ExitCode.PERMANENT if result.refused else ExitCode.OK


async def _send_each(
    settings: Mapping[str, Any],
    recipients: list[str],
    common: dict[str, Any],
    *,
    out: Callable[[str], object],
    err: Callable[[str], object],
) -> ExitCode:
    total = len(recipients)
    sent = 0
    codes: list[ExitCode] = []
    async with GmailSender(**settings) as gmail:
        for number, recipient in enumerate(recipients, 1):
            where = f"[{number}/{total}] {recipient}"
            try:
                result = await gmail.send(to=recipient, **common)
            except GmailSendError as exc:
                codes.append(exit_code_for(exc))
                out(f"{where}: FAILED: {exc.message}")
                if exc.hint:
                    out(f"  hint: {exc.hint}")
                if isinstance(exc, UnknownOutcomeError):
                    out(f"  Message-ID: {exc.message_id}")
                if _fatal(exc):
                    out(
                        f"stopping: the {total - number} remaining message(s) would fail "
                        "the same way"
                    )
                    break
                continue
            except OSError as exc:
                codes.append(ExitCode.BAD_INPUT)
                out(f"{where}: FAILED: {exc}")
                continue
            if result.refused:
                codes.append(ExitCode.PERMANENT)
                out(f"{where}: FAILED: refused: {result.refused[next(iter(result.refused))]}")
                continue
            sent += 1
            out(f"{where}: sent {result.message_id}")
    failed = len(codes)
    not_tried = total - sent - failed
    summary = f"summary: {sent} sent, {failed} failed"
    if not_tried:
        summary += f", {not_tried} not attempted"
    out(f"{summary} (of {total})")
    if not codes:
        return ExitCode.OK
    return codes[0] if len(set(codes)) == 1 else ExitCode.FAILED
