"""Configuration from `GMAIL_SEND_*` environment variables, for web backends and the CLI.

`GmailSender(**from_env())` is the whole set-up of a deployed application. The variables are
listed once, in `ENV_VARIABLES` (docs/configuration.md is kept in step with it by a test).
When OAuth2 and an app password are both configured, the credentials are a `Fallback`.
A missing or contradictory set raises one `ConfigurationError` that lists every problem.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .auth._credentials import AppPassword, Credentials, Fallback, OAuth2Token, TokenSource
from .auth._oauth2 import OAuth2Credentials
from .auth._service_account import ServiceAccount
from .auth._token_file import GOOGLE_TOKEN_URI
from .errors import ConfigurationError
from .smtp._connection import DEFAULT_TIMEOUT, GMAIL_HOST, Security, default_port

__all__ = ["ENV_PREFIX", "ENV_VARIABLES", "Settings", "from_env"]

ENV_PREFIX = "GMAIL_SEND_"

ENV_VARIABLES: dict[str, str] = {
    "USER": "The mailbox that sends, e.g. me@gmail.com (optional when a token file names it).",
    "TOKEN_FILE": "Path of a token file written by `gmail-send auth` (OAuth2 refresh token).",
    "TOKEN_JSON": "The token file's JSON itself, for containers and secret managers.",
    "CLIENT_ID": "OAuth client id, with REFRESH_TOKEN (or to fill in a TOKEN_JSON without one).",
    "CLIENT_SECRET": "OAuth client secret, with CLIENT_ID.",
    "REFRESH_TOKEN": "An OAuth2 refresh token, with CLIENT_ID, CLIENT_SECRET and USER.",
    "TOKEN_URI": "The OAuth2 token endpoint (default Google's); for proxies and local tests.",
    "ACCESS_TOKEN": "A fixed OAuth2 access token (never refreshed), with USER.",
    "SERVICE_ACCOUNT_FILE": "Path of a service account key (Workspace domain-wide delegation).",
    "SERVICE_ACCOUNT_JSON": "The service account key's JSON itself.",
    "SUBJECT": "The Workspace mailbox a service account sends as (default: USER).",
    "APP_PASSWORD": "An app password, with USER; with OAuth2 also set, the fallback.",
    "HOST": "SMTP host (default smtp.gmail.com; smtp-relay.gmail.com for the Workspace relay).",
    "PORT": "SMTP port (default 587 for starttls, 465 for tls, 25 for none).",
    "SECURITY": "starttls (default), tls (implicit TLS), or none (relay by IP only).",
    "CA_FILE": "PEM file of CA certificates to trust instead of the system's (private/test CA).",
    "TIMEOUT": "Seconds to wait for the server on each step (default 60).",
    "RELAY_BY_IP": "1 to send without signing in, to a relay that trusts this IP address.",
}

_OAUTH_CHOICES = (
    "TOKEN_FILE",
    "TOKEN_JSON",
    "REFRESH_TOKEN",
    "SERVICE_ACCOUNT_FILE",
    "SERVICE_ACCOUNT_JSON",
    "ACCESS_TOKEN",
)
_SECRET_NAMES = {
    "TOKEN_JSON",
    "CLIENT_SECRET",
    "REFRESH_TOKEN",
    "ACCESS_TOKEN",
    "SERVICE_ACCOUNT_JSON",
    "APP_PASSWORD",
}
_KEYS = ("credentials", "host", "port", "security", "tls_context", "timeout")


@dataclass(frozen=True)
class Settings(Mapping[str, Any]):
    """Credentials and connection settings; a Mapping, so `GmailSender(**settings)` works."""

    credentials: Credentials | None
    host: str = GMAIL_HOST
    port: int | None = None
    security: Security = "starttls"
    tls_context: ssl.SSLContext | None = None
    timeout: float | None = DEFAULT_TIMEOUT
    account: str | None = None
    token_file: Path | None = None
    sources: tuple[tuple[str, str], ...] = field(default=())

    def __getitem__(self, key: str) -> Any:
        if key not in _KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_KEYS)

    def __len__(self) -> int:
        return len(_KEYS)

    def describe(self) -> list[tuple[str, str]]:
        """(what, where it came from) for each setting found; never a secret's value."""
        return list(self.sources)


