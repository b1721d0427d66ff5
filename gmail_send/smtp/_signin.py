"""Opening a signed-in session: the one forced token refresh, and OAuth2 -> app password fallback.

Every new session (the sender's, or each of a pool's) goes through `open_session`, so the rules
for signing in live in one place:

- Gmail rejected an access token (`classify(error).new_token`): ask the token source once for
  a new one and sign in again on a new connection, by the rule every door shares
  (`auth/_renewal.py`: a source that hands out the same token again is not tried twice).
- `Fallback(oauth, app_password)`: when the OAuth2 side cannot produce a token, or Gmail still
  rejects it after that refresh, sign in with the app password, log one warning, and try OAuth2
  again only after `retry_oauth_after` seconds.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass

from ..auth._credentials import (
    Credentials,
    Fallback,
    SingleCredentials,
    TokenSource,
)
from ..auth._renewal import no_other_token, refused_token, with_renewal
from ..auth._scopes import granted_scopes, sends_over
from ..auth._token_errors import smtp_scope_error
from ..errors import AuthenticationError
from ._connection import (
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_TIMEOUT,
    AccessToken,
    Login,
    Security,
    SMTPConnection,
)

__all__ = ["ConnectionSettings", "open_session", "session_still_wanted"]

log = logging.getLogger("gmail_send.smtp")


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect; everything but the credentials."""

    host: str
    port: int
    security: Security
    tls_context: ssl.SSLContext | None = None
    timeout: float | None = DEFAULT_TIMEOUT
    local_hostname: str | None = None
    pipelining: bool = True
    chunking: bool = True
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT

    def new_connection(self) -> SMTPConnection:
        return SMTPConnection(
            host=self.host,
            port=self.port,
            security=self.security,
            tls_context=self.tls_context,
            timeout=self.timeout,
            local_hostname=self.local_hostname,
            pipelining=self.pipelining,
            chunking=self.chunking,
            max_in_flight=self.max_in_flight,
        )


async def open_session(
    settings: ConnectionSettings, credentials: Credentials | None
) -> SMTPConnection:
    """A connected, secured and signed-in session, following the rules in this module's doc."""
    if isinstance(credentials, Fallback):
        return await _open_with_fallback(settings, credentials)
    return await _open_single(settings, credentials)


async def _open_single(
    settings: ConnectionSettings, credentials: SingleCredentials | None
) -> SMTPConnection:
    if not isinstance(credentials, TokenSource):
        return await _signed_in(settings, credentials)
    source = credentials

    async def sign_in(token: str) -> SMTPConnection:
        scopes = granted_scopes(source)  # known once the source has a token
        if scopes is not None and "smtp" not in sends_over(scopes):
            raise smtp_scope_error(source.user, scopes)  # no login wasted on a refusal
        return await _signed_in(settings, AccessToken(source.user, token))

    return await with_renewal(
        source,
        sign_in,
        refused=refused_token,
        not_renewed=no_other_token,
        log=log,
        door="Gmail",
    )


async def _signed_in(settings: ConnectionSettings, login: Login | None) -> SMTPConnection:
    connection = settings.new_connection()
    await connection.open(login)
    return connection


async def _open_with_fallback(settings: ConnectionSettings, fallback: Fallback) -> SMTPConnection:
    if not fallback.using_fallback:
        try:
            connection = await _open_single(settings, fallback.oauth)
        except AuthenticationError as exc:
            fallback.record_oauth_failure(exc)
        else:
            fallback.record_oauth_success()
            return connection
    try:
        return await _open_single(settings, fallback.app_password)
    except AuthenticationError as exc:
        oauth_error = fallback.last_oauth_error
        if oauth_error is None:
            raise
        raise AuthenticationError(
            f"{exc.message}; OAuth2 had failed before: {oauth_error.message}",
            hint=exc.hint,
            reply=exc.reply,
            mechanism=exc.mechanism,
        ) from exc


def session_still_wanted(connection: SMTPConnection, credentials: Credentials | None) -> bool:
    """False for a session signed in with a Fallback's app password once OAuth2's rest is
    over: retiring it lets the next session try OAuth2 again, so a repaired refresh token
    takes over without a restart."""
    return not (
        isinstance(credentials, Fallback)
        and connection.auth_method in ("login", "plain")
        and not credentials.using_fallback
    )
