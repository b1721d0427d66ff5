"""The `gmail-send` command: argument parsing and printing on top of the library.

Commands: `send` (cli_send), `doctor` (cli_doctor over diagnostics), `demo`, `auth`, and the
mail queue's `worker` and `queue` (`_queue`).
Every command is a thin shell over a library function. Settings come from the flags, then the
`GMAIL_SEND_*` variables of `config.from_env()`; a credential flag (--token-file,
--app-password) replaces every credential variable of the environment. A secret is taken from
the command line only when the user passes it explicitly (--app-password) and is never
printed. Third-party loggers that could print secrets at DEBUG are kept at WARNING.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["main"]

_NOISY_LOGGERS = ("requests_oauthlib", "oauthlib", "urllib3", "google_auth_oauthlib", "mail.log")


def _port(text: str) -> int:
    """argparse type of a TCP port: a whole number from 1 to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is from 1 to 65535, not {port}")
    return port


def _nameserver(text: str) -> str:
    """argparse type of --nameserver: IP, IPv4:PORT or [IPv6]:PORT (checked, kept as given)."""
    from ..doctor._dns_checks import parse_nameserver

    try:
        parse_nameserver(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{exc}; give IP, IPV4:PORT or [IPV6]:PORT, e.g. 8.8.8.8 or 127.0.0.1:5353"
        ) from None
    return text


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gmail-send",
        description="Send e-mail through Gmail with OAuth2 or an app password.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log gmail_send at DEBUG")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_send(commands)
    _add_doctor(commands)
    from ._queue import add_queue_commands

    add_queue_commands(
        commands,
        _add_connection_flags,
        worker_handler=_run_worker,
        queue_handler=_run_queue,
    )
    demo = commands.add_parser(
        "demo",
        help="send a real message end to end through a local Gmail-like server",
        description="Starts a local Gmail-like SMTP server (needs the [testing] extra), sends a "
        "message to it with XOAUTH2 over TLS, and prints what the server received. Nothing "
        "leaves this machine.",
    )
    demo.set_defaults(handler=_run_demo)

    auth = commands.add_parser(
        "auth",
        help="sign in once in a browser and write a token file (OAuth2 consent flow)",
        description="Runs Google's installed-app consent flow for the scope "
        "https://mail.google.com/ and writes the token file (mode 0600) that "
        "OAuth2Credentials.from_file() reads.",
    )
    auth.add_argument(
        "--client-secrets",
        required=True,
        metavar="FILE",
        help="the OAuth client JSON downloaded from Google Cloud (Desktop app)",
    )
    auth.add_argument("--token", required=True, metavar="FILE", help="where to write the token")
    auth.add_argument("--user", help="the mailbox (default: learnt from the sign-in)")
    auth.add_argument(
        "--no-browser",
        action="store_true",
        help="print the URL instead of opening a browser (for servers over SSH); "
        "the redirected address can be pasted back",
    )
    auth.add_argument(
        "--port", type=int, default=0, help="local port for the redirect (default: any free port)"
    )
    auth.set_defaults(handler=_run_auth)
    return parser


def _add_connection_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "settings", "each overrides the GMAIL_SEND_* variable of the same name"
    )
    group.add_argument("--host", help="SMTP host (default smtp.gmail.com)")
    group.add_argument("--port", type=_port, help="SMTP port (default 587, or 465 with tls)")
    group.add_argument(
        "--security",
        choices=("starttls", "tls", "none"),
        help="starttls (default), tls (implicit TLS) or none (relay by IP)",
    )
    group.add_argument(
        "--ca-file", metavar="PEM", help="CA certificates to trust instead of the system's"
    )
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


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = ("host", "port", "security", "ca_file", "timeout", "user", "token_file", "app_password")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


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


def _settings_environ(args: argparse.Namespace, environ: Mapping[str, str]) -> Mapping[str, str]:
    """The environment `from_env()` reads: without the credential variables when a credential
    flag is given, so that the flag replaces them instead of being combined with them (an
    OAuth2 -> app password fallback, or a conflict nobody asked for)."""
    if all(getattr(args, name) is None for name in _CREDENTIAL_FLAGS):
        return environ
    return {k: v for k, v in environ.items() if k not in _CREDENTIAL_VARIABLES}


def _add_send(commands: Any) -> None:
    send = commands.add_parser(
        "send",
        help="send a message (prints its Message-ID)",
        description="Send one message, or with --to-file one message per recipient line. "
        "Exit codes: 0 sent, 65 bad input, 69 rejected for good, 75 temporary failure "
        "(retry later), 76 unknown outcome (may have been delivered), 77 authentication "
        "failed, 78 configuration missing; with --to-file, 1 when failures differ in kind.",
    )
    send.add_argument(
        "--to", action="append", default=[], metavar="ADDRESS", help="a recipient (repeat for more)"
    )
    send.add_argument("--cc", action="append", default=[], metavar="ADDRESS")
    send.add_argument("--bcc", action="append", default=[], metavar="ADDRESS")
    send.add_argument("--reply-to", action="append", default=[], metavar="ADDRESS")
    send.add_argument(
        "--from",
        dest="from_",
        metavar="ADDRESS",
        help="the sender (default: the account; aliases must be verified)",
    )
    send.add_argument("--subject", required=True)
    body = send.add_mutually_exclusive_group()
    body.add_argument("--text", help="the plain-text body")
    body.add_argument("--text-file", metavar="FILE", help="read the body from FILE (- = stdin)")
    send.add_argument("--html-file", metavar="FILE", help="an HTML body (alternative part)")
    send.add_argument(
        "--attach",
        action="append",
        default=[],
        metavar="FILE",
        help="attach a file (repeat for more)",
    )
    send.add_argument(
        "--to-file",
        metavar="FILE",
        help="send one message per line of FILE (an address per line; # for "
        "comments), with progress and a summary",
    )
    _add_connection_flags(send)
    send.set_defaults(handler=_run_send)


