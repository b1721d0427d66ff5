"""`LocalGmail`: a Gmail-like SMTP server on 127.0.0.1 for tests, demos and users' own tests.

It speaks like smtp.gmail.com (greeting, EHLO lines, reply texts with enhanced codes, STARTTLS
on "587" or implicit TLS on "465", AUTH only under TLS, app passwords and XOAUTH2 with Gmail's
verdicts, sender rewriting, the SIZE limit) over real TLS with a throw-away CA, records what
happened, and misbehaves on request (injected replies, dropped connections, server-side
closes).

It also serves IMAP like imap.gmail.com:993 (`imap_port`; `_imap_server.py`), the subset a
Sent Mail lookup needs: Gmail's sign-ins, LIST, SELECT/EXAMINE, SEARCH by Message-ID. A copy of
each message accepted from a signed-in account is filed in its Sent Mail (`sent_mail()`), at
once, late or never (`sent_copy_delay`); `refuse_imap_sign_in()` and `LocalAccount.imap_enabled`
refuse sign-ins as Gmail does.

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
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Literal

from ..auth._xoauth2 import MAIL_SCOPE
from ..smtp._replies import GMAIL_REPLIES, ReplyRule
from ._accounts import LocalAccount, TokenValidator
from ._faults import DropStage, Fault, Hold, HoldStage, InjectStage, ReplyLike, format_reply
from ._handler import GmailHandler
from ._imap_server import IMAPListener
from ._inbox import LocalInbox
from ._pauses import Pause, PauseStage
from ._protocol import GmailSMTP
from ._records import AuthAttempt, IMAPSessionRecord, ReceivedMessage, SessionRecord
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

    Args:
        security: "starttls" (like port 587), "tls" (implicit TLS, like 465) or "none" (plain
            text, no STARTTLS offered, so AUTH is always refused: for proving a client keeps
            credentials off an unencrypted connection).
        accounts: the accounts that can sign in (more with `add_account`).
        certificates: the test CA and server certificate; None makes new ones. Clients trust
            them through `client_tls_context()`.
        host: the loopback address to listen on ("localhost" or a loopback IP); any other
            address is refused with ValueError.
        port: the port to listen on; 0 picks a free one (read `port` once started).
        pipelining: advertise PIPELINING in the EHLO reply (Gmail does; commands are still
            answered in order).
        chunking: advertise CHUNKING and take BDAT, as Gmail does (False: DATA only).
        size_limit: the SIZE advertised, in bytes (Gmail's by default); a larger message is
            refused with `552 5.3.4`.
        allow_relay_by_ip: accept MAIL without AUTH, like Workspace's smtp-relay with
            IP-address authentication.
        idle_timeout: seconds of silence after which the server says
            `451 4.4.2 Timeout - closing connection` and hangs up.
        hostname: the name the server gives in its greeting and EHLO reply.
        web: also serve the inbox page (the received messages in a browser, and as JSON) at
            `web_url`.
        web_port: the inbox page's port; 0 picks a free one.
        imap: also serve IMAP like imap.gmail.com:993 (implicit TLS, the same certificate),
            for looking messages up in Sent Mail; see `imap_port`.
        imap_port: the IMAP port; 0 picks a free one.
        imap_gmail_extensions: advertise X-GM-EXT-1 and take `X-GM-RAW` searches, as Gmail
            does; False: a generic IMAP server, where X-GM-RAW is `BAD`.
        imap_special_use: mark the special mailboxes with RFC 6154 attributes (`\\Sent`...),
            as Gmail does; False: only All Mail keeps its `\\All`.
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
        chunking: bool = True,
        size_limit: int = GMAIL_SIZE_LIMIT,
        allow_relay_by_ip: bool = False,
        idle_timeout: float = 300.0,
        hostname: str = "smtp.gmail.com",
        web: bool = False,
        web_port: int = 0,
        imap: bool = True,
        imap_port: int = 0,
        imap_gmail_extensions: bool = True,
        imap_special_use: bool = True,
    ) -> None:
        config = ServerConfig(
            security=security,
            hostname=hostname,
            size_limit=size_limit,
            pipelining=pipelining,
            chunking=chunking,
            allow_relay_by_ip=allow_relay_by_ip,
            idle_timeout=idle_timeout,
            imap_gmail_extensions=imap_gmail_extensions,
            imap_special_use=imap_special_use,
        )
        for name, number in (("port", port), ("web_port", web_port), ("imap_port", imap_port)):
            if not 0 <= number <= 65535:
                raise ValueError(f"{name} must be 0..65535, not {number}")
        self._state = ServerState(config, accounts)
        self._handler = GmailHandler(self._state)
        self._certificates = certificates if certificates is not None else TestCertificates()
        self._host = _check_loopback(host)
        self._port = port
        self._server: asyncio.Server | None = None
        self._starttls_context: ssl.SSLContext | None = None
        self._inbox = (
            LocalInbox(self._state, smtp_where="", host=self._host, port=web_port) if web else None
        )
        self._imap = (
            IMAPListener(self._state, self._certificates.server_context(), self._host, imap_port)
            if imap
            else None
        )

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
        try:
            if self._imap is not None:
                await self._imap.start()
            if self._inbox is not None:
                self._inbox.set_smtp_where(f"SMTP {security} on {self._host}:{self._port}")
                await self._inbox.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop listening and cut every open connection; safe to call more than once."""
        server, self._server = self._server, None
        if server is None:
            return
        try:
            self._state.pauses.release_all()
            self._state.sent_mail.cancel_pending()
            if self._inbox is not None:
                await self._inbox.stop()
            if self._imap is not None:
                await self._imap.stop()
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
    def imap_port(self) -> int:
        """The IMAP port (implicit TLS, like imap.gmail.com:993); RuntimeError when created
        with `imap=False`."""
        if self._imap is None:
            raise RuntimeError("this LocalGmail serves no IMAP (created with imap=False)")
        return self._imap.port

    @property
    def pipelining(self) -> bool:
        """Whether PIPELINING is advertised."""
        return self._state.config.pipelining

    @property
    def chunking(self) -> bool:
        """Whether CHUNKING is advertised and BDAT taken."""
        return self._state.config.chunking

    @property
    def security(self) -> Security:
        """The security mode: starttls, tls or none."""
        return self._state.config.security

    @property
    def certificates(self) -> TestCertificates:
        """The test CA and server certificate."""
        return self._certificates

    @property
    def web_url(self) -> str | None:
        """The inbox page's address (http://127.0.0.1:PORT/) while running with `web=True`."""
        if self._inbox is None or not self.running:
            return None
        return self._inbox.url

    def client_tls_context(self) -> ssl.SSLContext:
        """An SSL context that trusts this server's certificate (verification on)."""
        return self._certificates.client_context()

    # -- accounts and tokens ----------------------------------------------------------------

    @property
    def accounts(self) -> list[LocalAccount]:
        """The accounts that can sign in."""
        return list(self._state.accounts.values())

    def add_account(self, account: LocalAccount) -> None:
        """Add an account (or replace the one with the same address).

        Args:
            account: the account; it can sign in from the next AUTH on.
        """
        self._state.add_account(account)

    def add_access_token(
        self,
        user: str,
        token: str,
        *,
        scope: str = MAIL_SCOPE,
        expires_at: float | None = None,
    ) -> None:
        """Let XOAUTH2 accept `token` for `user`; adding a known token again replaces it.

        Args:
            user: the account the token is for; presented for another user it gets status 400.
            token: the bearer token, non-empty, without spaces or control characters.
            scope: the token's scopes, space-separated; without https://mail.google.com/ it
                gets status 400, as from Gmail.
            expires_at: when it expires, a `time.time()` value; past it the token gets status
                401. None: never.
        """
        self._state.tokens.add(user, token, scope=scope, expires_at=expires_at)

    def revoke_access_token(self, token: str) -> None:
        """From now on `token` is refused with status 401.

        Args:
            token: a token given to `add_access_token`; an unknown one is ignored.
        """
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
        after: int = 0,
    ) -> None:
        """Answer the next `times` commands at `stage` with `reply` instead of the normal one,
        once `after` of them have passed normally.

        Faults are used in the order they were added. A 421 reply closes the connection after
        it is sent.

        Args:
            stage: "connect" (the greeting), "ehlo" (EHLO or HELO), "starttls", "auth", "mail",
                "rcpt", "data" (the reply to DATA itself) or "data_end" (the final reply after
                the body, of DATA or of `BDAT ... LAST`; the message is then not stored).
            reply: a row of GMAIL_REPLIES, an SMTPReply, `(code, "x.y.z text")` or a bare code
                (see `format_reply`).
            times: how many commands in a row get it (at least 1).
            recipient: only at "rcpt": answer only RCPT for this address (case-insensitive).
            after: let this many commands of the stage through first.
        """
        self._state.faults.add_reply(stage, reply, times=times, recipient=recipient, after=after)

    def drop_connection(self, stage: DropStage, *, times: int = 1, after: int = 0) -> None:
        """Cut the TCP connection, without a reply, at the next `times` occasions of `stage`
        (once `after` of them have passed).

        Args:
            stage: as for `inject()`, where "data_end" cuts after the body arrived but before
                the message is stored (lost); or "data_end_stored", which cuts after it was
                stored (the server holds exactly one copy; the client cannot tell whether it
                was accepted).
            times: how many occasions in a row (at least 1).
            after: let this many occasions of the stage pass first.
        """
        self._state.faults.add_drop(stage, times=times, after=after)

    def hold(self, stage: HoldStage, *, after: int = 0) -> Hold:
        """Pause the next session that reaches `stage`, after letting `after` others pass.

        "data_end": the body arrived, the message is not stored yet; "data_end_stored": it is
        stored, the reply not sent. The paused session waits until `Hold.release()` or until
        the server stops; the others go on. `Hold.wait()` tells a test (in any thread) that
        the moment came, e.g. to kill the client then:

            hold = gmail.hold("data_end_stored", after=2)  # the third message
            ...  # start the client
            assert hold.wait(timeout=60)
            client.kill()
            hold.release()

        Args:
            stage: "data_end" or "data_end_stored", as above.
            after: how many sessions pass the point untouched before one is paused.
        """
        return self._state.faults.add_hold(stage, after=after)

    def stall(self, stage: Literal["data_end", "data_end_stored"], *, times: int = 1) -> None:
        """After the body, answer nothing (until the client hangs up) at the next `times`
        occasions of `stage`: "data_end" before storing the message, "data_end_stored" after.
        A client then waits for Gmail's answer until its deadline or timeout.

        Args:
            stage: "data_end" (before the message is stored) or "data_end_stored" (after).
            times: how many messages it applies to.
        """
        self._state.faults.add_stall(stage, times=times)

    def pause(self, stage: PauseStage) -> Pause:
        """Hold the next session that reaches `stage` until the returned `Pause` is released.

        For crash tests: `pause.wait()` returns once a session is held there (from any thread),
        the test kills the client, then `pause.release()`. `stop()` releases every pause.

        Args:
            stage: "connect" (before the greeting), "ehlo", "auth", "mail", "rcpt", "data"
                (the command arrived, no reply yet: DATA, or BDAT before its bytes are read,
                which the client has already written), "data_end" (the body arrived and was
                stored, after DATA's final dot or `BDAT ... LAST`; no reply yet) or
                "data_end_replied" (stored and answered).

        Returns:
            The `Pause`, to wait on and release.
        """
        return self._state.pauses.add(stage)

    def refuse_imap_sign_in(self, times: int = 1) -> None:
        """Refuse the next `times` IMAP sign-ins (AUTHENTICATE or LOGIN), good credentials or
        not, with `NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)` (for XOAUTH2
        without the JSON challenge first: the token is not what failed).

        Args:
            times: how many sign-ins in a row (at least 1); added to any still pending.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        self._state.imap_sign_in_refusals += times

    @property
    def pending_faults(self) -> list[Fault]:
        """Injected replies and drops not used up yet."""
        return self._state.faults.pending()

    def clear_faults(self) -> None:
        """Forget every fault and hold not used up yet."""
        self._state.faults.clear()

    async def close_all(self, *, reply: ReplyLike | None = DEFAULT_CLOSE_REPLY) -> int:
        """Hang up every open session from the server side, saying `reply` first.

        Waits (a few seconds at most) until those sessions are closed; returns how many.

        Args:
            reply: what each session is told before the hang-up, as for `inject()`; Gmail's
                `421 4.7.0 Try again later` by default; None hangs up silently.
        """
        return await self._close(reply, only_idle=False)

    async def close_idle(self, *, reply: ReplyLike | None = DEFAULT_CLOSE_REPLY) -> int:
        """Like `close_all()`, for sessions waiting for a command outside a login or transaction.

        Gmail ends sessions that stay idle; this lets a test do so at a moment it chooses.

        Args:
            reply: what each session is told before the hang-up, as for `inject()`; Gmail's
                `421 4.7.0 Try again later` by default; None hangs up silently.
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

    def on_message(self, listener: Callable[[ReceivedMessage], None]) -> Callable[[], None]:
        """Call `listener(message)` for each message accepted from now on.

        Args:
            listener: called on the server's loop with each `ReceivedMessage` as it is stored;
                it should be quick.

        Returns:
            A function that stops the calls (safe to call more than once).
        """
        self._state.message_listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._state.message_listeners.remove(listener)

        return remove

    def sent_mail(self, account: str) -> list[ReceivedMessage]:
        """The copies filed in `account`'s Sent Mail so far, oldest first (a copy of the list).

        Gmail files one for each message it accepts from a signed-in account (over SMTP or
        the Gmail API), none for a message relayed without sign-in; see `sent_copy_delay`.

        Args:
            account: the account's address (case-insensitive).
        """
        return list(self._state.sent_mail.copies(account))

    @property
    def sent_copy_delay(self) -> float | None:
        """Seconds after acceptance at which the Sent Mail copy is filed (0.0 by default: at
        once); None: never filed. A new value applies to messages accepted from then on;
        `stop()` drops the filings still to come."""
        return self._state.sent_mail.delay

    @sent_copy_delay.setter
    def sent_copy_delay(self, seconds: float | None) -> None:
        self._state.sent_mail.delay = seconds

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
    def imap_sessions(self) -> list[IMAPSessionRecord]:
        """A record per IMAP connection, in the order they were opened (the live list)."""
        return self._state.imap_sessions

    @property
    def auth_attempts(self) -> list[AuthAttempt]:
        """Every AUTH exchange as `(mechanism, user, success)`, in order (the live list)."""
        return self._state.auth_attempts
