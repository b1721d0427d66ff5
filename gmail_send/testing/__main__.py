"""`python -m gmail_send.testing`: run a local Gmail by hand, to point an application at it.

Prints where it listens (SMTP, and IMAP for looking up the Sent Mail copies), the inbox page
to open in a browser, the CA file to trust, a demo account's credentials (local, made up for
this run) and the `GMAIL_SEND_*` variables that make an application send here
(`GMAIL_SEND_SINK=local`), then lists messages as they arrive until Ctrl-C or `--seconds`
elapse.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import shlex
import string
import tempfile
from collections.abc import Sequence

from ._accounts import LocalAccount
from ._server import LocalGmail
from ._watch import watch

__all__ = ["main", "serve"]

DEMO_ADDRESS = "demo@gmail.com"


async def serve(
    *,
    security: str,
    port: int,
    seconds: float,
    web: bool = True,
    web_port: int = 0,
    imap_port: int = 0,
) -> None:
    """Run the server for at most `seconds`, printing what arrives.

    Args:
        security: "starttls", "tls" or "none".
        port: the SMTP port (0: a free one).
        seconds: how long to serve.
        web: also serve the inbox page.
        web_port: the inbox page's port (0: a free one).
        imap_port: the IMAP port, implicit TLS (0: a free one).
    """
    letters = "".join(secrets.choice(string.ascii_lowercase) for _ in range(16))
    app_password = " ".join(letters[i : i + 4] for i in range(0, 16, 4))
    token = "ya29.local-" + secrets.token_urlsafe(16)
    account = LocalAccount(DEMO_ADDRESS, app_password=app_password)
    with tempfile.TemporaryDirectory(prefix="gmail-send-local-") as directory:
        async with LocalGmail(
            security=security,  # type: ignore[arg-type]  # checked by argparse choices
            accounts=[account],
            port=port,
            web=web,
            web_port=web_port,
            imap_port=imap_port,
        ) as gmail:
            gmail.add_access_token(DEMO_ADDRESS, token)
            ca_path = gmail.certificates.ca_pem_path(directory)
            print(f"local Gmail ({security}) listening on {gmail.host}:{gmail.port}")
            print(f"IMAP (implicit TLS, Sent Mail copies) on {gmail.host}:{gmail.imap_port}")
            if gmail.web_url is not None:
                print(f"inbox in the browser: {gmail.web_url}")
            print(f"CA certificate to trust: {ca_path}")
            print(f"account {DEMO_ADDRESS}: app password {app_password!r}, access token {token!r}")
            print("(made up for this run, valid only here)")
            variables = {
                "GMAIL_SEND_SINK": "local",
                "GMAIL_SEND_HOST": gmail.host,
                "GMAIL_SEND_PORT": str(gmail.port),
                "GMAIL_SEND_SECURITY": security,
                "GMAIL_SEND_CA_FILE": str(ca_path),
                "GMAIL_SEND_USER": DEMO_ADDRESS,
                "GMAIL_SEND_APP_PASSWORD": app_password,
            }
            if security == "none":  # no sign-in over plain text: the server relays by IP
                del variables["GMAIL_SEND_USER"], variables["GMAIL_SEND_APP_PASSWORD"]
            print("an application sends here with these variables:")
            for name, value in variables.items():
                print(f"  export {name}={shlex.quote(value)}")
            print("Ctrl-C to stop", flush=True)
            await watch(gmail, seconds, print)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments and serve until Ctrl-C or the time is up."""
    parser = argparse.ArgumentParser(
        prog="python -m gmail_send.testing",
        description=("Run a local Gmail-like SMTP and IMAP server, with its inbox in the browser."),
    )
    parser.add_argument("--security", choices=("starttls", "tls", "none"), default="starttls")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--seconds", type=float, default=600.0, help="stop after this long")
    parser.add_argument("--no-web", action="store_true", help="do not serve the inbox page")
    parser.add_argument(
        "--web-port", type=int, default=0, help="the inbox page's port; 0 picks a free one"
    )
    parser.add_argument(
        "--imap-port", type=int, default=0, help="the IMAP port; 0 picks a free one"
    )
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve(
                security=args.security,
                port=args.port,
                seconds=args.seconds,
                web=not args.no_web,
                web_port=args.web_port,
                imap_port=args.imap_port,
            )
        )


if __name__ == "__main__":
    main()
