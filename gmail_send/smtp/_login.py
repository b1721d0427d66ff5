"""Signing a session in on aiosmtplib: an app password (PLAIN or LOGIN), or XOAUTH2.

One attempt with one mechanism, every failure typed: each failed login counts toward Gmail's
throttle, so what to do next (a new token, the fallback, waiting) is the caller's decision.
XOAUTH2 goes through `execute_command` rather than aiosmtplib's `auth_xoauth2`, which drops
the 334 challenge whose JSON says why Gmail refused the token.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiosmtplib

from .._result import AuthMethod
from ..auth._credentials import AppPassword
from ..auth._xoauth2 import XOAuth2Challenge, build_xoauth2, parse_xoauth2_challenge
from ..errors import AuthenticationError, GmailConnectionError
from ._replies import error_for_reply, parse_reply

__all__ = ["AccessToken", "Login", "sign_in"]


@dataclass(frozen=True)
class AccessToken:
    """What an XOAUTH2 login sends: the mailbox and an access token (kept out of the repr)."""

    user: str
    token: str = field(repr=False)


Login = AppPassword | AccessToken
"""What one session signs in with."""


async def sign_in(smtp: aiosmtplib.SMTP, login: Login) -> AuthMethod:
    """Sign `smtp` (connected, encrypted, after EHLO) in with `login`; the method used."""
    methods = smtp.server_auth_methods
    if isinstance(login, AppPassword):
        # PLAIN carries the credentials in its first line: one round trip, LOGIN takes two.
        method: AuthMethod = "plain" if "plain" in methods else "login"
        if method not in methods:
            raise AuthenticationError(
                f"the server offers no password login (it offers {methods or 'none'})",
                hint="use OAuth2 credentials, or check host and port",
            )
        await _password_login(smtp, method, login)
        return method
    if "xoauth2" not in methods:
        raise AuthenticationError(
            f"the server does not offer XOAUTH2 (it offers {methods or 'none'})",
            hint="use an AppPassword for this server, or check host and port",
        )
    await _xoauth2_login(smtp, login)
    return "xoauth2"


async def _password_login(
    smtp: aiosmtplib.SMTP, method: AuthMethod, credentials: AppPassword
) -> None:
    try:
        if method == "login":
            await smtp.auth_login(credentials.user, credentials.password)
        else:
            await smtp.auth_plain(credentials.user, credentials.password)
    except aiosmtplib.SMTPAuthenticationError as exc:
        reply = parse_reply(exc.code, exc.message)
        raise error_for_reply(reply, stage="auth", mechanism=method) from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise GmailConnectionError(
            f"connection lost during login: {exc}", after_greeting=True
        ) from None


async def _xoauth2_login(smtp: aiosmtplib.SMTP, login: AccessToken) -> None:
    blob = build_xoauth2(login.user, login.token).encode("ascii")
    challenge: XOAuth2Challenge | None = None
    try:
        response = await smtp.execute_command(b"AUTH", b"XOAUTH2", blob)
        if response.code == 334:
            challenge = parse_xoauth2_challenge(response.message)
            response = await smtp.execute_command(b"")
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise GmailConnectionError(
            f"connection lost during login: {exc}", after_greeting=True
        ) from None
    if response.code == 235:
        return
    reply = parse_reply(response.code, response.message)
    raise error_for_reply(
        reply,
        stage="auth",
        mechanism="xoauth2",
        oauth_status=challenge.status if challenge else None,
        oauth_scope=challenge.scope if challenge else None,
        hint=challenge.hint if challenge else None,
    )