def from_env(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from `GMAIL_SEND_*` variables; keyword `overrides` (e.g. `port=465`,
    `app_password=...`, named like the variables in lower case) win over the environment."""
    reader = _Reader(os.environ if environ is None else environ, overrides)
    problems: list[str] = []
    host = reader.get("HOST") or GMAIL_HOST
    security = _security(reader.get("SECURITY") or "starttls", problems)
    port = _number(reader, "PORT", int, problems)
    timeout = _number(reader, "TIMEOUT", float, problems)
    tls_context = _tls_context(reader.get("CA_FILE"), problems)
    user = reader.get("USER")

    oauth, token_file = _oauth_source(reader, user, problems)
    app_password = reader.get("APP_PASSWORD")
    password: AppPassword | None = None
    if app_password is not None:
        password_user = user or (oauth.user if oauth is not None else None)
        if password_user is None:
            problems.append("GMAIL_SEND_APP_PASSWORD needs GMAIL_SEND_USER (the mailbox)")
        else:
            password = AppPassword(password_user, app_password)

    credentials: Credentials | None = None
    if oauth is not None and password is not None:
        try:
            credentials = Fallback(oauth, password)
        except ConfigurationError as exc:
            problems.append(exc.message)
    else:
        credentials = oauth or password

    relay_by_ip = _flag(reader, "RELAY_BY_IP", problems)
    if relay_by_ip and credentials is not None:
        problems.append(
            "GMAIL_SEND_RELAY_BY_IP is set together with credentials: choose one "
            "(unset GMAIL_SEND_RELAY_BY_IP to sign in)"
        )
    if relay_by_ip and host == GMAIL_HOST:
        problems.append(
            "smtp.gmail.com always needs a sign-in; relay by IP address is for the Workspace "
            "relay: set GMAIL_SEND_HOST=smtp-relay.gmail.com"
        )
    if credentials is None and not relay_by_ip and not problems:
        problems.append(
            "no credentials: set GMAIL_SEND_TOKEN_FILE (from `gmail-send auth`) or "
            "GMAIL_SEND_TOKEN_JSON, or GMAIL_SEND_REFRESH_TOKEN with GMAIL_SEND_CLIENT_ID, "
            "GMAIL_SEND_CLIENT_SECRET and GMAIL_SEND_USER, or GMAIL_SEND_USER with "
            "GMAIL_SEND_APP_PASSWORD, or GMAIL_SEND_SERVICE_ACCOUNT_FILE with "
            "GMAIL_SEND_SUBJECT; for a relay that trusts your IP address, "
            "GMAIL_SEND_RELAY_BY_IP=1"
        )
    if port is not None and (port, security) in ((465, "starttls"), (587, "tls")):
        problems.append(
            f"GMAIL_SEND_PORT={port} does not fit GMAIL_SEND_SECURITY={security}: Gmail speaks "
            "STARTTLS on 587 and implicit TLS on 465"
        )
    if credentials is not None and security == "none":
        problems.append(
            "GMAIL_SEND_SECURITY=none cannot be used with credentials: they are never sent "
            "unencrypted (use starttls or tls)"
        )
    if problems:
        raise ConfigurationError(
            "gmail_send configuration is incomplete or contradictory:\n- " + "\n- ".join(problems),
            hint="see docs/configuration.md for every GMAIL_SEND_* variable",
        )
    return Settings(
        credentials=credentials,
        host=host,
        port=port if port is not None else default_port(security),
        security=security,
        tls_context=tls_context,
        timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
        account=credentials.user if credentials is not None else user,
        token_file=token_file,
        sources=reader.sources(),
    )


class _Reader:
    """Looks variables up (overrides first) and remembers where each came from."""

    def __init__(self, environ: Mapping[str, str], overrides: Mapping[str, Any]) -> None:
        unknown = {k for k in overrides if k.upper() not in ENV_VARIABLES}
        if unknown:
            raise TypeError(f"from_env() got unknown settings: {', '.join(sorted(unknown))}")
        self._environ = environ
        self._overrides = {k.upper(): v for k, v in overrides.items() if v is not None}
        self._used: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        if name in self._overrides:
            self._used[name] = "argument"
            return str(self._overrides[name])
        value = self._environ.get(ENV_PREFIX + name, "").strip()
        if not value:
            return None
        self._used[name] = ENV_PREFIX + name
        return value

    def sources(self) -> tuple[tuple[str, str], ...]:
        described = []
        for name, where in self._used.items():
            if name in _SECRET_NAMES:
                described.append((name.lower(), f"{where} (set)"))
            else:
                value = self._overrides.get(name, self._environ.get(ENV_PREFIX + name, ""))
                described.append((name.lower(), f"{where}={str(value).strip()}"))
        return tuple(described)


def _oauth_source(
    reader: _Reader, user: str | None, problems: list[str]
) -> tuple[TokenSource | None, Path | None]:
    given = [name for name in _OAUTH_CHOICES if reader.get(name) is not None]
    _unused(reader, given, problems)
    if len(given) > 1:
        problems.append(
            "more than one OAuth2 source is set ("
            + ", ".join(ENV_PREFIX + n for n in given)
            + "): keep one"
        )
        return None, None
    token_uri = reader.get("TOKEN_URI")
    client_id, client_secret = reader.get("CLIENT_ID"), reader.get("CLIENT_SECRET")
    try:
        if "TOKEN_FILE" in given:
            path = Path(reader.get("TOKEN_FILE") or "")
            if client_id or client_secret:
                problems.append(
                    "GMAIL_SEND_CLIENT_ID/CLIENT_SECRET are set with GMAIL_SEND_TOKEN_FILE, "
                    "which holds the client already: unset them"
                )
                return None, None
            return OAuth2Credentials.from_file(path, user=user, token_uri=token_uri), path
        if "TOKEN_JSON" in given:
            info = _json(reader.get("TOKEN_JSON") or "", "GMAIL_SEND_TOKEN_JSON", problems)
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
                refresh_token=reader.get("REFRESH_TOKEN") or "",
                client_id=client_id,
                client_secret=client_secret,
                token_uri=token_uri or GOOGLE_TOKEN_URI,
            ), None
        if "SERVICE_ACCOUNT_FILE" in given or "SERVICE_ACCOUNT_JSON" in given:
            subject = reader.get("SUBJECT") or user
            if subject is None:
                problems.append("a service account needs GMAIL_SEND_SUBJECT (the mailbox)")
                return None, None
            if "SERVICE_ACCOUNT_FILE" in given:
                key_file = reader.get("SERVICE_ACCOUNT_FILE") or ""
                return ServiceAccount.from_file(
                    key_file, subject=subject, token_uri=token_uri
                ), None
            key = _json(
                reader.get("SERVICE_ACCOUNT_JSON") or "",
                "GMAIL_SEND_SERVICE_ACCOUNT_JSON",
                problems,
            )
            if key is None:
                return None, None
            return ServiceAccount.from_info(key, subject=subject, token_uri=token_uri), None
        if "ACCESS_TOKEN" in given:
            if user is None:
                problems.append("GMAIL_SEND_ACCESS_TOKEN needs GMAIL_SEND_USER (the mailbox)")
                return None, None
            return OAuth2Token(user, reader.get("ACCESS_TOKEN") or ""), None
    except ConfigurationError as exc:
        problems.append(str(exc))
    return None, None


def _unused(reader: _Reader, given: list[str], problems: list[str]) -> None:
    """Variables that only make sense with a source that is not set: a mistake to name."""
    if not {"REFRESH_TOKEN", "TOKEN_JSON", "TOKEN_FILE"} & set(given):
        for name in ("CLIENT_ID", "CLIENT_SECRET"):
            if reader.get(name) is not None:
                problems.append(
                    f"GMAIL_SEND_{name} is set but used only with GMAIL_SEND_REFRESH_TOKEN or "
                    "GMAIL_SEND_TOKEN_JSON: set one of those, or unset it"
                )
    if not {"SERVICE_ACCOUNT_FILE", "SERVICE_ACCOUNT_JSON"} & set(given) and reader.get("SUBJECT"):
        problems.append(
            "GMAIL_SEND_SUBJECT is set but used only with a service account "
            "(GMAIL_SEND_SERVICE_ACCOUNT_FILE or _JSON): set one, or use GMAIL_SEND_USER"
        )


def _flag(reader: _Reader, name: str, problems: list[str]) -> bool:
    value = (reader.get(name) or "").lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    problems.append(
        f"{ENV_PREFIX}{name} must be 1 or 0 (true/false, yes/no, on/off), not {value!r}"
    )
    return False


def _json(text: str, name: str, problems: list[str]) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        problems.append(f"{name} is not valid JSON")
        return None
    if not isinstance(value, dict):
        problems.append(f"{name} must hold a JSON object")
        return None
    return value


def _security(value: str, problems: list[str]) -> Security:
    if value in ("starttls", "tls", "none"):
        return value  # type: ignore[return-value]
    problems.append(f"GMAIL_SEND_SECURITY must be starttls, tls or none, not {value!r}")
    return "starttls"


def _number(reader: _Reader, name: str, kind: type[int] | type[float], problems: list[str]) -> Any:
    raw = reader.get(name)
    if raw is None:
        return None
    try:
        value = kind(raw)
    except ValueError:
        problems.append(f"{ENV_PREFIX}{name} must be a number, not {raw!r}")
        return None
    if value <= 0 or (name == "PORT" and value > 65535):
        problems.append(f"{ENV_PREFIX}{name} is out of range: {raw}")
        return None
    return value


def _tls_context(ca_file: str | None, problems: list[str]) -> ssl.SSLContext | None:
    if ca_file is None:
        return None
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        problems.append(f"GMAIL_SEND_CA_FILE {ca_file} cannot be used: {exc}")
        return None
