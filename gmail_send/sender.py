"""`GmailSender`, the object an application keeps to send mail, and the one-shot `send()`.

The sender validates and composes the message before it opens any connection, keeps one
authenticated session for the messages that follow, and retries only where Gmail cannot have
accepted the message: a reused session that turned out to be closed, and one forced token
refresh after Gmail rejected an OAuth2 token.
"""

from __future__ import annotations

import asyncio
import email.message
import logging
import os
import ssl
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Literal

from .compose import Attachment, OutgoingMessage, compose_message, prepare_message
from .connection import DEFAULT_TIMEOUT, Security, SMTPConnection, default_port
from .credentials import AppPassword, Credentials, Fallback, TokenSource
from .errors import (
    ConfigurationError,
    GmailConnectionError,
    GmailSendError,
    TemporaryError,
)
from .result import SendResult
from .signin import ConnectionSettings, open_session
from .sink import MessageSink

__all__ = ["GMAIL_HOST", "GmailSender", "send"]

log = logging.getLogger("gmail_send.sender")

GMAIL_HOST = "smtp.gmail.com"
_SECURITIES = ("starttls", "tls", "none")

Addresses = str | Sequence[str] | None
AttachmentInput = Attachment | os.PathLike[str]


class GmailSender:
    """Sends messages through Gmail (or a Gmail-like server) over one reusable session.

    Use it as `async with GmailSender(credentials) as gmail: await gmail.send(...)`, or call
    `aclose()` when done. `credentials=None` means a relay that authorizes by IP address.
    `sink` replaces the network, e.g. with `gmail_send.testing.Outbox` in an application's tests.
    """

    def __init__(
        self,
        credentials: Credentials | None,
        *,
        host: str = GMAIL_HOST,
        port: int | None = None,
        security: Security = "starttls",
        tls_context: ssl.SSLContext | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        local_hostname: str | None = None,
        sink: MessageSink | None = None,
    ) -> None:
        if security not in _SECURITIES:
            raise ConfigurationError(
                f"security must be one of {', '.join(_SECURITIES)}, not {security!r}"
            )
        if credentials is not None and security == "none":
            raise ConfigurationError(
                "credentials are never sent over an unencrypted connection",
                hint="use security='starttls' (port 587) or 'tls' (port 465); security='none' "
                "is only for relays that authorize by IP address (credentials=None)",
            )
        if credentials is not None and not isinstance(
            credentials, (AppPassword, TokenSource, Fallback)
        ):
            raise ConfigurationError(
                "credentials must be an AppPassword, a TokenSource or a Fallback, "
                f"not {type(credentials).__name__}"
            )
        if port is not None and not 0 < port < 65536:
            raise ConfigurationError(f"port must be between 1 and 65535, not {port}")
        self.credentials = credentials
        self.host = host
        self.port = port if port is not None else default_port(security)
        self.security: Security = security
        self.timeout = timeout
        self._settings = ConnectionSettings(
            host=host,
            port=self.port,
            security=security,
            tls_context=tls_context,
            timeout=timeout,
            local_hostname=local_hostname,
        )
        self.sink = sink
        self._connection: SMTPConnection | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        # Built now so a context without certificate checks is refused before any send.
        if security != "none":
            SMTPConnection(
                host=host, port=self.port, security=security, tls_context=tls_context
            )

    def __repr__(self) -> str:
        return (
            f"GmailSender({self.credentials!r}, host={self.host!r}, port={self.port}, "
            f"security={self.security!r})"
        )

    @property
    def account(self) -> str | None:
        """The signed-in mailbox, the default sender."""
        return self.credentials.user if self.credentials is not None else None

    async def __aenter__(self) -> GmailSender:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def send(
        self,
        *,
        to: Addresses = None,
        cc: Addresses = None,
        bcc: Addresses = None,
        reply_to: Addresses = None,
        from_: str | None = None,
        subject: str = "",
        text: str | None = None,
        html: str | None = None,
        attachments: Sequence[AttachmentInput] = (),
        headers: Mapping[str, str] | None = None,
        encoding: Literal["utf-8", "iso-2022-jp"] = "utf-8",
        message_id: str | None = None,
        date: datetime | None = None,
    ) -> SendResult:
        """Compose a message from these parts and send it; see `compose_message` for each."""
        outgoing = compose_message(
            account=self.account,
            to=to,
            cc=cc,
            bcc=bcc,
            reply_to=reply_to,
            from_=from_,
            subject=subject,
            text=text,
            html=html,
            attachments=attachments,
            headers=headers,
            encoding=encoding,
            message_id=message_id,
            date=date,
        )
        return await self.send_outgoing(outgoing)

    async def send_message(
        self,
        message: email.message.Message,
        *,
        sender: str | None = None,
        recipients: Sequence[str] | None = None,
    ) -> SendResult:
        """Send a ready message (copied, never modified); the envelope comes from its headers
        unless `sender` / `recipients` are given. Bcc headers are not transmitted."""
        outgoing = prepare_message(
            message, account=self.account, sender=sender, recipients=recipients
        )
        return await self.send_outgoing(outgoing)

    async def send_outgoing(self, outgoing: OutgoingMessage) -> SendResult:
        """Send an already composed and validated message."""
        if self._closed:
            raise ConfigurationError("this GmailSender is closed")
        if self.sink is not None:
            result = await self.sink.deliver(outgoing)
        else:
            async with self._lock:
                result = await self._send_with_recovery(outgoing)
        log.info(
            "message sent",
            extra={
                "event": "sent",
                "message_id": result.message_id,
                "accepted": len(result.accepted),
                "refused": len(result.refused),
            },
        )
        return result

    async def _send_with_recovery(self, outgoing: OutgoingMessage) -> SendResult:
        reused = self._connection is not None and self._connection.is_connected
        try:
            connection = await self._get_connection()
            return await connection.send(outgoing)
        except (GmailConnectionError, TemporaryError) as exc:
            self._discard_if_closed()
            if not (reused and _session_ended(exc)):
                raise
        except BaseException:
            self._discard_if_closed()
            raise
        # The kept session had been ended by Gmail (idle, or expired with its token) before
        # this message could be accepted: one new session, once.
        log.debug("kept session was closed; reconnecting", extra={"event": "reconnect"})
        self._discard()
        try:
            connection = await self._get_connection()
            return await connection.send(outgoing)
        except BaseException:
            self._discard_if_closed()
            raise

    async def _get_connection(self) -> SMTPConnection:
        if self._connection is not None and self._connection.is_connected:
            return self._connection
        self._connection = None
        connection = await self._open_connection()
        self._connection = connection
        return connection

    async def _open_connection(self) -> SMTPConnection:
        return await open_session(self._settings, self.credentials)

    def _discard_if_closed(self) -> None:
        if self._connection is not None and not self._connection.is_connected:
            self._discard()

    def _discard(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = None

    async def aclose(self) -> None:
        """Finish the send in flight, then close the session politely (QUIT)."""
        self._closed = True
        async with self._lock:
            if self._connection is not None:
                await self._connection.quit()
            self._connection = None


def _session_ended(exc: GmailSendError) -> bool:
    """True when the error means the session was gone before the message could be accepted."""
    if isinstance(exc, TemporaryError):
        return exc.code == 421
    return isinstance(exc, GmailConnectionError)


async def send(
    credentials: Credentials | None,
    *,
    host: str = GMAIL_HOST,
    port: int | None = None,
    security: Security = "starttls",
    tls_context: ssl.SSLContext | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    to: Addresses = None,
    cc: Addresses = None,
    bcc: Addresses = None,
    reply_to: Addresses = None,
    from_: str | None = None,
    subject: str = "",
    text: str | None = None,
    html: str | None = None,
    attachments: Sequence[AttachmentInput] = (),
    headers: Mapping[str, str] | None = None,
    encoding: Literal["utf-8", "iso-2022-jp"] = "utf-8",
    message_id: str | None = None,
    date: datetime | None = None,
) -> SendResult:
    """Send one message on a session of its own. For more than one, keep a `GmailSender`."""
    async with GmailSender(
        credentials, host=host, port=port, security=security, tls_context=tls_context,
        timeout=timeout,
    ) as gmail:
        return await gmail.send(
            to=to, cc=cc, bcc=bcc, reply_to=reply_to, from_=from_, subject=subject, text=text,
            html=html, attachments=attachments, headers=headers, encoding=encoding,
            message_id=message_id, date=date,
        )
