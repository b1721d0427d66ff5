"""`run_doctor`: the checks in order; a check whose prerequisite failed is skipped."""

from __future__ import annotations

from collections.abc import Callable

from ..auth import TokenSource
from ..auth._credentials import Credentials
from ..smtp._connection import DEFAULT_TIMEOUT
from . import _api_checks as api_checks
from . import _auth_checks as auth_checks
from . import _dns_checks as dns_checks
from . import _imap_checks as imap_checks
from . import _net_checks as net_checks
from ._report import CheckResult, DoctorReport, Target, skipped

__all__ = ["run_doctor"]

_DNS_TIMEOUT = 10.0
"""Seconds each TXT lookup of the domain checks may take at most."""


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

    Args:
        target: where to connect.
        credentials: who signs in; None for a relay that authorizes by IP address.
        configuration: the result of `configuration_check`, reported first; None: not checked.
        other_port: the alternative port probed next to `target.port`.
        domain: a custom sending domain whose SPF, DKIM and DMARC records are checked; None
            to skip those checks.
        dkim_selector: the DKIM selector looked up under `domain` ("google" by default).
        nameserver: the DNS server the domain checks ask ("ip", "ipv4:port" or
            "[ipv6]:port"); None for the system's resolvers.
        send_test: an address to send a real test message to, once authentication passed.
        on_check: called with each result as soon as it is known.

    Returns:
        The `DoctorReport`.
    """
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
    over_smtp = target.transport in ("smtp", "auto")
    over_api = target.transport in ("api", "auto")

    ehlo: CheckResult | None = None
    if over_smtp:
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
    api: CheckResult | None = None
    if over_api:
        api = record(await api_checks.check_api_reachable(target))

    if not config_ok:
        creds = record(skipped("credentials", "credentials", "skipped: configuration failed"))
    else:
        creds = record(await auth_checks.check_credentials(credentials))
    scopes: CheckResult | None = None
    if over_api:
        if creds.failed or not config_ok:
            reason = "configuration failed" if not config_ok else "no access token"
            scopes = record(
                skipped("scopes", "credentials for the transport", f"skipped: {reason}")
            )
        else:
            scopes = record(api_checks.check_scopes(credentials, target))
    auth: CheckResult | None = None
    if ehlo is not None:
        auth = record(await _authentication(target, credentials, creds, ehlo, scopes, config_ok))
        if auth.passed:
            record(await imap_checks.check_sent_lookup(target, credentials))
        else:
            record(
                skipped(
                    "sent-lookup",
                    "Sent Mail lookup over IMAP",
                    "skipped: SMTP authentication did not pass",
                )
            )

    if domain is not None:
        for result in await dns_checks.check_domain(
            domain,
            dkim_selector=dkim_selector,
            nameserver=nameserver,
            timeout=min(target.timeout or DEFAULT_TIMEOUT, _DNS_TIMEOUT),
        ):
            record(result)
    if send_test is not None:
        by_smtp = auth is not None and auth.passed
        by_api = (
            api is not None and api.passed and scopes is not None and not scopes.failed
        ) and not creds.failed
        if by_smtp or by_api:
            record(await auth_checks.check_send_test(target, credentials, send_test))
        else:
            why = "authentication did not pass" if not over_api else "the checks above failed"
            record(skipped("send-test", "test message", f"skipped: {why}"))
    return DoctorReport(tuple(results))


async def _authentication(
    target: Target,
    credentials: Credentials | None,
    creds: CheckResult,
    ehlo: CheckResult,
    scopes: CheckResult | None,
    config_ok: bool,
) -> CheckResult:
    """The SMTP sign-in check, or why it was skipped."""
    title = "authentication"
    # A token source that produced no token cannot sign in; an app password of the wrong
    # shape still gets its answer from the server, which is the more precise finding.
    if not ehlo.passed:
        return skipped("authentication", title, "skipped: no working SMTP session")
    if creds.failed and isinstance(credentials, TokenSource):
        return skipped("authentication", title, "skipped: no access token could be obtained")
    if not config_ok:
        return skipped("authentication", title, "skipped: configuration failed")
    doors = scopes.details.get("doors", ()) if scopes is not None else ()
    if target.transport == "auto" and doors and "smtp" not in doors:
        return skipped(
            "authentication",
            title,
            "skipped: the token opens the Gmail API only, where auto sends",
        )
    return await auth_checks.check_authentication(target, credentials)
