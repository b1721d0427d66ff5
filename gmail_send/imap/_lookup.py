"""`find_sent`: does the account's Sent Mail hold a message with this Message-ID?

smtp.gmail.com keeps the client's Message-ID and files a copy of every message it accepts in
the account's Sent Mail, so an unknown outcome (the connection broke after the body went out)
can be settled by looking there. The lookup signs in to IMAP with the sender's credentials
(XOAUTH2 with a token from the sender's token source, renewed once if IMAP refuses it by the
rule every door shares, `auth/_renewal.py`; or LOGIN with the app password; a `Fallback`
tries OAuth2, then the app password), examines the mailbox marked `\\Sent` (else `\\All`),
and searches it until the window (`sent_at + wait`) has passed: the copy may be filed a little
after the body went out. A copy Gmail received well before `sent_at` belongs to an earlier
message that reused the Message-ID and does not count. The blocking `imaplib` steps run in the
sender's own IMAP threads, one step at a time, so a slow IMAP server never holds up the
threads the rest of the library uses.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeVar

from .._retry import classify
from ..auth._credentials import AppPassword, Credentials, Fallback, SingleCredentials, TokenSource
from ..auth._renewal import with_renewal
from ..auth._scopes import granted_scopes
from ..auth._xoauth2 import MAIL_SCOPE
from ..errors import ReconciliationUnavailableError, TokenError
from ..events import Reporter
from ._session import IMAPSettings, SentMailSession, SessionBroken, TokenRefused

__all__ = ["FIRST_POLL", "MAX_POLL", "REUSE_MARGIN", "SentLookup", "log"]

log = logging.getLogger("gmail_send.imap")
T = TypeVar("T")

FIRST_POLL = 0.5
"""Seconds between the first two searches; the pause doubles up to `MAX_POLL`."""
MAX_POLL = 8.0
"""The longest pause between two searches."""
REUSE_MARGIN = 300.0
"""A copy Gmail received more than this many seconds before `sent_at` is another message with
the same Message-ID (the margin allows for the clocks of this host and Gmail's)."""
_BROKEN_SESSIONS = 3
"""New sessions tried after broken ones before the server counts as unreachable."""
_STEPS = 8
"""Steps of one session (connect, sign-in, LIST, EXAMINE, SEARCH, FETCH, NOOP, LOGOUT): with
the step timeout, what a lookup may take beyond its window."""


class SentLookup:
    """Searches one account's Sent Mail over IMAP (see the module docstring).

    Args:
        settings: where IMAP is and the TLS context that verifies it.
        credentials: the sender's credentials, as its SMTP sessions sign in with them.
        reporter: logs each lookup (and reports it to the sender's hook).
        threads: where the blocking IMAP steps run (the sender's IMAP threads).
    """

    def __init__(
        self,
        settings: IMAPSettings,
        credentials: Credentials | None,
        reporter: Reporter,
        threads: Executor | None = None,
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self._reporter = reporter
        self._threads = threads

    async def find(self, message_id: str, *, sent_at: float | None, wait: float) -> bool:
        """True once a copy is found; False when none is there after `sent_at + wait`.

        Args:
            message_id: a checked Message-ID (`check_message_id`).
            sent_at: when the body went out (a `time.time()` value; a time in the future
                counts as now); None: now.
            wait: the window in seconds, from `sent_at`.

        Raises:
            ReconciliationUnavailableError: no lookup can run (the reason says why), or it did
                not finish in time.
        """
        started = time.time()
        since = started if sent_at is None else min(sent_at, started)
        ends = since + wait
        not_before = None if sent_at is None else since - REUSE_MARGIN
        user = self._user()
        bound = max(0.0, ends - started) + _STEPS * (_BROKEN_SESSIONS + 1) * self.settings.timeout
        try:
            return await asyncio.wait_for(
                self._search_until(message_id, user, ends, not_before, started), bound
            )
        except asyncio.TimeoutError:
            raise ReconciliationUnavailableError(
                f"the Sent Mail lookup at {self.settings.where} did not finish in {bound:.0f} s",
                reason="unreachable",
                hint="the IMAP server is too slow or stopped answering; tried again later",
            ) from None

    async def _search_until(
        self, message_id: str, user: str, ends: float, not_before: float | None, started: float
    ) -> bool:
        broken = 0
        searches = 0
        pause = FIRST_POLL
        session: SentMailSession | None = None
        try:
            while True:
                try:
                    if session is None:
                        session = await self._open_signed_in(user)
                        await self._off_loop(session, session.open_sent_mailbox)
                    elif searches:
                        await self._off_loop(session, session.refresh)
                    searches += 1
                    search = functools.partial(session.contains, message_id, not_before=not_before)
                    if await self._off_loop(session, search):
                        self._report(message_id, True, searches, started)
                        return True
                except SessionBroken as exc:
                    if session is not None:
                        session.abort()  # a goodbye would wait on a broken connection
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
            if session is not None:
                await self._closed(session)

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
            mailbox = await self._off_loop(session, session.open_sent_mailbox)
            return mailbox, session.gmail_extensions
        except SessionBroken as exc:
            session.abort()
            raise self._unreachable(exc) from None
        finally:
            await self._closed(session)

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
                    if exc.reason not in ("sign_in", "scope", "unreachable"):
                        raise  # IMAP off, no Sent Mail, TLS: the password changes nothing
            return await self._signed_in(credentials.app_password, user)
        assert credentials is not None
        return await self._signed_in(credentials, user)

    async def _signed_in(self, credentials: SingleCredentials, user: str) -> SentMailSession:
        if isinstance(credentials, AppPassword):
            password = credentials.password
            return await self._session(lambda s: s.sign_in_with_password(user, password))
        return await self._signed_in_with_token(credentials, user)

    async def _signed_in_with_token(self, source: TokenSource, user: str) -> SentMailSession:
        async def sign_in(token: str) -> SentMailSession:
            scopes = granted_scopes(source)  # known once the source has a token
            if scopes is not None and MAIL_SCOPE not in scopes:
                raise _no_mail_scope(user, scopes)
            return await self._session(lambda s: s.sign_in_with_token(user, token))

        try:
            return await with_renewal(
                source,
                sign_in,
                refused=lambda exc: isinstance(exc, TokenRefused) and exc.may_refresh,
                not_renewed=lambda first: _token_refused(user, first),
                log=log,
                door="IMAP",
            )
        except TokenRefused as refusal:  # not renewable (status 400), or refused again
            raise _token_refused(user, refusal) from None
        except TokenError as exc:
            raise ReconciliationUnavailableError(
                f"no access token for the IMAP lookup: {exc.message}",
                reason="unreachable" if classify(exc).retry else "sign_in",
                hint=exc.hint,
            ) from exc

    # -- the threads --------------------------------------------------------------------------

    async def _session(self, sign_in: Callable[[SentMailSession], None]) -> SentMailSession:
        """A new connection, signed in with `sign_in`; closed if anything fails on the way
        (also when the caller is cancelled while it connects)."""
        loop = asyncio.get_running_loop()
        connecting = loop.run_in_executor(self._threads, SentMailSession, self.settings)
        try:
            session = await asyncio.shield(connecting)
        except asyncio.CancelledError:
            connecting.add_done_callback(_abort_when_made)
            raise
        try:
            await self._off_loop(session, functools.partial(sign_in, session))
        except BaseException:
            session.abort()
            raise
        return session

    async def _off_loop(self, session: SentMailSession, step: Callable[[], T]) -> T:
        """Run one blocking step in an IMAP thread. Cancelled meanwhile, the connection is cut
        at once, so the thread's read fails instead of waiting for its timeout."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._threads, step)
        except asyncio.CancelledError:
            session.abort()
            raise

    async def _closed(self, session: SentMailSession) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.shield(loop.run_in_executor(self._threads, session.close))

    # -- reporting ----------------------------------------------------------------------------

    def _unreachable(self, exc: SessionBroken) -> ReconciliationUnavailableError:
        return ReconciliationUnavailableError(
            f"the IMAP session with {self.settings.where} broke: {exc}",
            reason="unreachable",
            hint=f"tried again later; the lookup needs {self.settings.where} (implicit TLS)",
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


def _abort_when_made(connecting: asyncio.Future[SentMailSession]) -> None:
    """A connection finished after its caller was cancelled: cut it."""
    if not connecting.cancelled() and connecting.exception() is None:
        connecting.result().abort()


def _no_mail_scope(user: str, scopes: frozenset[str]) -> ReconciliationUnavailableError:
    return ReconciliationUnavailableError(
        f"the access token of {user} has no {MAIL_SCOPE} scope (it has "
        f"{' '.join(sorted(scopes)) or 'none'}): IMAP refuses it",
        reason="scope",
        hint=f"authorize with the {MAIL_SCOPE} scope (the gmail.send scope sends over the API "
        "only), or use the app password; until then, check the recipient's mailbox and "
        "resolve the mail",
    )


def _token_refused(user: str, refusal: Exception) -> ReconciliationUnavailableError:
    assert isinstance(refusal, TokenRefused)
    challenge = refusal.challenge
    hint = challenge.hint if challenge is not None else None
    status = f" (status {challenge.status})" if challenge and challenge.status else ""
    return ReconciliationUnavailableError(
        f"IMAP refused the access token of {user}{status}: {refusal.text}",
        reason="sign_in",
        hint=hint or f"the token may lack the {MAIL_SCOPE} scope; authorize again",
    )
