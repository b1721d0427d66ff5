"""Mail merge: one templated message per row of a CSV or JSON Lines file, resumable.

    from gmail_send import GmailSender, from_env
    from gmail_send.merge import ResumeJournal, read_merge_file, send_rows

    rows = read_merge_file("people.csv")  # one column the address, the others the context
    journal = ResumeJournal.open("people.journal", template="welcome")
    async with GmailSender(**from_env(), templates="templates/") as gmail:
        outcomes = await send_rows(gmail, rows, {"template": "welcome"}, journal=journal)

This is what `gmail-send send --merge` runs. With a journal, a second run after a crash or a
quota stop sends only to the rows not yet sent; a row whose outcome is unknown (the process
died, or the connection broke, between sending and recording) is reported and never sent
again, and its Message-ID is in the journal for a look in Sent Mail.
"""

from ._journal import ResumeJournal
from ._rows import ADDRESS_COLUMNS, MergeRow, read_address_lines, read_merge_file
from ._run import RowOutcome, RowStatus, check_rows, send_rows, stops_the_run

__all__ = [
    "ADDRESS_COLUMNS",
    "MergeRow",
    "ResumeJournal",
    "RowOutcome",
    "RowStatus",
    "check_rows",
    "read_address_lines",
    "read_merge_file",
    "send_rows",
    "stops_the_run",
]
