"""A plain script: send one message with the blocking API, configured from the environment.

    export GMAIL_SEND_USER=me@gmail.com
    export GMAIL_SEND_APP_PASSWORD='abcd efgh ijkl mnop'   # or GMAIL_SEND_TOKEN_FILE=...
    python examples/send_script.py you@example.com --subject "Hello" --text "Hi there"

Every setting comes from `GMAIL_SEND_*` variables (see docs/configuration.md), so the same
script talks to smtp.gmail.com or, in the test suite, to the local Gmail (GMAIL_SEND_HOST,
GMAIL_SEND_PORT and GMAIL_SEND_CA_FILE point it there).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gmail_send import GmailSendError, from_env
from gmail_send.sync import send_sync


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Send one message through Gmail.")
    parser.add_argument("to", nargs="+", help="recipient addresses")
    parser.add_argument("--subject", default="Hello from gmail_send")
    parser.add_argument("--text", default="This message was sent by examples/send_script.py.\n")
    parser.add_argument("--attach", type=Path, action="append", default=[], help="a file")
    args = parser.parse_args(argv)
    try:
        result = send_sync(
            **from_env(),
            to=args.to,
            subject=args.subject,
            text=args.text,
            attachments=args.attach,
        )
    except GmailSendError as exc:  # its text says what happened and what to do
        print(f"not sent: {exc}", file=sys.stderr)
        return 1
    print(f"sent {result.message_id} to {', '.join(result.accepted)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
