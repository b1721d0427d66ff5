"""How `gmail-send send` shows many messages going out: one line each, or a progress bar.

On a terminal a bar on standard error shows done, failed, the rate and the time left, and
failures are printed above it; elsewhere (a pipe, a log file, a CI job) one line per message,
as scripts have always read them. The bar is our own, some sixty lines: tqdm or rich would be a
dependency (and an extra) for one line of output, and rich alone adds more import time than
the rest of the command.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Protocol, TextIO

__all__ = ["LineProgress", "Progress", "ProgressBar"]


class Progress(Protocol):
    """Where the bulk runner reports: a message's line, a note, a finished count."""

    def line(self, text: str) -> None:
        """Show one message's plain line (a bar shows only failures)."""

    def failure(self, text: str) -> None:
        """Show a failure's line(s); a bar prints them above itself."""

    def advance(self, *, failed: bool) -> None:
        """Count one more message done."""

    def finish(self) -> None:
        """The run is over."""


class LineProgress:
    """One line per message, through `out`."""

    def __init__(self, out: Callable[[str], object]) -> None:
        self._out = out

    def line(self, text: str) -> None:
        self._out(text)

    def failure(self, text: str) -> None:
        self._out(text)

    def advance(self, *, failed: bool) -> None:
        pass

    def finish(self) -> None:
        pass


class ProgressBar:
    """A one-line bar on a terminal: `[####------]  45/100  sent 43  failed 2  3.1/s  0:18 left`.

    Redrawn at most every `interval` seconds (and at the end), in place with a carriage
    return; `failure` text is printed above it.
    """

    def __init__(
        self,
        stream: TextIO,
        total: int,
        *,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._total = total
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._drawn_at: float | None = None
        self.done = 0
        self.failed = 0
        self._draw()

    def line(self, text: str) -> None:
        pass

    def failure(self, text: str) -> None:
        self._stream.write("\r\x1b[K" + text + "\n")
        self._draw()

    def advance(self, *, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        now = self._clock()
        if self._drawn_at is None or now - self._drawn_at >= self._interval:
            self._draw()

    def finish(self) -> None:
        self._draw()
        self._stream.write("\n")
        self._stream.flush()

    def render(self, width: int) -> str:
        """The bar's text for a terminal `width` columns wide."""
        elapsed = max(self._clock() - self._started, 1e-9)
        rate = self.done / elapsed
        left = self._total - self.done
        eta = _clock_time(left / rate) if rate > 0 and left else "--:--" if left else "0:00"
        counts = (
            f" {self.done}/{self._total}  sent {self.done - self.failed}  failed {self.failed}"
            f"  {rate:.1f}/s  {eta} left"
        )
        room = max(10, min(40, width - len(counts) - 3))
        filled = room * self.done // self._total if self._total else room
        return f"[{'#' * filled}{'-' * (room - filled)}]{counts}"[: max(width - 1, 20)]

    def _draw(self) -> None:
        self._drawn_at = self._clock()
        self._stream.write("\r\x1b[K" + self.render(_columns(self._stream)))
        self._stream.flush()


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (OSError, ValueError, AttributeError):
        return 80


def _clock_time(seconds: float) -> str:
    minutes, second = divmod(int(seconds + 0.5), 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}:{minute:02d}:{second:02d}" if hours else f"{minute}:{second:02d}"
