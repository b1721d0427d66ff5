"""One new token after a server refused one: the rule every door that signs in with an access
token follows (SMTP's XOAUTH2, the Gmail API's Bearer token, IMAP's XOAUTH2).

The token source is asked once for a new token, naming the refused one (`fetch_token(...,
rejected=)`), and the door is tried again with it. A source that hands out the same token
again (a fixed `OAuth2Token`) is not tried twice: every failed sign-in counts toward Gmail's
login throttle, so the first refusal is raised (as the caller words it) instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .._retry import classify
from ..errors import AuthenticationError
from ._credentials import TokenSource, fetch_token

__all__ = ["no_other_token", "refused_token", "with_renewal"]

T = TypeVar("T")


async def with_renewal(
    source: TokenSource,
    use: Callable[[str], Awaitable[T]],
    *,
    refused: Callable[[Exception], bool],
    not_renewed: Callable[[Exception], Exception],
    log: logging.Logger,
    door: str,
) -> T:
    """`use(token)` with the source's token; once more with a new one if the server refused it.

    Args:
        source: where the tokens come from.
        use: signs in (or sends) with a token; raises what the server answered.
        refused: whether an error of `use` means the server refused this very token.
        not_renewed: the error to raise, from the first refusal, when the source has no other
            token (chained to it).
        log: the caller's logger, for the two steps it takes.
        door: what refused the token, for the log lines ("Gmail", "the Gmail API", "IMAP").
    """
    token = await fetch_token(source)
    try:
        return await use(token)
    except Exception as exc:
        if not refused(exc):
            raise
        first = exc
    log.info(
        "%s rejected the access token; asking the token source for a new one",
        door,
        extra={"event": "token_rejected", "user": source.user},
    )
    fresh = await fetch_token(source, rejected=token)
    if fresh == token:
        log.info(
            "the token source gave the rejected token again; not using it twice",
            extra={"event": "token_not_renewed", "user": source.user},
        )
        raise not_renewed(first) from first
    return await use(fresh)


def refused_token(error: Exception) -> bool:
    """Whether `error` is Gmail (SMTP or the API) refusing the token it was given."""
    return isinstance(error, AuthenticationError) and classify(error).new_token


def no_other_token(rejection: Exception) -> AuthenticationError:
    """The refusal again, saying the source had no other token (SMTP's and the API's)."""
    assert isinstance(rejection, AuthenticationError)
    return AuthenticationError(
        f"{rejection.message}; the token source had no other token",
        hint=rejection.hint,
        reply=rejection.reply,
        api_reply=rejection.api_reply,
        mechanism=rejection.mechanism,
        oauth_status=rejection.oauth_status,
        oauth_scope=rejection.oauth_scope,
    )
