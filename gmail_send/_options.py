"""The sender's options: `Settings`, the whole set with its defaults, and its option groups.

Plain options are the connection and wiring ones (`host`, `port`, `security`, `tls_context`,
`timeout`, `max_connections`, `sink`, `on_event`); the rest come in small frozen groups in the
style of httpx's `Limits`: `retry=RetryPolicy(...)`, `pool=PoolOptions(...)`,
`limits=SendingLimits(...)`. Each validates itself once, when it is made. `Settings` is the one
place where every option's default is declared; `GmailSender` resolves its keywords through it
and `from_env()` returns one.
"""

from __future__ import annotations

import difflib
import functools
import math
import os
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._retry import RetryPolicy
from ._types import Security, SenderOptions, Transport
from .errors import ConfigurationError
from .smtp._connection import DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT, GMAIL_HOST, default_port

if TYPE_CHECKING:
    from ._limits import AccountQuotas
    from ._sink import MessageSink
    from .auth import Credentials
    from .events import EventHook
    from .message import Templates
    from .store import StateStore

__all__ = [
    "API_SENDS_PER_MINUTE",
    "DEFAULT_API_URL",
    "DEFAULT_FIND_SENT_WAIT",
    "IMAP_HOST",
    "IMAP_PORT",
    "OPTION_NAMES",
    "PoolOptions",
    "SendingLimits",
    "Settings",
    "load_ca_file",
    "port_mismatch",
]

_SECURITIES = ("starttls", "tls", "none")
_TRANSPORTS = ("smtp", "api", "auto")

DEFAULT_API_URL = "https://gmail.googleapis.com"
"""Where the Gmail API is served."""

IMAP_HOST = "imap.gmail.com"
IMAP_PORT = 993
"""Where Gmail serves IMAP (implicit TLS), for the Sent Mail lookup."""

DEFAULT_FIND_SENT_WAIT = 120.0
"""Seconds `find_sent` waits for the Sent copy, counted from when the body went out. How soon
Gmail files the copy is not documented (seconds in practice); two minutes is a judgement that
leaves a wide margin, see docs/delivery.md."""

API_SENDS_PER_MINUTE = 150
"""Google's per-user quota of the Gmail API is 15,000 units a minute; users.messages.send costs
100 units, so 150 sends a minute."""


