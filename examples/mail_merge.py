"""A welcome message to everyone in a CSV file, from templates, resumable after a crash.

    python examples/mail_merge.py people.csv --journal people.journal

`people.csv` has a header row: an `email` column and the others (`name`, `plan`) for the
templates in examples/templates/ (welcome.subject.txt and welcome.html; the plain-text part is
derived from the HTML). Run it again with the same journal after a crash, Ctrl-C or a quota
stop and only the rest is sent; a message whose outcome is unknown is reported, never sent
twice. `gmail-send send --merge people.csv --template welcome --resume people.journal` does the
same from the shell. Configured from `GMAIL_SEND_*` variables like every example.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from gmail_send import GmailSender, Templates, from_env
from gmail_send.merge import ResumeJournal, RowOutcome, read_merge_file, send_rows

TEMPLATES = Path(__file__).resolve().parent / "templates"


def show(outcome: RowOutcome) -> None:
    detail = outcome.error.message if outcome.error else outcome.message_id
    print(f"row {outcome.row.number} {outcome.row.to}: {outcome.status} {detail}", flush=True)


async def main(people: Path, journal_path: Path, shop: str) -> int:
    rows = read_merge_file(people)
    journal = ResumeJournal.open(journal_path, template="welcome")
    async with GmailSender(**from_env(), templates=Templates(TEMPLATES)) as gmail:
        outcomes = await send_rows(
            gmail,
            rows,
            {"template": "welcome", "context": {"shop": shop}},  # shared by every row
            journal=journal,
            on_outcome=show,
        )
    sent = sum(o.status in ("sent", "already_sent") for o in outcomes)
    print(f"done: {sent} of {len(outcomes)} welcomed ({shop})")
    return 0 if sent == len(outcomes) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Welcome everyone in a CSV file.")
    parser.add_argument("people", type=Path, help="CSV with email, name and plan columns")
    parser.add_argument("--journal", type=Path, required=True, help="the resume journal")
    parser.add_argument("--shop", default="Example Shop")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.people, args.journal, args.shop)))
