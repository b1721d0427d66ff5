"""Printing what a running local Gmail receives, for `python -m gmail_send.testing` and the demo."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from ._server import LocalGmail

__all__ = ["watch"]


async def watch(gmail: LocalGmail, seconds: float, echo: Callable[[str], object]) -> None:
    """Describe each message as it arrives, for at most `seconds`.

    Args:
        gmail: the running server.
        seconds: how long to watch.
        echo: where each line goes.
    """
    arrived: asyncio.Queue[None] = asyncio.Queue()
    stop_listening = gmail.on_message(lambda _message: arrived.put_nowait(None))
    deadline = time.monotonic() + seconds
    shown = len(gmail.messages)
    try:
        while (left := deadline - time.monotonic()) > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(arrived.get(), left)
            for message in gmail.messages[shown:]:
                echo(
                    f"received: from {message.mail_from} to {', '.join(message.rcpt_tos)}, "
                    f"{len(message.data):,} bytes, subject {message.parsed()['Subject']!r}"
                )
            shown = len(gmail.messages)
    finally:
        stop_listening()
