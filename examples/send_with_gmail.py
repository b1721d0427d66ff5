"""Send one message through the real smtp.gmail.com with your own account, async.

Confirms against Gmail itself the behaviour that the bundled local Gmail imitates. Configure it
with the documented environment variables (docs/configuration.md), for example:

    export GMAIL_SEND_USER=me@gmail.com
    export GMAIL_SEND_APP_PASSWORD='abcd efgh ijkl mnop'   # or GMAIL_SEND_TOKEN_FILE=token.json
    export GMAIL_SEND_PORT=465 GMAIL_SEND_SECURITY=tls      # optional: implicit TLS instead of 587
    python examples/send_with_gmail.py [recipient]          # default recipient: yourself

The test suite runs the same file against the local Gmail by setting GMAIL_SEND_HOST,
GMAIL_SEND_PORT and GMAIL_SEND_CA_FILE.
"""

from __future__ import annotations

import asyncio
import sys

from gmail_send import GmailSender, GmailSendError, from_env


async def main(argv: list[str]) -> int:
    try:
        settings = from_env()
        async with GmailSender(**settings) as gmail:
            result = await gmail.send(
                to=argv[0] if argv else settings.account,
                subject="gmail_send: test message / テスト",
                text="This message was sent by examples/send_with_gmail.py.\n",
            )
    except GmailSendError as exc:  # its text says what happened and what to do
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    print(f"sent {result.message_id} via {result.auth_method} to {settings.host}: {result.reply}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1:])))
