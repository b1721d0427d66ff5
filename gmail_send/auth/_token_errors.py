"""What a failed token grant means, and what the user should do about it.

google-auth raises `RefreshError(message, payload)` where the payload is the token endpoint's
JSON answer (`error`, `error_description`); `TransportError` when the endpoint cannot be
reached. These become `TokenError`s whose hint names the likely cause: the refresh token's
7-day expiry under a consent screen in "Testing" status, a wrong client secret, a missing
scope, domain-wide delegation not granted. Google's `error_description` texts are fixed
sentences without secrets; as a safety net, known secrets are scrubbed from every text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from ..errors import TokenError
from ._scopes import MAIL_SCOPE, SEND_SCOPE

if TYPE_CHECKING:
    import google.auth.exceptions

__all__ = [
    "AUTH_AGAIN",
    "GrantKind",
    "describe_refresh_failure",
    "missing_scope_error",
    "oauth_error_fields",
    "smtp_scope_error",
]

GrantKind = Literal["user", "service_account"]

AUTH_AGAIN = "gmail-send auth --client-secrets client_secret.json --token token.json"
"""The command that obtains a new refresh token (the consent flow)."""

_TRANSIENT = {"server_error", "temporarily_unavailable", "internal_failure"}
_MAX_DESCRIPTION = 300


def oauth_error_fields(exc: BaseException) -> tuple[str | None, str | None]:
    """The `error` code and `error_description` of a token endpoint's error answer."""
    payload = exc.args[1] if len(exc.args) > 1 else None
    if isinstance(payload, Mapping):
        code = payload.get("error")
        description = payload.get("error_description")
        return (
            code if isinstance(code, str) else None,
            description if isinstance(description, str) else None,
        )
    return None, None


def describe_refresh_failure(
    exc: Exception,
    *,
    kind: GrantKind,
    user: str,
    token_uri: str | None = None,
    client_id: str | None = None,
    secrets: Iterable[str] = (),
) -> TokenError:
    """Turn a google-auth refresh failure into a `TokenError` with a hint. No secret leaks."""
    # Imported here: AUTH_AGAIN and the token file module (which config reads) stay free of
    # google-auth; only a refresh, which has google-auth loaded already, gets this far.
    import google.auth.exceptions

    scrub = _Scrubber(secrets)
    if isinstance(exc, google.auth.exceptions.RefreshError):
        code, description = oauth_error_fields(exc)
        if code is None:
            detail = scrub(str(exc.args[0]) if exc.args else type(exc).__name__)
        else:
            detail = code + (f": {scrub(description)}" if description else "")
        what = "the service account grant" if kind == "service_account" else "the token refresh"
        message = f"{what} for {user} was refused ({detail})"
        if kind == "service_account":
            return TokenError(message, hint=_service_account_hint(code, description, client_id))
        return TokenError(message, hint=_user_hint(code, exc))
    if isinstance(exc, google.auth.exceptions.TransportError):
        return _unreachable(exc, token_uri, scrub)
    return TokenError(
        f"refreshing the access token for {user} failed: {type(exc).__name__}",
        hint="see the exception's __cause__; nothing was sent",
    )


def missing_scope_error(user: str, granted: str, *, kind: GrantKind) -> TokenError:
    """The token endpoint issued a token without a scope that can send mail."""
    if kind == "service_account":
        hint = (
            f"add {MAIL_SCOPE} (SMTP and the Gmail API) or {SEND_SCOPE} (the Gmail API only) "
            "to the service account's client id under domain-wide delegation in the Google "
            "Admin console"
        )
    else:
        hint = (
            f"Gmail's SMTP needs the {MAIL_SCOPE} scope, the Gmail API {MAIL_SCOPE} or "
            f"{SEND_SCOPE}; obtain a new token with one of them: {AUTH_AGAIN} (add "
            "`--scope send` for the narrow one)"
        )
    return TokenError(
        f"the access token for {user} lacks the {MAIL_SCOPE} scope and every other scope "
        f"that can send mail (granted: {granted!r})",
        hint=hint,
    )


