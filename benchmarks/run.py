"""Benchmark: gmail_send against aiosmtplib, smtplib, yagmail and fastapi-mail, side by side.

    python benchmarks/run.py [--rtt-ms 50] [--rounds 5] [--no-write] [--venv DIR]

The local Gmail-like server of gmail_send.testing (PIPELINING and CHUNKING advertised, as
smtp.gmail.com does; STARTTLS on one port, implicit TLS on another) runs in a child process
behind a latency proxy that delays each direction by half the round trip. Every scenario runs
once per round and the rounds are interleaved (scenario order rotates), so a slow moment of
the machine falls on all of them; min/median/max over the rounds are printed and written into
docs/performance.md. Round trips are counted in the run's effective RTT: a reused aiosmtplib
connection makes exactly 4 per 1-recipient message, so its time / 4 is the RTT, proxy and
machine overhead included. Peak memory is traced in this process only.

The peers come from the `benchmarks` extra: when they are missing, the benchmark makes a
virtual environment (`--venv`, default benchmarks/.venv), installs `.[benchmarks]` there and
runs itself in it, so no environment of yours is changed. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

PEERS = ("yagmail", "fastapi_mail", "aiosmtpd", "trustme")


def ensure_peers(venv: Path) -> None:
    """Re-run in a virtual environment with `.[benchmarks]` installed, if the peers are missing."""
    if all(importlib.util.find_spec(name) for name in PEERS):
        return
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # noqa: S603
    subprocess.run(  # noqa: S603 - our own interpreter and project
        [str(python), "-m", "pip", "install", "-q", "-e", f"{ROOT}[benchmarks]"], check=True
    )
    os.execv(str(python), [str(python), *sys.argv])  # noqa: S606 - the same script, in it


def serve(pipe: Any, one_way: float) -> None:
    """Child process: the local Gmail on STARTTLS and on implicit TLS, each behind a proxy."""
    from contestants import ACCOUNT, PASSWORD
    from latency_proxy import LatencyProxy

    from gmail_send.testing import LocalAccount, LocalGmail, TestCertificates

    async def main() -> None:
        certificates = TestCertificates()
        ports = []
        for security in ("starttls", "tls"):
            server = LocalGmail(
                accounts=[LocalAccount(ACCOUNT, app_password=PASSWORD)],
                security=security,  # type: ignore[arg-type]
                pipelining=True,
                certificates=certificates,
            )
            await server.start()
            proxy = LatencyProxy(server.port, one_way=one_way)
            await proxy.start()
            ports.append(proxy.port)
        pipe.send((ports[0], ports[1], certificates.ca_pem))
        await asyncio.Event().wait()

    asyncio.run(main())


@dataclass
class Row:
    """A scenario and its samples over the rounds."""

    key: str
    label: str
    rcpts: int
    count: int
    run: Callable[[Any, int, int], Awaitable[Any]]
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def ms(self, pick: Callable[[list[float]], float] = statistics.median) -> float:
        return pick(self.wall) * 1000

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.cpu) * 1000


def scenarios() -> list[Row]:
    import contestants as c

    rows: list[Row] = []
    for rcpts in (1, 5):
        rows += [
            Row(f"warm-{rcpts}", "gmail_send send(), one warm session", rcpts, 20, c.gmail_warm),
            Row(
                f"warm-message-{rcpts}",
                "gmail_send send_message(), one warm session",
                rcpts,
                20,
                c.gmail_warm_message,
            ),
            Row(
                f"aiosmtplib-1-{rcpts}",
                "aiosmtplib, 1 reused connection",
                rcpts,
                10,
                partial(c.aiosmtplib_reused, connections=1),
            ),
            Row(
                f"smtplib-1-{rcpts}",
                "smtplib, 1 reused connection",
                rcpts,
                10,
                partial(c.smtplib_reused, connections=1),
            ),
        ]
    rows += [
        Row(
            "burst-1",
            "gmail_send, burst on 1 session",
            1,
            300,
            partial(c.gmail_burst, connections=1),
        ),
        Row(
            "burst-3",
            "gmail_send, burst on the default pool (3 sessions)",
            1,
            300,
            partial(c.gmail_burst, connections=3),
        ),
        Row(
            "aiosmtplib-3",
            "aiosmtplib, 3 reused connections by hand",
            1,
            60,
            partial(c.aiosmtplib_reused, connections=3),
        ),
        Row(
            "smtplib-3",
            "smtplib, 3 reused connections (3 threads)",
            1,
            60,
            partial(c.smtplib_reused, connections=3),
        ),
        Row(
            "yagmail-3",
            "yagmail, 3 worker threads (it logs in on every send)",
            1,
            15,
            partial(c.yagmail_workers, workers=3),
        ),
        Row(
            "fastapi-mail-3",
            "fastapi-mail, 3 concurrent sends (a connection per message)",
            1,
            15,
            partial(c.fastapi_mail_workers, workers=3),
        ),
        Row(
            "cold-starttls",
            "gmail_send send(), cold, STARTTLS",
            1,
            3,
            partial(c.gmail_cold, implicit_tls=False),
        ),
        Row(
            "cold-tls",
            "gmail_send send(), cold, implicit TLS",
            1,
            3,
            partial(c.gmail_cold, implicit_tls=True),
        ),
        Row(
            "aiosmtplib-cold-starttls",
            "aiosmtplib.send(), cold, STARTTLS",
            1,
            3,
            partial(c.aiosmtplib_cold, implicit_tls=False),
        ),
        Row(
            "aiosmtplib-cold-tls",
            "aiosmtplib.send(), cold, implicit TLS",
            1,
            3,
            partial(c.aiosmtplib_cold, implicit_tls=True),
        ),
    ]
    return rows


async def run_rounds(bench: Any, rows: list[Row], rounds: int) -> None:
    for number in range(rounds):
        shift = number % len(rows)
        for row in rows[shift:] + rows[:shift]:
            sample = await row.run(bench, row.rcpts, row.count)
            row.wall.append(sample.wall / sample.count)
            row.cpu.append(sample.cpu / sample.count)
        print(f"round {number + 1} of {rounds} done", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rtt-ms", type=float, default=50.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--venv", type=Path, default=ROOT / "benchmarks" / ".venv")
    args = parser.parse_args()
    ensure_peers(args.venv)

    from contestants import Bench
    from memory import memory_peaks
    from report import report, write_doc

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=serve, args=(child, args.rtt_ms / 2000.0), daemon=True
    )
    server.start()
    try:
        starttls_port, tls_port, ca_pem = parent.recv()
        with tempfile.NamedTemporaryFile("wb", suffix=".pem") as ca_file:
            ca_file.write(ca_pem)
            ca_file.flush()
            bench = Bench(starttls_port, tls_port, ca_pem.decode("ascii"), ca_file.name)
            rows = scenarios()
            started = time.perf_counter()
            asyncio.run(run_rounds(bench, rows, args.rounds))
            wire, peaks = asyncio.run(memory_peaks(bench))
            took = time.perf_counter() - started
        text = report(args, rows, wire, peaks, took)
        print(text)
        if not args.no_write:
            write_doc(text)
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()
