"""The aiosmtpd handler of the local Gmail: EHLO lines, the mail transaction, storing messages.

aiosmtpd calls these `handle_*` hooks after it parsed a command; each returns Gmail's reply.
Sender rewriting happens here (MAIL FROM and the From header), and the final reply after DATA,
where the "data_end" faults apply.

CHUNKING (BDAT, read by `_chunking.py`) is advertised, as Gmail does, unless the server was
created with `chunking=False`. PIPELINING is advertised only when the server was created with
`pipelining=True`; commands are always read and answered in order.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aiosmtpd.smtp import Envelope, Session

from ._records import ReceivedMessage
from ._rewrite import rewrite_from_header
from ._state import ServerConfig, ServerState
from ._wording import gmail_reply

if TYPE_CHECKING:
    from ._protocol import GmailSMTP

__all__ = ["GMAIL_AUTH_LINE", "MAX_RECIPIENTS", "GmailHandler", "ehlo_lines"]

GMAIL_AUTH_LINE = "AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH"
"""Gmail's AUTH line, advertised verbatim. LOGIN, PLAIN and XOAUTH2 work; the others answer
`504 5.5.4 Unrecognized authentication type`."""

MAX_RECIPIENTS = 100
"""Gmail's limit of envelope recipients per message; the 101st gets `452 4.5.3`."""

TOO_MANY_RECIPIENTS = gmail_reply(452, "4.5.3")


def ehlo_lines(config: ServerConfig, *, tls_active: bool, peer_ip: str) -> list[str]:
    """The EHLO reply, line by line, as smtp.gmail.com words it for this point of the session."""
    features = [f"SIZE {config.size_limit}", "8BITMIME"]
    if config.security == "starttls" and not tls_active:
        features.append("STARTTLS")
    if tls_active:
        features.append(GMAIL_AUTH_LINE)
    features.append("ENHANCEDSTATUSCODES")
    if config.pipelining:
        features.append("PIPELINING")
    if config.chunking:
        features.append("CHUNKING")
    features.append("SMTPUTF8")
    lines = [f"{config.hostname} at your service, [{peer_ip}]", *features]
    return [f"250-{line}" for line in lines[:-1]] + [f"250 {lines[-1]}"]


class GmailHandler:
    """Hooks shared by every connection of one server; per-connection state is on `server`."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<GmailHandler {len(self.state.messages)} message(s)>"

    async def handle_EHLO(
        self,
        server: GmailSMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        server.record.ehlo_name = hostname
        peer = server.record.peer
        return ehlo_lines(
            self.state.config, tls_active=server.tls_active, peer_ip=peer[0] if peer else ""
        )

    async def handle_HELO(
        self, server: GmailSMTP, session: Session, envelope: Envelope, hostname: str
    ) -> str:
        session.host_name = hostname
        server.record.ehlo_name = hostname
        return f"250 {self.state.config.hostname} at your service"

    async def handle_MAIL(
        self,
        server: GmailSMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        server.original_mail_from = address
        envelope.mail_from = address
        if server.user is not None and not self._may_send_as(server.user, address):
            envelope.mail_from = self._rewrite_target(server.user)
        envelope.mail_options.extend(mail_options)
        return f"250 2.1.0 OK {server.session_id} - gsmtp"

    async def handle_RCPT(
        self,
        server: GmailSMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return TOO_MANY_RECIPIENTS
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return f"250 2.1.5 OK {server.session_id} - gsmtp"

    async def handle_DATA(self, server: GmailSMTP, session: Session, envelope: Envelope) -> str:
        hold = self.state.faults.take_hold("data_end")
        if hold is not None:
            await hold.pause()
        fault = self.state.faults.take("data_end")
        if fault is not None:
            if fault.silent:
                await server.stall()
            if fault.reply is None:
                await server.drop()
            return fault.reply
        message = self._store(server, envelope)
        await self.state.pauses.hold("data_end")  # stored: a client killed now got it through
        hold = self.state.faults.take_hold("data_end_stored")
        if hold is not None:
            await hold.pause()
        fault = self.state.faults.take("data_end_stored")
        if fault is not None:
            if fault.silent:
                await server.stall()
            await server.drop()
        return f"250 2.0.0 OK {int(message.received_at)} {message.transaction_id} - gsmtp"

    async def handle_RSET(self, server: GmailSMTP, session: Session, envelope: Envelope) -> str:
        server.original_mail_from = None
        server.chunks.clear()
        return f"250 2.1.5 Flushed {server.session_id} - gsmtp"

    async def handle_NOOP(
        self, server: GmailSMTP, session: Session, envelope: Envelope, arg: str
    ) -> str:
        return f"250 2.0.0 OK {server.session_id} - gsmtp"

    async def handle_QUIT(self, server: GmailSMTP, session: Session, envelope: Envelope) -> str:
        return f"221 2.0.0 closing connection {server.session_id} - gsmtp"

    def _may_send_as(self, user: str, address: str) -> bool:
        account = self.state.account_for(user)
        if account is None:
            return address.strip().lower() == user.strip().lower()
        return account.may_send_as(address)

    def _rewrite_target(self, user: str) -> str:
        account = self.state.account_for(user)
        return account.address if account is not None else user

    def _store(self, server: GmailSMTP, envelope: Envelope) -> ReceivedMessage:
        content = envelope.original_content or b""
        original_header = None
        user = server.user
        if user is not None:
            content, original_header = rewrite_from_header(
                content,
                lambda address: self._may_send_as(user, address),
                self._rewrite_target(user),
            )
        mail_from = envelope.mail_from or ""
        message = ReceivedMessage(
            mail_from=mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=content,
            session_user=user,
            mail_options=tuple(envelope.mail_options),
            original_mail_from=server.original_mail_from or mail_from,
            original_from_header=original_header,
            smtputf8=envelope.smtp_utf8,
            session_id=server.session_id,
            transaction_id=self.state.next_transaction_id(server.session_id),
            received_at=time.time(),
        )
        self.state.store(message)
        server.record.messages_accepted += 1
        server.original_mail_from = None
        return message
