"""Who signs in and with what: the `TokenSource` protocol, fixed tokens and app passwords.

The sender only ever asks a `TokenSource` for a token (`get_token`), so a fixed token, a
refreshing OAuth2 credential or an application's own function are interchangeable. Secrets are
kept out of reprs: they show `***`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

__all__ = ["AppPassword", "Credentials", "OAuth2Token", "TokenFunction", "TokenSource"]


@runtime_checkable
class TokenSource(Protocol):
    """Anything that can hand out an OAuth2 access token for one mailbox.

    `force_refresh=True` asks for a new token even if the cached one looks valid: the sender
    passes it once after Gmail rejected a token.
    """

    @property
    def user(self) -> str:
        """The mailbox address the token is for (the XOAUTH2 `user=`)."""
        ...

    async def get_token(self, *, force_refresh: bool = False) -> str:
        """Return a current access token."""
        ...


class OAuth2Token:
    """A fixed access token, e.g. one the application obtained itself. It is never refreshed."""

    __slots__ = ("_token", "_user")

    def __init__(self, user: str, access_token: str) -> None:
        if not access_token:
            raise ValueError("OAuth2Token needs a non-empty access token")
        self._user = user
        self._token = access_token

    @property
    def user(self) -> str:
        return self._user

    async def get_token(self, *, force_refresh: bool = False) -> str:
        """Return the token; a forced refresh cannot do better than the same token."""
        return self._token

    def __repr__(self) -> str:
        return f"OAuth2Token(user={self._user!r}, access_token='***')"


class AppPassword:
    """An app password (16 letters from Google's account page) for AUTH LOGIN / PLAIN.

    Google shows the password in groups of four separated by spaces; spaces are removed.
    """

    __slots__ = ("_password", "_user")

    def __init__(self, user: str, password: str) -> None:
        cleaned = "".join(password.split())
        if not cleaned:
            raise ValueError("AppPassword needs a non-empty password")
        self._user = user
        self._password = cleaned

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


class TokenFunction:
    """A `TokenSource` around the application's own async function `fn(force_refresh) -> token`."""

    __slots__ = ("_fn", "_user")

    def __init__(self, user: str, fn: Callable[[bool], Awaitable[str]]) -> None:
        self._user = user
        self._fn = fn

    @property
    def user(self) -> str:
        return self._user

    async def get_token(self, *, force_refresh: bool = False) -> str:
        return await self._fn(force_refresh)

    def __repr__(self) -> str:
        return f"TokenFunction(user={self._user!r})"


Credentials = TokenSource | AppPassword
"""What a sender signs in with; `None` in its place means a relay that trusts the IP address."""
