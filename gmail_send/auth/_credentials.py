"""Who signs in and with what: the `TokenSource` protocol, fixed tokens and app passwords.

The sender only ever asks a `TokenSource` for a token (`get_token`, through `fetch_token`), so
a fixed token, a refreshing OAuth2 credential or an application's own function are
interchangeable. Secrets are kept out of reprs: they show `***`.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import re
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Protocol, cast, runtime_checkable

from ..errors import AuthenticationError, ConfigurationError, TokenError

__all__ = [
    "APP_PASSWORDS_PAGE",
    "AppPassword",
    "Credentials",
    "Fallback",
    "OAuth2Token",
    "SingleCredentials",
    "TokenFunction",
    "TokenSource",
    "app_password_problem",
    "checked_token",
    "fetch_token",
    "takes_rejected",
]

log = logging.getLogger("gmail_send.auth")

_APP_PASSWORD_GROUPS = re.compile(r"[A-Za-z]{4}(?: +[A-Za-z]{4}){3}")


@runtime_checkable
class TokenSource(Protocol):
    """Anything that can hand out an OAuth2 access token for one mailbox.

    `force_refresh=True` asks for a new token even if the cached one looks valid: the sender
    passes it once after Gmail rejected a token. A source may also accept a keyword
    `rejected: str | None = None`: the sender then passes the token Gmail rejected, so the
    source can tell whether it still holds that token (and must replace it, however new) or
    has replaced it already. Sources without the keyword keep working; the sender inspects
    `get_token`'s signature once per class.
    """

    @property
    def user(self) -> str:
        """The mailbox address the token is for (the XOAUTH2 `user=`)."""
        ...

    async def get_token(self, *, force_refresh: bool = False) -> str:
        """Return a current access token.

        Args:
            force_refresh: get a new token even if the cached one looks valid (the sender
                passes True once after Gmail rejected a token).
        """
        ...


class _TakesRejected(Protocol):
    async def get_token(
        self, *, force_refresh: bool = False, rejected: str | None = None
    ) -> str: ...


_TAKES_REJECTED: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()


def takes_rejected(source: TokenSource) -> bool:
    """Whether `source.get_token` accepts the `rejected` keyword (inspected once per class)."""
    kind = type(source)
    known = _TAKES_REJECTED.get(kind)
    if known is None:
        known = _has_keyword(source.get_token, "rejected")
        with contextlib.suppress(TypeError):  # a class that cannot be weakly referenced
            _TAKES_REJECTED[kind] = known
    return known


def _has_keyword(function: Callable[..., object], name: str) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    parameter = parameters.get(name)
    if parameter is not None:
        return parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


async def fetch_token(
    source: TokenSource, *, rejected: str | None = None, force_refresh: bool = False
) -> str:
    """A usable token from `source`; with `rejected` (the token Gmail refused), a forced refresh
    that names it to sources that take the keyword, a plain forced refresh to the others.

    What the source returns is checked before it goes anywhere: anything but a non-empty
    one-line string is a `TokenError` (a token with CR or LF would otherwise end up in the
    SMTP command or an HTTP header).
    """
    if rejected is None:
        token = await source.get_token(force_refresh=force_refresh)
    elif takes_rejected(source):
        token = await cast(_TakesRejected, source).get_token(force_refresh=True, rejected=rejected)
    else:
        token = await source.get_token(force_refresh=True)
    return checked_token(token, source.user)


def checked_token(token: object, user: object) -> str:
    """`token` if it can be sent for `user`; else a `TokenError` that never shows the value."""
    if not isinstance(user, str) or not user or _UNSENDABLE.search(user):
        raise TokenError(
            "the token source's user is not a one-line mailbox address",
            hint="a TokenSource's user must be the mailbox, e.g. me@gmail.com",
        )
    if not isinstance(token, str):
        raise TokenError(
            f"the token source returned {type(token).__name__}, not a string",
            hint="get_token() must return the access token as a str",
        )
    if not token or _UNSENDABLE.search(token):
        raise TokenError(
            "the token source returned an empty token or one with a control character",
            hint="get_token() must return the access token itself, on one line; nothing was sent",
        )
    return token


_UNSENDABLE = re.compile(r"[\x00-\x20\x7f]")


class OAuth2Token:
    """A fixed access token, e.g. one the application obtained itself. It is never refreshed.

    Args:
        user: the mailbox the token is for (the XOAUTH2 `user=`), e.g. me@gmail.com.
        access_token: the OAuth2 access token with the Gmail scope.
    """

    __slots__ = ("_token", "_user")

    def __init__(self, user: str, access_token: str) -> None:
        _check_user(user, "OAuth2Token")
        if not isinstance(access_token, str) or not access_token.strip():
            raise ConfigurationError(
                "OAuth2Token needs a non-empty access token (a string)",
                hint="pass the access token your application obtained, e.g. ya29....",
            )
        self._user = user
        self._token = access_token

    @property
    def user(self) -> str:
        return self._user

    async def get_token(self, *, force_refresh: bool = False, rejected: str | None = None) -> str:
        """Return the token; a forced refresh cannot do better than the same token (the
        sender then does not sign in with it a second time).

        Args:
            force_refresh: ignored: there is no other token to give.
            rejected: ignored: the token Gmail rejected, if any.
        """
        return self._token

    def __repr__(self) -> str:
        return f"OAuth2Token(user={self._user!r}, access_token='***')"


class AppPassword:
    """An app password (16 letters from Google's account page) for AUTH LOGIN / PLAIN.

    Google shows app passwords as four groups of four letters; the spaces between the groups
    are removed. Any other password is kept as given (a normal account password may hold
    spaces, and Gmail's answer to it, 534 5.7.9, is what tells the user to make an app password).

    Args:
        user: the mailbox that signs in, e.g. me@gmail.com.
        password: the app password; a warning is logged (once per user) when it does not look
            like one.
    """

    __slots__ = ("_password", "_user")

    def __init__(self, user: str, password: str) -> None:
        _check_user(user, "AppPassword")
        if not isinstance(password, str) or not password.strip():
            raise ConfigurationError(
                "AppPassword needs a non-empty password (a string)",
                hint=f"create an app password at {APP_PASSWORDS_PAGE}",
            )
        cleaned = password.strip()
        if _APP_PASSWORD_GROUPS.fullmatch(cleaned):
            cleaned = cleaned.replace(" ", "")
        self._user = user
        self._password = cleaned
        problem = app_password_problem(cleaned)
        if problem is not None and user.lower() not in _warned_shape:
            _warned_shape.add(user.lower())
            log.warning(
                "the app password for %s does not look like one: %s; if Gmail refuses it, use "
                "a 16-letter app password, not the account password (gmail-send doctor checks)",
                user,
                problem,
                extra={"event": "app_password_shape", "user": user},
            )

    @property
    def user(self) -> str:
        return self._user

    @property
    def password(self) -> str:
        """The password with spaces removed. Handle with care: it is a secret."""
        return self._password

    def __repr__(self) -> str:
        return f"AppPassword(user={self._user!r}, password='***')"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AppPassword):
            return NotImplemented
        return (self._user, self._password) == (other._user, other._password)

    def __hash__(self) -> int:
        return hash((AppPassword, self._user, self._password))


APP_PASSWORDS_PAGE = "https://myaccount.google.com/apppasswords"
_APP_PASSWORD = re.compile(r"[a-z]{16}")
_warned_shape: set[str] = set()
"""Users whose app password's shape was warned about (once per process)."""


def app_password_problem(password: str) -> str | None:
    """Why `password` does not look like a Gmail app password (16 lowercase letters), or None.

    Never shows the password: only its length.
    """
    if _APP_PASSWORD.fullmatch(password.replace(" ", "")):
        return None
    return (
        f"the app password is {len(password)} characters long and not 16 letters: Gmail's app "
        "passwords are 16 lowercase letters (shown in 4 groups of 4); a normal account "
        "password is refused over SMTP with 534 5.7.9"
    )


def _check_user(user: object, what: str) -> None:
    if not isinstance(user, str) or "@" not in user or any(c in user for c in "\r\n\x00"):
        raise ConfigurationError(
            f"{what} needs the mailbox address as its user, e.g. me@gmail.com",
            hint="the user is the Gmail or Workspace address that signs in",
        )


class TokenFunction:
    """A `TokenSource` around the application's own async function `fn(force_refresh) -> token`.

    `fn(True)` is called after Gmail rejected a token; if it returns that same token, the sender
    does not sign in with it again.

    Args:
        user: the mailbox the tokens are for (the XOAUTH2 `user=`).
        fn: the async function returning an access token; its argument is True when a new one
            is needed.
    """

    __slots__ = ("_fn", "_user")

    def __init__(self, user: str, fn: Callable[[bool], Awaitable[str]]) -> None:
        self._user = user
        self._fn = fn

    @property
    def user(self) -> str:
        return self._user

    async def get_token(self, *, force_refresh: bool = False, rejected: str | None = None) -> str:
        """Return `fn`'s token.

        Args:
            force_refresh: ask `fn` for a new token (`fn(True)`).
            rejected: the token Gmail rejected; when given, `fn(True)` too.
        """
        return await self._fn(force_refresh or rejected is not None)

    def __repr__(self) -> str:
        return f"TokenFunction(user={self._user!r})"


class Fallback:
    """OAuth2 first, an app password when the OAuth2 side is broken.

    A transactional mailer keeps sending while a refresh token has expired or the token
    endpoint is down; a repaired OAuth2 set-up takes over again without a restart.

    Args:
        oauth: the token source tried first.
        app_password: the app password of the same mailbox, used while OAuth2 rests.
        retry_oauth_after: seconds OAuth2 rests after a failure before it is tried again.
    """

    def __init__(
        self,
        oauth: TokenSource,
        app_password: AppPassword,
        *,
        retry_oauth_after: float = 300.0,
    ) -> None:
        if not isinstance(app_password, AppPassword):
            raise ConfigurationError("Fallback's second argument must be an AppPassword")
        if oauth.user.lower() != app_password.user.lower():
            raise ConfigurationError(
                f"Fallback mixes two accounts ({oauth.user} and {app_password.user})",
                hint="the token source and the app password must belong to the same mailbox",
            )
        self.oauth = oauth
        self.app_password = app_password
        self.retry_oauth_after = retry_oauth_after
        self._lock = threading.Lock()
        self._oauth_failed_at: float | None = None
        self.last_oauth_error: AuthenticationError | None = None

    @property
    def user(self) -> str:
        return self.oauth.user

    def __repr__(self) -> str:
        return f"Fallback({self.oauth!r}, {self.app_password!r})"

    @property
    def using_fallback(self) -> bool:
        """True while OAuth2 is resting after a failure and the app password signs in."""
        with self._lock:
            failed_at = self._oauth_failed_at
        return failed_at is not None and time.monotonic() - failed_at < self.retry_oauth_after

    def record_oauth_failure(self, error: AuthenticationError) -> None:
        """OAuth2 could not sign in: rest it for `retry_oauth_after` seconds.

        Args:
            error: why OAuth2 failed; kept as `last_oauth_error`, and logged the first time.
        """
        with self._lock:
            first = self._oauth_failed_at is None
            self._oauth_failed_at = time.monotonic()
            self.last_oauth_error = error
        if first:
            log.warning(
                "OAuth2 sign-in failed (%s); using the app password for %s, OAuth2 is tried "
                "again in %.0f s",
                error.message,
                self.user,
                self.retry_oauth_after,
                extra={"event": "auth_fallback", "user": self.user},
            )

    def record_oauth_success(self) -> None:
        """OAuth2 signed in: stop using the app password."""
        with self._lock:
            recovered = self._oauth_failed_at is not None
            self._oauth_failed_at = None
            self.last_oauth_error = None
        if recovered:
            log.warning(
                "OAuth2 sign-in works again for %s; the app password is no longer used",
                self.user,
                extra={"event": "auth_recovered", "user": self.user},
            )


SingleCredentials = TokenSource | AppPassword
"""One way of signing in: what a single SMTP session authenticates with."""

Credentials = TokenSource | AppPassword | Fallback
"""What a sender signs in with; `None` in its place means a relay that trusts the IP address."""
