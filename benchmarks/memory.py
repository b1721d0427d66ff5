"""Peak traced memory of one send with a 25 MB attachment, against its size on the wire.

tracemalloc traces this process only (the server and the proxy run in another), from just
before the send is called until it returns; a warm session is opened first, so the peak is the
message's. The attachment is 25,000,000 random bytes (34.2 MB on the wire once base64-encoded,
under Gmail's SIZE of 35,882,577); "bytes" hands them over in memory (they exist before the
trace starts), "path" gives a file to read (read during the trace).
"""

from __future__ import annotations

import os
import tempfile
import tracemalloc
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path

from contestants import ACCOUNT, Bench, _aiosmtplib_connected

from gmail_send.message import Attachment, compose_message

SIZE = 25_000_000


async def _peak(work: Callable[[], Awaitable[object]]) -> int:
    tracemalloc.start()
    try:
        await work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _message(data: bytes) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = ACCOUNT
    msg["To"] = "r0@example.com"
    msg["Subject"] = "a large attachment"
    msg.set_content("See the attachment.\n")
    msg.add_attachment(data, maintype="application", subtype="octet-stream", filename="big.bin")
    return msg


async def memory_peaks(bench: Bench) -> tuple[int, dict[str, int]]:
    """The wire size, and the peak of each way of sending the attachment."""
    data = os.urandom(SIZE)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.bin"
        path.write_bytes(data)
        wire = len(
            compose_message(
                account=ACCOUNT,
                to="r0@example.com",
                subject="a large attachment",
                text="See the attachment.\n",
                attachments=[Attachment(data, "big.bin")],
            ).data
        )
        fields = {"to": "r0@example.com", "subject": "a large attachment"}
        peaks: dict[str, int] = {}
        async with bench.sender(max_connections=1) as sender:
            await sender.send(to="r0@example.com", subject="warm", text="x")
            peaks["gmail_send send(), attachment as bytes"] = await _peak(
                lambda: sender.send(**fields, attachments=[Attachment(data, "big.bin")])
            )
            peaks["gmail_send send(), attachment as a file path"] = await _peak(
                lambda: sender.send(**fields, attachments=[path])
            )
            ready = _message(data)
            peaks["gmail_send send_message(), a ready EmailMessage"] = await _peak(
                lambda: sender.send_message(ready)
            )
        smtp = await _aiosmtplib_connected(bench)
        try:
            peaks[
                "aiosmtplib send_message(), the same EmailMessage, reused connection"
            ] = await _peak(lambda: smtp.send_message(ready))
        finally:
            await smtp.quit()
    return wire, peaks
