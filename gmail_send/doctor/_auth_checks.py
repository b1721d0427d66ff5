"""The doctor's credential checks: token refresh and scope, app password shape, sign-in, and
an optional real test message.

Sign-in goes through the SMTP sign-in step (`smtp._signin.open_session`), the same path a
`GmailSender` takes (one forced refresh after a rejected token, the OAuth2 -> app password
fallback), then QUITs without sending. Findings carry Gmail's reply and the library's hint;
never a secret.
"""

from __future__ import annotations

import time

from .._sender import GmailSender
from ..auth._credentials import (
    AppPassword,
    Credentials,
    Fallback,
    TokenSource,
    app_password_problem,
)
from ..auth._xoauth2 import MAIL_SCOPE
from ..errors import AuthenticationError, GmailSendError
from ..smtp._signin import ConnectionSettings, open_session
from ._report import CheckResult, Status, Target

__all__ = ["check_authentication", "check_credentials", "check_send_test"]

_APP_PASSWORDS_PAGE = "https://myaccount.google.com/apppasswords"


async def check_credentials(credentials: Credentials | None) -> CheckResult:
    """Refresh an OAuth2 token (its granted scope is checked) or check an app password's shape."""
    title = "token refresh and scope / app password"
    if credentials is None:
        return CheckResult(
            "credentials", title, "skipped", "skipped: no credentials (relay by IP address)"
        )
    if isinstance(credentials, Fallback):
        oauth = await _check_token(credentials.oauth, title)
        password = _check_password(credentials.app_password, title)
        statuses = {oauth.status, password.status}
        status: Status = (
            "failed" if "failed" in statuses else "skipped" if statuses == {"skipped"} else "passed"
        )
        return CheckResult(
            "credentials",
            title,
            status,
            f"OAuth2: {oauth.finding}; app password fallback: {password.finding}",
            fix=oauth.fix or password.fix,
        )
    if isinstance(credentials, AppPassword):
        return _check_password(credentials, title)
    return await _check_token(credentials, title)


def _check_password(credentials: AppPassword, title: str) -> CheckResult:
    problem = app_password_problem(credentials.password)
    if problem is not None:
        return CheckResult(
            "credentials",
            title,
            "failed",
            problem,
            fix=f"turn on 2-Step Verification and create an app password at "
            f"{_APP_PASSWORDS_PAGE}, or use OAuth2 (gmail-send auth)",
        )
    return CheckResult(
        "credentials",
        title,
        "passed",
        f"an app password of the right shape (16 letters) for {credentials.user}",
    )


async def _check_token(source: TokenSource, title: str) -> CheckResult:
    # Imported here: the refreshing sources subclass google-auth's requests transport, which
    # the doctor of an app-password setup has no use for.
    from ..auth._refresh import RefreshingTokenSource

    if not isinstance(source, RefreshingTokenSource):
        return CheckResult(
            "credentials",
            title,
            "skipped",
            f"a fixed access token for {source.user}: it cannot be refreshed here; the "
            "sign-in check tests it",
        )
    started = time.monotonic()
    try:
        await source.get_token(force_refresh=True)
    except GmailSendError as exc:
        return CheckResult("credentials", title, "failed", exc.message, fix=exc.hint)
    elapsed = time.monotonic() - started
    expiry = source.expiry
    until = f", valid until {expiry:%Y-%m-%d %H:%M} UTC" if expiry else ""
    return CheckResult(
        "credentials",
        title,
        "passed",
        f"the token endpoint issued a new access token for {source.user} in {elapsed:.2f} s"
        f"{until}; the granted scope includes {MAIL_SCOPE}",
        details={"refresh_seconds": round(elapsed, 3)},
    )


async def check_authentication(target: Target, credentials: Credentials | None) -> CheckResult:
    """Sign in as a `GmailSender` would, then QUIT without sending anything."""
    title = "authentication (nothing sent)"
    settings = ConnectionSettings(
        host=target.host,
        port=target.port,
        security=target.security,
        tls_context=target.tls_context,
        timeout=target.timeout,
    )
    try:
        connection = await open_session(settings, credentials)
    except GmailSendError as exc:
        details = {}
        if isinstance(exc, AuthenticationError):
            details = {
                "code": exc.code,
                "enhanced_code": exc.enhanced_code,
                "oauth_status": exc.oauth_status,
                "oauth_scope": exc.oauth_scope,
            }
        return CheckResult(
            "authentication", title, "failed", exc.message, fix=exc.hint, details=details
        )
    method = connection.auth_method
    await connection.quit()
    if credentials is None:
        return CheckResult(
            "authentication",
            title,
            "passed",
            "session opened without signing in (relay by IP address)",
        )
    finding = f"signed in as {credentials.user} with {(method or 'none').upper()}"
    if isinstance(credentials, Fallback) and credentials.using_fallback:
        error = credentials.last_oauth_error
        reason = f" ({error.message})" if error is not None else ""
        return CheckResult(
            "authentication",
            title,
            "failed",
            f"{finding}: the app password fallback worked, OAuth2 did not{reason}",
            fix=(error.hint if error is not None else None)
            or "fix the OAuth2 credentials; the app password keeps mail flowing meanwhile",
            details={"auth_method": method},
        )
    return CheckResult("authentication", title, "passed", finding, details={"auth_method": method})


async def check_send_test(
    target: Target, credentials: Credentials | None, address: str
) -> CheckResult:
    """Send a real, short test message to `address`."""
    title = f"test message to {address}"
    try:
        async with GmailSender(
            credentials,
            host=target.host,
            port=target.port,
            security=target.security,
            tls_context=target.tls_context,
            timeout=target.timeout,
        ) as gmail:
            result = await gmail.send(
                to=address,
                subject="gmail-send doctor: test message",
                text="This test message was sent by `gmail-send doctor --send-test`.\n",
            )
    except GmailSendError as exc:
        return CheckResult("send-test", title, "failed", exc.message, fix=exc.hint)
    if result.refused:
        refused = ", ".join(f"{a}: {r}" for a, r in result.refused.items())
        return CheckResult(
            "send-test",
            title,
            "failed",
            f"refused: {refused}",
            details={"message_id": result.message_id},
        )
    return CheckResult(
        "send-test",
        title,
        "passed",
        f"accepted as {result.message_id} ({result.reply})",
        fix=None,
        details={"message_id": result.message_id},
    )
