"""One mail transaction on a signed-in session: what its replies mean, and the DATA path.

`SMTPConnection.send` runs a transaction over the session's `CommandStream`: with BDAT where the
server offers CHUNKING (`_chunking.py`), else with DATA (here): MAIL, every RCPT and DATA in one
write where the server offers PIPELINING (RFC 2920: DATA must end the group, so the body
follows its 354 in a second round trip), one command at a time otherwise.

Every failure becomes a typed error, and a `Progress` records whether the whole body may have
reached the server: that decides whether a failed send may be tried again (before: yes; after,
without a final reply: the outcome is unknown, `UnknownOutcomeError`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aiosmtplib import SMTPResponse

from .._transport import UNKNOWN_HINT, Progress
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
from ._replies import error_for_reply, parse_reply, reply_is_transient
from ._stream import CommandStream, NotSent, SessionEnded, Slot

if TYPE_CHECKING:
    from ._connection import SMTPConnection

__all__ = [
    "Progress",
    "Refused",
    "all_refused",
    "announce_body",
    "broken",
    "envelope_commands",
    "envelope_slots",
    "judge_envelope",
    "mail_options",
    "send_data",
]

_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
_LEADING_DOT = re.compile(rb"(?m)^\.")

Refused = dict[str, SMTPReply]


async def announce_body(connection: SMTPConnection, progress: Progress, *, waiting: bool) -> None:
    """Run `progress.before_body`, just before the write that carries the body.

    `waiting`: the server already waits for this transaction's body (after DATA's 354, or an
    open transaction without PIPELINING); a failure then closes the session, so the body is
    never written. Otherwise nothing of the transaction was written yet, and the session is
    left as it is (other sends may be using it).
    """
    if progress.before_body is None:
        return
    try:
        await progress.before_body()
    except BaseException:
        if waiting:
            connection.close()
        raise


def _dot_stuffed(data: bytes) -> bytes:
    """The body as sent after DATA: leading dots doubled, ending CRLF . CRLF (data ends in CRLF)."""
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return _LEADING_DOT.sub(b"..", data) + b".\r\n"


def envelope_commands(
    outgoing: OutgoingMessage, mail_options: list[str], encoding: str
) -> list[bytes]:
    """MAIL FROM and one RCPT TO per recipient, without line ends."""
    commands = [
        b" ".join(
            [b"MAIL FROM:<" + outgoing.sender.encode(encoding) + b">"]
            + [option.encode("ascii") for option in mail_options]
        )
    ]
    commands += [b"RCPT TO:<" + a.encode(encoding) + b">" for a in outgoing.recipients]
    if any(_CONTROL.search(command) for command in commands):
        raise MessageError("an envelope address contains a control character")
    return commands


def envelope_slots(recipients: int) -> tuple[Slot, ...]:
    """What the replies to MAIL and `recipients` RCPT commands answer."""
    rcpt: Slot = "RCPT"
    return ("MAIL", *(rcpt,) * recipients)


def judge_envelope(
    connection: SMTPConnection, outgoing: OutgoingMessage, replies: list[SMTPResponse]
) -> tuple[Refused, GmailSendError | None]:
    """The recipients refused, and the error that ends the transaction (None: go on).

    `replies` answer MAIL and then the RCPTs in order; there may be fewer (a 421 ends them).
    """
    mail = replies[0]
    if mail.code != 250:
        return {}, connection.reply_error(mail, "mail")
    refused: Refused = {}
    for address, reply in zip(outgoing.recipients, replies[1:], strict=False):
        if reply.code == 421:
            return refused, connection.reply_error(reply, "rcpt")
        if reply.code not in (250, 251):
            refused[address] = parse_reply(reply.code, reply.message)
    if len(refused) == len(outgoing.recipients):
        return refused, all_refused(refused)
    return refused, None


async def send_data(
    connection: SMTPConnection,
    stream: CommandStream,
    outgoing: OutgoingMessage,
    mail_options: list[str],
    encoding: str,
    progress: Progress,
    *,
    pipelined: bool,
) -> tuple[Refused, SMTPResponse]:
    """MAIL, RCPT, DATA (in one write when `pipelined`), then the body after the 354."""
    envelope = envelope_commands(outgoing, mail_options, encoding)
    try:
        if pipelined:
            slots = (*envelope_slots(len(outgoing.recipients)), "DATA")
            lines = b"".join(command + b"\r\n" for command in [*envelope, b"DATA"])
            replies = await stream.exchange(lines, slots)
            data_reply = replies[len(envelope)] if len(replies) > len(envelope) else None
            refused, error = judge_envelope(connection, outgoing, replies[: len(envelope)])
        else:
            replies = []
            for command, slot in zip(
                envelope, envelope_slots(len(outgoing.recipients)), strict=True
            ):
                replies += await stream.exchange(command + b"\r\n", (slot,))
                if replies[-1].code == 421 or (slot == "MAIL" and replies[-1].code != 250):
                    break
            refused, error = judge_envelope(connection, outgoing, replies)
            data_reply = None
            if error is None:
                [data_reply] = await stream.exchange(b"DATA\r\n", ("DATA",))
        if error is not None:
            if data_reply is not None and data_reply.code == 354:
                connection.close()  # no sane server does this; never send the body then
            await connection.reset()
            raise error
        assert data_reply is not None
        if data_reply.code != 354:
            await connection.reset()
            raise connection.reply_error(data_reply, "data")
        await announce_body(connection, progress, waiting=True)
        [response] = await stream.exchange(
            b"", ("BODY",), body=_dot_stuffed(outgoing.data), on_last_write=progress.mark_body_sent
        )
    except (NotSent, SessionEnded) as exc:
        raise broken(connection, exc, outgoing, progress) from None
    await require_accepted(connection, response)
    return refused, response


async def require_accepted(connection: SMTPConnection, response: SMTPResponse) -> None:
    """Gmail's final answer to the body: 250, or the typed error (421 also ends the session)."""
    if response.code != 250:
        await connection.reset()
        raise connection.reply_error(response, "data")


def broken(
    connection: SMTPConnection,
    exc: NotSent | SessionEnded,
    outgoing: OutgoingMessage,
    progress: Progress,
) -> GmailSendError:
    """The session ended before the transaction's final reply: what that means for the message.

    Not written, or written after a 421 the server closed with: nothing can have been accepted
    (the 421 is the error then). Otherwise it depends on whether the whole body went out.
    """
    connection.close()
    if isinstance(exc, SessionEnded) and exc.closed_by is not None:
        return connection.reply_error(exc.closed_by, "mail")
    if isinstance(exc, SessionEnded) and progress.body_sent:
        return UnknownOutcomeError(
            f"the session ended while the message was being sent ({exc.reason}); "
            "Gmail may or may not have accepted it",
            message_id=outgoing.message_id,
            hint=UNKNOWN_HINT,
            sent_at=progress.body_sent_at,
            transport="smtp",
        )
    return GmailConnectionError(
        f"the session ended before the message was sent ({exc.reason})",
        hint="nothing was delivered; sending again is safe",
        after_greeting=True,
    )


def mail_options(connection: SMTPConnection, outgoing: OutgoingMessage) -> tuple[list[str], str]:
    """The MAIL FROM parameters (SIZE, BODY=8BITMIME, SMTPUTF8) and the envelope's encoding."""
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


def all_refused(refused: Refused) -> GmailSendError:
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
