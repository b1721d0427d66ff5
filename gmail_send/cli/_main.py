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
import contextlib
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from ._send_command import add_send
from ._settings import add_connection_flags, overrides, port, settings_environ

__all__ = ["main"]

_NOISY_LOGGERS = ("requests_oauthlib", "oauthlib", "urllib3", "google_auth_oauthlib", "mail.log")


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
    add_send(commands)
    _add_doctor(commands)
    from ._queue import add_queue_commands
    from ._reconcile import add_reconcile_command

    add_reconcile_command(add_queue_commands(commands))
    demo = commands.add_parser(
        "demo",
        help="send a real message end to end through a local Gmail-like server",
        description="Starts a local Gmail-like SMTP server and Gmail API (needs the [testing] "
        "extra; --transport api also the [api] extra), sends a message to it with an OAuth2 "
        "token over TLS, and prints what the server received. Nothing leaves this machine.",
    )
    demo.add_argument(
        "--transport",
        choices=("smtp", "api"),
        default="smtp",
        help="send over SMTP with XOAUTH2 (default) or through the Gmail API",
    )
    demo.add_argument(
        "--web",
        action="store_true",
        help="serve the local inbox page too and keep running, to see the message in a browser",
    )
    demo.add_argument(
        "--seconds", type=float, default=600.0, help="with --web: stop after this long"
    )
    demo.set_defaults(handler=_run_demo)

    auth = commands.add_parser(
        "auth",
        help="sign in once in a browser and write a token file (OAuth2 consent flow)",
        description="Runs Google's installed-app consent flow and writes the token file "
        "(mode 0600) that OAuth2Credentials.from_file() reads. --scope mail (default) asks for "
        "https://mail.google.com/ (SMTP and the Gmail API; a restricted scope), --scope send "
        "for https://www.googleapis.com/auth/gmail.send (the Gmail API only; a sensitive scope, "
        "no security assessment for public apps).",
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
        "--scope",
        choices=("mail", "send"),
        default="mail",
        help="mail: https://mail.google.com/ (SMTP and the API, default); send: gmail.send "
        "(the Gmail API only)",
    )
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


def _add_doctor(commands: Any) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="find out why sending through Gmail fails",
        description="Checks configuration, DNS, TCP ports 587/465, TLS and the certificate, "
        "EHLO, the token refresh and scope (or the app password), and the sign-in (nothing is "
        "sent); with --transport api (or auto) HTTPS to the Gmail API on port 443 and the "
        "token's scopes for that transport; with --domain the SPF, DKIM and DMARC records; "
        "with --send-test a real message through the chosen transport. Exit code 1 when a "
        "check failed.",
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
        type=port,
        metavar="PORT",
        help="the alternative port to probe (default 465 for 587, else 587)",
    )
    doctor.add_argument("--json", action="store_true", help="print a machine-readable report")
    add_connection_flags(doctor)
    doctor.set_defaults(handler=_run_doctor)


def _run_doctor(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from ._doctor import run_doctor_command

    try:
        return run_doctor_command(args, overrides(args), settings_environ(args, environ), out=print)
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
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends --web
        asyncio.run(
            run_demo(
                _print_flushed, transport=args.transport, web=args.web, serve_seconds=args.seconds
            )
        )
    return 0


def _print_flushed(text: str) -> None:
    print(text, flush=True)


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
            scope=args.scope,
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
    # GMAIL_SEND_SINK=memory: each message kept instead of sent is reported, as the console
    # backends of web frameworks do.
    logging.getLogger("gmail_send.sink").setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None) -> int:
    """Entry point of `gmail-send`; returns the process exit code.

    `environ` replaces `os.environ` as the source of the GMAIL_SEND_* settings (for tests).

    Args:
        argv: the command-line arguments, without the program name (default: `sys.argv`).
        environ: the environment to read GMAIL_SEND_* from (default: `os.environ`).
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    handler = args.handler
    code: int = handler(args, os.environ if environ is None else environ)
    return int(code)
