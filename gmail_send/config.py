"""Configuration from `GMAIL_SEND_*` environment variables, for web backends and the CLI.

`GmailSender(**from_env())` is the whole set-up of a deployed application, and of one in
development: `GMAIL_SEND_SINK=memory` keeps and logs messages without credentials or network,
`GMAIL_SEND_SINK=local` sends only to a local Gmail (`python -m gmail_send.testing`). The
variables are
listed once, in `ENV_VARIABLES` (docs/configuration.md is kept in step with it by a test): one
for each plain option and each field of the option groups, besides the credentials. When OAuth2
and an app password are both configured, the credentials are a `Fallback`. A missing or
contradictory set raises one `ConfigurationError` that lists every problem.
"""

from __future__ import annotations

import difflib
import ipaddress
import logging
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

from ._options import PoolOptions, SendingLimits, Settings, load_ca_file, port_mismatch
from ._retry import RetryPolicy
from ._sink import DEV_SENDER, MemorySink, MessageSink
from ._types import Security, Transport
from .auth._credentials import AppPassword
from .auth._from_values import ENV_PREFIX, read_credentials
from .errors import ConfigurationError
from .smtp._connection import GMAIL_HOST

__all__ = ["ENV_PREFIX", "ENV_VARIABLES", "Settings", "from_env"]

log = logging.getLogger("gmail_send.config")

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
    "SERVICE_ACCOUNT_SCOPE": "mail or send: the scope a service account asks for "
    "(default: send with TRANSPORT=api, else mail).",
    "APP_PASSWORD": "An app password, with USER; with OAuth2 also set, the fallback.",
    "TRANSPORT": "smtp (default), api (the Gmail API over HTTPS), or auto.",
    "API_URL": "The Gmail API's address (default https://gmail.googleapis.com); for tests.",
    "IMAP_HOST": "IMAP host for the Sent Mail lookup (default imap.gmail.com); for tests.",
    "IMAP_PORT": "IMAP port (default 993, implicit TLS).",
    "FIND_SENT_WAIT": "Seconds to wait for a message's Sent copy after it went out (default 120).",
    "HOST": "SMTP host (default smtp.gmail.com; smtp-relay.gmail.com for the Workspace relay).",
    "PORT": "SMTP port (default 587 for starttls, 465 for tls, 25 for none).",
    "SECURITY": "starttls (default), tls (implicit TLS), or none (relay by IP only).",
    "CA_FILE": "PEM file of CA certificates to trust instead of the system's (private/test CA).",
    "SINK": "Development: memory keeps and logs messages (no credentials needed, nothing is "
    "sent); local sends only to a local Gmail, as `python -m gmail_send.testing` prints.",
    "TIMEOUT": "Seconds to wait for the server on each step (default 60).",
    "RELAY_BY_IP": "1 to send without signing in, to a relay that trusts this IP address.",
    "MAX_CONNECTIONS": "Sessions that concurrent sends share, at most (default 3).",
    "STORE": "sqlite:///path.db or postgresql://...: limits and tokens shared by processes.",
    "QUEUE": "The mail queue's URL for `gmail-send worker` and `gmail-send queue` (--queue).",
    "TEMPLATES": "Folder of message templates for template= (needs the [templates] extra).",
    "RETRIES": "Retries after a failure that is safe to retry (default 3).",
    "BACKOFF": "Seconds before the first retry, doubled for each further one (default 1).",
    "MAX_BACKOFF": "The longest wait between two attempts, in seconds (default 30).",
    "RETRY_UNKNOWN_OUTCOME": "1 to resend when the outcome is unknown (risks a duplicate).",
    "DEADLINE": "Seconds one send may take in all, retries included (default: no bound).",
    "MAX_MESSAGES_PER_CONNECTION": "Messages one session carries, or none (default none).",
    "IDLE_TIMEOUT": "Seconds an unused session stays open, or none (default 60).",
    "PIPELINING": "0 to send SMTP commands one by one even where PIPELINING is offered.",
    "CHUNKING": "0 to send messages with DATA even where CHUNKING (BDAT) is offered.",
    "MAX_IN_FLIGHT": "Transactions streamed on one session before their replies (default 10).",
    "LOCAL_HOSTNAME": "The name sent in EHLO (default: this machine's name).",
    "RATE_LIMIT": "At most this many messages per second (default: no limit).",
    "DAILY_LIMIT": "Messages per rolling 24 hours: a number, auto (default) or none.",
    "QUOTA_PAUSE": "Seconds to stop after Gmail's 550 5.4.5 daily-limit reply (default 3600).",
    "LOGIN_THROTTLE_PAUSE": "Seconds without new sign-ins after 454 4.7.0 (default 300).",
    "API_SENDS_PER_MINUTE": "Gmail API sends per account per minute, or none (default 150).",
}

