"""The `gmail-send` command: argument parsing and printing on top of the library.

Every command here is a thin shell over a library function; third-party loggers that could
print secrets at DEBUG are kept at WARNING.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

__all__ = ["main"]

_NOISY_LOGGERS = ("requests_oauthlib", "oauthlib", "urllib3", "google_auth_oauthlib", "mail.log")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gmail-send",
        description="Send e-mail through Gmail with OAuth2 or an app password.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log gmail_send at DEBUG")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
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
    auth.add_argument("--client-secrets", required=True, metavar="FILE",
                      help="the OAuth client JSON downloaded from Google Cloud (Desktop app)")
    auth.add_argument("--token", required=True, metavar="FILE", help="where to write the token")
    auth.add_argument("--user", help="the mailbox (default: learnt from the sign-in)")
    auth.add_argument("--no-browser", action="store_true",
                      help="print the URL instead of opening a browser (for servers over SSH); "
                      "the redirected address can be pasted back")
    auth.add_argument("--port", type=int, default=0,
                      help="local port for the redirect (default: any free port)")
    auth.set_defaults(handler=_run_auth)
    return parser


def _run_demo(args: argparse.Namespace) -> int:
    try:
        from .testing.demo import run_demo
    except ImportError as exc:
        print(
            f"the demo needs the [testing] extra ({exc.name} is missing): "
            "pip install 'gmail-send[testing]'",
            file=sys.stderr,
        )
        return 2
    asyncio.run(run_demo(print))
    return 0


def _run_auth(args: argparse.Namespace) -> int:
    from .consent import read_pasted_line, run_consent_flow
    from .errors import GmailSendError

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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `gmail-send`; returns the process exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    handler = args.handler
    code: int = handler(args)
    return code
