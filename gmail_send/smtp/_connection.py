"""One SMTP session with Gmail: TLS, EHLO and AUTH on aiosmtplib, then transactions of ours.

aiosmtplib connects, secures the connection and signs in through its public API; then the
session's `CommandStream` (`_stream.py`, on the transport aiosmtplib opened) takes over, and
every transaction runs on it: BDAT where the server offers CHUNKING (`_chunking.py`), DATA
otherwise (`_transaction.py`). With CHUNKING and PIPELINING, up to `max_in_flight`
transactions are streamed on the session at once; otherwise it carries one at a time.

This layer turns every failure into a typed `GmailSendError`; it never retries (the sender
decides that). Credentials are only ever sent over an encrypted, verified connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl
import time

import aiosmtplib
from aiosmtplib import SMTPResponse

from .._result import AuthMethod, SendResult
from .._types import Security
from ..errors import (
    ConfigurationError,
    GmailConnectionError,
    GmailSendError,
    MessageTooLargeError,
    TLSError,
)
from ..message._outgoing import OutgoingMessage
from ._chunking import send_chunked
from ._login import AccessToken, Login, sign_in
from ._replies import Stage, error_for_reply, parse_reply
from ._stream import CommandStream, NotSent, SessionEnded
from ._transaction import Progress, mail_options, send_data

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_TIMEOUT",
    "GMAIL_HOST",
    "AccessToken",
    "Login",
    "Progress",
    "SMTPConnection",
    "Security",
    "default_port",
    "verified_context",
]

log = logging.getLogger("gmail_send.smtp")


GMAIL_HOST = "smtp.gmail.com"
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_IN_FLIGHT = 10
"""Transactions streamed on one session before the first of their replies must have come."""
_ids = itertools.count(1)


def default_port(security: Security) -> int:
    """587 for STARTTLS, 465 for implicit TLS, 25 for a plain relay connection.

    Args:
        security: "starttls", "tls" or "none".
    """
    return {"starttls": 587, "tls": 465, "none": 25}[security]


def verified_context(context: ssl.SSLContext | None) -> ssl.SSLContext:
    """The TLS context to use: the caller's, provided it verifies certificates, or the default.

    A context that switched verification off is refused: tests pass their CA instead.
    """
    if context is None:
        return ssl.create_default_context()
    if context.verify_mode != ssl.CERT_REQUIRED or not context.check_hostname:
        raise ConfigurationError(
            "the TLS context does not verify the server certificate",
            hint="keep verify_mode=CERT_REQUIRED and check_hostname=True; to trust a private "
            "or test CA, load it with context.load_verify_locations(cafile=...)",
        )
    return context


class SMTPConnection:
    """One authenticated SMTP session, able to carry several messages one after another."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: Security,
        tls_context: ssl.SSLContext | None,
        timeout: float | None = DEFAULT_TIMEOUT,
        local_hostname: str | None = None,
        pipelining: bool = True,
        chunking: bool = True,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        """`pipelining` and `chunking` allow the extensions where the server offers them;
        `max_in_flight` bounds the transactions streamed at once (see the module's doc)."""
        self.host = host
        self.port = port
        self.security: Security = security
        self.id = next(_ids)
        self._tls_context = verified_context(tls_context) if security != "none" else None
        self._smtp = aiosmtplib.SMTP(
            hostname=host,
            port=port,
            timeout=timeout,
            use_tls=security == "tls",
            start_tls=False,
            tls_context=self._tls_context,
            local_hostname=local_hostname,
        )
        self.auth_method: AuthMethod | None = None
        self._greeted = False
        self.messages_sent = 0
        self.transactions_started = 0
        self._allow_pipelining = pipelining
        self._allow_chunking = chunking
        self._max_in_flight = max_in_flight
        self._stream: CommandStream | None = None
        self._one_at_a_time = asyncio.Lock()
        self.created_at = time.monotonic()
        self.last_used = self.created_at

    def __repr__(self) -> str:
        state = "open" if self.is_connected else "closed"
        return f"<SMTPConnection #{self.id} {self.host}:{self.port} {self.security} {state}>"

    @property
    def smtp(self) -> aiosmtplib.SMTP:
        """The aiosmtplib session that connected and signed in (no command goes through it
        once the session's `CommandStream` has taken over)."""
        return self._smtp

    @property
    def is_connected(self) -> bool:
        if self._stream is not None:
            return self._stream.is_open
        return self._smtp.is_connected

    @property
    def pipelined(self) -> bool:
        """Whether commands are written ahead of their replies (the server offers PIPELINING)."""
        return self._allow_pipelining and self.supports("pipelining")

    @property
    def chunked(self) -> bool:
        """Whether messages go with BDAT (the server offers CHUNKING) instead of DATA."""
        return self._allow_chunking and self.supports("chunking")

    @property
    def streaming(self) -> bool:
        """Whether several transactions may be in flight on this session at once."""
        return self.pipelined and self.chunked

    @property
    def capacity(self) -> int:
        """How many sends this session carries at once."""
        return self._max_in_flight if self.streaming else 1

    @property
    def in_flight(self) -> int:
        """Exchanges written on this session whose replies have not all come."""
        return self._stream.in_flight if self._stream is not None else 0

    @property
    def is_encrypted(self) -> bool:
        """True once the transport runs over TLS (implicit, or after STARTTLS)."""
        return self._smtp.is_connected and self._smtp.get_transport_info("sslcontext") is not None

    def supports(self, extension: str) -> bool:
        return self._smtp.supports_extension(extension)

    @property
    def max_size(self) -> int | None:
        """The server's SIZE limit, if it advertised one."""
        value = self._smtp.esmtp_extensions.get("size", "")
        return int(value) if value.isdigit() and int(value) > 0 else None

    async def open(self, login: Login | None) -> None:
        """Connect, secure the session, EHLO and sign in (when `login` is given): one attempt.

        Where the access token comes from, and what to do when Gmail rejects it, is sign-in's
        business (`_signin.py`): this session only uses the token it is given.
        """
        if login is not None and self.security == "none":
            raise ConfigurationError(
                "refusing to send credentials over an unencrypted connection",
                hint="use security='starttls' (port 587) or 'tls' (port 465)",
            )
        self._greeted = False
        try:
            await self._connect()
            if login is not None:
                self.auth_method = await self._authenticate(login)
            self._take_over()
        except BaseException:
            self.close()
            raise
        log.debug(
            "connected",
            extra={"event": "connected", "connection_id": self.id, "auth": self.auth_method},
        )

    async def _connect(self) -> None:
        where = f"{self.host}:{self.port}"
        timeout = self._smtp.timeout
        try:
            # A short wait for the TCP connection and the greeting: a STARTTLS client on an
            # implicit-TLS port would otherwise wait the whole timeout for a greeting that the
            # server (waiting for a TLS handshake) never sends.
            await self._smtp.connect(timeout=_connect_wait(timeout))
            self._smtp.timeout = timeout
            self._greeted = True
            await self._ehlo()
            if self.security == "starttls":
                if not self._smtp.supports_extension("starttls"):
                    raise TLSError(
                        f"{where} does not offer STARTTLS",
                        hint="refusing to continue unencrypted; check host and port "
                        "(587 for STARTTLS, 465 for implicit TLS); a filtering proxy or "
                        "antivirus may also remove STARTTLS",
                        after_greeting=True,
                    )
                await self._starttls()
                await self._ehlo()
        except GmailSendError:
            raise  # already typed and complete (GmailConnectionError is an OSError too)
        except ssl.SSLError as exc:
            raise _tls_error(where, exc, self.security, after_greeting=self._greeted) from None
        except aiosmtplib.SMTPConnectResponseError as exc:
            raise self.reply_error(SMTPResponse(exc.code, exc.message), "connect") from None
        except aiosmtplib.SMTPConnectTimeoutError as exc:
            wait = _connect_wait(timeout)
            if "ready message" in str(exc) and self.security != "tls":
                raise GmailConnectionError(
                    f"{where} accepted the connection but sent no greeting within {wait:g} s",
                    hint="a server that says nothing after connecting very likely expects "
                    "implicit TLS: use security='tls' (port 465), or port 587 for STARTTLS",
                ) from None
            raise GmailConnectionError(
                f"timed out connecting to {where} (waited {wait:g} s)",
                hint=_port_hint(self.port),
            ) from None
        except aiosmtplib.SMTPConnectError as exc:
            cause = exc.__cause__
            if isinstance(cause, ssl.SSLError):
                raise _tls_error(where, cause, self.security, after_greeting=False) from None
            raise GmailConnectionError(
                f"could not connect to {where}: {cause or exc}",
                hint=_port_hint(self.port),
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise self.reply_error(SMTPResponse(exc.code, exc.message), "ehlo") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise GmailConnectionError(
                f"connection to {where} failed: {exc}", after_greeting=self._greeted
            ) from None

    def _take_over(self) -> None:
        try:
            self._stream = CommandStream(
                self._smtp,
                window=self._max_in_flight if self.streaming else 1,
                timeout=self._smtp.timeout,
            )
        except ConnectionError:
            raise GmailConnectionError(
                f"the connection to {self.host}:{self.port} was lost after signing in",
                after_greeting=True,
            ) from None

    async def _starttls(self) -> None:
        """STARTTLS; a refusal is typed as an answer to STARTTLS (RFC 3207's 454 is temporary)."""
        try:
            response = await self._smtp.starttls(tls_context=self._tls_context)
        except aiosmtplib.SMTPResponseException as exc:
            raise self.reply_error(SMTPResponse(exc.code, exc.message), "starttls") from None
        if response.code != 220:
            raise self.reply_error(response, "starttls")

    async def _ehlo(self) -> None:
        response = await self._smtp.ehlo()
        if response.code != 250:
            raise self.reply_error(response, "ehlo")

    async def _authenticate(self, login: Login) -> AuthMethod:
        if not self.is_encrypted:
            raise ConfigurationError(
                "refusing to send credentials over an unencrypted connection",
                hint="use security='starttls' (port 587) or 'tls' (port 465)",
            )
        return await sign_in(self._smtp, login)

    def reply_error(self, response: SMTPResponse, stage: Stage) -> GmailSendError:
        return error_for_reply(parse_reply(response.code, response.message), stage=stage)

    async def send(
        self, outgoing: OutgoingMessage, *, progress: Progress | None = None
    ) -> SendResult:
        """Run one mail transaction; Gmail refusing some recipients is not an error.

        `progress` (optional) is updated as the transaction goes, so a caller that cancels it
        can tell whether the body had been sent. On a streaming session other sends may run
        their transactions at the same time; otherwise they wait their turn here.
        """
        progress = progress if progress is not None else Progress()
        progress.connection_id = self.id
        progress.body_sent = False
        limit = self.max_size
        if limit is not None and len(outgoing.data) > limit:
            raise MessageTooLargeError(
                f"the message is {len(outgoing.data):,} bytes; the server accepts {limit:,}",
                size=len(outgoing.data),
                limit=limit,
                hint="send large files as links",
            )
        options, encoding = mail_options(self, outgoing)
        stream = self._stream
        if stream is None:
            raise GmailConnectionError("the session is not open", after_greeting=True)
        self.transactions_started += 1
        if self.streaming:
            refused, response = await send_chunked(
                self, stream, outgoing, options, encoding, progress, pipelined=True
            )
        else:
            async with self._one_at_a_time:
                try:
                    run = send_chunked if self.chunked else send_data
                    refused, response = await run(
                        self,
                        stream,
                        outgoing,
                        options,
                        encoding,
                        progress,
                        pipelined=self.pipelined,
                    )
                except GmailSendError:
                    raise
                except BaseException:
                    self.close()  # cancelled between two exchanges: the server is mid-transaction
                    raise
        self.messages_sent += 1
        self.last_used = time.monotonic()
        accepted = tuple(a for a in outgoing.recipients if a not in refused)
        return SendResult(
            message_id=outgoing.message_id,
            accepted=accepted,
            refused=refused,
            reply=parse_reply(response.code, response.message),
            auth_method=self.auth_method,
        )

    async def reset(self) -> None:
        """RSET after a failed transaction so the session can carry the next message."""
        stream = self._stream
        if stream is None or not stream.is_open:
            return
        try:
            [reply] = await stream.exchange(b"RSET\r\n", ("RSET",))
        except (NotSent, SessionEnded):
            self.close()
            return
        if reply.code != 250:
            self.close()

    async def quit(self, *, wait: bool = True) -> None:
        """Say goodbye politely; a server that already went away is no error.

        With `wait=False` QUIT is written and the connection closed at once, without waiting
        for the server's reply (nothing depends on it): a one-shot send saves a round trip.
        """
        stream = self._stream
        if stream is not None and stream.is_open:
            if not wait:
                stream.write_and_close(b"QUIT\r\n")
            else:
                with contextlib.suppress(NotSent, SessionEnded):
                    await stream.exchange(b"QUIT\r\n", ("QUIT",))
        elif stream is None and self._smtp.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await self._smtp.quit()
        self.close()

    def close(self) -> None:
        """Drop the connection at once (after a failure or cancellation)."""
        if self._stream is not None:
            self._stream.end("the session was closed")
        self._smtp.close()


CONNECT_WAIT = 5.0
"""Seconds to wait for the TCP connection and the server's greeting (less if `timeout` is)."""


def _connect_wait(timeout: float | None) -> float:
    return CONNECT_WAIT if timeout is None else min(timeout, CONNECT_WAIT)


def _tls_error(
    where: str, exc: ssl.SSLError, security: Security, *, after_greeting: bool
) -> TLSError:
    if security == "tls" and exc.reason == "WRONG_VERSION_NUMBER":
        return TLSError(
            f"TLS with {where} failed: the server is not speaking TLS yet (WRONG_VERSION_NUMBER)",
            hint="this port expects a plain greeting and STARTTLS: use security='starttls' "
            "(port 587), or port 465 for implicit TLS",
            after_greeting=after_greeting,
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TLSError(
            f"the certificate of {where} could not be verified: {exc.verify_message}",
            hint="a proxy or antivirus may be intercepting TLS; for a private or test server "
            "pass ca_file= (--ca-file, GMAIL_SEND_CA_FILE) with its CA (never switch "
            "verification off)",
            after_greeting=after_greeting,
        )
    return TLSError(f"TLS with {where} failed: {exc.reason or exc}", after_greeting=after_greeting)


def _port_hint(port: int) -> str:
    other = {587: 465, 465: 587}.get(port)
    alternative = f"; try port {other}" if other else ""
    return (
        f"check the host name and that outgoing port {port} is not blocked by a firewall, "
        f"the ISP or the cloud provider{alternative}"
    )
