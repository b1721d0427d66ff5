"""`MailQueue.serve()`: a worker as the main task of a process, stopped by SIGTERM or SIGINT.

What `gmail-send worker` and Django's `manage.py gmail_send_worker` run. The first signal
stops claiming (`MailQueue.stop()`) and gives the mails held `grace` seconds to finish; then,
or at a second signal, the work is cancelled, which releases them: queued again, or `unknown`
if their body went out. Each step is a log record of `gmail_send.queue`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..events import Reporter

if TYPE_CHECKING:
    from .._sender import GmailSender
    from ._queue import MailQueue

__all__ = ["serve"]

log = logging.getLogger("gmail_send.queue")
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def serve(
    queue: MailQueue, senders: Sequence[GmailSender], *, grace: float, until_empty: bool
) -> None:
    """Run `queue.work(*senders)` until it returns or a signal stops it (see the module)."""
    loop = asyncio.get_running_loop()
    reporter = Reporter(log)
    task = asyncio.create_task(queue.work(*senders, until_empty=until_empty))
    signals = 0
    timer: asyncio.TimerHandle | None = None

    def on_signal() -> None:
        nonlocal signals, timer
        signals += 1
        if signals == 1:
            reporter.note(
                "worker_stopping",
                "stopping: no more mail is claimed; the mails held may finish for %g s",
                grace,
                level=logging.WARNING,
            )
            queue.stop()
            timer = loop.call_later(grace, task.cancel)
        else:
            reporter.note("worker_releasing", "releasing the mails held", level=logging.WARNING)
            task.cancel()

    for number in _SIGNALS:
        loop.add_signal_handler(number, on_signal)
    try:
        await task
    except asyncio.CancelledError:
        if not signals or not task.cancelled():
            raise  # cancelled from outside: not ours to swallow
        reporter.note(
            "worker_stopped", "stopped; the mails held were released", level=logging.WARNING
        )
    else:
        reporter.note("worker_stopped", "stopped", level=logging.WARNING)
    finally:
        for number in _SIGNALS:
            loop.remove_signal_handler(number)
        if timer is not None:
            timer.cancel()
