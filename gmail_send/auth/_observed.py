"""A token source that reports each new access token it hands out (a log record and an event).

The sender wraps its token source in one, so an application's `on_event` hook sees every
refresh (`TokenRefreshed`), whichever transport asked for the token.
"""

from __future__ import annotations

from ..events import Reporter, TokenRefreshed
from ._credentials import TokenSource, fetch_token
from ._scopes import granted_scopes

__all__ = ["ObservedTokens"]


class ObservedTokens:
    """Passes `get_token` on to `source` and reports a token that differs from the last."""

    def __init__(self, source: TokenSource, reporter: Reporter) -> None:
        self._source = source
        self._reporter = reporter
        self._last: int | None = None

    @property
    def user(self) -> str:
        return self._source.user

    @property
    def granted_scopes(self) -> frozenset[str] | None:
        """What the wrapped source knows of its grant (see `auth.granted_scopes`)."""
        return granted_scopes(self._source)

    async def get_token(self, *, force_refresh: bool = False, rejected: str | None = None) -> str:
        if rejected is not None:  # passed on only to sources that take it
            token = await fetch_token(self._source, rejected=rejected)
        else:
            token = await self._source.get_token(force_refresh=force_refresh)
        forced = force_refresh or rejected is not None
        fingerprint = hash(token)
        if self._last is not None and fingerprint != self._last:
            self._reporter.report(
                TokenRefreshed(self._source.user, forced=forced),
                "the token source handed out a new access token%s",
                " after Gmail rejected one" if forced else "",
            )
        self._last = fingerprint
        return token

    def __repr__(self) -> str:
        return repr(self._source)
