"""Helpers for the CLI tests: run `main(argv)` in a worker thread, so the local servers keep
serving on the test's event loop, and a port that is certainly closed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from gmail_send.cli import main
from gmail_send.testing import LocalGmail

from .local_helpers import ACCOUNT, APP_PASSWORD


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


async def run_main(capsys: pytest.CaptureFixture[str], *argv: str, env: Mapping[str, str]) -> Run:
    """`gmail-send argv...` with `env` as its GMAIL_SEND_* environment."""
    capsys.readouterr()
    with preserved_logging():
        code = await asyncio.to_thread(main, list(argv), environ=dict(env))
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


@contextlib.contextmanager
def preserved_logging() -> Iterator[None]:
    """Undo what `main()` does to logging (levels of third-party loggers, root handlers), as
    a process ending would, so that later tests see the logging they configured."""
    root = logging.getLogger()
    handlers, root_level = list(root.handlers), root.level
    levels = {
        name: logger.level
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(root_level)
        for name, logger in list(logging.Logger.manager.loggerDict.items()):
            if isinstance(logger, logging.Logger):
                logger.setLevel(levels.get(name, logging.NOTSET))


def server_flags(gmail: LocalGmail, ca_file: Path) -> list[str]:
    return [
        "--host",
        gmail.host,
        "--port",
        str(gmail.port),
        "--security",
        gmail.security,
        "--ca-file",
        str(ca_file),
        "--imap-host",
        gmail.host,
        "--imap-port",
        str(gmail.imap_port),
    ]


def app_password_env(password: str = APP_PASSWORD) -> dict[str, str]:
    return {"GMAIL_SEND_USER": ACCOUNT, "GMAIL_SEND_APP_PASSWORD": password}


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def blackholed_port() -> Iterator[int]:
    """A loopback port whose connections time out, like a port a firewall drops.

    It listens with a backlog of 0 and its accept queue is filled and never accepted, so the
    kernel ignores new SYNs and a connection attempt waits until its timeout.
    """
    listener = socket.socket()
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port: int = listener.getsockname()[1]
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            fillers.append(filler)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
