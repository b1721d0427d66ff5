"""The Sent Mail lookup: find a Message-ID in the account's Sent Mail over IMAP.

`GmailSender.find_sent` uses it to settle an unknown outcome, and the mail queue through the
sender. IMAP runs on the standard library's `imaplib` in worker threads, over TLS verified with
the sender's own context; this package sends nothing.
"""

from ._lookup import SentLookup
from ._sent_mail import IMAP_THREADS, SentMail, refuse_sink
from ._session import IMAPSettings
from ._wire import check_message_id, check_seconds

__all__ = [
    "IMAP_THREADS",
    "IMAPSettings",
    "SentLookup",
    "SentMail",
    "check_message_id",
    "check_seconds",
    "refuse_sink",
]
