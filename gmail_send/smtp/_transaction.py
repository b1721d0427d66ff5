"""One mail transaction on an open session: MAIL, RCPT, DATA and the body, plain or pipelined.

`SMTPConnection.send` calls these. They map every failure to a typed error and record in a
`Progress` whether the body may have reached the server, which is what decides if a failed
send may be retried (before the body: yes; after it: the outcome is unknown).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import aiosmtplib
from aiosmtplib import SMTPResponse

from ..errors import (
    GmailConnectionError,
    GmailSendError,
    MessageError,
    PermanentError,
    RecipientsRefusedError,
    SMTPReply,
    UnknownOutcomeError,
)
from ..message._outgoing import OutgoingMessage
from ._pipelining import PipeliningProtocol
from ._replies import Stage, error_for_reply, parse_reply, reply_is_transient

if TYPE_CHECKING:
    from ._connection import SMTPConnection

__all__ = [
    "Progress",
    "all_refused",
    "broken",
    "mail_options",
    "send_pipelined",
    "send_plain",
    "unreadable",
]

_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


class Progress:
    """How far one mail transaction got: read by the sender after a failure or cancellation.

    `before_body`, when set, is awaited after the server said 354 and before the body is
    written: the mail queue records there, durably, that the body may go out. If it raises,
    the body is not sent and the session is closed.
    """

    def __init__(self, before_body: Callable[[], Awaitable[None]] | None = None) -> None:
        self.connection_id: int | None = None
        self.body_sent = False
        """True from the moment the message body may have reached the server."""
        self.before_body = before_body


async def _announce_body(connection: SMTPConnection, progress: Progress) -> None:
    """Run `progress.before_body`; on any failure close the session (it waits for a body)."""
    if progress.before_body is None:
        return
    try:
        await progress.before_body()
    except BaseException:
        connection.close()
        raise


def _dot_stuffed(data: bytes) -> bytes:
    """The body as sent after DATA: leading dots doubled, ending CRLF . CRLF (data ends in CRLF)."""
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return _LEADING_DOT.sub(b"..", data) + b".\r\n"


_LEADING_DOT = re.compile(rb"(?m)^\.")


async def send_plain(
    connection: SMTPConnection,
    outgoing: OutgoingMessage,
    mail_options: list[str],
    encoding: str,
    progress: Progress,
) -> tuple[dict[str, SMTPReply], SMTPResponse]:
    """One command, one reply: MAIL, each RCPT, DATA (aiosmtplib's own commands)."""
    stage: Stage = "mail"
    try:
        await connection.smtp.mail(outgoing.sender, options=mail_options, encoding=encoding)
        stage = "rcpt"
        refused: dict[str, SMTPReply] = {}
        for address in outgoing.recipients:
            response = await connection.smtp.execute_command(
                b"RCPT", b"TO:<" + address.encode(encoding) + b">"
            )
            if response.code == 421:  # the server is closing the session
                raise connection.reply_error(response, "rcpt")
            if response.code not in (250, 251):
                refused[address] = parse_reply(response.code, response.message)
        if len(refused) == len(outgoing.recipients):
            await connection.reset()
            raise all_refused(refused)
        stage = "data"
        response = await connection.smtp.execute_command(b"DATA")
        if response.code != 354:
            await connection.reset()
            raise connection.reply_error(response, "data")
        # The body goes through the protocol's public write/read_response, so that a drop
        # before the 354 (nothing sent, safe to retry) is told apart from one after the body.
        protocol = connection.smtp.protocol
        if protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        await _announce_body(connection, progress)
        progress.body_sent = True
        protocol.write(_dot_stuffed(outgoing.data))
        response = await protocol.read_response(timeout=connection.smtp.timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
        raise broken(connection, exc, outgoing, progress) from None
    except aiosmtplib.SMTPResponseException as exc:
        if progress.body_sent:  # no readable final reply: the message may be stored
            raise unreadable(connection, exc, outgoing, progress) from None
        await connection.reset()
        raise connection.reply_error(SMTPResponse(exc.code, exc.message), stage) from None
    await _require_accepted(connection, response)
    return refused, response


async def send_pipelined(
    connection: SMTPConnection,
    pipeline: PipeliningProtocol,
    outgoing: OutgoingMessage,
    mail_options: list[str],
    encoding: str,
    progress: Progress,
) -> tuple[dict[str, SMTPReply], SMTPResponse]:
    """MAIL, every RCPT and DATA in one write (RFC 2920), then the body: two round trips."""
    commands = [
        b" ".join(
            [b"MAIL FROM:<" + outgoing.sender.encode(encoding) + b">"]
            + [option.encode("ascii") for option in mail_options]
        )
    ]
    commands += [b"RCPT TO:<" + a.encode(encoding) + b">" for a in outgoing.recipients]
    commands.append(b"DATA")
    if any(_CONTROL.search(command) for command in commands):
        raise MessageError("an envelope address contains a control character")
    timeout = connection.smtp.timeout
    try:
        replies = await pipeline.exchange(
            b"".join(c + b"\r\n" for c in commands), len(commands), timeout=timeout
        )
        mail_reply, rcpt_replies, data_reply = replies[0], replies[1:-1], replies[-1]
        if 421 in (reply.code for reply in replies):
            connection.close()
        if mail_reply.code != 250:
            if data_reply.code == 354:  # no sane server does this; do not send a body
                connection.close()
            await connection.reset()
            raise connection.reply_error(mail_reply, "mail")
        refused: dict[str, SMTPReply] = {}
        for address, response in zip(outgoing.recipients, rcpt_replies, strict=True):
            if response.code == 421:
                raise connection.reply_error(response, "rcpt")
            if response.code not in (250, 251):
                refused[address] = parse_reply(response.code, response.message)
        if len(refused) == len(outgoing.recipients):
            if data_reply.code == 354:
                connection.close()
            await connection.reset()
            raise all_refused(refused)
        if data_reply.code != 354:
            await connection.reset()
            raise connection.reply_error(data_reply, "data")
        await _announce_body(connection, progress)
        progress.body_sent = True
        [response] = await pipeline.exchange(_dot_stuffed(outgoing.data), 1, timeout=timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
        raise broken(connection, exc, outgoing, progress) from None
    except aiosmtplib.SMTPResponseException as exc:  # a malformed reply
        raise unreadable(connection, exc, outgoing, progress) from None
    await _require_accepted(connection, response)
    return refused, response


async def _require_accepted(connection: SMTPConnection, response: SMTPResponse) -> None:
    """Gmail's final answer to the body: 250, or the typed error (421 also ends the session)."""
    if response.code == 421:
        connection.close()
    if response.code != 250:
        await connection.reset()
        raise connection.reply_error(response, "data")


def broken(
    connection: SMTPConnection, exc: BaseException, outgoing: OutgoingMessage, progress: Progress
) -> GmailSendError:
    """The connection broke: whether the message could have been accepted decides the error."""
    connection.close()
    if progress.body_sent:
        return UnknownOutcomeError(
            f"the connection broke while the message was being sent ({exc}); "
            "Gmail may or may not have accepted it",
            message_id=outgoing.message_id,
            hint="check the recipient's mailbox for this Message-ID before resending",
        )
    return GmailConnectionError(
        f"the connection broke before the message was sent: {exc}",
        hint="nothing was delivered; sending again is safe",
        after_greeting=True,
    )


def unreadable(
    connection: SMTPConnection, exc: BaseException, outgoing: OutgoingMessage, progress: Progress
) -> GmailSendError:
    """The server sent a reply that cannot be read (malformed, too long): the session is closed.

    Before the body this is a broken connection (nothing can have been accepted); after it the
    message may have been stored, so the outcome is unknown and no automatic retry may follow.
    """
    connection.close()
    if progress.body_sent:
        return UnknownOutcomeError(
            f"the server's reply to the message body could not be read ({exc}); "
            "Gmail may or may not have accepted it",
            message_id=outgoing.message_id,
            hint="check the recipient's mailbox for this Message-ID before resending",
        )
    return GmailConnectionError(
        f"the server sent a malformed reply before the message was sent: {exc}",
        hint="nothing was delivered; sending again is safe",
        after_greeting=True,
    )


def mail_options(connection: SMTPConnection, outgoing: OutgoingMessage) -> tuple[list[str], str]:
    options: list[str] = []
    if connection.supports("size"):
        options.append(f"SIZE={len(outgoing.data)}")
    if not outgoing.data.isascii():
        if not connection.supports("8bitmime"):
            raise PermanentError(
                "the message has 8-bit content and the server does not offer 8BITMIME"
            )
        options.append("BODY=8BITMIME")
    if outgoing.smtputf8:
        if not connection.supports("smtputf8"):
            raise PermanentError(
                "an address is not ASCII and the server does not offer SMTPUTF8",
                hint="use an ASCII address",
            )
        options.append("SMTPUTF8")
        return options, "utf-8"
    return options, "ascii"


def all_refused(refused: dict[str, SMTPReply]) -> GmailSendError:
    first = next(iter(refused.values()))
    error = error_for_reply(first, stage="rcpt")
    if first.enhanced_code == "5.4.5":
        return error
    listing = ", ".join(f"{address}: {reply}" for address, reply in refused.items())
    return RecipientsRefusedError(
        f"Gmail refused every recipient ({listing})",
        reply=first,
        refused=refused,
        hint=error.hint,
        retryable=any(reply_is_transient(reply) for reply in refused.values()),
    )
