"""The doctor's network checks: DNS of the SMTP host, TCP ports, TLS and EHLO.

These talk to the server directly (aiosmtplib, without signing in) so that each step can be
reported on its own: a port blocked by the ISP or cloud provider, a STARTTLS line removed by a
middlebox, a certificate from a TLS-intercepting proxy. Results only; nothing is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from typing import Any

import aiosmtplib

from ..auth._credentials import AppPassword, Credentials, Fallback
from ..errors import ConfigurationError
from ..smtp._connection import DEFAULT_TIMEOUT, Security, verified_context
from ._report import CheckResult, Target, skipped

__all__ = ["check_ports", "check_resolution", "probe_session"]

_PROBE_TIMEOUT = 10.0
"""Seconds a TCP probe waits: a blocked port usually drops packets, so this is a timeout."""


def _timeout(target: Target) -> float:
    return min(target.timeout or DEFAULT_TIMEOUT, _PROBE_TIMEOUT)


async def check_resolution(target: Target) -> CheckResult:
    """Resolve the SMTP host name with the system resolver."""
    title = f"DNS resolution of {target.host}"
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM),
            _timeout(target),
        )
    except (OSError, asyncio.TimeoutError) as exc:
        reason = "timed out" if isinstance(exc, asyncio.TimeoutError) else str(exc)
        return CheckResult(
            "dns",
            title,
            "failed",
            f"{target.host} does not resolve: {reason}",
            fix="check the host name (smtp.gmail.com, or smtp-relay.gmail.com for Workspace "
            "relay) and this machine's DNS settings (/etc/resolv.conf, VPN, proxy)",
        )
    addresses = sorted({str(info[4][0]) for info in infos})
    return CheckResult(
        "dns",
        title,
        "passed",
        f"{target.host} resolves to {', '.join(addresses)}",
        details={"addresses": addresses},
    )


def alternative_port(port: int) -> int:
    """The other standard Gmail submission port: 465 for 587, 587 for anything else."""
    return 465 if port == 587 else 587


def _security_for(port: int, configured_port: int, configured: Security) -> Security:
    if port == 587:
        return "starttls"
    if port == 465:
        return "tls"
    return "tls" if configured == "starttls" else "starttls"


async def _probe_port(host: str, port: int, timeout: float) -> str:
    """'open', 'refused', 'timed out' or the error text."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except asyncio.TimeoutError:
        return "timed out"
    except ConnectionRefusedError:
        return "refused"
    except OSError as exc:
        return exc.strerror or str(exc)
    except (OverflowError, ValueError) as exc:  # a port outside 0-65535
        return f"not a usable port: {exc}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return "open"


async def check_ports(target: Target, *, other_port: int | None = None) -> CheckResult:
    """Open a TCP connection to the configured port and to the other standard one."""
    other = other_port if other_port is not None else alternative_port(target.port)
    timeout = _timeout(target)
    title = f"TCP reachability of ports {target.port} and {other}"
    mine, theirs = await asyncio.gather(
        _probe_port(target.host, target.port, timeout),
        _probe_port(target.host, other, timeout),
    )
    details = {str(target.port): mine, str(other): theirs}
    other_security = _security_for(other, target.port, target.security)
    if mine == "open":
        note = "open" if theirs == "open" else f"not reachable ({theirs})"
        return CheckResult(
            "tcp",
            title,
            "passed",
            f"port {target.port} on {target.host} is open (the other port, {other}, is {note})",
            details=details,
        )
    blocked = _blocked_words(target.port, mine)
    if theirs == "open":
        return CheckResult(
            "tcp",
            title,
            "failed",
            f"{blocked}; port {other} is reachable",
            fix=f"use port {other} instead: --port {other} --security {other_security} "
            f"(or GMAIL_SEND_PORT={other} GMAIL_SEND_SECURITY={other_security})",
            details=details,
        )
    return CheckResult(
        "tcp",
        title,
        "failed",
        f"{blocked}; port {other} is not reachable either ({theirs})",
        fix="outgoing mail ports are blocked on this network: ask the network administrator "
        "or cloud provider to allow outgoing TCP 587 or 465, or send through a relay they "
        "provide; on a laptop, try another network or switch off the VPN",
        details=details,
    )


