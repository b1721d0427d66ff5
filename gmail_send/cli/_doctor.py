"""`gmail-send doctor`: runs `gmail_send.doctor.run_doctor` with the CLI's settings and prints it.

Settings come from `from_env()` with the flags as overrides. When they are incomplete the
configuration check fails, and the network checks still run against the host and port that
could be read, so a blocked port is found even before credentials are set up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any

from .._options import DEFAULT_API_URL, load_ca_file
from .._types import Transport
from ..auth._credentials import Credentials
from ..config import from_env
from ..doctor import CheckResult, DoctorReport, Target, configuration_check, run_doctor
from ..errors import ConfigurationError
from ..smtp._connection import DEFAULT_TIMEOUT, GMAIL_HOST, Security, default_port

__all__ = ["format_check", "run_doctor_command"]

_LABELS = {"passed": "PASSED ", "failed": "FAILED ", "skipped": "SKIPPED"}


def format_check(check: CheckResult) -> str:
    """One check as the CLI prints it: status, title, finding, and the fix when it failed."""
    finding = check.finding.replace("\n", "\n          ")
    line = f"{_LABELS[check.status]}  {check.title}: {finding}"
    if check.fix and check.status == "failed":
        line += f"\n          fix: {check.fix}"
    return line


def _target_without_settings(overrides: Mapping[str, Any], environ: Mapping[str, str]) -> Target:
    """The host, port and security the network checks use when the settings are incomplete."""

    def get(name: str) -> str | None:
        value = overrides.get(name.lower())
        if value is not None:
            return str(value)
        return environ.get(f"GMAIL_SEND_{name}", "").strip() or None

    security_name = get("SECURITY") or "starttls"
    security: Security = "starttls"
    if security_name in ("tls", "none"):
        security = "tls" if security_name == "tls" else "none"
    port_text = get("PORT")
    port = default_port(security)
    if port_text and port_text.isascii() and port_text.isdigit() and 1 <= int(port_text) <= 65535:
        port = int(port_text)
    transport: Transport = "smtp"
    transport_name = get("TRANSPORT")
    if transport_name in ("api", "auto"):
        transport = "api" if transport_name == "api" else "auto"
    api_url = get("API_URL") or DEFAULT_API_URL
    context = None
    ca_file = get("CA_FILE")
    if ca_file:
        try:
            context = load_ca_file(ca_file)
        except ConfigurationError:
            context = None  # the configuration check reports it
    return Target(
        get("HOST") or GMAIL_HOST,
        port,
        security,
        context,
        DEFAULT_TIMEOUT,
        transport=transport,
        api_url=api_url if api_url.startswith("https://") else DEFAULT_API_URL,
    )


def _describe(target: Target) -> str:
    smtp = f"{target.host}:{target.port} ({target.security})"
    if target.transport == "smtp":
        return smtp
    if target.transport == "api":
        return f"the Gmail API at {target.api_url}"
    return f"{smtp} or the Gmail API at {target.api_url} (auto)"


def run_doctor_command(
    args: argparse.Namespace,
    overrides: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    out: Callable[[str], object],
) -> int:
    """Run `gmail-send doctor`; 0 when every check passed or was skipped, 1 otherwise."""
    credentials: Credentials | None = None
    try:
        try:
            settings = from_env(environ, **overrides)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
    except ConfigurationError as exc:
        configuration = configuration_check(found=(), credentials=None, error=exc)
        target = _target_without_settings(overrides, environ)
    else:
        credentials = settings.credentials
        configuration = configuration_check(
            found=settings.describe(), credentials=credentials, token_file=settings.token_file
        )
        target = Target(
            settings.host,
            settings.resolved_port,
            settings.security,
            settings.client_tls_context,
            settings.timeout,
            transport=settings.transport,
            api_url=settings.api_url,
            imap_host=settings.imap_host,
            imap_port=settings.imap_port,
        )

    def progress(check: CheckResult) -> None:
        if not args.json:
            out(format_check(check))

    if not args.json:
        out(f"gmail-send doctor: {_describe(target)}")
    report: DoctorReport = asyncio.run(
        run_doctor(
            target,
            credentials,
            configuration=configuration,
            other_port=args.other_port,
            domain=args.domain,
            dkim_selector=args.dkim_selector,
            nameserver=args.nameserver,
            send_test=args.send_test,
            on_check=progress,
        )
    )
    if args.json:
        out(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        counts = {status: 0 for status in ("passed", "failed", "skipped")}
        for check in report.checks:
            counts[check.status] += 1
        out(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    return 0 if report.ok else 1
