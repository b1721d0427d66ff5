"""`python -m gmail_send.testing`: run a local Gmail by hand, to point a client at it.

Prints where it listens, the CA file to trust and a demo account's credentials (local, made
up for this run), then lists messages as they arrive until Ctrl-C or `--seconds` elapse.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import string
import tempfile
import time
from collections.abc import Sequence

from ._accounts import LocalAccount
from ._server import LocalGmail

__all__ = ["main", "serve"]

DEMO_ADDRESS = "demo@gmail.com"


async def serve(*, security: str, port: int, seconds: float) -> None:
    """Run the server for at most `seconds`, printing what arrives."""
    letters = "".join(secrets.choice(string.ascii_lowercase) for _ in range(16))
    app_password = " ".join(letters[i : i + 4] for i in range(0, 16, 4))
    token = "ya29.local-" + secrets.token_urlsafe(16)
    account = LocalAccount(DEMO_ADDRESS, app_password=app_password)
    with tempfile.TemporaryDirectory(prefix="gmail-send-local-") as directory:
        async with LocalGmail(
            security=security,  # type: ignore[arg-type]  # checked by argparse choices
            accounts=[account],
            port=port,
        ) as gmail:
            gmail.add_access_token(DEMO_ADDRESS, token)
            ca_path = gmail.certificates.ca_pem_path(directory)
            print(f"local Gmail ({security}) listening on {gmail.host}:{gmail.port}")
            print(f"CA certificate to trust: {ca_path}")
            print(f"account {DEMO_ADDRESS}: app password {app_password!r}, access token {token!r}")
            print("(made up for this run, valid only here) - Ctrl-C to stop", flush=True)
            deadline = time.monotonic() + seconds
            shown = 0
            while time.monotonic() < deadline:
                await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
                for message in gmail.messages[shown:]:
                    print(
                        f"received: from {message.mail_from} to {', '.join(message.rcpt_tos)}, "
                        f"{len(message.data):,} bytes, subject {message.parsed()['Subject']!r}",
                        flush=True,
                    )
                shown = len(gmail.messages)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments and serve until Ctrl-C or the time is up."""
    parser = argparse.ArgumentParser(
        prog="python -m gmail_send.testing", description="Run a local Gmail-like SMTP server."
    )
    parser.add_argument("--security", choices=("starttls", "tls", "none"), default="starttls")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--seconds", type=float, default=600.0, help="stop after this long")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(security=args.security, port=args.port, seconds=args.seconds))


if __name__ == "__main__":
    main()
