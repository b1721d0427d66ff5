"""`gmail-send doctor` as a library: checks that explain why sending through Gmail fails.

Each check returns a `CheckResult` (passed / failed / skipped, the finding, a concrete fix);
`run_doctor` runs them in order and skips, rather than fails, the checks whose prerequisite
failed. Nothing here prints: the CLI (or an application's health endpoint) renders the report.

    report = await run_doctor(Target("smtp.gmail.com", 587, "starttls"), credentials,
                              domain="example.com")
    for check in report.checks:
        print(check.status, check.title, check.finding)

The network checks live in `net_checks` (DNS, TCP, TLS, EHLO), the credential checks in
`auth_checks` (token refresh, app password, sign-in, test message) and the domain's mail
authentication records in `dns_checks` (SPF, DKIM, DMARC).
"""

from __future__ import annotations

import os
import ssl
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .connection import DEFAULT_TIMEOUT, Security
from .credentials import AppPassword, Credentials, Fallback, TokenSource
from .errors import GmailSendError

__all__ = [
    "CheckResult",
    "DoctorReport",
    "Status",
    "Target",
    "configuration_check",
    "run_doctor",
    "skipped",
]

Status = Literal["passed", "failed", "skipped"]

_DNS_TIMEOUT = 10.0
"""Seconds each TXT lookup of the domain checks may take at most."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check. `fix` says what to do when it failed; never holds a secret."""

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
    """Every check in the order it ran; `ok` is false when one failed."""

    checks: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return not any(check.failed for check in self.checks)

    def check(self, name: str) -> CheckResult:
        """The check called `name` (KeyError if it is not in the report)."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [check.to_dict() for check in self.checks]}


@dataclass(frozen=True)
class Target:
    """Where the doctor connects: the same settings a `GmailSender` would use."""

    host: str
    port: int
    security: Security
    tls_context: ssl.SSLContext | None = None
    timeout: float | None = DEFAULT_TIMEOUT


def configuration_check(
    *,
    found: Sequence[tuple[str, str]],
    credentials: Credentials | None,
    token_file: str | os.PathLike[str] | None = None,
    error: GmailSendError | None = None,
) -> CheckResult:
    """Which credentials were found and where; a token file others can read is a failure."""
    title = "configuration"
    if error is not None:
        return CheckResult(
            "configuration", title, "failed", error.message,
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
                "configuration", title, "failed",
                f"the token file {path} cannot be read: {exc.strerror or exc}",
                fix="check the path in GMAIL_SEND_TOKEN_FILE (or --token-file); create the file "
                "with: gmail-send auth --client-secrets client_secret.json --token FILE",
                details=details,
            )
        details["token_file_mode"] = f"{mode:04o}"
        if os.name == "posix" and mode & 0o077:
            return CheckResult(
                "configuration", title, "failed",
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


async def run_doctor(
    target: Target,
    credentials: Credentials | None,
    *,
    configuration: CheckResult | None = None,
    other_port: int | None = None,
    domain: str | None = None,
    dkim_selector: str = "google",
    nameserver: str | None = None,
    send_test: str | None = None,
    on_check: Callable[[CheckResult], object] | None = None,
) -> DoctorReport:
    """Run the checks in order and return the report.

    `configuration` is the result of `configuration_check` (None: not checked);
    `other_port` is the alternative port probed next to `target.port` (default: 465 for 587
    and 587 for anything else); `nameserver` ("ip" or "ip:port") is where the domain checks
    ask; `send_test` is an address to send a real test message to. `on_check` is called with
    each result as soon as it is known (for progress output).
    """
    from . import auth_checks, dns_checks, net_checks

    results: list[CheckResult] = []

    def record(result: CheckResult) -> CheckResult:
        results.append(result)
        if on_check is not None:
            on_check(result)
        return result

    if configuration is not None:
        record(configuration)
    # Only settings that could not be loaded stop the credential checks (a token file that
    # others can read is a finding of its own, not a reason to skip the sign-in).
    config_ok = configuration is None or configuration.details.get("loaded", True) is not False

    resolved = record(await net_checks.check_resolution(target))
    if resolved.passed:
        ports = record(await net_checks.check_ports(target, other_port=other_port))
    else:
        ports = record(skipped("tcp", "TCP reachability", "skipped: the host did not resolve"))
    if ports.passed:
        tls, ehlo = await net_checks.probe_session(target, credentials)
        record(tls)
        record(ehlo)
    else:
        record(skipped("tls", "TLS and certificate", "skipped: the port is not reachable"))
        ehlo = record(skipped("ehlo", "EHLO capabilities", "skipped: no SMTP session"))

    if not config_ok:
        creds = record(skipped("credentials", "credentials", "skipped: configuration failed"))
    else:
        creds = record(await auth_checks.check_credentials(credentials))
    # A token source that produced no token cannot sign in; an app password of the wrong
    # shape still gets its answer from the server, which is the more precise finding.
    token_unusable = creds.failed and isinstance(credentials, TokenSource)
    if not ehlo.passed:
        auth = record(skipped("authentication", "authentication",
                              "skipped: no working SMTP session"))
    elif token_unusable:
        auth = record(skipped("authentication", "authentication",
                              "skipped: no access token could be obtained"))
    elif not config_ok:
        auth = record(skipped("authentication", "authentication",
                              "skipped: configuration failed"))
    else:
        auth = record(await auth_checks.check_authentication(target, credentials))

    if domain is not None:
        for result in await dns_checks.check_domain(
            domain, dkim_selector=dkim_selector, nameserver=nameserver,
            timeout=min(target.timeout or DEFAULT_TIMEOUT, _DNS_TIMEOUT),
        ):
            record(result)
    if send_test is not None:
        if auth.passed:
            record(await auth_checks.check_send_test(target, credentials, send_test))
        else:
            record(skipped("send-test", "test message", "skipped: authentication did not pass"))
    return DoctorReport(tuple(results))