_SECRET_NAMES = {
    "STORE",
    "QUEUE",
    "TOKEN_JSON",
    "CLIENT_SECRET",
    "REFRESH_TOKEN",
    "ACCESS_TOKEN",
    "SERVICE_ACCOUNT_JSON",
    "APP_PASSWORD",
}
_OBJECT_OPTIONS = ("tls_context", "sink", "on_event", "retry", "pool", "limits")
_PATH_OPTIONS = ("templates",)
"""Options that a variable gives as a path, or `from_env(**overrides)` as an object."""
"""Options that are objects: `from_env(**overrides)` takes them as they are."""


def _none_or(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    return lambda raw: None if raw.lower() == "none" else parse(raw)


def _bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _daily(raw: str) -> int | str | None:
    return "auto" if raw.lower() == "auto" else _none_or(int)(raw)


_GROUPED: dict[str, tuple[str, str, Callable[[str], Any]]] = {
    "RETRIES": ("retry", "retries", int),
    "BACKOFF": ("retry", "backoff", float),
    "MAX_BACKOFF": ("retry", "max_backoff", float),
    "RETRY_UNKNOWN_OUTCOME": ("retry", "retry_unknown_outcome", _bool),
    "DEADLINE": ("retry", "deadline", _none_or(float)),
    "MAX_MESSAGES_PER_CONNECTION": ("pool", "max_messages_per_connection", _none_or(int)),
    "IDLE_TIMEOUT": ("pool", "idle_timeout", _none_or(float)),
    "PIPELINING": ("pool", "pipelining", _bool),
    "CHUNKING": ("pool", "chunking", _bool),
    "MAX_IN_FLIGHT": ("pool", "max_in_flight", int),
    "LOCAL_HOSTNAME": ("pool", "local_hostname", str),
    "RATE_LIMIT": ("limits", "rate_limit", _none_or(float)),
    "DAILY_LIMIT": ("limits", "daily_limit", _daily),
    "QUOTA_PAUSE": ("limits", "quota_pause", float),
    "LOGIN_THROTTLE_PAUSE": ("limits", "login_throttle_pause", float),
    "API_SENDS_PER_MINUTE": ("limits", "api_sends_per_minute", _none_or(int)),
}
"""Variables that set one field of an option group: (group, field, parser)."""

_GROUPS: dict[str, type[Any]] = {
    "retry": RetryPolicy,
    "pool": PoolOptions,
    "limits": SendingLimits,
}


def from_env(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from `GMAIL_SEND_*` variables.

    Args:
        environ: where to read the variables (default `os.environ`).
        **overrides: values that win over the environment, named like the variables in lower
            case (`port=465`, `app_password=...`, `sink="memory"`), or option objects
            (`tls_context`, `sink`, `on_event`, `retry`, `pool`, `limits`, a `Templates` as
            `templates`).

    Raises:
        ConfigurationError: listing every missing or contradictory setting.
    """
    if isinstance(overrides.get("sink"), str):  # from_env(sink="memory"), like the variable
        overrides["SINK"] = overrides.pop("sink")
    objects = {k: overrides.pop(k) for k in _OBJECT_OPTIONS if k in overrides}
    objects |= {
        k: overrides.pop(k)
        for k in _PATH_OPTIONS
        if k in overrides and not isinstance(overrides[k], (str, os.PathLike))
    }
    reader = _Reader(os.environ if environ is None else environ, overrides)
    problems: list[str] = []
    host = reader.get("HOST") or GMAIL_HOST
    transport = _transport(reader.get("TRANSPORT") or "smtp", problems)
    api_url = reader.get("API_URL")
    if api_url is not None and not api_url.startswith("https://"):
        problems.append(f"GMAIL_SEND_API_URL must be an https:// address, not {api_url!r}")
        api_url = None
    security = _security(reader.get("SECURITY") or "starttls", problems)
    port = _number(reader, "PORT", int, problems)
    timeout = _number(reader, "TIMEOUT", float, problems)
    max_connections = _number(reader, "MAX_CONNECTIONS", int, problems)
    imap_host = reader.get("IMAP_HOST")
    imap_port = _number(reader, "IMAP_PORT", int, problems)
    find_sent_wait = _number(reader, "FIND_SENT_WAIT", float, problems)
    ca_file = _ca_file(reader.get("CA_FILE"), problems)
    store = reader.get("STORE")
    templates = objects.get("templates") or _templates(reader.get("TEMPLATES"), problems)
    credentials, token_file, user = read_credentials(reader.get, problems)
    mode = _sink_mode(reader, objects, problems)
    if mode == "local":
        _check_local(host, port, security, ca_file, problems)
    groups = _groups(reader, objects, problems, local=mode == "local")
    sink: MessageSink | None = objects.get("sink")
    if mode == "memory":
        sink = MemorySink(
            account=credentials.user if credentials is not None else user or DEV_SENDER
        )

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
    if credentials is None and not relay_by_ip and mode != "memory" and not problems:
        problems.append(
            "no credentials: set GMAIL_SEND_TOKEN_FILE (from `gmail-send auth`) or "
            "GMAIL_SEND_TOKEN_JSON, or GMAIL_SEND_REFRESH_TOKEN with GMAIL_SEND_CLIENT_ID, "
            "GMAIL_SEND_CLIENT_SECRET and GMAIL_SEND_USER, or GMAIL_SEND_USER with "
            "GMAIL_SEND_APP_PASSWORD, or GMAIL_SEND_SERVICE_ACCOUNT_FILE with "
            "GMAIL_SEND_SUBJECT; for a relay that trusts your IP address, "
            "GMAIL_SEND_RELAY_BY_IP=1"
        )
    mismatch = port_mismatch(port, security)
    if mismatch is not None:
        problems.append(
            f"GMAIL_SEND_PORT={port} does not fit GMAIL_SEND_SECURITY={security}: {mismatch}; "
            "Gmail speaks STARTTLS on 587 and implicit TLS on 465"
        )
    if credentials is not None and security == "none":
        problems.append(
            "GMAIL_SEND_SECURITY=none cannot be used with credentials: they are never sent "
            "unencrypted (use starttls or tls)"
        )
    if transport == "api" and (isinstance(credentials, AppPassword) or relay_by_ip):
        problems.append(
            "GMAIL_SEND_TRANSPORT=api needs OAuth2 credentials (a token file, refresh token, "
            "service account or access token): the Gmail API takes no app password"
        )
    _unknown_variables(reader.environ, problems)
    if problems:
        raise ConfigurationError(
            "gmail_send configuration is incomplete or contradictory:\n- " + "\n- ".join(problems),
            hint="see docs/configuration.md for every GMAIL_SEND_* variable",
        )
    return Settings(
        credentials=credentials,
        host=host,
        port=port,
        security=security,
        tls_context=objects.get("tls_context"),
        ca_file=ca_file,
        **_given(
            timeout=timeout,
            max_connections=max_connections,
            store=store,
            transport=transport if transport != "smtp" else None,
            api_url=api_url,
            imap_host=imap_host,
            imap_port=imap_port,
            find_sent_wait=find_sent_wait,
        ),
        sink=sink,
        on_event=objects.get("on_event"),
        templates=templates,
        account=credentials.user if credentials is not None else _account_of(sink, user),
        token_file=token_file,
        sources=reader.sources(),
        **groups,
    )


def _account_of(sink: MessageSink | None, user: str | None) -> str | None:
    """The mailbox messages are From: the user, or else a memory sink's placeholder."""
    return user if user is not None or not isinstance(sink, MemorySink) else sink.account


def _sink_mode(reader: _Reader, objects: Mapping[str, Any], problems: list[str]) -> str | None:
    """GMAIL_SEND_SINK: "memory", "local" or None (send to the configured server)."""
    raw = reader.get("SINK")
    if raw is None:
        return None
    mode = raw.lower()
    if mode not in ("memory", "local"):
        problems.append(f"{ENV_PREFIX}SINK must be memory or local, not {raw!r}")
        return None
    if "sink" in objects:
        problems.append(f"{ENV_PREFIX}SINK is set and sink= is given: keep one")
        return None
    return mode


def _check_local(
    host: str, port: int | None, security: str, ca_file: str | None, problems: list[str]
) -> None:
    """GMAIL_SEND_SINK=local sends to a local Gmail on this machine, never anywhere else."""
    printed = "as `python -m gmail_send.testing` prints them"
    if not _is_loopback(host):
        problems.append(
            f"{ENV_PREFIX}SINK=local sends only to a local Gmail on this machine, and "
            f"{ENV_PREFIX}HOST is {host}: set {ENV_PREFIX}HOST=127.0.0.1, {printed}"
        )
    if port is None:
        problems.append(f"{ENV_PREFIX}SINK=local needs {ENV_PREFIX}PORT, {printed}")
    if ca_file is None and security != "none":
        problems.append(
            f"{ENV_PREFIX}SINK=local needs {ENV_PREFIX}CA_FILE, the local Gmail's test CA, "
            f"{printed}"
        )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _given(**values: Any) -> dict[str, Any]:
    """The options a variable set; the others keep the defaults `Settings` declares."""
    return {name: value for name, value in values.items() if value is not None}


def _unknown_variables(environ: Mapping[str, str], problems: list[str]) -> None:
    """Name each `GMAIL_SEND_*` variable that gmail_send does not read (a misspelling is
    otherwise silently ignored): among the problems, or as a warning when there are none."""
    for variable in sorted(environ):
        name = variable[len(ENV_PREFIX) :]
        if not variable.startswith(ENV_PREFIX) or name in ENV_VARIABLES:
            continue
        close = difflib.get_close_matches(name, ENV_VARIABLES, n=1, cutoff=0.75)
        guess = f"; did you mean {ENV_PREFIX}{close[0]}?" if close else ""
        text = f"{variable} is not a gmail_send variable{guess}"
        if problems:
            problems.append(text)
        elif variable not in _warned:
            _warned.add(variable)
            log.warning("%s (it is ignored)", text, extra={"event": "unknown_variable"})


_warned: set[str] = set()
"""Unknown variables already warned about, so a process that reads its settings per request
logs each once."""


def _groups(
    reader: _Reader, objects: Mapping[str, Any], problems: list[str], *, local: bool = False
) -> dict[str, Any]:
    """The option groups: given as objects, or built from their fields' variables.

    With `local` (GMAIL_SEND_SINK=local) no daily limit is kept unless one is set: messages
    to a local Gmail do not count against the account's quota at Gmail.
    """
    fields: dict[str, dict[str, Any]] = {name: {} for name in _GROUPS}
    if local:
        fields["limits"]["daily_limit"] = None
    for variable, (group, name, parse) in _GROUPED.items():
        raw = reader.get(variable)
        if raw is None:
            continue
        if group in objects:
            problems.append(f"{ENV_PREFIX}{variable} is set and {group}= is given: keep one")
            continue
        try:
            fields[group][name] = parse(raw)
        except ValueError:
            problems.append(f"{ENV_PREFIX}{variable} cannot be read: {raw!r}")
    groups: dict[str, Any] = {}
    for group, kind in _GROUPS.items():
        if group in objects:
            groups[group] = objects[group]
        elif fields[group]:
            try:
                groups[group] = kind(**fields[group])
            except ConfigurationError as exc:
                problems.append(f"{exc.message} (from the {ENV_PREFIX}* variables)")
    return groups


class _Reader:
    """Looks variables up (overrides first) and remembers where each came from."""

    def __init__(self, environ: Mapping[str, str], overrides: Mapping[str, Any]) -> None:
        unknown = {k for k in overrides if k.upper() not in ENV_VARIABLES}
        if unknown:
            raise TypeError(f"from_env() got unknown settings: {', '.join(sorted(unknown))}")
        self.environ = environ
        self._overrides = {k.upper(): v for k, v in overrides.items() if v is not None}
        self._used: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        if name in self._overrides:
            self._used[name] = "argument"
            return str(self._overrides[name])
        value = self.environ.get(ENV_PREFIX + name, "").strip()
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
                value = self._overrides.get(name, self.environ.get(ENV_PREFIX + name, ""))
                described.append((name.lower(), f"{where}={str(value).strip()}"))
        return tuple(described)


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


def _transport(value: str, problems: list[str]) -> Transport:
    if value in ("smtp", "api", "auto"):
        return value  # type: ignore[return-value]
    problems.append(f"GMAIL_SEND_TRANSPORT must be smtp, api or auto, not {value!r}")
    return "smtp"


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
    if not math.isfinite(value):
        problems.append(f"{ENV_PREFIX}{name} must be a finite number, not {raw!r}")
        return None
    zero_ok = name == "FIND_SENT_WAIT"  # 0: one search, no waiting
    if value < 0 or (value == 0 and not zero_ok) or (name.endswith("PORT") and value > 65535):
        problems.append(f"{ENV_PREFIX}{name} is out of range: {raw}")
        return None
    return value


def _ca_file(ca_file: str | None, problems: list[str]) -> str | None:
    """The CA file, checked now so that a bad path is one of the problems listed."""
    if ca_file is None:
        return None
    try:
        load_ca_file(ca_file)
    except ConfigurationError as exc:
        problems.append(f"GMAIL_SEND_CA_FILE: {exc.message}")
        return None
    return ca_file


def _templates(folder: str | None, problems: list[str]) -> str | None:
    """The templates folder, checked now so that a wrong path is one of the problems listed
    (Jinja2 itself loads when the sender makes the `Templates`)."""
    if folder is None:
        return None
    if not os.path.isdir(folder):
        problems.append(f"GMAIL_SEND_TEMPLATES: {folder} does not exist or is not a directory")
        return None
    return folder