def smtp_scope_error(user: str, granted: frozenset[str]) -> TokenError:
    """A token that can send through the Gmail API only is about to sign in over SMTP."""
    return TokenError(
        f"the access token for {user} is granted {' '.join(sorted(granted))!r}, not "
        f"{MAIL_SCOPE}, the only scope Gmail's SMTP accepts",
        hint="send through the Gmail API instead (transport='api' or 'auto'), or authorize "
        f"again with {MAIL_SCOPE}: {AUTH_AGAIN}",
    )


def _user_hint(code: str | None, exc: google.auth.exceptions.RefreshError) -> str:
    if code == "invalid_grant":
        return (
            "the refresh token was revoked, or it expired: an OAuth consent screen in "
            "'Testing' publishing status issues refresh tokens that expire after 7 days "
            "(publish the app to 'In production': Google Cloud console > OAuth consent screen, "
            "now Google Auth Platform > Audience); one unused for 6 months, or from before a "
            "password change, expires too; "
            f"get a new one with: {AUTH_AGAIN}"
        )
    if code in ("invalid_client", "unauthorized_client", "deleted_client"):
        return (
            "the client id or client secret is wrong, or the OAuth client was deleted: the "
            "token file's client_id and client_secret must belong to the OAuth client that "
            f"issued the refresh token; run again with the right client secrets: {AUTH_AGAIN}"
        )
    if code == "invalid_scope":
        return (
            f"the refresh token does not cover the requested scopes; it needs {MAIL_SCOPE}: "
            f"{AUTH_AGAIN}"
        )
    if code in _TRANSIENT or getattr(exc, "retryable", False):
        return "the token endpoint had a temporary problem; try again in a moment"
    if code is None:
        return (
            "the token file may lack refresh_token, client_id or client_secret, or the "
            f"token endpoint gave an answer that is not OAuth2 JSON; {AUTH_AGAIN}"
        )
    return f"if it persists, obtain a new refresh token: {AUTH_AGAIN}"


def _service_account_hint(code: str | None, description: str | None, client_id: str | None) -> str:
    client = f"client id {client_id}" if client_id else "the service account's client id"
    delegation = (
        f"in the Google Admin console (Security > Access and data control > API controls > "
        f"Manage Domain Wide Delegation) add {client} with the scope {MAIL_SCOPE}"
    )
    if code in ("unauthorized_client", "access_denied"):
        return (
            f"domain-wide delegation is not granted for this client id and scope: {delegation}"
            "; changes can take some minutes to apply"
        )
    text = (description or "").lower()
    if code == "invalid_grant" and ("email" in text or "user" in text):
        return (
            "the subject is not a user of the Workspace domain (domain-wide delegation only "
            "works for mailboxes of your own Workspace domain, never consumer @gmail.com)"
        )
    if code == "invalid_grant" and "signature" in text:
        return "the service account key was deleted or is wrong: create a new JSON key"
    if code == "invalid_grant" and ("time" in text or "short-lived" in text or "iat" in text):
        return "the machine's clock is off: synchronize it (NTP) and try again"
    if code == "invalid_scope":
        return f"the grant must ask for {MAIL_SCOPE}; {delegation}"
    if code in _TRANSIENT:
        return "the token endpoint had a temporary problem; try again in a moment"
    return (
        "check that the subject exists in your Workspace domain, that the key is valid and "
        f"that {delegation}"
    )


def _unreachable(
    exc: google.auth.exceptions.TransportError, token_uri: str | None, scrub: _Scrubber
) -> TokenError:
    cause = exc.args[0] if exc.args else None
    cause_name = type(cause).__name__ if isinstance(cause, BaseException) else type(exc).__name__
    host = urlsplit(token_uri).netloc if token_uri else None
    where = f" ({host})" if host else ""
    if "SSL" in cause_name:
        hint = (
            "the token endpoint's TLS certificate could not be verified; a proxy that "
            "intercepts TLS needs its CA in REQUESTS_CA_BUNDLE"
        )
    else:
        hint = (
            "token endpoint unreachable: check the network, DNS, proxy settings "
            "(HTTPS_PROXY) and firewall; nothing was sent"
        )
    return TokenError(
        f"token endpoint unreachable{where}: {scrub(cause_name)}",
        hint=hint,
    )


class _Scrubber:
    """Replaces known secrets with *** and shortens long server texts."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = [s for s in secrets if s and len(s) >= 4]

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        if len(text) > _MAX_DESCRIPTION:
            text = text[:_MAX_DESCRIPTION] + "..."
        return text
