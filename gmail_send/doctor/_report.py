"""`gmail-send doctor` as a library: checks that explain why sending through Gmail fails.

Each check returns a `CheckResult` (passed / failed / skipped, the finding, a concrete fix);
`run_doctor` runs them in order and skips, rather than fails, the checks whose prerequisite
failed. Nothing here prints: the CLI (or an application's health endpoint) renders the report.

    report = await run_doctor(Target("smtp.gmail.com", 587, "starttls"), credentials,
                              domain="example.com")
    for check in report.checks:
        print(check.status, check.title, check.finding)

This module holds the report types and the configuration check; the network checks (DNS, TCP,
TLS, EHLO), the credential checks (token refresh, app password, sign-in, test message) and the
domain's mail authentication records (SPF, DKIM, DMARC) sit beside it.
"""

from __future__ import annotations

import os
import ssl
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._options import DEFAULT_API_URL, IMAP_HOST, IMAP_PORT
from .._types import Transport
from ..auth._credentials import AppPassword, Credentials, Fallback
from ..errors import GmailSendError
from ..smtp._connection import DEFAULT_TIMEOUT, Security

__all__ = [
    "CheckResult",
    "DoctorReport",
    "Status",
    "Target",
    "configuration_check",
    "skipped",
]

Status = Literal["passed", "failed", "skipped"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check. `fix` says what to do when it failed; never holds a secret.

    Attributes:
        name: the check's id, e.g. "tls" or "authentication" (what `DoctorReport.check` takes).
        title: the check's name for people, e.g. "TLS and certificate".
        status: "passed", "failed" or "skipped".
        finding: what the check found, in one sentence.
        fix: what to do about a failure, or None.
        details: the facts behind the finding, JSON-ready (for `--json` output).
    """

    name: str
    title: str
    status: Status
    finding: str
    fix: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "finding": self.finding,
            "fix": self.fix,
            "details": dict(self.details),
        }


def skipped(name: str, title: str, reason: str) -> CheckResult:
    """A check that did not run because `reason` (a prerequisite failed or was not asked)."""
    return CheckResult(name, title, "skipped", reason)


@dataclass(frozen=True)
class DoctorReport:
    """Every check in the order it ran; `ok` is false when one failed.

    Attributes:
        checks: the results, in the order the checks ran.
    """

    checks: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return not any(check.failed for check in self.checks)

    def check(self, name: str) -> CheckResult:
        """The check called `name` (KeyError if it is not in the report).

        Args:
            name: the check's id, e.g. "tls".
        """
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [check.to_dict() for check in self.checks]}


@dataclass(frozen=True)
class Target:
    """Where the doctor connects: the same settings a `GmailSender` would use.

    `transport` selects the checks: SMTP's (DNS, ports 587/465, TLS, EHLO, sign-in), the Gmail
    API's (HTTPS to `api_url`), or both for "auto"; the credentials are checked against it.

    Attributes:
        host: the SMTP server's host name.
        port: the SMTP port.
        security: "starttls", "tls" or "none".
        tls_context: the TLS context to verify the server with; None for the default one.
        timeout: seconds each operation of the SMTP session may take, as a sender's
            `timeout`; port probes and DNS queries wait at most a shorter limit of their own.
        transport: which checks run: "smtp", "api", or both for "auto".
        api_url: the Gmail API's address, for the HTTPS check.
        imap_host: the IMAP server the Sent Mail lookup signs in to.
        imap_port: its port (implicit TLS).
    """

    host: str
    port: int
    security: Security
    tls_context: ssl.SSLContext | None = None
    timeout: float | None = DEFAULT_TIMEOUT
    transport: Transport = "smtp"
    api_url: str = DEFAULT_API_URL
    imap_host: str = IMAP_HOST
    imap_port: int = IMAP_PORT


def configuration_check(
    *,
    found: Sequence[tuple[str, str]],
    credentials: Credentials | None,
    token_file: str | os.PathLike[str] | None = None,
    error: GmailSendError | None = None,
) -> CheckResult:
    """Which credentials were found and where; a token file others can read is a failure.

    Args:
        found: (what, where it came from) for each setting found, as `Settings.describe()`
            gives them.
        credentials: the credentials loaded, or None for a relay by IP address.
        token_file: the token file the credentials came from, whose permissions are checked.
        error: why the settings could not be loaded, if they could not: the check fails and
            the credential checks that follow are skipped.
    """
    title = "configuration"
    if error is not None:
        return CheckResult(
            "configuration",
            title,
            "failed",
            error.message,
            fix=error.hint or "see docs/cli.md for the GMAIL_SEND_* variables",
            details={"loaded": False},
        )
    sources = "found " + (", ".join(_source(what, where) for what, where in found) or "nothing")
    details: dict[str, Any] = {"found": [list(item) for item in found]}
    if credentials is None:
        finding = f"no credentials (relay by IP address); {sources}"
    else:
        finding = f"{_describe_credentials(credentials)} for {credentials.user}; {sources}"
    if token_file is not None:
        path = Path(token_file)
        details["token_file"] = str(path)
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError as exc:
            return CheckResult(
                "configuration",
                title,
                "failed",
                f"the token file {path} cannot be read: {exc.strerror or exc}",
                fix="check the path in GMAIL_SEND_TOKEN_FILE (or --token-file); create the file "
                "with: gmail-send auth --client-secrets client_secret.json --token FILE",
                details=details,
            )
        details["token_file_mode"] = f"{mode:04o}"
        if os.name == "posix" and mode & 0o077:
            return CheckResult(
                "configuration",
                title,
                "failed",
                f"{finding}; the token file {path} is readable by other users "
                f"(mode {mode:04o}): it holds a refresh token",
                fix=f"chmod 600 {path}",
                details=details,
            )
    return CheckResult("configuration", title, "passed", finding, details=details)


def _source(what: str, where: str) -> str:
    """`("port", "argument=2587")` -> `--port 2587`; variables are shown as they are."""
    if where.startswith("argument"):
        value = where.removeprefix("argument").removeprefix("=").strip()
        return f"--{what.replace('_', '-')} {value}".rstrip()
    return where


def _describe_credentials(credentials: Credentials) -> str:
    if isinstance(credentials, Fallback):
        return "OAuth2 with an app password as fallback"
    if isinstance(credentials, AppPassword):
        return "app password"
    return f"OAuth2 ({type(credentials).__name__})"
