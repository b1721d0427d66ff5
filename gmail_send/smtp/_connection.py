"""One SMTP session with Gmail on aiosmtplib: TLS, EHLO, AUTH, and `send()` for a transaction.

The transaction itself (plain or pipelined) lives in `transaction.py`, the PIPELINING extension
in `pipelining.py`. This layer turns every failure into a typed `GmailSendError`; it never
retries (the sender decides that). Credentials are only ever sent over an encrypted, verified
connection.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import ssl
import time
from dataclasses import dataclass, field

import aiosmtplib
from aiosmtplib import SMTPResponse

from .._result import AuthMethod, SendResult
from .._types import Security
from ..auth._credentials import AppPassword
from ..auth._xoauth2 import XOAuth2Challenge, build_xoauth2, parse_xoauth2_challenge
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    GmailConnectionError,
    GmailSendError,
    MessageTooLargeError,
    TLSError,
)
from ..message._outgoing import OutgoingMessage
from ._pipelining import PipeliningProtocol, attach
from ._replies import Stage, error_for_reply, parse_reply
from ._transaction import Progress, mail_options, send_pipelined, send_plain

__all__ = [
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


@dataclass(frozen=True)
class AccessToken:
    """What an XOAUTH2 login sends: the mailbox and an access token (kept out of the repr)."""

    user: str
    token: str = field(repr=False)


Login = AppPassword | AccessToken
"""What one session signs in with."""
GMAIL_HOST = "smtp.gmail.com"
DEFAULT_TIMEOUT = 60.0
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
    ) -> None:
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
        self.use_pipelining = True
        """Send the envelope pipelined when the server offers PIPELINING (set before sending)."""
        self._pipelining: PipeliningProtocol | None = None
        self.created_at = time.monotonic()
        self.last_used = self.created_at

    def __repr__(self) -> str:
        state = "open" if self.is_connected else "closed"
        return f"<SMTPConnection #{self.id} {self.host}:{self.port} {self.security} {state}>"

    @property
    def smtp(self) -> aiosmtplib.SMTP:
        """The aiosmtplib session underneath (for the transaction module)."""
        return self._smtp

    @property
    def is_connected(self) -> bool:
        return self._smtp.is_connected

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
        methods = self._smtp.server_auth_methods
        if isinstance(login, AppPassword):
            method: AuthMethod = "login" if "login" in methods else "plain"
            if method not in methods:
                raise AuthenticationError(
                    f"the server offers no password login (it offers {methods or 'none'})",
                    hint="use OAuth2 credentials, or check host and port",
                )
            await self._password_login(method, login)
            return method
        if "xoauth2" not in methods:
            raise AuthenticationError(
                f"the server does not offer XOAUTH2 (it offers {methods or 'none'})",
                hint="use an AppPassword for this server, or check host and port",
            )
        await self._xoauth2_login(login)
        return "xoauth2"

    async def _password_login(self, method: AuthMethod, credentials: AppPassword) -> None:
        """One attempt with one mechanism: every failure counts toward Gmail's login throttle."""
        try:
            if method == "login":
                await self._smtp.auth_login(credentials.user, credentials.password)
            else:
                await self._smtp.auth_plain(credentials.user, credentials.password)
        except aiosmtplib.SMTPAuthenticationError as exc:
            reply = parse_reply(exc.code, exc.message)
            raise error_for_reply(reply, stage="auth", mechanism=method) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise GmailConnectionError(
                f"connection lost during login: {exc}", after_greeting=True
            ) from None

    async def _xoauth2_login(self, login: AccessToken) -> None:
        blob = build_xoauth2(login.user, login.token).encode("ascii")
        challenge: XOAuth2Challenge | None = None
        try:
            response = await self._smtp.execute_command(b"AUTH", b"XOAUTH2", blob)
            if response.code == 334:
                challenge = parse_xoauth2_challenge(response.message)
                response = await self._smtp.execute_command(b"")
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise GmailConnectionError(
                f"connection lost during login: {exc}", after_greeting=True
            ) from None
        if response.code == 235:
            return
        reply = parse_reply(response.code, response.message)
        raise error_for_reply(
            reply,
            stage="auth",
            mechanism="xoauth2",
            oauth_status=challenge.status if challenge else None,
            oauth_scope=challenge.scope if challenge else None,
            hint=challenge.hint if challenge else None,
        )

    def reply_error(self, response: SMTPResponse, stage: Stage) -> GmailSendError:
        return error_for_reply(parse_reply(response.code, response.message), stage=stage)

    async def send(
        self, outgoing: OutgoingMessage, *, progress: Progress | None = None
    ) -> SendResult:
        """Run one mail transaction; Gmail refusing some recipients is not an error.

        `progress` (optional) is updated as the transaction goes, so a caller that cancels it
        can tell whether the body had been sent. A cancelled transaction closes the connection.
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
        pipeline = self._pipeline()
        try:
            if pipeline is not None:
                refused, response = await send_pipelined(
                    self, pipeline, outgoing, options, encoding, progress
                )
            else:
                refused, response = await send_plain(self, outgoing, options, encoding, progress)
        except GmailSendError:
            raise
        except BaseException:
            self.close()  # cancelled or broken half-way: never reuse this session
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

    def _pipeline(self) -> PipeliningProtocol | None:
        if not self.use_pipelining or not self.supports("pipelining"):
            return None
        if self._pipelining is None:
            self._pipelining = attach(self._smtp)
            if self._pipelining is None:
                self.use_pipelining = False
        return self._pipelining

    @property
    def pipelining(self) -> bool:
        """Whether this session sends its envelope pipelined (RFC 2920)."""
        return self._pipelining is not None and self._smtp.protocol is self._pipelining

    async def reset(self) -> None:
        """RSET after a failed transaction so the session can carry the next message."""
        if not self.is_connected:
            return
        try:
            await self._smtp.rset()
        except (aiosmtplib.SMTPException, OSError):
            self.close()

    async def quit(self) -> None:
        """Say goodbye politely; a server that already went away is no error."""
        if self.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await self._smtp.quit()
        self.close()

    def close(self) -> None:
        """Drop the connection at once (after a failure or cancellation)."""
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
