"""Who may sign in to the local Gmail: accounts with app passwords, and OAuth2 access tokens.

Pure bookkeeping, no I/O: the protocol layer asks these objects for a verdict and turns it into
Gmail's reply (`235`, `534 5.7.9`, `535 5.7.8`, or the XOAUTH2 `334` JSON challenge).
Reprs never show a password or a token.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from ..auth._xoauth2 import MAIL_SCOPE

__all__ = [
    "AccessTokenGrant",
    "LocalAccount",
    "PasswordVerdict",
    "TokenStore",
    "TokenValidator",
    "TokenVerdict",
    "check_password",
    "parse_xoauth2_response",
    "xoauth2_challenge",
]


@dataclass(frozen=True)
class LocalAccount:
    """A mailbox on the local Gmail.

    Attributes:
        address: the account's e-mail address, its login (matched case-insensitively).
        app_password: what LOGIN and PLAIN accept (spaces are ignored, as Gmail does with the
            16-letter code); None: no password login succeeds.
        password: the account's normal password, which Gmail refuses over SMTP with
            `534 5.7.9 Application-specific password required`; None: no such refusal.
        aliases: the verified "Send mail as" addresses: a sender among them is kept, any other
            sender is rewritten to `address`.
        imap_enabled: Gmail's per-account "IMAP access" setting; when False every IMAP
            sign-in with good credentials gets `NO [ALERT] Your account is not enabled for
            IMAP use...`.
        sent_mailbox: the name of the Sent Mail mailbox over IMAP, which Gmail localises
            (e.g. "[Gmail]/送信済みメール"); sent on the wire in modified UTF-7.
    """

    address: str
    app_password: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    aliases: tuple[str, ...] = ()
    imap_enabled: bool = True
    sent_mailbox: str = "[Gmail]/Sent Mail"

    def __post_init__(self) -> None:
        if "@" not in self.address or any(ch in self.address for ch in " \r\n\x00<>"):
            raise ValueError(f"not a bare e-mail address: {self.address!r}")
        object.__setattr__(self, "aliases", tuple(self.aliases))
        name = self.sent_mailbox
        if not name or name.upper() == "INBOX" or any(ch < " " for ch in name):
            raise ValueError(f"not a name for the Sent mailbox: {name!r}")

    def may_send_as(self, address: str) -> bool:
        """Whether Gmail keeps `address` as the sender for this account (itself or an alias).

        Args:
            address: a sender address (case-insensitive).
        """
        wanted = address.strip().lower()
        return wanted == self.address.lower() or wanted in {a.lower() for a in self.aliases}


PasswordOutcome = Literal["accepted", "normal-password", "wrong-password", "unknown-user"]


@dataclass(frozen=True)
class PasswordVerdict:
    """The outcome of a LOGIN or PLAIN attempt; `account` is set when it was accepted."""

    outcome: PasswordOutcome
    account: LocalAccount | None = None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def check_password(accounts: dict[str, LocalAccount], login: str, password: str) -> PasswordVerdict:
    """Judge a login as Gmail does: app password accepted, normal password refused with 5.7.9."""
    account = accounts.get(login.strip().lower())
    if account is None:
        return PasswordVerdict("unknown-user")
    if account.app_password is not None and _same(
        password.replace(" ", ""), account.app_password.replace(" ", "")
    ):
        return PasswordVerdict("accepted", account)
    if account.password is not None and _same(password, account.password):
        return PasswordVerdict("normal-password")
    return PasswordVerdict("wrong-password")


@dataclass(frozen=True)
class TokenVerdict:
    """What a token check decided.

    Attributes:
        accepted: whether the session signs in.
        status: what goes into the `334` challenge when the token is refused: "400" for a token
            that is unknown, malformed, for another user or without the
            https://mail.google.com/ scope; "401" for an expired or revoked token.
        reason: a short word for tests ("wrong-scope", ...), kept as
            `SessionRecord.auth_reason`.
    """

    accepted: bool
    status: str = "400"
    reason: str = ""

    @classmethod
    def accept(cls) -> TokenVerdict:
        """A verdict that lets the session in."""
        return cls(True, "200", "accepted")

    @classmethod
    def reject(cls, status: str = "400", reason: str = "rejected") -> TokenVerdict:
        """A verdict that refuses the token with the given challenge status.

        Args:
            status: the status of the `334` challenge: "400" or "401" (see the class).
            reason: a short word for tests, kept as `SessionRecord.auth_reason`.
        """
        return cls(False, status, reason)


TokenValidator = Callable[[str, str], "TokenVerdict | Awaitable[TokenVerdict | None] | None"]
"""`validator(user, token)`: a verdict, or None to let the server's own token list decide.

