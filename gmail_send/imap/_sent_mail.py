"""`SentMail`: a sender's door to its account's Sent Mail, what `GmailSender.find_sent` asks.

It checks the arguments of a lookup, builds the IMAP settings once (from the sender's options
and its verified TLS context, loading the system's CAs off the event loop when the sender had
no reason to load them yet), and keeps the threads IMAP's blocking steps run in, so that a
slow IMAP server never holds up the threads token refreshes and the store use.
"""

from __future__ import annotations

import asyncio
import ssl
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from ..auth._credentials import Credentials
from ..errors import ConfigurationError, MessageError
from ..events import Reporter
from ..smtp._connection import verified_context
from ._lookup import SentLookup
from ._session import IMAPSettings
from ._wire import check_message_id, check_seconds

if TYPE_CHECKING:
    from .._options import Settings

__all__ = ["IMAP_THREADS", "SentMail"]

IMAP_THREADS = 4
"""Threads a sender keeps for IMAP's blocking steps: as many lookups at once."""


class SentMail:
    """The Sent Mail lookups of one sender.

    Args:
        settings: the sender's options (`imap_host`, `imap_port`, `find_sent_wait`,
            `timeout`, the TLS context asked for).
        context: the sender's verified TLS context, or None when it has not built one.
        reporter: the sender's reporter (log line and event hook).
    """

    def __init__(
        self, settings: Settings, context: ssl.SSLContext | None, reporter: Reporter
    ) -> None:
        self._settings = settings
        self._context = context
        self._reporter = reporter
        self._imap: IMAPSettings | None = None
        self._threads: ThreadPoolExecutor | None = None

    async def find(
        self,
        credentials: Credentials | None,
        message_id: str,
        *,
        sent_at: float | None,
        wait: float | None,
    ) -> bool:
        """See `GmailSender.find_sent`; `credentials` are the ones the sender signs in with."""
        try:
            wanted = check_message_id(message_id)
        except ValueError as exc:
            raise MessageError(f"cannot look for this Message-ID: {exc}") from None
        window = check_seconds(self._settings.find_sent_wait if wait is None else wait, "wait")
        since = check_seconds(sent_at, "sent_at", optional=True)
        assert window is not None
        lookup = SentLookup(await self._imap_settings(), credentials, self._reporter, self._pool())
        return await lookup.find(wanted, sent_at=since, wait=window)

    async def _imap_settings(self) -> IMAPSettings:
        if self._imap is None:
            context = self._context
            if context is None:  # loading the system's CAs reads files: not on the loop
                context = await asyncio.to_thread(
                    verified_context, self._settings.client_tls_context
                )
            self._imap = IMAPSettings.of(self._settings, context)
        return self._imap

    def _pool(self) -> ThreadPoolExecutor:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(
                max_workers=IMAP_THREADS, thread_name_prefix="gmail-send-imap"
            )
        return self._threads

    def close(self) -> None:
        """Let the IMAP threads go once their steps end (a lookup still running fails)."""
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None


def refuse_sink() -> ConfigurationError:
    """The error of a lookup asked of a sender that delivers to a sink."""
    return ConfigurationError(
        "a sender with a sink sends nothing to Gmail: there is no Sent Mail to search"
    )