def _blocked_words(port: int, outcome: str) -> str:
    if outcome == "timed out":
        return (
            f"port {port} is blocked: the connection timed out (a firewall, the ISP or the "
            "cloud provider drops outgoing mail traffic)"
        )
    if outcome == "refused":
        return f"port {port} is blocked or closed: the connection was refused"
    return f"port {port} is not reachable: {outcome}"


async def probe_session(
    target: Target, credentials: Credentials | None
) -> tuple[CheckResult, CheckResult]:
    """Connect, secure the session and EHLO, without signing in: the TLS and EHLO checks."""
    tls_title = "TLS and certificate"
    ehlo_title = "EHLO capabilities"
    where = f"{target.host}:{target.port}"
    if target.security == "none":
        tls: CheckResult | None = skipped(
            "tls", tls_title, "skipped: security is 'none' (a relay that authorizes by IP address)"
        )
        context = None
    else:
        tls = None
        try:
            context = verified_context(target.tls_context)
        except ConfigurationError as exc:
            failed = CheckResult("tls", tls_title, "failed", exc.message, fix=exc.hint)
            return failed, skipped("ehlo", ehlo_title, "skipped: TLS did not pass")
    smtp = aiosmtplib.SMTP(
        hostname=target.host,
        port=target.port,
        timeout=_timeout(target),
        use_tls=target.security == "tls",
        start_tls=False,
        tls_context=context,
    )
    stage = "connect"
    try:
        greeting = await smtp.connect()
        stage = "ehlo"
        first = await smtp.ehlo()
        if target.security == "starttls":
            if not smtp.supports_extension("starttls"):
                return (
                    CheckResult(
                        "tls",
                        tls_title,
                        "failed",
                        f"{where} did not offer STARTTLS (its EHLO: {_one_line(first.message)})",
                        fix="something between here and the server removed STARTTLS (a "
                        "filtering proxy or antivirus), or this is not a STARTTLS port: use "
                        "port 587 with --security starttls or port 465 with --security tls",
                    ),
                    skipped("ehlo", ehlo_title, "skipped: TLS did not pass"),
                )
            stage = "starttls"
            await smtp.starttls(tls_context=context)
            stage = "ehlo"
            await smtp.ehlo()
        if tls is None:
            tls = _tls_passed(smtp, where)
        return tls, _ehlo_result(smtp, greeting.message, credentials)
    except (ssl.SSLError, aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
        return _probe_failure(target, stage, exc)
    finally:
        if smtp.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await smtp.quit()
        smtp.close()


def _probe_failure(
    target: Target, stage: str, exc: BaseException
) -> tuple[CheckResult, CheckResult]:
    tls_title, ehlo_title = "TLS and certificate", "EHLO capabilities"
    where = f"{target.host}:{target.port}"
    cause = exc.__cause__ if isinstance(exc.__cause__, ssl.SSLError) else exc
    no_ehlo = skipped("ehlo", ehlo_title, "skipped: TLS did not pass")
    if isinstance(cause, ssl.SSLCertVerificationError):
        return CheckResult(
            "tls",
            tls_title,
            "failed",
            f"the certificate of {where} could not be verified: {cause.verify_message}",
            fix="an untrusted certificate usually means TLS interception (a corporate proxy, "
            "antivirus or captive portal): send from a network without it, or, for a private "
            "or test server, give its CA with --ca-file (GMAIL_SEND_CA_FILE); never switch "
            "verification off",
        ), no_ehlo
    if isinstance(cause, ssl.SSLError):
        reason = cause.reason or str(cause)
        if target.security == "tls" and "WRONG_VERSION_NUMBER" in reason:
            return CheckResult(
                "tls",
                tls_title,
                "failed",
                f"{where} did not answer the TLS handshake with TLS ({reason}): it expects "
                "plain SMTP first, as port 587 does",
                fix="use --security starttls on this port (587), or port 465 with --security tls",
            ), no_ehlo
        return CheckResult(
            "tls",
            tls_title,
            "failed",
            f"TLS with {where} failed: {reason}",
            fix="check that this port speaks implicit TLS (465) or STARTTLS (587) as "
            "configured; a proxy that intercepts TLS can also break the handshake",
        ), no_ehlo
    if (
        stage == "connect"
        and target.security == "starttls"
        and (isinstance(exc, (aiosmtplib.SMTPTimeoutError, asyncio.TimeoutError)))
    ):
        return CheckResult(
            "tls",
            tls_title,
            "failed",
            f"{where} sent no SMTP greeting",
            fix="the port may expect implicit TLS (465): use --security tls, or port 587 "
            "with --security starttls",
        ), no_ehlo
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return (
            skipped("tls", tls_title, f"skipped: the server answered {stage} with an error")
            if stage != "starttls"
            else CheckResult(
                "tls", tls_title, "failed", f"STARTTLS refused: {exc.code} {_one_line(exc.message)}"
            ),
            CheckResult(
                "ehlo",
                ehlo_title,
                "failed",
                f"{where} answered {stage.upper()} with {exc.code} {_one_line(exc.message)}",
                fix="the server refused the session; if it is a 421, retry later",
            ),
        )
    return CheckResult(
        "tls",
        tls_title,
        "failed",
        f"the session with {where} broke during {stage}: {exc}",
        fix="retry; if it keeps failing, something on the network interrupts SMTP sessions",
    ), no_ehlo


def _tls_passed(smtp: aiosmtplib.SMTP, where: str) -> CheckResult:
    ssl_object = smtp.get_transport_info("ssl_object")
    details: dict[str, Any] = {}
    if isinstance(ssl_object, ssl.SSLObject):
        cipher = ssl_object.cipher()
        details["version"] = ssl_object.version()
        details["cipher"] = cipher[0] if cipher else None
        cert = ssl_object.getpeercert() or {}
        details["subject"] = _name(cert.get("subject", ()))
        details["issuer"] = _name(cert.get("issuer", ()))
        details["not_after"] = cert.get("notAfter")
    finding = (
        f"{details.get('version')} with {where}; certificate for {details.get('subject')} "
        f"issued by {details.get('issuer')}, valid until {details.get('not_after')}"
    )
    return CheckResult("tls", "TLS and certificate", "passed", finding, details=details)


def _name(parts: Any) -> str:
    for rdn in parts:
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    for rdn in parts:
        for key, value in rdn:
            if key == "organizationName":
                return str(value)
    return "?"


def _ehlo_result(
    smtp: aiosmtplib.SMTP, greeting: str, credentials: Credentials | None
) -> CheckResult:
    methods = [m.upper() for m in smtp.server_auth_methods]
    size = smtp.esmtp_extensions.get("size")
    extensions = sorted(name.upper() for name in smtp.esmtp_extensions if name != "auth")
    details: dict[str, Any] = {
        "greeting": _one_line(greeting),
        "auth": methods,
        "size": size,
        "extensions": extensions,
    }
    finding = (
        f"AUTH {' '.join(methods) or '(none)'}; SIZE {size or '?'}; "
        f"{' '.join(e for e in extensions if e != 'SIZE')}"
    )
    needed = _needed_mechanisms(credentials)
    if needed and not any(m in methods for m in needed):
        return CheckResult(
            "ehlo",
            "EHLO capabilities",
            "failed",
            f"the server offers AUTH {' '.join(methods) or '(none)'}, none of {' '.join(needed)}",
            fix="check host and port: smtp.gmail.com offers XOAUTH2, LOGIN and PLAIN after "
            "TLS; smtp-relay.gmail.com without TLS offers no AUTH at all",
            details=details,
        )
    return CheckResult("ehlo", "EHLO capabilities", "passed", finding, details=details)


def _needed_mechanisms(credentials: Credentials | None) -> tuple[str, ...]:
    if credentials is None:
        return ()
    if isinstance(credentials, AppPassword):
        return ("LOGIN", "PLAIN")
    if isinstance(credentials, Fallback):
        return ("XOAUTH2", "LOGIN", "PLAIN")
    return ("XOAUTH2",)


def _one_line(text: str) -> str:
    return " / ".join(line.strip() for line in text.splitlines() if line.strip())
