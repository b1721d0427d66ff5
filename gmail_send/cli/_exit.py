"""Exit codes of `gmail-send` (sysexits-style) and the error text it prints."""

from __future__ import annotations

from enum import IntEnum

from ..errors import (
    AuthenticationError,
    ConfigurationError,
    GmailConnectionError,
    GmailSendError,
    MessageError,
    SMTPReplyError,
    TemporaryError,
    UnknownOutcomeError,
)

__all__ = ["ExitCode", "describe", "exit_code_for", "overall_code"]


class ExitCode(IntEnum):
    """Exit codes of gmail-send (the numbers of BSD's sysexits.h where one fits)."""

    OK = 0
    FAILED = 1
    """doctor: a check failed; send of many messages: failures of different kinds."""
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


def describe(exc: GmailSendError) -> str:
    """The error's message, and its hint on a line of its own."""
    hint = f"\n  hint: {exc.hint}" if exc.hint else ""
    return f"{exc.message}{hint}"


def overall_code(codes: list[ExitCode]) -> ExitCode:
    """The exit code of many messages: OK, the one code they share, or FAILED."""
    if not codes:
        return ExitCode.OK
    return codes[0] if len(set(codes)) == 1 else ExitCode.FAILED
