"""The OAuth2 scopes that can send mail, and which transport each one opens.

`https://mail.google.com/` (a *restricted* scope) is the only one Gmail's SMTP and IMAP accept;
`https://www.googleapis.com/auth/gmail.send` (a *sensitive* scope, no security assessment)
works for the Gmail API's `users.messages.send` only. What a token was granted is known from
the token endpoint's answer (its `scope`), or from the token file's `scopes` until the first
refresh; `granted_scopes(source)` reads it from any token source that knows it.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._xoauth2 import MAIL_SCOPE

__all__ = [
    "API_SEND_SCOPES",
    "MAIL_SCOPE",
    "SCOPE_NAMES",
    "SEND_SCOPE",
    "granted_scopes",
    "scope_set",
    "sends_over",
]

SEND_SCOPE = "https://www.googleapis.com/auth/gmail.send"
"""The narrow scope: the Gmail API's users.messages.send, nothing else."""

API_SEND_SCOPES = (
    MAIL_SCOPE,
    SEND_SCOPE,
    "https://www.googleapis.com/auth/gmail.compose",
    "https://www.googleapis.com/auth/gmail.modify",
)
"""Any one of these lets the Gmail API send a message (users.messages.send)."""

SCOPE_NAMES = {"mail": MAIL_SCOPE, "send": SEND_SCOPE}
"""`gmail-send auth --scope NAME`: the short names of the two scopes that send."""


def scope_set(scopes: str | Iterable[str] | None) -> frozenset[str] | None:
    """Scopes as a set, from a space-separated string or a list; None stays None."""
    if scopes is None:
        return None
    if isinstance(scopes, str):
        return frozenset(scopes.split())
    return frozenset(str(scope) for scope in scopes)


def sends_over(scopes: frozenset[str]) -> tuple[str, ...]:
    """The transports a token with these scopes can send over: "smtp", "api", both or none."""
    transports: list[str] = []
    if MAIL_SCOPE in scopes:
        transports.append("smtp")
    if scopes.intersection(API_SEND_SCOPES):
        transports.append("api")
    return tuple(transports)


def granted_scopes(source: object) -> frozenset[str] | None:
    """What the token source's current grant allows, when it knows (else None).

    Sources that know say so with a `granted_scopes` attribute (the refreshing credentials of
    this package, and the sender's wrappers around them, which pass it on).

    Args:
        source: a token source (any object: one without `granted_scopes` gives None).
    """
    value = getattr(source, "granted_scopes", None)
    return value if isinstance(value, frozenset) else None
