"""A mail transaction with BDAT (RFC 3030 CHUNKING): one write, one round trip.

Where the server offers CHUNKING and PIPELINING (smtp.gmail.com offers both), MAIL, every RCPT
and `BDAT <size> LAST` go out together with the body in one write, and their replies are read
together: one round trip for a message on a warm session. The body goes as it is, with no
dot-stuffing and no end marker, so it is never copied. BDAT need not end a pipelined group, so
the next transaction may be written right behind this one without waiting for its replies:
`CommandStream` keeps that order and matches the replies. Without PIPELINING the commands go
one at a time and the body follows the last RCPT's reply.

The transaction ends with the reply to `BDAT ... LAST`, as it does with the reply after DATA's
final dot; after a refusal the session is RSET before it carries another message.

Outcomes follow the rules of `_transaction.broken`: the session ending after the whole body
went out, before the final reply, makes the outcome unknown unless the replies that did come
already refused the message (MAIL refused, or every recipient).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiosmtplib import SMTPResponse

from ..message._outgoing import OutgoingMessage
from ._stream import CommandStream, NotSent, SessionEnded
from ._transaction import (
    Progress,
    Refused,
    announce_body,
    broken,
    envelope_commands,
    envelope_slots,
    judge_envelope,
    require_accepted,
)

if TYPE_CHECKING:
    from ._connection import SMTPConnection

__all__ = ["send_chunked"]


async def send_chunked(
    connection: SMTPConnection,
    stream: CommandStream,
    outgoing: OutgoingMessage,
    mail_options: list[str],
    encoding: str,
    progress: Progress,
    *,
    pipelined: bool,
) -> tuple[Refused, SMTPResponse]:
    """MAIL, RCPT, `BDAT <size> LAST` and the body (in one write when `pipelined`)."""
    envelope = envelope_commands(outgoing, mail_options, encoding)
    bdat = b"BDAT %d LAST\r\n" % len(outgoing.data)
    slots = envelope_slots(len(outgoing.recipients))
    replies: list[SMTPResponse] = []
    try:
        if pipelined:
            # The body goes out in the same write as MAIL and RCPT: it may be out from there.
            await announce_body(connection, progress, waiting=False)
            replies = await stream.exchange(
                b"".join(command + b"\r\n" for command in envelope) + bdat,
                (*slots, "BDAT"),
                body=outgoing.data,
                on_last_write=progress.mark_body_sent,
            )
        else:
            for command, slot in zip(envelope, slots, strict=True):
                replies += await stream.exchange(command + b"\r\n", (slot,))
                if replies[-1].code == 421 or (slot == "MAIL" and replies[-1].code != 250):
                    break
            if judge_envelope(connection, outgoing, replies)[1] is None:
                await announce_body(connection, progress, waiting=True)
                replies += await stream.exchange(
                    bdat, ("BDAT",), body=outgoing.data, on_last_write=progress.mark_body_sent
                )
    except SessionEnded as exc:
        if pipelined and exc.replies and exc.closed_by is None:
            error = judge_envelope(connection, outgoing, exc.replies[: len(envelope)])[1]
            if error is not None:  # already refused: the server cannot have kept the body
                connection.close()
                raise error from None
        raise broken(connection, exc, outgoing, progress) from None
    except NotSent as exc:
        raise broken(connection, exc, outgoing, progress) from None
    refused, error = judge_envelope(connection, outgoing, replies[: len(envelope)])
    if error is not None:
        await connection.reset()
        raise error
    response = replies[len(envelope)]
    await require_accepted(connection, response)
    return refused, response
