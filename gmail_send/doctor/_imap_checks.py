"""The doctor's check of the Sent Mail lookup: IMAP reachable, sign-in accepted, the mailbox
marked `\\Sent` found. What settles an unknown outcome (`find_sent`, the queue) needs all three,
so a user learns before an incident whether it will work. Nothing is searched or changed.
"""

from __future__ import annotations

import logging

from ..auth._credentials import Credentials
from ..errors import ConfigurationError, ReconciliationUnavailableError
from ..events import Reporter
from ..imap import IMAPSettings, SentLookup
from ..smtp._connection import DEFAULT_TIMEOUT, verified_context
from ._report import CheckResult, Target

__all__ = ["check_sent_lookup"]

_NAME = "sent-lookup"


async def check_sent_lookup(target: Target, credentials: Credentials | None) -> CheckResult:
    """Sign in to IMAP as `find_sent` would, find the Sent mailbox, log out."""
    title = f"Sent Mail lookup over IMAP ({target.imap_host}:{target.imap_port})"
    try:
        context = verified_context(target.tls_context)
    except ConfigurationError as exc:
        return CheckResult(_NAME, title, "failed", exc.message, fix=exc.hint)
    settings = IMAPSettings(
        target.imap_host, target.imap_port, context, target.timeout or DEFAULT_TIMEOUT
    )  # the doctor's Target, not a sender's Settings
    lookup = SentLookup(settings, credentials, Reporter(logging.getLogger("gmail_send.imap")))
    try:
        mailbox, gmail_search = await lookup.probe()
    except ReconciliationUnavailableError as exc:
        details = {"reason": exc.reason}
        if exc.reason == "relay":
            return CheckResult(_NAME, title, "skipped", exc.message, details=details)
        return CheckResult(_NAME, title, "failed", exc.message, fix=exc.hint, details=details)
    how = "Gmail's rfc822msgid: search" if gmail_search else "SEARCH HEADER Message-ID"
    return CheckResult(
        _NAME,
        title,
        "passed",
        f"signed in; unknown outcomes can be settled by searching {mailbox} ({how})",
        details={"mailbox": mailbox, "gmail_search": gmail_search},
    )
