"""`OAuth2Credentials`: a user's refresh token, turned into fresh access tokens forever after.

google.oauth2.credentials.Credentials does the refresh grant; `RefreshingTokenSource` caches
the access token, keeps a single refresh in flight and runs it in a worker thread. When the
credentials came from a token file, each refreshed token is written back atomically (0600);
a read-only file (a mounted secret) costs one warning, never the send. `on_refresh` lets an
application store tokens elsewhere (a database, a secret manager).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import stat
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Future
from datetime import datetime, timezone
from typing import Any

import google.oauth2.credentials

from ..errors import ConfigurationError
from ._refresh import DEFAULT_TOKEN_TIMEOUT, RefreshingTokenSource
from ._token_errors import AUTH_AGAIN
from ._token_file import (
    GOOGLE_TOKEN_URI,
    PinnedFile,
    parse_expiry,
    pin_token_file,
    read_token_file,
    validate_token_info,
    write_token_file,
)

__all__ = ["OAuth2Credentials", "OnRefresh", "check_mailbox"]

log = logging.getLogger("gmail_send.auth")

OnRefresh = Callable[[dict[str, Any]], Awaitable[None] | None]
"""`on_refresh(info)`: sync or async; `info` is the token file's content after a refresh."""


class OAuth2Credentials(RefreshingTokenSource):
    """A refreshing user credential for XOAUTH2: refresh token + OAuth client id and secret.

    Usually made with `from_file("token.json")` (written by `gmail-send auth`) or
    `from_info(dict)`. The access token is cached until shortly before it expires; then one
    refresh runs in a worker thread, shared by every caller. See `docs/oauth2.md`.

    Args:
        user: the mailbox the tokens are for (the XOAUTH2 `user=`).
        refresh_token: the long-lived refresh token from the consent flow.
        client_id: the OAuth client's id.
        client_secret: the OAuth client's secret.
        token_uri: the token endpoint (default: Google's).
        access_token: a current access token to use until `expiry`, if one is known.
        expiry: when `access_token` expires (a naive datetime is taken as UTC).
        scopes: the scopes the refresh token was granted, if known.
        on_refresh: called with the token file's content after each refresh (sync or async),
            e.g. to store it in a database.
        timeout: seconds each request to the token endpoint may take.
    """

    def __init__(
        self,
        *,
        user: str,
        refresh_token: str,
        client_id: str,
        client_secret: str,
        token_uri: str = GOOGLE_TOKEN_URI,
        access_token: str | None = None,
        expiry: datetime | None = None,
        scopes: Sequence[str] | None = None,
        on_refresh: OnRefresh | None = None,
        timeout: float = DEFAULT_TOKEN_TIMEOUT,
    ) -> None:
        check_mailbox(user, what="user")
        for name, value in (
            ("refresh_token", refresh_token),
            ("client_id", client_id),
            ("client_secret", client_secret),
            ("token_uri", token_uri),
        ):
            if not isinstance(value, str) or not value.strip():
                raise ConfigurationError(
                    f"OAuth2Credentials needs a non-empty {name}", hint=f"run: {AUTH_AGAIN}"
                )
        if expiry is not None and expiry.tzinfo is not None:
            expiry = expiry.astimezone(timezone.utc).replace(tzinfo=None)
        credentials = google.oauth2.credentials.Credentials(  # type: ignore[no-untyped-call]
            access_token,
            refresh_token=refresh_token,
            token_uri=token_uri,
            client_id=client_id,
            client_secret=client_secret,
            scopes=list(scopes) if scopes is not None else None,
            expiry=expiry,
            account=user,
        )
        super().__init__(
            credentials, user=user, token_uri=token_uri, client_id=client_id, timeout=timeout
        )
        self._on_refresh = on_refresh
        self._path: str | None = None
        self._pinned: PinnedFile | None = None
        self._extra: dict[str, Any] = {}
        self._write_warned = False
        self._callback_lock = threading.Lock()

    @classmethod
    def from_info(
        cls,
        info: Mapping[str, Any],
        *,
        user: str | None = None,
        token_uri: str | None = None,
        on_refresh: OnRefresh | None = None,
        timeout: float = DEFAULT_TOKEN_TIMEOUT,
    ) -> OAuth2Credentials:
        """From an authorized-user dict (a token file's content, e.g. kept in a database).

        `user=` wins over the dict's `account`; `token_uri=` wins over the dict's `token_uri`,
        which wins over Google's endpoint (google-auth's own loader always resets it).

        Args:
            info: the token file's content as a dict.
            user: the mailbox, when `info` has no `account` or to override it.
            token_uri: the token endpoint instead of the one in `info`.
            on_refresh: called with the new content after each refresh (sync or async).
            timeout: seconds each request to the token endpoint may take.
        """
        data = validate_token_info(info)
        return cls._from_checked(
            data,
            "token info",
            user=user,
            token_uri=token_uri,
            on_refresh=on_refresh,
            timeout=timeout,
        )

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        user: str | None = None,
        token_uri: str | None = None,
        on_refresh: OnRefresh | None = None,
        write_back: bool = True,
        timeout: float = DEFAULT_TOKEN_TIMEOUT,
    ) -> OAuth2Credentials:
        """From a token file; refreshed tokens are written back unless `write_back=False`.

        Args:
            path: the token file written by `gmail-send auth`.
            user: the mailbox, when the file has no `account` or to override it.
            token_uri: the token endpoint instead of the one in the file.
            on_refresh: called with the file's new content after each refresh (sync or async).
            write_back: write refreshed tokens back to the file.
            timeout: seconds each request to the token endpoint may take.
        """
        name = os.fspath(path)
        data = read_token_file(name)
        pinned = pin_token_file(name) if write_back else None
        _warn_if_readable_by_others(name)
        credentials = cls._from_checked(
            data,
            f"token file {name}",
            user=user,
            token_uri=token_uri,
            on_refresh=on_refresh,
            timeout=timeout,
        )
        if write_back:  # absolute: a later chdir must not send the write elsewhere
            credentials._path = os.path.abspath(name)
            credentials._pinned = pinned
        return credentials

    @classmethod
    def _from_checked(
        cls,
        data: dict[str, Any],
        source: str,
        *,
        user: str | None,
        token_uri: str | None,
        on_refresh: OnRefresh | None,
        timeout: float,
    ) -> OAuth2Credentials:
        account = user or data.get("account")
        if not account:
            raise ConfigurationError(
                f"{source} does not say which mailbox it is for (no 'account' key)",
                hint="pass user='me@gmail.com', or create the file with gmail-send auth, "
                "which records the account",
            )
        if user and data.get("account") and user.lower() != str(data["account"]).lower():
            log.debug("user=%s overrides the account %s in %s", user, data["account"], source)
        expiry_text = data.get("expiry")
        token = data.get("token") or None
        if expiry_text:
            expiry: datetime | None = parse_expiry(expiry_text, source=source)
        elif token:
            # google-auth's rule for files: a token without expiry is refreshed on first use.
            expiry = datetime(1970, 1, 1)
        else:
            expiry = None
        scopes = data.get("scopes")
        if isinstance(scopes, str):
            scopes = scopes.split()
        credentials = cls(
            user=account,
            refresh_token=data["refresh_token"],
            client_id=data["client_id"],
            client_secret=data["client_secret"],
            token_uri=token_uri or data.get("token_uri") or GOOGLE_TOKEN_URI,
            access_token=token,
            expiry=expiry,
            scopes=scopes,
            on_refresh=on_refresh,
            timeout=timeout,
        )
        credentials._extra = {k: v for k, v in data.items() if k not in _GOOGLE_KEYS}
        return credentials

    @property
    def token_path(self) -> str | None:
        """The token file refreshed tokens are written to, if any."""
        return self._path

    @property
    def token_uri(self) -> str:
        """The token endpoint refreshes go to."""
        return str(self._token_uri)

    def __repr__(self) -> str:
        path = f", token_path={self._path!r}" if self._path else ""
        return (
            f"OAuth2Credentials(user={self._user!r}, token_uri={self._token_uri!r}{path}, "
            "refresh_token='***')"
        )

    def _secrets(self) -> tuple[str, ...]:
        google_credentials = self._google
        assert isinstance(google_credentials, google.oauth2.credentials.Credentials)
        values = (
            google_credentials.token,
            google_credentials.refresh_token,
            google_credentials.client_secret,
        )
        return tuple(v for v in values if isinstance(v, str) and v)

    def _info(self) -> dict[str, Any]:
        google_credentials = self._google
        assert isinstance(google_credentials, google.oauth2.credentials.Credentials)
        fresh: dict[str, Any] = json.loads(
            google_credentials.to_json()  # type: ignore[no-untyped-call]  # google-auth
        )
        return {**self._extra, **fresh, "account": self._user}

    def _persist(self) -> dict[str, Any] | None:
        info = self._info()
        if self._path is None:
            return info
        try:
            self._pinned = write_token_file(self._path, info, pinned=self._pinned)
        except ConfigurationError as exc:
            if not self._write_warned:
                self._write_warned = True
                log.warning("%s; using it in memory only", exc.message)
        except OSError as exc:
            if not self._write_warned:
                self._write_warned = True
                log.warning(
                    "cannot write the refreshed token back to %s (%s); using it in memory only "
                    "(pass write_back=False for a read-only token file)",
                    self._path,
                    exc.strerror or type(exc).__name__,
                )
        else:
            self._write_warned = False
        return info

    def _notify(self, info: dict[str, Any], loop: asyncio.AbstractEventLoop | None) -> None:
        callback = self._on_refresh
        if callback is None:
            return
        with self._callback_lock:
            try:
                result = callback(dict(info))
            except Exception as exc:
                self._callback_failed(exc)
                return
        if inspect.isawaitable(result):
            self._run_awaitable(result, loop)

    def _run_awaitable(
        self, awaitable: Awaitable[None], loop: asyncio.AbstractEventLoop | None
    ) -> None:
        """Run an async on_refresh on the loop of the caller that started the refresh."""

        async def run() -> None:
            await awaitable

        coroutine = run()
        if loop is not None and loop.is_running():
            try:
                done = asyncio.run_coroutine_threadsafe(coroutine, loop)
            except RuntimeError:  # the loop closed meanwhile: run it here instead
                pass
            else:
                done.add_done_callback(self._callback_done)
                return
        try:
            asyncio.run(coroutine)
        except Exception as exc:
            self._callback_failed(exc)

    def _callback_done(self, done: Future[None]) -> None:
        if not done.cancelled() and done.exception() is not None:
            self._callback_failed(done.exception())

    def _callback_failed(self, exc: BaseException | None) -> None:
        # Only the type: an application's exception text may quote the token it was storing.
        log.warning(
            "on_refresh callback for %s raised %s (the send goes on)",
            self._user,
            type(exc).__name__,
        )


def check_mailbox(address: object, *, what: str) -> str:
    """A mailbox address usable as the XOAUTH2 user, or a `ConfigurationError`."""
    if (
        not isinstance(address, str)
        or "@" not in address
        or address.startswith("@")
        or address.endswith("@")
        or any(ch.isspace() or ord(ch) < 32 for ch in address)
    ):
        raise ConfigurationError(
            f"{what} must be a mailbox address like me@gmail.com, not {address!r}"
        )
    return address


_GOOGLE_KEYS = frozenset(
    {
        "token",
        "refresh_token",
        "token_uri",
        "client_id",
        "client_secret",
        "scopes",
        "expiry",
        "rapt_token",
        "universe_domain",
        "account",
    }
)


_warned_readable: set[str] = set()


def _warn_if_readable_by_others(path: str) -> None:
    """A token file holds a refresh token: say once if other users can read it."""
    if os.name != "posix" or path in _warned_readable:
        return
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return
    if mode & 0o077:
        _warned_readable.add(path)
        log.warning(
            "the token file %s can be read by other users (mode %04o); it holds a refresh "
            "token: chmod 600 %s",
            path,
            mode,
            path,
            extra={"event": "token_file_readable"},
        )
