"""A cached access token with one refresh at a time, shared by every caller.

`RefreshingTokenSource` is the machinery under `OAuth2Credentials` and `ServiceAccount`:

- the access token is served from a cache until shortly before it expires;
- a refresh runs google-auth's blocking HTTP call in a worker thread this class starts, never
  on an event loop's thread, so a slow token endpoint does not stall a web server;
- after Gmail rejected a token, `get_token(rejected=token)` refreshes if that token is still
  the cached one, however new it is; callers rejected with a token already replaced get the
  replacement, so many sessions rejected with the same token cause one refresh;
- however many coroutines, senders, event loops or OS threads ask at once, a single refresh is
  in flight and they all wait for its result: a `concurrent.futures.Future` under a
  `threading.Lock`, which any loop can await through `asyncio.wrap_future` (an `asyncio.Lock`
  would only serialize the callers of one loop);
- after a refresh, subclasses persist the new token (`_persist`) and tell the application
  (`_notify`); neither can fail the send.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import google.auth.credentials
import google.auth.transport.requests

from ..errors import GmailSendError, TokenError
from ._json import parse_json
from ._token_errors import GrantKind, describe_refresh_failure, missing_scope_error
from ._xoauth2 import MAIL_SCOPE

__all__ = [
    "DEFAULT_TOKEN_TIMEOUT",
    "FORCED_REFRESH_COALESCE",
    "REFRESH_MARGIN",
    "RefreshStats",
    "RefreshingTokenSource",
    "TokenEndpointTransport",
]

log = logging.getLogger("gmail_send.auth")

REFRESH_MARGIN = timedelta(minutes=3, seconds=45)
"""A cached token this close to its expiry is refreshed (google-auth's `REFRESH_THRESHOLD`)."""

FORCED_REFRESH_COALESCE = 5.0
"""Seconds after a refresh during which `force_refresh=True` *without* `rejected` returns that
refresh's token (for callers that cannot say which token was rejected).

Many callers rejected with the same old token all force a refresh at about the same moment;
those that arrive after the first refresh finished get its token instead of starting another.
The sender passes `rejected`, which tells a stale request from a token that must be replaced
(even one issued a moment ago), so this window does not apply to it.
"""

DEFAULT_TOKEN_TIMEOUT = 30.0
"""Seconds to wait for the token endpoint (google-auth's own default is 120)."""


@dataclass(frozen=True)
class RefreshStats:
    """How often a credential refreshed, and where the last refresh ran (for monitoring)."""

    refreshes: int
    failures: int
    last_thread_id: int | None
    last_duration: float | None


class TokenEndpointTransport(google.auth.transport.requests.Request):
    """google-auth's requests transport with a timeout that notes the `scope` of each grant.

    google-auth only warns about a missing scope when scopes were requested, and service
    account grants are never checked; this transport lets the caller check every answer.
    """

    def __init__(self, *, timeout: float = DEFAULT_TOKEN_TIMEOUT) -> None:
        super().__init__()
        self.timeout = timeout
        self.granted_scope: str | None = None

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> Any:
        response = super().__call__(  # type: ignore[no-untyped-call]  # google-auth
            url,
            method=method,
            body=body,
            headers=headers,
            timeout=self.timeout if timeout is None else timeout,
            **kwargs,
        )
        if response.status == 200:
            try:
                answer = parse_json(response.data)
            except ValueError:
                answer = None
            if isinstance(answer, dict) and isinstance(answer.get("scope"), str):
                self.granted_scope = answer["scope"]
        return response

    def forget(self) -> None:
        """Clear `granted_scope` before the next grant."""
        self.granted_scope = None


class RefreshingTokenSource:
    """A `TokenSource` around a google-auth credential: cached token, single-flight refresh.

    Subclasses give the google-auth credential, the mailbox and the kind of grant; they may
    override `_persist` (runs in the worker thread before waiters get the token) and
    `_notify` (runs after).
    """

    _kind: GrantKind = "user"
    forced_refresh_window: float = FORCED_REFRESH_COALESCE
    """Seconds after a refresh in which `force_refresh=True` without `rejected` reuses its token
    (settable)."""

    def __init__(
        self,
        credentials: google.auth.credentials.Credentials,
        *,
        user: str,
        token_uri: str | None,
        client_id: str | None = None,
        timeout: float = DEFAULT_TOKEN_TIMEOUT,
    ) -> None:
        self._google = credentials
        self._user = user
        self._token_uri = token_uri
        self._client_id = client_id
        self._timeout = timeout
        self._transport: TokenEndpointTransport | None = None
        self._lock = threading.Lock()
        self._inflight: Future[str] | None = None
        self._token: str | None = credentials.token
        self._expiry: datetime | None = credentials.expiry
        self._last_refreshed: float | None = None
        self._stats = RefreshStats(0, 0, None, None)

    @property
    def user(self) -> str:
        """The mailbox the tokens are for (the XOAUTH2 `user=`)."""
        return self._user

    @property
    def expiry(self) -> datetime | None:
        """When the cached access token expires (UTC), or None if unknown or none yet."""
        expiry = self._expiry
        return expiry.replace(tzinfo=timezone.utc) if expiry is not None else None

    @property
    def refresh_stats(self) -> RefreshStats:
        """Counts of refreshes and failures, the last refresh's thread id and duration."""
        return self._stats

    async def get_token(self, *, force_refresh: bool = False, rejected: str | None = None) -> str:
        """Return the cached access token, refreshing it first if it is (nearly) expired.

        `rejected` is a token Gmail refused (it implies `force_refresh`): if it is the cached
        token, a new one is fetched however recently it was issued; if the cache holds another
        token already (another caller's refresh replaced it), that one is returned. Without
        `rejected`, `force_refresh=True` gets a new token unless a refresh finished less than
        `forced_refresh_window` seconds ago (5 s); then that refresh's token is returned.
        Either way a refresh in flight is joined, not repeated. Cancelling one waiter does not
        cancel the refresh the others wait for.
        """
        pending = self._token_or_refresh(force_refresh, rejected, asyncio.get_running_loop())
        if isinstance(pending, str):
            return pending
        return await asyncio.wrap_future(pending)

    def get_token_sync(
        self,
        *,
        force_refresh: bool = False,
        rejected: str | None = None,
        timeout: float | None = None,
    ) -> str:
        """`get_token` for synchronous code (a thread without a running event loop)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "get_token_sync() would block the running event loop; use await get_token()"
            )
        pending = self._token_or_refresh(force_refresh, rejected, None)
        if isinstance(pending, str):
            return pending
        return pending.result(timeout)

    def _token_or_refresh(
        self, force: bool, rejected: str | None, loop: asyncio.AbstractEventLoop | None
    ) -> str | Future[str]:
        with self._lock:
            if self._inflight is not None:
                return self._inflight
            token = self._token
            if token is not None and self._cached_will_do(token, force, rejected):
                return token
            future: Future[str] = Future()
            # A running future cannot be cancelled: a waiter that is cancelled (and whose
            # wrap_future then calls cancel()) leaves the refresh to the others.
            future.set_running_or_notify_cancel()
            self._inflight = future
            try:
                threading.Thread(
                    target=self._run_refresh,
                    args=(future, loop),
                    name=f"gmail_send-refresh-{self._user}",
                    daemon=True,
                ).start()
            except BaseException:
                self._inflight = None
                raise
            return future

    def _cached_will_do(self, token: str, force: bool, rejected: str | None) -> bool:
        """Whether the cached `token` answers this request (called with the lock held)."""
        if rejected is not None:  # replaced since it was handed out, or must be replaced now
            return token != rejected and not self._stale()
        if force:
            return self._recently_refreshed()
        return not self._stale()

    def _stale(self) -> bool:
        if self._expiry is None:
            return False
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        return now >= self._expiry - REFRESH_MARGIN

    def _recently_refreshed(self) -> bool:
        done = self._last_refreshed
        return done is not None and time.monotonic() - done < self.forced_refresh_window

    def _run_refresh(self, future: Future[str], loop: asyncio.AbstractEventLoop | None) -> None:
        try:
            info = self._refresh_and_settle(future)
        finally:
            if not future.done():  # a bug above must not leave the waiters hanging
                with self._lock:
                    self._inflight = None
                future.set_exception(TokenError("the token refresh ended unexpectedly"))
        if info is not None:
            self._notify(info, loop)

    def _refresh_and_settle(self, future: Future[str]) -> dict[str, Any] | None:
        """Refresh, persist, then resolve `future`; return what `_notify` gets."""
        started = time.monotonic()
        try:
            token, expiry = self._refresh_blocking()
        except BaseException as exc:  # every failure reaches the waiters, typed
            error = self._translate(exc)
            self._finish(started, failed=True)
            log.info("token refresh for %s failed: %s", self._user, error)
            future.set_exception(error)
            return None
        info: dict[str, Any] | None = None
        try:
            info = self._persist()
        except Exception as exc:  # persisting is best effort: the send goes on
            log.warning(
                "could not store the refreshed token for %s: %s", self._user, type(exc).__name__
            )
        self._finish(started, failed=False, token=token, expiry=expiry)
        log.debug(
            "refreshed the access token for %s in %.0f ms (expires %s)",
            self._user,
            (time.monotonic() - started) * 1000,
            self.expiry.isoformat() if self.expiry else "unknown",
        )
        future.set_result(token)
        return info

    def _refresh_blocking(self) -> tuple[str, datetime | None]:
        if self._transport is None:
            self._transport = TokenEndpointTransport(timeout=self._timeout)
        transport = self._transport
        transport.forget()
        self._google.refresh(transport)  # type: ignore[no-untyped-call]  # google-auth
        token = self._google.token
        if not isinstance(token, str) or not token:
            raise TokenError(
                f"the token endpoint gave no access token for {self._user}",
                hint="check that token_uri points at an OAuth2 token endpoint",
            )
        scope = transport.granted_scope
        if scope is not None and MAIL_SCOPE not in scope.split():
            raise missing_scope_error(self._user, scope, kind=self._kind)
        expiry = self._google.expiry
        return token, expiry if isinstance(expiry, datetime) else None

    def _finish(
        self,
        started: float,
        *,
        failed: bool,
        token: str | None = None,
        expiry: datetime | None = None,
    ) -> None:
        now = time.monotonic()
        with self._lock:
            old = self._stats
            self._stats = RefreshStats(
                refreshes=old.refreshes + 1,
                failures=old.failures + int(failed),
                last_thread_id=threading.get_ident(),
                last_duration=now - started,
            )
            if not failed:
                self._token = token
                self._expiry = expiry
                self._last_refreshed = now
            self._inflight = None

    def _translate(self, exc: BaseException) -> BaseException:
        if isinstance(exc, GmailSendError) or not isinstance(exc, Exception):
            return exc
        error = describe_refresh_failure(
            exc,
            kind=self._kind,
            user=self._user,
            token_uri=self._token_uri,
            client_id=self._client_id,
            secrets=self._secrets(),
        )
        error.__cause__ = exc
        return error

    def _secrets(self) -> tuple[str, ...]:
        """Strings that must never appear in an error text (scrubbed if a server echoes them)."""
        token = self._google.token
        return (token,) if isinstance(token, str) and token else ()

    def _persist(self) -> dict[str, Any] | None:
        """Store the new token (worker thread, before the waiters resume); return what to
        pass to `_notify`. Default: nothing."""
        return None

    def _notify(self, info: dict[str, Any], loop: asyncio.AbstractEventLoop | None) -> None:
        """Tell the application about the new token (worker thread, after the waiters)."""
