"""One connection to the local Gmail: aiosmtpd's SMTP protocol, made to talk like Gmail.

`GmailSMTP` subclasses `aiosmtpd.smtp.SMTP` (1.4.x) and changes what Gmail does differently:
the greeting and reply texts, AUTH only under TLS (`530 5.7.0 Must issue a STARTTLS command
first`), MAIL only after AUTH (`530 5.7.0 Authentication Required`), app-password and XOAUTH2
logins with Gmail's verdicts, and the faults a test queued (injected replies, dropped
connections). Replies to MAIL, RCPT and DATA and the EHLO lines come from `handler.py`; BDAT,
which aiosmtpd lacks, from `_chunking.py`. Each mail transaction is recorded with the stream
offsets it arrived at (`TransactionRecord`), so tests can tell what one read carried and how
many transactions the client had in flight.

Any 421 reply is followed by closing the connection, as Gmail (and RFC 5321) do.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ssl
import time
from typing import Any, NoReturn

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

from ._accounts import check_password, xoauth2_challenge
from ._chunking import ChunkedBody, receive_bdat
from ._faults import reply_code
from ._records import AuthAttempt, SessionRecord, WireLog, redact_command
from ._state import ServerState
from ._wording import (
    ACCEPTED,
    APP_PASSWORD_REQUIRED,
    AUTH_REQUIRED,
    BAD_CREDENTIALS,
    IDLE_TIMEOUT,
    MUST_STARTTLS,
    gmail_wording,
)

__all__ = ["GmailSMTP"]


class GmailSMTP(SMTP):
    """aiosmtpd's protocol with Gmail's manners; one instance per client connection.

    `user` is the address the session signed in as (None before a successful AUTH).
    """

    AuthLoginUsernameChallenge = "Username:"
    AuthLoginPasswordChallenge = "Password:"

    def __init__(
        self,
        state: ServerState,
        handler: Any,
        *,
        session_id: str,
        starttls_context: ssl.SSLContext | None,
    ) -> None:
        self.state = state
        self.session_id = session_id
        self.record = SessionRecord(session_id, None)
        self.user: str | None = None
        self.original_mail_from: str | None = None
        self._greeted = False
        self._opened = False
        self._in_auth = False
        self._command: str | None = None
        self.wire = WireLog(self.record)
        """Where each command and body lay in the session's byte stream."""
        self.chunks = ChunkedBody()
        """The BDAT chunks of the current transaction."""
        self.gone = asyncio.Event()
        """Set once the connection is closed."""
        config = state.config
        super().__init__(
            handler,
            hostname=config.hostname,
            ident=f"ESMTP {session_id} - gsmtp",
            tls_context=starttls_context if config.security == "starttls" else None,
            data_size_limit=config.size_limit,
            enable_SMTPUTF8=True,
            decode_data=False,
            timeout=config.idle_timeout,
            auth_required=False,
            auth_require_tls=False,  # enforced here instead, so implicit TLS counts as TLS
            authenticator=self._check_password,
            loop=asyncio.get_running_loop(),
        )

    def __repr__(self) -> str:
        return f"<GmailSMTP {self.session_id} peer={self.record.peer} user={self.user}>"

    # -- connection lifecycle -------------------------------------------------------------

    @property
    def tls_active(self) -> bool:
        """Whether this connection is encrypted (after STARTTLS, or implicit TLS)."""
        transport = self.transport
        return transport is not None and transport.get_extra_info("ssl_object") is not None

    @property
    def idle(self) -> bool:
        """Waiting for a command, with no login exchange and no mail transaction under way."""
        envelope = self.envelope
        in_transaction = envelope is not None and envelope.mail_from is not None
        return not self._in_auth and not in_transaction

    @property
    def handler_task(self) -> asyncio.Task[None] | None:
        """The task that serves this connection's commands."""
        return self._handler_coroutine

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.record.tls = self.tls_active
        if not self._opened:
            self._opened = True
            peer = transport.get_extra_info("peername")
            self.record.peer = (str(peer[0]), int(peer[1])) if peer else None
            self.state.session_opened(self, self.record)

    def data_received(self, data: bytes) -> None:
        self.wire.received(len(data))
        super().data_received(data)

    @property
    def consumed(self) -> int:
        """Bytes of the stream read so far: received, less what waits in the reader's buffer."""
        return self.wire.total - len(self._reader._buffer)  # type: ignore[attr-defined]

    def note_body_read(self) -> None:
        """A message body (DATA or BDAT) was read up to here."""
        self.wire.body_read(self.consumed)

    def end_transaction(self) -> None:
        """The transaction is over (stored or refused): the next one starts afresh."""
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        self.original_mail_from = None
        self.chunks.clear()

    def connection_lost(self, error: Exception | None) -> None:
        if self.record.closed_at is None:
            self.record.closed_at = time.time()
        self.state.session_closed(self)
        self.gone.set()
        super().connection_lost(error)

    def _timeout_cb(self) -> None:
        transport = self.transport
        if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            transport.write(IDLE_TIMEOUT.encode("ascii") + b"\r\n")
        super()._timeout_cb()  # type: ignore[no-untyped-call]

    def abort(self) -> None:
        """Cut the connection at once (no goodbye, buffered data lost)."""
        for transport in (self.transport, self._original_transport):
            if isinstance(transport, asyncio.Transport):
                transport.abort()

    def close_from_server(self, reply: str | None) -> bool:
        """End the session from the server's side, saying `reply` first unless it is None."""
        transport = self.transport
        if not isinstance(transport, asyncio.WriteTransport) or transport.is_closing():
            return False
        if reply is not None:
            transport.write(reply.encode("utf-8") + b"\r\n")
        transport.close()
        return True

    async def stall(self) -> NoReturn:
        """Say nothing more until the client hangs up, then end this session's task."""
        self.record.commands.append("<the server fell silent>")
        await self.gone.wait()
        raise asyncio.CancelledError

    async def drop(self) -> NoReturn:
        """Abort the connection and end this session's task (used for planned drops)."""
        self.record.commands.append("<connection dropped by the server>")
        self.abort()
        raise asyncio.CancelledError

    # -- replies ----------------------------------------------------------------------------

    async def push(self, status: str | bytes) -> None:
        if isinstance(status, bytes):
            await super().push(status)
            return
        if not self._greeted:
            self._greeted = True
            await self.state.pauses.hold("connect")
            fault = self.state.faults.take("connect")
            if fault is not None:
                if fault.drops:
                    await self.drop()
                status = fault.reply or status
        await self.send_reply(self._translate(status))

    async def send_reply(self, wire: str, *, final: bool = False) -> None:
        """Send a reply (`final`: the one that ends a mail transaction); after a 421 close the
        connection and end the session's task."""
        if final:
            self.wire.final_reply(reply_code(wire))
        await super().push(wire)
        if reply_code(wire) == 421:
            transport = self.transport
            if transport is not None:
                transport.close()
            raise asyncio.CancelledError

    def _translate(self, status: str) -> str:
        return gmail_wording(status, self.session_id, self._command)

    async def _before(
        self, command: str, stage: str, arg: str | None, *, recipient: str | None = None
    ) -> bool:
        """Record the command; if a fault is due at `stage`, act it out and return True."""
        self._command = command
        self.record.commands.append(redact_command(command, arg))
        self.wire.command_read(self.consumed, starts_transaction=command == "MAIL")
        if command == "MAIL":
            self.chunks.clear()
        await self.state.pauses.hold(stage)
        fault = self.state.faults.take(stage, recipient=recipient)
        if fault is None:
            return False
        if fault.reply is None:
            await self.drop()
        await self.send_reply(fault.reply)
        return True

    # -- commands ---------------------------------------------------------------------------

    async def smtp_HELO(self, hostname: str) -> None:
        if not await self._before("HELO", "ehlo", hostname):
            await super().smtp_HELO(hostname)

    async def smtp_EHLO(self, hostname: str) -> None:
        if not await self._before("EHLO", "ehlo", hostname):
            await super().smtp_EHLO(hostname)

    async def smtp_STARTTLS(self, arg: str) -> None:
        if await self._before("STARTTLS", "starttls", arg):
            return
        if self.tls_active:
            await self.send_reply(f"503 5.5.1 TLS already active. {self.session_id} - gsmtp")
            return
        await super().smtp_STARTTLS(arg)

    async def smtp_AUTH(self, arg: str) -> None:
        self._in_auth = True
        try:
            if await self._before("AUTH", "auth", arg):
                mechanism = (arg or "").split(" ", 1)[0].upper()
                self._note_auth(mechanism, None, success=False, reason="injected")
            elif not self.tls_active:
                await self.send_reply(MUST_STARTTLS)
            else:
                attempts = len(self.state.auth_attempts)
                await super().smtp_AUTH(arg)
                assert self.session is not None
                if len(self.state.auth_attempts) == attempts and not self.session.authenticated:
                    # refused before any credential check (bad base64, unknown mechanism)
                    mechanism = (arg or "").split(" ", 1)[0].upper()
                    self._note_auth(mechanism, None, success=False, reason="malformed")
        finally:
            self._in_auth = False
            self.wire.read_up_to(self.consumed)  # the login's answer lines, if any

    async def smtp_MAIL(self, arg: str | None) -> None:
        if await self._before("MAIL", "mail", arg):
            return
        assert self.session is not None
        if self.session.host_name:
            config = self.state.config
            if config.security == "starttls" and not self.tls_active:
                await self.send_reply(MUST_STARTTLS)
                return
            if self.user is None and not config.allow_relay_by_ip:
                await self.send_reply(AUTH_REQUIRED)
                return
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg: str | None) -> None:
        recipient = None
        if arg is not None:
            rest = self._strip_command_keyword("TO:", arg)
            if rest is not None:
                recipient = self._getaddr(rest)[0]
        if not await self._before("RCPT", "rcpt", arg, recipient=recipient):
            await super().smtp_RCPT(arg)

    async def smtp_DATA(self, arg: str) -> None:
        if not await self._before("DATA", "data", arg):
            stored = len(self.state.messages)
            await super().smtp_DATA(arg)
            if self.wire.mark != self.consumed:  # a body was read and answered
                self.note_body_read()
                self.wire.final_reply(None)
            if len(self.state.messages) > stored:
                await self.state.pauses.hold("data_end_replied")

    async def smtp_BDAT(self, arg: str | None) -> None:
        self._before_plain("BDAT", arg)
        if not self.state.config.chunking:
            await self.send_reply(f"502 5.5.1 Unrecognized command. {self.session_id} - gsmtp")
            return
        # The command arrived; its bytes are not read yet (the client has written them).
        await self.state.pauses.hold("data")
        stored = len(self.state.messages)
        await receive_bdat(self, arg)
        if len(self.state.messages) > stored:
            await self.state.pauses.hold("data_end_replied")

    async def smtp_RSET(self, arg: str) -> None:
        self._before_plain("RSET", arg)
        self.chunks.clear()
        await super().smtp_RSET(arg)

    async def smtp_NOOP(self, arg: str) -> None:
        self._before_plain("NOOP", arg)
        await super().smtp_NOOP(arg)

    async def smtp_QUIT(self, arg: str) -> None:
        self._before_plain("QUIT", arg)
        await super().smtp_QUIT(arg)

    def _before_plain(self, command: str, arg: str | None) -> None:
        self._command = command
        self.record.commands.append(redact_command(command, arg))
        self.wire.command_read(self.consumed)

    # -- logins -----------------------------------------------------------------------------

    def _note_auth(self, mechanism: str, user: str | None, *, success: bool, reason: str) -> None:
        self.state.auth_attempts.append(AuthAttempt(mechanism, user, success))
        self.record.auth_mechanism = mechanism
        self.record.auth_user = user
        self.record.auth_reason = reason
        self.record.authenticated = self.record.authenticated or success

    def _check_password(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        """aiosmtpd's authenticator for LOGIN and PLAIN: Gmail's app-password rules."""
        assert isinstance(auth_data, LoginPassword)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        verdict = check_password(self.state.accounts, login, password)
        accepted = verdict.account is not None
        self._note_auth(mechanism, login, success=accepted, reason=verdict.outcome)
        if verdict.account is not None:
            self.user = verdict.account.address
            return AuthResult(success=True, auth_data=self.user, message=ACCEPTED)
        refusal = APP_PASSWORD_REQUIRED if verdict.outcome == "normal-password" else BAD_CREDENTIALS
        return AuthResult(success=False, handled=False, message=refusal)

    async def auth_XOAUTH2(self, _: SMTP, args: list[str]) -> AuthResult:
        """SASL XOAUTH2, one-line (`AUTH XOAUTH2 <b64>`) or after an empty `334 `."""
        if len(args) == 1:
            answer = await self.challenge_auth(b"", encode_to_b64=False)
            if answer is MISSING:  # aiosmtpd already answered 501
                self._note_auth("XOAUTH2", None, success=False, reason="malformed")
                return AuthResult(success=False, handled=True)
            assert isinstance(answer, bytes)
            blob = answer
        else:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except (binascii.Error, ValueError):
                self._note_auth("XOAUTH2", None, success=False, reason="malformed")
                await self.send_reply(self._translate("501 5.5.2 Can't decode base64"))
                return AuthResult(success=False, handled=True)
        user, verdict = await self.state.judge_xoauth2(blob)
        self._note_auth(
            "XOAUTH2", user, success=verdict.accepted, reason=verdict.reason or "validator"
        )
        if verdict.accepted and user is not None:
            account = self.state.account_for(user)
            self.user = account.address if account is not None else user
            return AuthResult(success=True, auth_data=self.user, message=ACCEPTED)
        await super().push(b"334 " + xoauth2_challenge(verdict))
        await self._reader.readline()  # Gmail waits for the client's (empty) answer, then 535
        await self.send_reply(BAD_CREDENTIALS)
        return AuthResult(success=False, handled=True)
