"""Send one message through the real smtp.gmail.com with your own account.

Confirms the behaviour that the bundled local Gmail imitates. Configure with environment
variables, then run `python examples/send_with_gmail.py`:

    GMAIL_SEND_USER           your address, e.g. me@gmail.com
    GMAIL_SEND_APP_PASSWORD   an app password (https://myaccount.google.com/apppasswords)
      or GMAIL_SEND_ACCESS_TOKEN   an OAuth2 access token with scope https://mail.google.com/
    GMAIL_SEND_TO             the recipient (default: yourself)
    GMAIL_SEND_PORT           587 (STARTTLS, default) or 465 (implicit TLS)
"""

from __future__ import annotations

import asyncio
import os
import sys

from gmail_send import AppPassword, Credentials, GmailSendError, OAuth2Token, send


def credentials_from_environment() -> Credentials:
    user = os.environ.get("GMAIL_SEND_USER")
    if not user:
        sys.exit("set GMAIL_SEND_USER to your Gmail address")
    if password := os.environ.get("GMAIL_SEND_APP_PASSWORD"):
        return AppPassword(user, password)
    if token := os.environ.get("GMAIL_SEND_ACCESS_TOKEN"):
        return OAuth2Token(user, token)
    sys.exit("set GMAIL_SEND_APP_PASSWORD or GMAIL_SEND_ACCESS_TOKEN")


async def main() -> int:
    credentials = credentials_from_environment()
    port = int(os.environ.get("GMAIL_SEND_PORT", "587"))
    try:
        result = await send(
            credentials,
            port=port,
            security="tls" if port == 465 else "starttls",
            to=os.environ.get("GMAIL_SEND_TO", credentials.user),
            subject="gmail_send: test message / テスト",
            text="This message was sent by examples/send_with_gmail.py.\n",
        )
    except GmailSendError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    print(f"sent {result.message_id} via {result.auth_method}: {result.reply}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