def _add_doctor(commands: Any) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="find out why sending through Gmail fails",
        description="Checks configuration, DNS, TCP ports 587/465, TLS and the certificate, "
        "EHLO, the token refresh and scope (or the app password), and the sign-in (nothing is "
        "sent); with --domain the SPF, DKIM and DMARC records; with --send-test a real "
        "message. Exit code 1 when a check failed.",
    )
    doctor.add_argument(
        "--domain", help="a custom sending domain whose SPF, DKIM and DMARC records to check"
    )
    doctor.add_argument(
        "--dkim-selector",
        default="google",
        help="the DKIM selector (default: google, Workspace's default)",
    )
    doctor.add_argument(
        "--nameserver",
        metavar="IP[:PORT]",
        type=_nameserver,
        help="ask this DNS server for the domain's records",
    )
    doctor.add_argument(
        "--send-test", metavar="ADDRESS", help="send a real test message to ADDRESS"
    )
    doctor.add_argument(
        "--other-port",
        type=_port,
        metavar="PORT",
        help="the alternative port to probe (default 465 for 587, else 587)",
    )
    doctor.add_argument("--json", action="store_true", help="print a machine-readable report")
    _add_connection_flags(doctor)
    doctor.set_defaults(handler=_run_doctor)


def _run_send(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from ..config import from_env
    from ..errors import ConfigurationError
    from ._send import ExitCode, run_send

    if args.to_file is not None and (args.to or args.cc or args.bcc):
        print(
            "gmail-send send: --to-file sends one message per line; it cannot be combined "
            "with --to, --cc or --bcc",
            file=sys.stderr,
        )
        return ExitCode.USAGE
    if args.to_file is None and not (args.to or args.cc or args.bcc):
        print(
            "gmail-send send: no recipient: give --to (or --cc, --bcc, --to-file)", file=sys.stderr
        )
        return ExitCode.USAGE
    try:
        try:
            settings = from_env(_settings_environ(args, environ), **_overrides(args))
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
    except ConfigurationError as exc:
        hint = f"\n  hint: {exc.hint}" if exc.hint else ""
        print(f"gmail-send send: {exc.message}{hint}", file=sys.stderr)
        return ExitCode.CONFIG
    try:
        return run_send(args, settings, out=print, err=_print_err)
    except KeyboardInterrupt:
        print("gmail-send send: interrupted (messages reported as sent were sent)", file=sys.stderr)
        return 130


def _print_err(text: str) -> None:
    print(text, file=sys.stderr)


def _run_worker(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from ..config import from_env
    from ..errors import ConfigurationError
    from ._queue import queue_url, run_worker
    from ._send import ExitCode

    try:
        url = queue_url(args, environ)
        try:
            settings = from_env(_settings_environ(args, environ), **_overrides(args))
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
    except ConfigurationError as exc:
        hint = f"\n  hint: {exc.hint}" if exc.hint else ""
        print(f"gmail-send worker: {exc.message}{hint}", file=sys.stderr)
        return ExitCode.CONFIG
    return run_worker(args, settings, url, err=_print_err)


def _run_queue(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from ..errors import ConfigurationError
    from ._queue import queue_url, run_queue
    from ._send import ExitCode

    try:
        url = queue_url(args, environ)
    except ConfigurationError as exc:
        print(f"gmail-send queue {args.action}: {exc.message}", file=sys.stderr)
        return ExitCode.CONFIG
    return run_queue(args, url, out=print, err=_print_err)


def _run_doctor(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from ._doctor import run_doctor_command

    try:
        return run_doctor_command(
            args, _overrides(args), _settings_environ(args, environ), out=print
        )
    except KeyboardInterrupt:
        print("gmail-send doctor: interrupted", file=sys.stderr)
        return 130


def _run_demo(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    try:
        from ..testing._demo import run_demo
    except ImportError as exc:
        print(
            f"the demo needs the [testing] extra ({exc.name} is missing): "
            "pip install 'gmail-send[testing]'",
            file=sys.stderr,
        )
        return 2
    asyncio.run(run_demo(print))
    return 0


def _run_auth(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from ..auth._consent import read_pasted_line, run_consent_flow
    from ..errors import GmailSendError

    try:
        credentials = run_consent_flow(
            args.client_secrets,
            args.token,
            user=args.user,
            open_browser=not args.no_browser,
            port=args.port,
            no_browser_input=read_pasted_line if args.no_browser else None,
        )
    except GmailSendError as exc:
        print(f"gmail-send auth: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gmail-send auth: cancelled", file=sys.stderr)
        return 130
    print(f"token for {credentials.user} written to {args.token}")
    return 0


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.WARNING)
    if verbose:
        logging.getLogger("gmail_send").setLevel(logging.DEBUG)
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None) -> int:
    """Entry point of `gmail-send`; returns the process exit code.

    `environ` replaces `os.environ` as the source of the GMAIL_SEND_* settings (for tests).
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    handler = args.handler
    code: int = handler(args, os.environ if environ is None else environ)
    return int(code)
