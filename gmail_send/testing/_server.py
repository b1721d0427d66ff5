"""`LocalGmail`: a Gmail-like SMTP server on 127.0.0.1 for tests, demos and users' own tests.

It speaks like smtp.gmail.com (greeting, EHLO lines, reply texts with enhanced codes, STARTTLS
on "587" or implicit TLS on "465", AUTH only under TLS, app passwords and XOAUTH2 with Gmail's
verdicts, sender rewriting, the SIZE limit) over real TLS with a throw-away CA, records what
happened, and misbehaves on request (injected replies, dropped connections, server-side
closes).

    async with LocalGmail(accounts=[LocalAccount("me@gmail.com", app_password="...")]) as gmail:
        gmail.add_access_token("me@gmail.com", "ya29.test")
        ...  # connect to gmail.host, gmail.port with gmail.client_tls_context()
        assert gmail.messages[0].rcpt_tos == ("you@example.com",)

Needs the `[testing]` extra (aiosmtpd, trustme). Built on aiosmtpd 1.4's SMTP protocol, served
with `loop.create_server` so that port 0 picks a free port.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import secrets
import ssl
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from ..auth._xoauth2 import MAIL_SCOPE
from ..smtp._replies import GMAIL_REPLIES, ReplyRule
from ._accounts import LocalAccount, TokenValidator
from ._faults import DropStage, Fault, InjectStage, ReplyLike, format_reply
from ._handler import GmailHandler
from ._pauses import Pause, PauseStage
from ._protocol import GmailSMTP
from ._records import AuthAttempt, ReceivedMessage, SessionRecord
from ._redaction import install_log_filter, uninstall_log_filter
from ._state import GMAIL_SIZE_LIMIT, Security, ServerConfig, ServerState
from ._tls import TestCertificates

__all__ = ["DEFAULT_CLOSE_REPLY", "LocalAccount", "LocalGmail"]

DEFAULT_CLOSE_REPLY: ReplyRule = next(
    rule for rule in GMAIL_REPLIES if rule.code == 421 and "Try again later" in rule.text
)
"""What `close_all()` and `close_idle()` say before hanging up, unless told otherwise."""

_STOP_GRACE = 5.0


def _check_loopback(host: str) -> str:
    if host == "localhost":
        return host
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ValueError(f"LocalGmail only listens on a loopback address, not {host!r}")


class LocalGmail:
    """A local stand-in for smtp.gmail.com; start with `async with` or `await start()`.

    security: "starttls" (like port 587), "tls" (implicit TLS, like 465) or "none" (plain text,
    no STARTTLS offered, so AUTH is always refused: for proving a client keeps credentials off
    an unencrypted connection). allow_relay_by_ip: accept MAIL without AUTH, like Workspace's
    smtp-relay with IP-address authentication. idle_timeout: seconds of silence after which the
    server says `451 4.4.2 Timeout - closing connection` and hangs up.
    """

    def __init__(
        self,
        *,
        security: Security = "starttls",
        accounts: Iterable[LocalAccount] = (),
        certificates: TestCertificates | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        pipelining: bool = False,
        size_limit: int = GMAIL_SIZE_LIMIT,
        allow_relay_by_ip: bool = False,
        idle_timeout: float = 300.0,
        hostname: str = "smtp.gmail.com",
    ) -> None:
        config = ServerConfig(
            security=security,
            hostname=hostname,
            size_limit=size_limit,
            pipelining=pipelining,
            allow_relay_by_ip=allow_relay_by_ip,
            idle_timeout=idle_timeout,
        )
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0..65535, not {port}")
        self._state = ServerState(config, accounts)
        self._handler = GmailHandler(self._state)
        self._certificates = certificates if certificates is not None else TestCertificates()
        self._host = _check_loopback(host)
        self._port = port
        self._server: asyncio.Server | None = None
        self._starttls_context: ssl.SSLContext | None = None

    def __repr__(self) -> str:
        where = f"{self._host}:{self._port}" if self.running else "stopped"
        return (
            f"<LocalGmail {self._state.config.security} {where} "
            f"accounts={len(self._state.accounts)} messages={len(self._state.messages)}>"
        )

    # -- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on the configured loopback address in the running event loop.

        A stopped server may be started again; it then reuses the port it had (records kept).
        """
        if self._server is not None:
            raise RuntimeError("this LocalGmail is already running")
        loop = asyncio.get_running_loop()
        security = self._state.config.security
        implicit_tls = self._certificates.server_context() if security == "tls" else None
        self._starttls_context = (
            self._certificates.server_context() if security == "starttls" else None
        )
        install_log_filter()
        try:
            self._server = await loop.create_server(
                self._new_connection, self._host, self._port, ssl=implicit_tls
            )
        except BaseException:
            uninstall_log_filter()
            raise
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening and cut every open connection; safe to call more than once."""
        server, self._server = self._server, None
        if server is None:
            return
        try:
            self._state.pauses.release_all()
            server.close()
            protocols = list(self._state.live)
            for protocol in protocols:
                protocol.abort()
            abort_clients = getattr(server, "abort_clients", None)  # Python 3.13+
            if abort_clients is not None:
                abort_clients()
            await self._wait_closed(protocols)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait_closed(), _STOP_GRACE)
        finally:
            uninstall_log_filter()

    async def __aenter__(self) -> LocalGmail:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def _new_connection(self) -> GmailSMTP:
        return GmailSMTP(
            self._state,
            self._handler,
            session_id=secrets.token_hex(8),
            starttls_context=self._starttls_context,
        )

    # -- where and how to connect -----------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._server is not None

    @property
    def host(self) -> str:
        """The address it listens on."""
        return self._host

    @property
    def port(self) -> int:
        """The port it listens on (the one picked when created with port 0 and started)."""
        return self._port

    @property
    def security(self) -> Security:
        """The security mode: starttls, tls or none."""
        return self._state.config.security

    @property
    def certificates(self) -> TestCertificates:
        """The test CA and server certificate."""
        return self._certificates

    def client_tls_context(self) -> ssl.SSLContext:
        """An SSL context that trusts this server's certificate (verification on)."""
        return self._certificates.client_context()

    # -- accounts and tokens ----------------------------------------------------------------

    @property
    def accounts(self) -> list[LocalAccount]:
        """The accounts that can sign in."""
        return list(self._state.accounts.values())

    def add_account(self, account: LocalAccount) -> None:
        """Add an account (or replace the one with the same address)."""
        self._state.add_account(account)

    def add_access_token(
        self,
        user: str,
        token: str,
        *,
        scope: str = MAIL_SCOPE,
        expires_at: float | None = None,
    ) -> None:
        """Let XOAUTH2 accept `token` for `user` (scope must include https://mail.google.com/).

        `expires_at` is a `time.time()` value; past it the token gets status 401.
        """
        self._state.tokens.add(user, token, scope=scope, expires_at=expires_at)

    def revoke_access_token(self, token: str) -> None:
        """From now on `token` is refused with status 401."""
        self._state.tokens.revoke(token)

    @property
    def token_validator(self) -> TokenValidator | None:
        """Optional hook `validator(user, token)` consulted before the token list.

        Return a `TokenVerdict` to decide, or None to let the token list decide; the hook may
        return an awaitable. Refusals use the verdict's `status` in the 334 challenge.
        """
        return self._state.token_validator

    @token_validator.setter
    def token_validator(self, validator: TokenValidator | None) -> None:
        self._state.token_validator = validator

    # -- faults -----------------------------------------------------------------------------

    def inject(
        self,
        stage: InjectStage,
        reply: ReplyLike,
        *,
        times: int = 1,
        recipient: str | None = None,
    ) -> None:
        """Answer the next `times` commands at `stage` with `reply` instead of the normal one.

        Stages: "connect" (the greeting), "ehlo" (EHLO or HELO), "starttls", "auth", "mail",
        "rcpt" (only for `recipient` if given), "data" (the reply to DATA itself), "data_end"
        (the final reply after the body; the message is then not stored). `reply` is a row of
        GMAIL_REPLIES, an SMTPReply, `(code, "x.y.z text")` or a bare code. A 421 reply
        closes the connection after it is sent.
        """
        self._state.faults.add_reply(stage, reply, times=times, recipient=recipient)

    def drop_connection(self, stage: DropStage, *, times: int = 1) -> None:
        """Cut the TCP connection, without a reply, at the next `times` occasions of `stage`.

        Stages as for `inject()`, where "data_end" cuts after the body arrived but before the
        message is stored (lost), and "data_end_stored" cuts after it was stored (the server
        holds exactly one copy; the client cannot tell whether it was accepted).
        """
        self._state.faults.add_drop(stage, times=times)

    def pause(self, stage: PauseStage) -> Pause:
        """Hold the next session that reaches `stage` until the returned `Pause` is released.

        For crash tests: `pause.wait()` returns once a session is held there (from any thread),
        the test kills the client, then `pause.release()`. Stages: "connect" (before the
        greeting), "ehlo", "auth", "mail", "rcpt", "data" (the command arrived, no reply yet),
        "data_end" (the body arrived and was stored; no reply yet) and "data_end_replied"
        (stored and answered). `stop()` releases every pause.
        """
        return self._state.pauses.add(stage)

    @property
    def pending_faults(self) -> list[Fault]:
        """Injected replies and drops not used up yet."""
        return self._state.faults.pending()

    def clear_faults(self) -> None:
        """Forget every fault not used up yet."""
        self._state.faults.clear()

    async def close_all(self, *, reply: ReplyLike | None = DEFAULT_CLOSE_REPLY) -> int:
        """Hang up every open session from the server side, saying `reply` first (None: silently).

        Waits (a few seconds at most) until those sessions are closed; returns how many.
        """
        return await self._close(reply, only_idle=False)

    async def close_idle(self, *, reply: ReplyLike | None = DEFAULT_CLOSE_REPLY) -> int:
        """Like `close_all()`, for sessions waiting for a command outside a login or transaction.

        Gmail ends sessions that stay idle; this lets a test do so at a moment it chooses.
        """
        return await self._close(reply, only_idle=True)

    async def _close(self, reply: ReplyLike | None, *, only_idle: bool) -> int:
        wire = None if reply is None else format_reply(reply)
        closing = [
            protocol
            for protocol in list(self._state.live)
            if (protocol.idle or not only_idle) and protocol.close_from_server(wire)
        ]
        await self._wait_closed(closing)
        return len(closing)

    async def _wait_closed(self, protocols: list[GmailSMTP]) -> None:
        """Wait (bounded) until these connections are gone and their tasks have ended."""
        waiters: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(p.gone.wait()) for p in protocols
        ]
        waiters += [p.handler_task for p in protocols if p.handler_task is not None]
        if not waiters:
            return
        _, pending = await asyncio.wait(waiters, timeout=_STOP_GRACE)
        for waiter in pending:
            waiter.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # -- what happened ----------------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMessage]:
        """Every accepted message in order (the live list: tests may clear it)."""
        return self._state.messages

    @property
    def sessions(self) -> list[SessionRecord]:
        """A record per connection, in the order they were opened (the live list)."""
        return self._state.sessions

    @property
    def open_sessions(self) -> int:
        """How many connections are open now."""
        return len(self._state.live)

    @property
    def max_concurrent_sessions(self) -> int:
        """The peak number of simultaneous connections so far."""
        return self._state.max_concurrent_sessions

    @property
    def auth_attempts(self) -> list[AuthAttempt]:
        """Every AUTH exchange as `(mechanism, user, success)`, in order (the live list)."""
        return self._state.auth_attempts
