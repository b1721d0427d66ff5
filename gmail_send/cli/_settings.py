"""The settings flags every command shares, and how they combine with `GMAIL_SEND_*`.

Settings come from the flags, then the variables of `config.from_env()`; a credential flag
(--token-file, --app-password) replaces every credential variable of the environment.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

__all__ = ["add_connection_flags", "overrides", "port", "settings_environ"]


def port(text: str) -> int:
    """argparse type of a TCP port: a whole number from 1 to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is from 1 to 65535, not {port}")
    return port


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "settings", "each overrides the GMAIL_SEND_* variable of the same name"
    )
    group.add_argument(
        "--transport",
        choices=("smtp", "api", "auto"),
        help="smtp (default), api (the Gmail API over HTTPS) or auto",
    )
    group.add_argument(
        "--api-url", metavar="URL", help="the Gmail API (default https://gmail.googleapis.com)"
    )
    group.add_argument("--host", help="SMTP host (default smtp.gmail.com)")
    group.add_argument("--port", type=port, help="SMTP port (default 587, or 465 with tls)")
    group.add_argument(
        "--security",
        choices=("starttls", "tls", "none"),
        help="starttls (default), tls (implicit TLS) or none (relay by IP)",
    )
    group.add_argument(
        "--ca-file", metavar="PEM", help="CA certificates to trust instead of the system's"
    )
    group.add_argument(
        "--imap-host", help="IMAP host of the Sent Mail lookup (default imap.gmail.com)"
    )
    group.add_argument("--imap-port", type=port, help="its port (default 993, implicit TLS)")
    group.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="seconds to wait for the server on each step (default 60)",
    )
    group.add_argument("--user", help="the mailbox that sends")
    group.add_argument(
        "--token-file", metavar="FILE", help="a token file written by `gmail-send auth`"
    )
    group.add_argument(
        "--app-password",
        metavar="PASSWORD",
        help="an app password (prefer GMAIL_SEND_APP_PASSWORD: a command line "
        "is visible to other users of this machine)",
    )


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = (
        "transport",
        "api_url",
        "host",
        "port",
        "security",
        "ca_file",
        "imap_host",
        "imap_port",
        "timeout",
        "user",
        "token_file",
        "app_password",
        "templates",
        "sink",
    )
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


_CREDENTIAL_FLAGS = ("token_file", "app_password")
_CREDENTIAL_VARIABLES = tuple(
    "GMAIL_SEND_" + name
    for name in (
        "TOKEN_FILE",
        "TOKEN_JSON",
        "REFRESH_TOKEN",
        "CLIENT_ID",
        "CLIENT_SECRET",
        "ACCESS_TOKEN",
        "SERVICE_ACCOUNT_FILE",
        "SERVICE_ACCOUNT_JSON",
        "APP_PASSWORD",
        "RELAY_BY_IP",
    )
)


def settings_environ(args: argparse.Namespace, environ: Mapping[str, str]) -> Mapping[str, str]:
    """The environment `from_env()` reads: without the credential variables when a credential
    flag is given, so that the flag replaces them instead of being combined with them (an
    OAuth2 -> app password fallback, or a conflict nobody asked for)."""
    if all(getattr(args, name) is None for name in _CREDENTIAL_FLAGS):
        return environ
    return {k: v for k, v in environ.items() if k not in _CREDENTIAL_VARIABLES}