@dataclass(frozen=True)
class PoolOptions:
    """How the sender's SMTP sessions are opened and reused.

    Args:
        max_messages_per_connection: messages one session carries before it is replaced
            with a new one (None, the default: as many as the server takes; a session Gmail
            closes is replaced anyway). Each replacement costs a TLS handshake and a login.
        idle_timeout: seconds an unused session is kept open (None: until Gmail closes it).
        pipelining: write commands ahead of their replies where the server offers
            PIPELINING (RFC 2920).
        chunking: send messages with BDAT where the server offers CHUNKING (RFC 3030), as
            smtp.gmail.com does: with PIPELINING, one round trip per message and transactions
            streamed on one session. False sends with DATA, as servers without CHUNKING need.
        max_in_flight: the streaming window: transactions written on one session before the
            first of them has its replies (BDAT with PIPELINING only; otherwise one at a time).
        local_hostname: the name sent in EHLO (default: this machine's name); the Workspace
            relay wants one of the domain's host names when it checks IP-registered senders.
    """

    max_messages_per_connection: int | None = None
    idle_timeout: float | None = 60.0
    pipelining: bool = True
    chunking: bool = True
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    local_hostname: str | None = None

    def __post_init__(self) -> None:
        limit = self.max_messages_per_connection
        if limit is not None and (not _whole(limit) or limit < 1):
            raise ConfigurationError(
                f"max_messages_per_connection must be a whole number >= 1 or None, not {limit!r}"
            )
        if self.idle_timeout is not None and not _positive(self.idle_timeout):
            raise ConfigurationError(
                f"idle_timeout must be positive seconds or None, not {self.idle_timeout!r}"
            )
        for name in ("pipelining", "chunking"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigurationError(
                    f"{name} must be True or False, not {getattr(self, name)!r}"
                )
        if not _whole(self.max_in_flight) or self.max_in_flight < 1:
            raise ConfigurationError(
                f"max_in_flight must be a whole number >= 1, not {self.max_in_flight!r}"
            )
        if self.local_hostname is not None and not isinstance(self.local_hostname, str):
            raise ConfigurationError(
                f"local_hostname must be a string or None, not {self.local_hostname!r}"
            )


@dataclass(frozen=True)
class SendingLimits:
    """Limits the sender keeps so Gmail never has to stop the account.

    Args:
        rate_limit: at most this many messages per second from this sender (None: no limit).
        daily_limit: messages per rolling 24 hours per account; "auto" is 500 for
            @gmail.com and 2,000 for Workspace accounts; None switches the count off.
        quota_pause: seconds to stop sending from an account after Gmail's 550 5.4.5.
        login_throttle_pause: seconds without new sign-ins after Gmail's 454 4.7.0 (too many
            login attempts); 0 switches the hold-off off.
        quotas: the `AccountQuotas` counting sends per account; by default every sender of the
            process shares one, so two senders for one account count together.
        api_sends_per_minute: over the Gmail API, at most this many sends per account in any
            60 seconds (default 150: Google's per-user quota of 15,000 units a minute, 100 per
            send), shared by the process's senders; None switches it off. The daily limit
            counts the same messages whichever transport carries them.
    """

    rate_limit: float | None = None
    daily_limit: int | Literal["auto"] | None = "auto"
    quota_pause: float = 3600.0
    login_throttle_pause: float = 300.0
    quotas: AccountQuotas | None = None
    api_sends_per_minute: int | None = API_SENDS_PER_MINUTE

    def __post_init__(self) -> None:
        if self.rate_limit is not None and not _positive(self.rate_limit):
            raise ConfigurationError(
                f"rate_limit must be a positive number or None, not {self.rate_limit!r}"
            )
        daily = self.daily_limit
        if daily != "auto" and daily is not None and (not _whole(daily) or daily < 1):
            raise ConfigurationError(f"daily_limit must be >= 1, 'auto' or None, not {daily!r}")
        if not _positive(self.quota_pause):
            raise ConfigurationError(
                f"quota_pause must be positive seconds, not {self.quota_pause!r}"
            )
        pause = self.login_throttle_pause
        if not _number(pause) or pause < 0:
            raise ConfigurationError(f"login_throttle_pause must be >= 0 seconds, not {pause!r}")
        per_minute = self.api_sends_per_minute
        if per_minute is not None and (not _whole(per_minute) or per_minute < 1):
            raise ConfigurationError(
                f"api_sends_per_minute must be a whole number >= 1 or None, not {per_minute!r}"
            )


def _number(value: object) -> bool:
    """A real, finite number: NaN and infinity are no seconds, counts or rates."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive(value: object) -> bool:
    return _number(value) and value > 0  # type: ignore[operator]


OPTION_NAMES: tuple[str, ...] = tuple(SenderOptions.__annotations__)
"""Every keyword `GmailSender` takes besides `credentials`, in declaration order."""


@dataclass(frozen=True)
class Settings(Mapping[str, Any]):
    """Credentials and every sender option, with their defaults: what `from_env()` returns.

    It is a Mapping of `credentials` and the options that differ from their defaults, so
    `GmailSender(**settings)` builds the configured sender and
    `GmailSender(**settings, pool=PoolOptions(...))` adds what the settings leave at default.

    Args:
        credentials: who signs in (`AppPassword`, a `TokenSource`, a `Fallback`), or None for
            a relay that authorizes by IP address.
        transport: "smtp" (default), "api" (the Gmail API over HTTPS, port 443; OAuth2 tokens
            only, the narrow gmail.send scope is enough), or "auto": SMTP when it can be
            reached and the token allows it, else the API (see docs/transports.md).
        api_url: where the Gmail API is (https only; another address is for tests).
        imap_host: the IMAP server `find_sent` searches the Sent Mail on (implicit TLS, with
            the same `tls_context` or `ca_file` as SMTP); another host is for tests.
        imap_port: its port (993).
        find_sent_wait: seconds `find_sent` (and the queue, settling unknown outcomes) waits
            for the Sent copy to appear, counted from when the body went out (default 120).
        host: the SMTP server.
        port: its port; None picks 587 for "starttls", 465 for "tls" and 25 for "none".
        security: "starttls", "tls" (implicit TLS) or "none" (relay by IP address only; never
            with credentials).
        tls_context: an `ssl.SSLContext` that verifies certificates (e.g. with a private or
            test CA loaded); None uses the system's CAs. Both transports use it.
        ca_file: the path of a PEM file of CA certificates to trust instead of the system's
            (a private or test CA), as a simpler alternative to `tls_context`; not both.
        timeout: seconds to wait for the server at each step.
        max_connections: sessions (over the API: HTTPS connections) that concurrent sends
            share, at most.
        sink: deliver here instead of the network: a `MemorySink` (what
            `GMAIL_SEND_SINK=memory` gives) or a test's `gmail_send.testing.Outbox`.
        on_event: called with each `SendEvent` (sent, retried, quota reached, ...).
        templates: the message templates `template=` names: a `Templates`, or the folder
            that holds them (needs the `[templates]` extra).
        retry: the `RetryPolicy`: retries, backoff, deadline.
        pool: the `PoolOptions`: how sessions are reused.
        limits: the `SendingLimits`: rate, daily quota, pauses.
        store: where the account's limits, pauses and access token are shared by every process
            that names the same store: `sqlite:///path.db` (one host) or `postgresql://...`
            (several hosts; the `[postgres]` extra), or a `gmail_send.store.StateStore`.
            None keeps them in this process.
        account: the mailbox the credentials sign in as (filled by `from_env`).
        token_file: the token file the credentials were read from, if any.
        sources: (setting, where it came from) for each setting found; never a secret value.
    """

    credentials: Credentials | None = None
    host: str = GMAIL_HOST
    port: int | None = None
    security: Security = "starttls"
    tls_context: ssl.SSLContext | None = None
    ca_file: str | os.PathLike[str] | None = None
    timeout: float | None = DEFAULT_TIMEOUT
    max_connections: int = 3
    sink: MessageSink | None = None
    on_event: EventHook | None = None
    templates: Templates | str | os.PathLike[str] | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    pool: PoolOptions = field(default_factory=PoolOptions)
    limits: SendingLimits = field(default_factory=SendingLimits)
    store: str | StateStore | None = field(default=None, repr=False)  # a URL may hold a password
    transport: Transport = "smtp"
    api_url: str = DEFAULT_API_URL
    imap_host: str = IMAP_HOST
    imap_port: int = IMAP_PORT
    find_sent_wait: float = DEFAULT_FIND_SENT_WAIT
    account: str | None = None
    token_file: Path | None = None
    sources: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.security not in _SECURITIES:
            raise ConfigurationError(
                f"security must be one of {', '.join(_SECURITIES)}, not {self.security!r}"
            )
        if self.transport not in _TRANSPORTS:
            raise ConfigurationError(
                f"transport must be one of {', '.join(_TRANSPORTS)}, not {self.transport!r}"
            )
        if not isinstance(self.api_url, str) or not self.api_url.startswith("https://"):
            raise ConfigurationError(
                f"api_url must be an https:// address, not {self.api_url!r}",
                hint="access tokens never cross an unencrypted connection",
            )
        for name in ("port", "imap_port"):
            number = getattr(self, name)
            if number is not None and not (_whole(number) and 0 < number < 65536):
                raise ConfigurationError(f"{name} must be between 1 and 65535, not {number!r}")
        if not isinstance(self.imap_host, str) or not self.imap_host.strip():
            raise ConfigurationError(f"imap_host must be a host name, not {self.imap_host!r}")
        if not _number(self.find_sent_wait) or self.find_sent_wait < 0:
            raise ConfigurationError(
                f"find_sent_wait must be >= 0 seconds, not {self.find_sent_wait!r}"
            )
        mismatch = port_mismatch(self.port, self.security)
        if mismatch is not None:
            raise ConfigurationError(mismatch, hint=_MISMATCH_HINT)
        if self.timeout is not None and not _positive(self.timeout):
            raise ConfigurationError(
                f"timeout must be positive seconds or None, not {self.timeout!r}"
            )
        if not _whole(self.max_connections) or self.max_connections < 1:
            raise ConfigurationError(
                f"max_connections must be a whole number >= 1, not {self.max_connections!r}"
            )
        for name, kind in (
            ("retry", RetryPolicy),
            ("pool", PoolOptions),
            ("limits", SendingLimits),
        ):
            if not isinstance(getattr(self, name), kind):
                raise ConfigurationError(
                    f"{name} must be a {kind.__name__}, not {type(getattr(self, name)).__name__}"
                )
        if self.tls_context is not None and not isinstance(self.tls_context, ssl.SSLContext):
            raise ConfigurationError("tls_context must be an ssl.SSLContext")
        if self.ca_file is not None and self.tls_context is not None:
            raise ConfigurationError(
                "both ca_file and tls_context are given",
                hint="give one: ca_file for a CA file to trust, or a tls_context that loads it",
            )
        if self.store is not None and not isinstance(self.store, str):
            from .store import StateStore

            if not isinstance(self.store, StateStore):
                raise ConfigurationError(
                    "store must be a sqlite:/// or postgresql:// URL or a StateStore, "
                    f"not {type(self.store).__name__}"
                )
        if self.store is not None and self.limits.quotas is not None:
            raise ConfigurationError(
                "both store and SendingLimits(quotas=...) are given",
                hint="the store keeps the counts; give one of them",
            )
        if self.ca_file is not None and not isinstance(self.ca_file, (str, os.PathLike)):
            raise ConfigurationError(f"ca_file must be a path, not {type(self.ca_file).__name__}")

    @functools.cached_property
    def client_tls_context(self) -> ssl.SSLContext | None:
        """The TLS context the settings ask for: `tls_context`, one trusting `ca_file`, or None
        for the system's CAs. Raises `ConfigurationError` when `ca_file` cannot be loaded."""
        if self.ca_file is not None:
            return load_ca_file(self.ca_file)
        return self.tls_context

    @functools.cached_property
    def resolved_templates(self) -> Templates | None:
        """The `Templates` the settings ask for: `templates`, one for its folder, or None.
        Raises `ConfigurationError` when the folder is missing or Jinja2 is not installed."""
        if self.templates is None:
            return None
        from .message._templates import Templates

        if isinstance(self.templates, Templates):
            return self.templates
        if isinstance(self.templates, (str, os.PathLike)):
            return Templates(self.templates)
        raise ConfigurationError(
            f"templates must be a Templates or a folder path, not {type(self.templates).__name__}"
        )

    @classmethod
    def of(
        cls, credentials: Credentials | None, options: Mapping[str, Any], *, caller: str
    ) -> Settings:
        """`Settings` from a send function's keywords; an unknown keyword is a TypeError, as
        Python raises for any function, with the nearest option named.

        Args:
            credentials: who signs in, as the send function got it.
            options: the send function's option keywords.
            caller: the function's name, for the TypeError's message.
        """
        for name in options:
            if name not in OPTION_NAMES:
                close = difflib.get_close_matches(name, OPTION_NAMES, n=1)
                better = f"; did you mean {close[0]!r}?" if close else ""
                raise TypeError(f"{caller}() got an unexpected keyword argument {name!r}{better}")
        return cls(credentials, **options)

    @property
    def resolved_port(self) -> int:
        """`port`, or the standard port of `security`."""
        return self.port if self.port is not None else default_port(self.security)

    def options(self) -> dict[str, Any]:
        """Every option (not the credentials), defaults included."""
        return {name: getattr(self, name) for name in OPTION_NAMES}

    def _mapped(self) -> tuple[str, ...]:
        defaults = Settings()
        changed = tuple(n for n in OPTION_NAMES if getattr(self, n) != getattr(defaults, n))
        return ("credentials", *changed)

    def __getitem__(self, key: str) -> Any:
        if key not in self._mapped():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapped())

    def __len__(self) -> int:
        return len(self._mapped())

    def describe(self) -> list[tuple[str, str]]:
        """(what, where it came from) for each setting found; never a secret's value."""
        return list(self.sources)


def load_ca_file(path: str | os.PathLike[str]) -> ssl.SSLContext:
    """A verifying TLS context that trusts the CA certificates in the PEM file at `path`."""
    try:
        return ssl.create_default_context(cafile=os.fspath(path))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"the CA file {os.fspath(path)} cannot be used: {exc}",
            hint="give the path of a PEM file holding the CA certificates to trust",
        ) from None


def port_mismatch(port: int | None, security: str) -> str | None:
    """Why `port` and `security` cannot go together on Gmail's well-known ports, or None."""
    if (port, security) == (465, "starttls"):
        return "port 465 speaks implicit TLS, but security is 'starttls'"
    if (port, security) == (587, "tls"):
        return "port 587 speaks STARTTLS, but security is 'tls' (implicit TLS)"
    return None


_MISMATCH_HINT = (
    "Gmail speaks STARTTLS on 587 and implicit TLS on 465: security='starttls' with port 587, "
    "or security='tls' with port 465"
)
