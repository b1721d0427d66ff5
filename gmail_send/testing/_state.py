"""The state one local Gmail shares between its connections: settings, accounts, records.

`LocalGmail` owns one `ServerState`; every connection (a `GmailSMTP` protocol) reads its
settings and appends to its records. Everything runs on one event loop, so no locks.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ._accounts import (
    LocalAccount,
    TokenStore,
    TokenValidator,
    TokenVerdict,
    parse_xoauth2_response,
)
from ._faults import FaultPlan
from ._pauses import PausePlan
from ._records import AuthAttempt, IMAPSessionRecord, ReceivedMessage, SessionRecord
from ._sent_mail import SentMail

if TYPE_CHECKING:
    from ._protocol import GmailSMTP

__all__ = ["GMAIL_SIZE_LIMIT", "Security", "ServerConfig", "ServerState"]

Security = Literal["starttls", "tls", "none"]

GMAIL_SIZE_LIMIT = 35_882_577
"""The SIZE Gmail advertises, in bytes."""


@dataclass(frozen=True)
class ServerConfig:
    """Settings fixed for the server's life."""

    security: Security = "starttls"
    hostname: str = "smtp.gmail.com"
    size_limit: int = GMAIL_SIZE_LIMIT
    pipelining: bool = False
    chunking: bool = True
    allow_relay_by_ip: bool = False
    idle_timeout: float = 300.0
    imap_gmail_extensions: bool = True
    imap_special_use: bool = True

    def __post_init__(self) -> None:
        if self.security not in ("starttls", "tls", "none"):
            raise ValueError(f"security must be 'starttls', 'tls' or 'none', not {self.security!r}")
        if self.size_limit < 1:
            raise ValueError("size_limit must be positive")
        if self.idle_timeout <= 0:
            raise ValueError("idle_timeout must be positive")


class ServerState:
    """Accounts, tokens, faults and everything recorded so far."""

    def __init__(self, config: ServerConfig, accounts: Iterable[LocalAccount]) -> None:
        self.config = config
        self.accounts: dict[str, LocalAccount] = {}
        for account in accounts:
            self.add_account(account)
        self.tokens = TokenStore()
        self.token_validator: TokenValidator | None = None
        self.faults = FaultPlan()
        self.pauses = PausePlan()
        self.messages: list[ReceivedMessage] = []
        self.message_listeners: list[Callable[[ReceivedMessage], None]] = []
        self.sessions: list[SessionRecord] = []
        self.auth_attempts: list[AuthAttempt] = []
        self.live: set[GmailSMTP] = set()
        self.max_concurrent_sessions = 0
        self.sent_mail = SentMail()
        self.imap_sessions: list[IMAPSessionRecord] = []
        self.imap_sign_in_refusals = 0
        self._next_transaction = 0

    def add_account(self, account: LocalAccount) -> None:
        """Add (or replace) an account, found case-insensitively by its address."""
        if not isinstance(account, LocalAccount):
            raise TypeError(f"expected a LocalAccount, not {type(account).__name__}")
        self.accounts[account.address.lower()] = account

    def account_for(self, user: str) -> LocalAccount | None:
        """The account signed in as `user`, if the server knows it."""
        return self.accounts.get(user.strip().lower())

    def store(self, message: ReceivedMessage) -> None:
        """Keep an accepted message, file its copy in the sender's Sent Mail (when it signed
        in: a relayed message gets none), and tell the listeners (the inbox page) about it."""
        self.messages.append(message)
        if message.session_user is not None:
            self.sent_mail.accept(message.session_user, message)
        for listener in list(self.message_listeners):
            listener(message)

    def session_opened(self, protocol: GmailSMTP, record: SessionRecord) -> None:
        """Count a new connection and keep its record."""
        self.live.add(protocol)
        self.sessions.append(record)
        self.max_concurrent_sessions = max(self.max_concurrent_sessions, len(self.live))

    def session_closed(self, protocol: GmailSMTP) -> None:
        """Forget a closed connection (its record stays)."""
        self.live.discard(protocol)

    def next_transaction_id(self, session_id: str) -> str:
        """An id for one accepted message, like the one at the end of Gmail's `250 2.0.0 OK`."""
        self._next_transaction += 1
        return f"{session_id}.{self._next_transaction}"

    async def check_token(self, user: str, token: str) -> TokenVerdict:
        """Ask the validator hook first (if set); when it has no opinion, the token list."""
        if self.token_validator is not None:
            verdict = self.token_validator(user, token)
            if inspect.isawaitable(verdict):
                verdict = await verdict
            if verdict is not None:
                if not isinstance(verdict, TokenVerdict):
                    raise TypeError("token_validator must return a TokenVerdict or None")
                return verdict
        return self.tokens.check(user, token)

    async def judge_xoauth2(self, blob: bytes) -> tuple[str | None, TokenVerdict]:
        """The user a decoded XOAUTH2 response names (None if malformed) and the verdict on it.

        SMTP's AUTH and IMAP's AUTHENTICATE both ask here, so they judge tokens alike.
        """
        parsed = parse_xoauth2_response(blob)
        if parsed is None:
            return None, TokenVerdict.reject("400", "malformed")
        user, token = parsed
        return user, await self.check_token(user, token)
