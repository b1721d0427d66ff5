"""Credentials from named settings (`GMAIL_SEND_*` values): which source, read how.

`config.from_env` hands over a lookup function; this module decides which credential source
the values describe (token file, token JSON, refresh token, service account, fixed token, app
password, or OAuth2 with an app password as `Fallback`) and collects every problem instead of
stopping at the first. The google-auth based sources are imported only when one is configured.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ._credentials import AppPassword, Credentials, Fallback, OAuth2Token, TokenSource
from ._json import parse_json

__all__ = ["OAUTH_CHOICES", "read_credentials"]

ENV_PREFIX = "GMAIL_SEND_"
OAUTH_CHOICES = (
    "TOKEN_FILE",
    "TOKEN_JSON",
    "REFRESH_TOKEN",
    "SERVICE_ACCOUNT_FILE",
    "SERVICE_ACCOUNT_JSON",
    "ACCESS_TOKEN",
)
Lookup = Callable[[str], "str | None"]


def read_credentials(
    get: Lookup, problems: list[str]
) -> tuple[Credentials | None, Path | None, str | None]:
    """(credentials, token file, user) from the values `get(NAME)` returns; problems appended."""
    user = get("USER")
    oauth, token_file = _oauth_source(get, user, problems)
    app_password = get("APP_PASSWORD")
    password: AppPassword | None = None
    if app_password is not None:
        password_user = user or (oauth.user if oauth is not None else None)
        if password_user is None:
            problems.append("GMAIL_SEND_APP_PASSWORD needs GMAIL_SEND_USER (the mailbox)")
        else:
            password = AppPassword(password_user, app_password)
    if oauth is not None and password is not None:
        try:
            return Fallback(oauth, password), token_file, user
        except ConfigurationError as exc:
            problems.append(exc.message)
            return None, token_file, user
    return oauth or password, token_file, user


def _oauth_source(
    get: Lookup, user: str | None, problems: list[str]
) -> tuple[TokenSource | None, Path | None]:
    given = [name for name in OAUTH_CHOICES if get(name) is not None]
    _unused(get, given, problems)
    if len(given) > 1:
        problems.append(
            "more than one OAuth2 source is set ("
            + ", ".join(ENV_PREFIX + n for n in given)
            + "): keep one"
        )
        return None, None
    if not given:
        return None, None
    # google-auth is imported only now that an OAuth2 source is configured.
    from ._oauth2 import OAuth2Credentials
    from ._service_account import ServiceAccount
    from ._token_file import GOOGLE_TOKEN_URI

    token_uri = get("TOKEN_URI")
    client_id, client_secret = get("CLIENT_ID"), get("CLIENT_SECRET")
    try:
        if "TOKEN_FILE" in given:
            path = Path(get("TOKEN_FILE") or "")
            if client_id or client_secret:
                problems.append(
                    "GMAIL_SEND_CLIENT_ID/CLIENT_SECRET are set with GMAIL_SEND_TOKEN_FILE, "
                    "which holds the client already: unset them"
                )
                return None, None
            return OAuth2Credentials.from_file(path, user=user, token_uri=token_uri), path
        if "TOKEN_JSON" in given:
            info = _json(get("TOKEN_JSON") or "", "GMAIL_SEND_TOKEN_JSON", problems)
            if info is None:
                return None, None
            info.setdefault("client_id", client_id)
            info.setdefault("client_secret", client_secret)
            info = {k: v for k, v in info.items() if v is not None}
            return OAuth2Credentials.from_info(info, user=user, token_uri=token_uri), None
        if "REFRESH_TOKEN" in given:
            missing = [
                ENV_PREFIX + n
                for n, v in (
                    ("USER", user),
                    ("CLIENT_ID", client_id),
                    ("CLIENT_SECRET", client_secret),
                )
                if not v
            ]
            if missing:
                problems.append("GMAIL_SEND_REFRESH_TOKEN also needs " + ", ".join(missing))
                return None, None
            assert user and client_id and client_secret
            return OAuth2Credentials(
                user=user,
                refresh_token=get("REFRESH_TOKEN") or "",
                client_id=client_id,
                client_secret=client_secret,
                token_uri=token_uri or GOOGLE_TOKEN_URI,
            ), None
        if "SERVICE_ACCOUNT_FILE" in given or "SERVICE_ACCOUNT_JSON" in given:
            subject = get("SUBJECT") or user
            if subject is None:
                problems.append("a service account needs GMAIL_SEND_SUBJECT (the mailbox)")
                return None, None
            scope = get("SERVICE_ACCOUNT_SCOPE") or (
                "send" if get("TRANSPORT") == "api" else "mail"
            )
            if "SERVICE_ACCOUNT_FILE" in given:
                key_file = get("SERVICE_ACCOUNT_FILE") or ""
                return ServiceAccount.from_file(
                    key_file, subject=subject, token_uri=token_uri, scope=scope
                ), None
            key = _json(
                get("SERVICE_ACCOUNT_JSON") or "",
                "GMAIL_SEND_SERVICE_ACCOUNT_JSON",
                problems,
            )
            if key is None:
                return None, None
            return ServiceAccount.from_info(
                key, subject=subject, token_uri=token_uri, scope=scope
            ), None
        if "ACCESS_TOKEN" in given:
            if user is None:
                problems.append("GMAIL_SEND_ACCESS_TOKEN needs GMAIL_SEND_USER (the mailbox)")
                return None, None
            return OAuth2Token(user, get("ACCESS_TOKEN") or ""), None
    except ConfigurationError as exc:
        problems.append(str(exc))
    return None, None


def _unused(get: Lookup, given: list[str], problems: list[str]) -> None:
    """Variables that only make sense with a source that is not set: a mistake to name."""
    if not {"REFRESH_TOKEN", "TOKEN_JSON", "TOKEN_FILE"} & set(given):
        for name in ("CLIENT_ID", "CLIENT_SECRET"):
            if get(name) is not None:
                problems.append(
                    f"GMAIL_SEND_{name} is set but used only with GMAIL_SEND_REFRESH_TOKEN or "
                    "GMAIL_SEND_TOKEN_JSON: set one of those, or unset it"
                )
    for name in ("SUBJECT", "SERVICE_ACCOUNT_SCOPE"):
        if not {"SERVICE_ACCOUNT_FILE", "SERVICE_ACCOUNT_JSON"} & set(given) and get(name):
            instead = ", or use GMAIL_SEND_USER" if name == "SUBJECT" else ""
            problems.append(
                f"GMAIL_SEND_{name} is set but used only with a service account "
                f"(GMAIL_SEND_SERVICE_ACCOUNT_FILE or _JSON): set one{instead}"
            )


def _json(text: str, name: str, problems: list[str]) -> dict[str, Any] | None:
    try:
        value = parse_json(text)
    except ValueError:
        problems.append(f"{name} is not valid JSON")
        return None
    if not isinstance(value, dict):
        problems.append(f"{name} must hold a JSON object")
        return None
    return value