It may be a plain function or return an awaitable (e.g. ask a local OAuth token endpoint).
"""


@dataclass
class AccessTokenGrant:
    """One access token the server knows: for whom, with which scope, until when."""

    user: str
    scope: str
    expires_at: float | None
    revoked: bool = False


class TokenStore:
    """The access tokens XOAUTH2 accepts, keyed by the token itself (never shown in reprs)."""

    def __init__(self) -> None:
        self._grants: dict[str, AccessTokenGrant] = {}

    def __repr__(self) -> str:
        return f"<TokenStore {len(self._grants)} token(s)>"

    def add(
        self, user: str, token: str, *, scope: str = MAIL_SCOPE, expires_at: float | None = None
    ) -> None:
        """Register `token` for `user`; adding the same token again replaces its grant."""
        if not token or any(ch in token for ch in " \x01\r\n"):
            raise ValueError("an access token must be non-empty, without spaces or controls")
        self._grants[token] = AccessTokenGrant(user.strip(), scope, expires_at)

    def user_of(self, token: str) -> str | None:
        """The user a known token was issued for (None for an unknown token)."""
        grant = self._grants.get(token)
        return grant.user if grant is not None else None

    def check_bearer(
        self, token: str, *, scopes: Iterable[str], now: float | None = None
    ) -> TokenVerdict:
        """Judge a bearer token presented to the Gmail API, which needs one of `scopes`.

        Unknown, revoked and expired tokens get status "401"; a token without one of the
        scopes "403" (reason "wrong-scope"), as the API answers.
        """
        grant = self._grants.get(token)
        if grant is None:
            return TokenVerdict.reject("401", "unknown-token")
        if grant.revoked:
            return TokenVerdict.reject("401", "revoked")
        if grant.expires_at is not None and (now or time.time()) >= grant.expires_at:
            return TokenVerdict.reject("401", "expired")
        if not set(grant.scope.split()).intersection(scopes):
            return TokenVerdict.reject("403", "wrong-scope")
        return TokenVerdict.accept()

    def revoke(self, token: str) -> None:
        """Make a known token fail from now on with status 401; unknown tokens are ignored."""
        grant = self._grants.get(token)
        if grant is not None:
            grant.revoked = True

    def check(self, user: str, token: str, *, now: float | None = None) -> TokenVerdict:
        """Judge a bearer token presented for `user`."""
        grant = self._grants.get(token)
        if grant is None:
            return TokenVerdict.reject("400", "unknown-token")
        if grant.revoked:
            return TokenVerdict.reject("401", "revoked")
        if grant.expires_at is not None and (now or time.time()) >= grant.expires_at:
            return TokenVerdict.reject("401", "expired")
        if grant.user.lower() != user.strip().lower():
            return TokenVerdict.reject("400", "wrong-user")
        if MAIL_SCOPE not in grant.scope.split():
            return TokenVerdict.reject("400", "wrong-scope")
        return TokenVerdict.accept()


def parse_xoauth2_response(blob: bytes) -> tuple[str, str] | None:
    """`(user, token)` from a decoded `user=...^Aauth=Bearer ...^A^A`, or None if malformed."""
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.endswith("\x01\x01"):
        return None
    fields = dict(part.split("=", 1) for part in text[:-2].split("\x01") if "=" in part)
    user, auth = fields.get("user", ""), fields.get("auth", "")
    scheme, _, token = auth.partition(" ")
    if not user or scheme.lower() != "bearer" or not token:
        return None
    return user, token.strip()


def xoauth2_challenge(verdict: TokenVerdict) -> bytes:
    """The base64 JSON Gmail sends (after SMTP's `334 ` or IMAP's `+ `) when it refuses a token.

    Args:
        verdict: the refusal; its `status` goes into the JSON.
    """
    challenge = json.dumps(
        {"status": verdict.status, "schemes": "Bearer", "scope": MAIL_SCOPE},
        separators=(",", ":"),
    )
    return base64.b64encode(challenge.encode("ascii"))
