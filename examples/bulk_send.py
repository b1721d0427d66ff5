"""Personalised messages to a list, with progress and a one-click unsubscribe (RFC 8058).

    python examples/bulk_send.py subscribers.csv --unsubscribe-base https://example.com/unsub

`subscribers.csv` has a header row with `email` and `name` columns. Each message carries
`List-Unsubscribe` (an HTTPS URL with a per-recipient token, and a mailto: alternative) and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click`, which Gmail requires of bulk senders:
Gmail shows an "Unsubscribe" button and POSTs to the URL when it is pressed. Your web
application must honour that POST (no login, no confirmation page) within two days.

One `GmailSender` keeps one session for the whole list. A refused address is reported and the
list goes on; the exit status says whether any failed. Mind Gmail's daily sending limits
(docs/production.md). Configured from `GMAIL_SEND_*` variables like every example.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import hmac
import os
import sys
from pathlib import Path
from urllib.parse import quote

from gmail_send import GmailSender, GmailSendError, from_env

# The key that signs unsubscribe tokens; in production, a secret from your configuration.
SIGNING_KEY = os.environ.get("UNSUBSCRIBE_SIGNING_KEY", "change me").encode()


def unsubscribe_token(address: str) -> str:
    """A token your unsubscribe endpoint can verify without a database lookup."""
    return hmac.new(SIGNING_KEY, address.lower().encode(), hashlib.sha256).hexdigest()[:32]


def unsubscribe_headers(address: str, base_url: str, mailto: str) -> dict[str, str]:
    url = f"{base_url}?email={quote(address)}&token={unsubscribe_token(address)}"
    return {
        "List-Unsubscribe": f"<{url}>, <mailto:{mailto}?subject=unsubscribe>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


async def send_all(rows: list[dict[str, str]], *, base_url: str, mailto: str, subject: str) -> int:
    failed = 0
    async with GmailSender(**from_env()) as gmail:
        for number, row in enumerate(rows, start=1):
            address, name = row["email"].strip(), row.get("name", "").strip() or "there"
            try:
                await gmail.send(
                    to=address,
                    subject=subject.format(name=name),
                    text=f"Hello {name},\n\nhere is this month's news.\n\n"
                    f"Unsubscribe: {base_url}?email={quote(address)}\n",
                    headers=unsubscribe_headers(address, base_url, mailto),
                )
            except GmailSendError as exc:
                failed += 1
                print(f"[{number}/{len(rows)}] FAILED {address}: {exc}", file=sys.stderr)
            else:
                print(f"[{number}/{len(rows)}] sent to {address}", flush=True)
    print(f"done: {len(rows) - failed} sent, {failed} failed")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Send a personalised message to a list.")
    parser.add_argument("csv", type=Path, help="CSV file with email and name columns")
    parser.add_argument("--unsubscribe-base", default="https://example.com/unsubscribe")
    parser.add_argument("--unsubscribe-mailto", default="unsubscribe@example.com")
    parser.add_argument("--subject", default="News for {name}")
    args = parser.parse_args(argv)
    with args.csv.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    return asyncio.run(
        send_all(
            rows,
            base_url=args.unsubscribe_base,
            mailto=args.unsubscribe_mailto,
            subject=args.subject,
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())
