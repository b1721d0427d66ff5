"""The Sent Mail lookup: find a Message-ID in the account's Sent Mail over IMAP.

`GmailSender.find_sent` uses it to settle an unknown outcome, and the mail queue through the
sender. IMAP runs on the standard library's `imaplib` in worker threads, over TLS verified with
the sender's own context; this package sends nothing.
"""

from ._lookup import SentLookup
from ._session import IMAPSettings
from ._wire import check_message_id

__all__ = ["IMAPSettings", "SentLookup", "check_message_id"]
