"""`run_doctor`: the checks in order; a check whose prerequisite failed is skipped."""

from __future__ import annotations

from collections.abc import Callable

from ..auth import TokenSource
from ..auth._credentials import Credentials
from ..smtp._connection import DEFAULT_TIMEOUT
from . import _auth_checks as auth_checks
from . import _dns_checks as dns_checks
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
        auth = record(
            skipped("authentication", "authentication", "skipped: no working SMTP session")
        )
    elif token_unusable:
        auth = record(
            skipped(
                "authentication", "authentication", "skipped: no access token could be obtained"
            )
        )
    elif not config_ok:
        auth = record(skipped("authentication", "authentication", "skipped: configuration failed"))
    else:
        auth = record(await auth_checks.check_authentication(target, credentials))

    if domain is not None:
        for result in await dns_checks.check_domain(
            domain,
            dkim_selector=dkim_selector,
            nameserver=nameserver,
            timeout=min(target.timeout or DEFAULT_TIMEOUT, _DNS_TIMEOUT),
        ):
            record(result)
    if send_test is not None:
        if auth.passed:
            record(await auth_checks.check_send_test(target, credentials, send_test))
        else:
            record(skipped("send-test", "test message", "skipped: authentication did not pass"))
    return DoctorReport(tuple(results))
