"""`find_sent`: does the account's Sent Mail hold a message with this Message-ID?

smtp.gmail.com keeps the client's Message-ID and files a copy of every message it accepts in
the account's Sent Mail, so an unknown outcome (the connection broke after the body went out)
can be settled by looking there. The lookup signs in to IMAP with the sender's credentials
(XOAUTH2 with a token from the sender's token source, refreshed once if Gmail refuses it; or
LOGIN with the app password), examines the mailbox marked `\\Sent` (else `\\All`), and searches
it until the window (`sent_at + wait`) has passed: the copy may be filed a little after the
body went out. The blocking `imaplib` work runs in worker threads, one step at a time.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from .._retry import classify
from ..auth._credentials import (
    AppPassword,
    Credentials,
    Fallback,
    SingleCredentials,
    TokenSource,
    fetch_token,
)
from ..auth._scopes import granted_scopes
from ..auth._xoauth2 import MAIL_SCOPE
from ..errors import ReconciliationUnavailableError, TokenError
from ..events import Reporter
from ._session import IMAPSettings, SentMailSession, SessionBroken, TokenRefused

__all__ = ["FIRST_POLL", "MAX_POLL", "SentLookup"]

log = logging.getLogger("gmail_send.imap")
T = TypeVar("T")

FIRST_POLL = 0.5
"""Seconds between the first two searches; the pause doubles up to `MAX_POLL`."""
MAX_POLL = 8.0
"""The longest pause between two searches."""
_BROKEN_SESSIONS = 3
"""New sessions tried after broken ones before the server counts as unreachable."""


class SentLookup:
    """Searches one account's Sent Mail over IMAP (see the module docstring).

    Args:
        settings: where IMAP is and the TLS context that verifies it.
        credentials: the sender's credentials, as its SMTP sessions sign in with them.
        reporter: logs each lookup (and reports it to the sender's hook).
    """

    def __init__(
        self, settings: IMAPSettings, credentials: Credentials | None, reporter: Reporter
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self._reporter = reporter

    async def find(self, message_id: str, *, sent_at: float | None, wait: float) -> bool:
        """True once a copy is found; False when none is there after `sent_at + wait`.

        Raises:
            ReconciliationUnavailableError: no lookup can run (the reason says why).
        """
        started = time.time()
        ends = (sent_at if sent_at is not None else started) + wait
        user = self._user()
        broken = 0
        searches = 0
        pause = FIRST_POLL
        session: SentMailSession | None = None
        try:
            while True:
                if session is None:
                    try:
                        session = await self._open_signed_in(user)
                        await _off_loop(session, session.open_sent_mailbox)
                    except SessionBroken as exc:
                        await _closed(session)
                        session = None
                        broken += 1
                        if broken > _BROKEN_SESSIONS:
                            raise self._unreachable(exc) from None
                        continue
                current = session
                try:
                    if searches:
                        await _off_loop(current, current.refresh)
                    searches += 1
                    search = functools.partial(current.contains, message_id)
                    if await _off_loop(current, search):
                        self._report(message_id, True, searches, started)
                        return True
                except SessionBroken as exc:
                    await _closed(session)
                    session = None
                    broken += 1
                    if broken > _BROKEN_SESSIONS:
                        raise self._unreachable(exc) from None
                    continue
                left = ends - time.time()
                if left <= 0:
                    self._report(message_id, False, searches, started)
                    return False
                await asyncio.sleep(min(pause, left))
                pause = min(pause * 2, MAX_POLL)
        finally:
            await _closed(session)

    async def probe(self) -> tuple[str, bool]:
        """Sign in, find the Sent mailbox, log out: whether a lookup would run (the doctor's
        check), without waiting for any message.

        Returns:
            The mailbox's name as listed, and whether Gmail's search (X-GM-EXT-1) is offered.

        Raises:
            ReconciliationUnavailableError: as `find` would.
        """
        user = self._user()
        try:
            session = await self._open_signed_in(user)
        except SessionBroken as exc:
            raise self._unreachable(exc) from None
        try:
            mailbox = await _off_loop(session, session.open_sent_mailbox)
            return mailbox, session.gmail_extensions
        except SessionBroken as exc:
            raise self._unreachable(exc) from None
        finally:
            await _closed(session)

    # -- signing in ---------------------------------------------------------------------------

    def _user(self) -> str:
        credentials = self.credentials
        if credentials is None:
            raise ReconciliationUnavailableError(
                "a sender without credentials (the Workspace relay, by IP address) has no "
                "mailbox to search",
                reason="relay",
                hint="the relay files no copy in Sent Mail; check the recipient's mailbox, "
                "then resolve the mail",
            )
        return credentials.user

    async def _open_signed_in(self, user: str) -> SentMailSession:
        credentials = self.credentials
        if isinstance(credentials, Fallback):
            if not credentials.using_fallback:
                try:
                    return await self._signed_in(credentials.oauth, user)
                except ReconciliationUnavailableError as exc:
                    if exc.reason not in ("sign_in", "scope"):
                        raise
            return await self._signed_in(credentials.app_password, user)
        assert credentials is not None
        return await self._signed_in(credentials, user)

    async def _signed_in(self, credentials: SingleCredentials, user: str) -> SentMailSession:
        if isinstance(credentials, AppPassword):
            session = await _connect(self.settings)
            password = credentials.password
            await _signing_in(session, lambda: session.sign_in_with_password(user, password))
            return session
        return await self._signed_in_with_token(credentials, user)

    async def _signed_in_with_token(self, source: TokenSource, user: str) -> SentMailSession:
        scopes = granted_scopes(source)
        if scopes is not None and MAIL_SCOPE not in scopes:
            raise ReconciliationUnavailableError(
                f"the access token of {user} has no {MAIL_SCOPE} scope (it has "
                f"{' '.join(sorted(scopes)) or 'none'}): IMAP refuses it",
                reason="scope",
                hint=f"authorize with the {MAIL_SCOPE} scope (the gmail.send scope sends over "
                "the API only), or use the app password; until then, check the recipient's "
                "mailbox and resolve the mail",
            )
        token = await self._token(source, rejected=None)
        try:
            return await self._token_session(user, token)
        except TokenRefused as refusal:
            if not refusal.may_refresh:
                raise _token_refused(user, refusal) from None
            first = refusal
        fresh = await self._token(source, rejected=token)
        if fresh == token:
            raise _token_refused(user, first)
        try:
            return await self._token_session(user, fresh)
        except TokenRefused as refusal:
            raise _token_refused(user, refusal) from None

    async def _token_session(self, user: str, token: str) -> SentMailSession:
        session = await _connect(self.settings)
        await _signing_in(session, lambda: session.sign_in_with_token(user, token))
        return session

    async def _token(self, source: TokenSource, *, rejected: str | None) -> str:
        try:
            return await fetch_token(source, rejected=rejected)
        except TokenError as exc:
            raise ReconciliationUnavailableError(
                f"no access token for the IMAP lookup: {exc.message}",
                reason="unreachable" if classify(exc).retry else "sign_in",
                hint=exc.hint,
            ) from exc

    # -- reporting ----------------------------------------------------------------------------

    def _unreachable(self, exc: SessionBroken) -> ReconciliationUnavailableError:
        return ReconciliationUnavailableError(
            f"the IMAP session with {self.settings.where} broke: {exc}",
            reason="unreachable",
            hint="try again later; the lookup needs imap.gmail.com:993 (implicit TLS)",
        )

    def _report(self, message_id: str, found: bool, searches: int, started: float) -> None:
        self._reporter.note(
            "sent_lookup",
            "Sent Mail lookup for %s: %s after %d search(es) in %.2f s",
            message_id,
            "found" if found else "not found",
            searches,
            time.time() - started,
            message_id=message_id,
            found=found,
            searches=searches,
        )


async def _connect(settings: IMAPSettings) -> SentMailSession:
    return await asyncio.to_thread(SentMailSession, settings)


async def _signing_in(session: SentMailSession, step: Callable[[], None]) -> None:
    """Run a sign-in step; on any failure the session is closed before the error leaves."""
    try:
        await _off_loop(session, step)
    except BaseException:
        await _closed(session)
        raise


async def _off_loop(session: SentMailSession, step: Callable[[], T]) -> T:
    """Run one blocking step in a worker thread. Cancelled meanwhile, the connection is cut
    at once, so the thread's read fails instead of waiting for its timeout."""
    try:
        return await asyncio.to_thread(step)
    except asyncio.CancelledError:
        session.abort()
        raise


async def _closed(session: SentMailSession | None) -> None:
    if session is not None:
        await asyncio.shield(asyncio.to_thread(session.close))


def _token_refused(user: str, refusal: TokenRefused) -> ReconciliationUnavailableError:
    challenge = refusal.challenge
    hint = challenge.hint if challenge is not None else None
    status = f" (status {challenge.status})" if challenge and challenge.status else ""
    return ReconciliationUnavailableError(
        f"IMAP refused the access token of {user}{status}: {refusal.text}",
        reason="sign_in",
        hint=hint or "the token may lack the https://mail.google.com/ scope; authorize again",
    )
