"""The doctor's checks for the Gmail API, and for whether the token fits the chosen transport.

- `check_api_reachable`: a TCP connection to the API's port 443 and a verified TLS handshake
  (with the same context the sender uses), so a blocked port, a proxy that must be configured
  and a TLS-intercepting middlebox are told apart;
- `check_scopes`: what the token was granted (after the credentials check refreshed it) against
  the transport: SMTP needs `https://mail.google.com/`, the API one of the sending scopes, and
  `auto` goes where the grant allows. An app password opens SMTP only.

Nothing is sent here: with only `gmail.send` there is no harmless request to try the token on,
so the real proof is `--send-test`, which sends through the chosen transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from urllib.parse import urlsplit

from ..auth._credentials import AppPassword, Credentials, Fallback
from ..auth._scopes import MAIL_SCOPE, SEND_SCOPE, granted_scopes, sends_over
from ..errors import ConfigurationError
from ..smtp._connection import DEFAULT_TIMEOUT, verified_context
from ._report import CheckResult, Target

__all__ = ["api_address", "check_api_reachable", "check_scopes"]

_PROBE_TIMEOUT = 10.0


def api_address(target: Target) -> tuple[str, int]:
    """The host and port of `target.api_url` (443 unless the URL names another)."""
    parts = urlsplit(target.api_url)
    return parts.hostname or "gmail.googleapis.com", parts.port or 443


async def check_api_reachable(target: Target) -> CheckResult:
    """Open a TCP connection to the Gmail API and finish a verified TLS handshake."""
    host, port = api_address(target)
    title = f"HTTPS to the Gmail API ({host}:{port})"
    try:
        context = verified_context(target.tls_context)
    except ConfigurationError as exc:
        return CheckResult("api", title, "failed", exc.message, fix=exc.hint)
    timeout = min(target.timeout or DEFAULT_TIMEOUT, _PROBE_TIMEOUT)
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, server_hostname=host), timeout
        )
    except ssl.SSLCertVerificationError as exc:
        return CheckResult(
            "api",
            title,
            "failed",
            f"port {port} answers, but its certificate could not be verified: {exc.verify_message}",
            fix="a proxy or antivirus may be intercepting HTTPS; give its CA with --ca-file "
            "(never switch certificate checks off)",
        )
    except ssl.SSLError as exc:
        return CheckResult("api", title, "failed", f"TLS failed: {exc.reason or exc}")
    except (OSError, asyncio.TimeoutError) as exc:
        what = "timed out" if isinstance(exc, asyncio.TimeoutError) else _os_words(exc)
        return CheckResult(
            "api",
            title,
            "failed",
            f"{host}:{port} cannot be reached ({what})",
            fix="allow outgoing HTTPS to gmail.googleapis.com; behind a proxy, set "
            "HTTPS_PROXY for this process",
            details={"outcome": what},
        )
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
    return CheckResult(
        "api", title, "passed", f"port {port} of {host} is reachable; its certificate verified"
    )


def _os_words(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    return getattr(exc, "strerror", None) or type(exc).__name__


def check_scopes(credentials: Credentials | None, target: Target) -> CheckResult:
    """Whether the credentials can send over `target.transport`, and where `auto` would go."""
    transport = target.transport
    title = f"credentials for transport {transport}"
    if credentials is None or isinstance(credentials, AppPassword):
        what = "no credentials (relay by IP)" if credentials is None else "an app password"
        if transport == "api":
            return CheckResult(
                "scopes",
                title,
                "failed",
                f"{what}: the Gmail API takes OAuth2 access tokens only",
                fix="use OAuth2 (gmail-send auth --scope send), or --transport smtp",
            )
        return CheckResult("scopes", title, "passed", f"{what}: sends over SMTP")
    source = credentials.oauth if isinstance(credentials, Fallback) else credentials
    scopes = granted_scopes(source)
    if scopes is None:
        return CheckResult(
            "scopes",
            title,
            "skipped",
            "the token's scopes are not known here (a fixed access token); the sign-in or "
            "--send-test tries it",
        )
    doors = sends_over(scopes)
    granted = " ".join(sorted(scopes))
    if transport == "smtp" and "smtp" not in doors:
        return CheckResult(
            "scopes",
            title,
            "failed",
            f"the token is granted {granted!r}; Gmail's SMTP needs {MAIL_SCOPE}",
            fix="send through the Gmail API (--transport api or auto; GMAIL_SEND_TRANSPORT), "
            f"or authorize again with {MAIL_SCOPE}: gmail-send auth --scope mail",
            details={"scopes": sorted(scopes)},
        )
    if transport == "api" and "api" not in doors:
        return CheckResult(
            "scopes",
            title,
            "failed",
            f"the token is granted {granted!r}, no scope that sends through the Gmail API",
            fix=f"authorize again with {SEND_SCOPE}: gmail-send auth --scope send",
            details={"scopes": sorted(scopes)},
        )
    if transport == "auto":
        where = (
            "auto sends through the Gmail API (the grant has no SMTP scope)"
            if "smtp" not in doors
            else "auto sends over SMTP where it can be reached, else through the Gmail API"
        )
        return CheckResult(
            "scopes", title, "passed", f"granted {granted!r}: {where}", details={"doors": doors}
        )
    return CheckResult(
        "scopes",
        title,
        "passed",
        f"granted {granted!r}: sends over {'SMTP' if transport == 'smtp' else 'the Gmail API'}",
        details={"doors": doors},
    )
