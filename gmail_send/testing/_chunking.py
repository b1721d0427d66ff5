"""BDAT (RFC 3030 CHUNKING) for the local Gmail: aiosmtpd has no BDAT, so its bytes are read here.

`BDAT <size> [LAST]` is followed by exactly `size` bytes of the message, with no dot-stuffing and
no end marker. The server always reads them, whatever it then answers (RFC 3030: a BDAT after
a refused MAIL or RCPT still carries its bytes, which must not be taken for commands), then
replies once per BDAT. Chunks without LAST are collected; `BDAT ... LAST` ends the transaction
like the end of DATA: the message is stored and answered by the handler (where the "data_end"
faults apply), or refused, and either way the next transaction starts afresh.

Replies, in Gmail's manner: `250 2.0.0 OK <epoch> <id> - gsmtp` for a stored message,
`503 5.5.1 MAIL first.` / `RCPT first.`, `552 5.3.4` past the SIZE limit, `555 5.5.2` for a
malformed BDAT line. The reply to a chunk without LAST (`250 2.0.0 OK <n> octets received`)
is this server's own wording: what Gmail says there is not documented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._wording import AUTH_REQUIRED, MUST_STARTTLS, SYNTAX_ERROR, TOO_BIG

if TYPE_CHECKING:
    from ._protocol import GmailSMTP

__all__ = ["ChunkedBody", "receive_bdat"]

_BDAT = re.compile(r"(\d{1,10})(?:\s+(LAST))?", re.IGNORECASE)
_READ_SIZE = 64 * 1024


@dataclass
class ChunkedBody:
    """The chunks of the current transaction so far, or the error that refused them."""

    data: bytearray = field(default_factory=bytearray)
    size: int = 0
    refusal: str | None = None

    def clear(self) -> None:
        self.data = bytearray()
        self.size = 0
        self.refusal = None


async def receive_bdat(server: GmailSMTP, arg: str | None) -> None:
    """Serve one BDAT command: read its bytes, then answer it."""
    sid = server.session_id
    found = _BDAT.fullmatch((arg or "").strip())
    if found is None:
        await server.send_reply(SYNTAX_ERROR)  # without a size the bytes cannot be skipped
        return
    size, last = int(found.group(1)), found.group(2) is not None
    body = server.chunks
    limit = server.state.config.size_limit
    remaining = size
    while remaining:
        piece = await server._reader.read(min(remaining, _READ_SIZE))
        if not piece:
            return  # the client went away; the connection is closing
        remaining -= len(piece)
        body.size += len(piece)
        if body.refusal is None and body.size <= limit:
            body.data += piece
    server.note_body_read()
    config = server.state.config
    envelope = server.envelope
    session = server.session
    assert envelope is not None and session is not None
    refusal = body.refusal
    if refusal is None:
        if not session.host_name:
            refusal = f"503 5.5.1 EHLO/HELO first. {sid} - gsmtp"
        elif config.security == "starttls" and not server.tls_active:
            refusal = MUST_STARTTLS
        elif server.user is None and not config.allow_relay_by_ip:
            refusal = AUTH_REQUIRED
        elif not envelope.mail_from:
            refusal = f"503 5.5.1 MAIL first. {sid} - gsmtp"
        elif not envelope.rcpt_tos:
            refusal = f"503 5.5.1 RCPT first. {sid} - gsmtp"
        elif body.size > limit:
            refusal = TOO_BIG
    if refusal is not None:
        body.refusal = refusal
        if last:
            server.end_transaction()
        await server.send_reply(refusal, final=last)
        return
    if not last:
        await server.send_reply(f"250 2.0.0 OK {size} octets received {sid} - gsmtp")
        return
    content = bytes(body.data)
    body.clear()
    envelope.original_content = content
    envelope.content = content
    status = await server.event_handler.handle_DATA(server, session, envelope)
    server.end_transaction()
    await server.send_reply(status, final=True)
