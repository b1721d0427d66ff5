"""Benchmark: the mail queue's enqueue latency, and its throughput against direct sends.

    python benchmarks/mail_queue.py [--enqueues 500] [--messages 150] [--rounds 3] [--rtt-ms 50]
                               [--postgres URL] [--no-write]

1. Enqueue latency: `await queue.enqueue(...)` one after another (a web request's view of
   it: compose, validate, store), median and p99, on a SQLite file and on PostgreSQL.
2. Throughput: the same messages sent by one `GmailSender` with the same pool (3 sessions),
   directly (`asyncio.gather` of `send`) and from a queue (`queue.work(until_empty=True)`, the
   mails enqueued beforehand), to the local Gmail of `gmail_send.testing` behind the latency
   proxy (`benchmarks/latency_proxy.py`, 50 ms RTT by default). Rounds are interleaved (the
   scenarios take turns, in a rotating order) and reported as min / median / max.

PostgreSQL is the private cluster the tests start (Debian's `postgresql` package; as the
`postgres` user when run as root), or `--postgres URL`. The results are written into
docs/performance.md between this script's markers. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from contestants import ACCOUNT, PASSWORD  # noqa: E402
from doc_section import replace_section  # noqa: E402
from run import serve  # noqa: E402

from gmail_send import AppPassword, GmailSender, MailQueue, SendingLimits  # noqa: E402

DOC = ROOT / "docs" / "performance.md"
SECTION_START = "<!-- mail_queue.py: start -->"
SECTION_END = "<!-- mail_queue.py: end -->"
POOL = 3


@contextlib.contextmanager
def postgres(given: str | None) -> Iterator[str]:
    """A server's maintenance URL: `given`, or a private cluster for the run."""
    if given:
        yield given
        return
    from tests.postgres_helpers import private_cluster

    with private_cluster() as url:
        yield url


def new_database(server: str) -> str:
    import psycopg

    name = f"gmail_send_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"{server.rpartition('/')[0]}/{name}"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def enqueue_latency(url: str, count: int) -> list[float]:
    """Milliseconds per `enqueue`, one after another (after 20 unmeasured warm-up calls)."""
    async with MailQueue(url, account=ACCOUNT) as queue:
        timings = []
        for n in range(count + 20):
            started = time.perf_counter()
            await queue.enqueue(
                to="you@example.com", subject=f"Receipt {n}", text="Thank you.\n" * 20
            )
            if n >= 20:
                timings.append((time.perf_counter() - started) * 1000)
    return timings


class Throughput:
    def __init__(self, port: int, ca_pem: bytes, messages: int) -> None:
        self.port = port
        self.ca = ca_pem
        self.messages = messages

    def sender(self) -> GmailSender:
        import ssl

        return GmailSender(
            AppPassword(ACCOUNT, PASSWORD),
            host="127.0.0.1",
            port=self.port,
            tls_context=ssl.create_default_context(cadata=self.ca.decode("ascii")),
            max_connections=POOL,
            limits=SendingLimits(daily_limit=None),
        )

    async def direct(self) -> float:
        async with self.sender() as gmail:
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    gmail.send(to="you@example.com", subject=f"n{n}", text="Hello.\n" * 20)
                    for n in range(self.messages)
                )
            )
            return time.perf_counter() - started

    async def queued(self, url: str) -> float:
        async with MailQueue(url, account=ACCOUNT) as queue:
            for n in range(self.messages):
                await queue.enqueue(to="you@example.com", subject=f"n{n}", text="Hello.\n" * 20)
            async with self.sender() as gmail:
                started = time.perf_counter()
                await queue.work(gmail, until_empty=True)
                elapsed = time.perf_counter() - started
            counts = await queue.counts()
            assert counts["queued"] == 0 and counts["sending"] == 0, counts
        return elapsed


def spread(values: list[float]) -> str:
    return f"{min(values):.1f} | {statistics.median(values):.1f} | {max(values):.1f}"


async def run(args: argparse.Namespace, pg_server: str, workdir: Path) -> dict[str, object]:
    latency = {
        "SQLite": await enqueue_latency(f"sqlite:///{workdir / 'latency.db'}", args.enqueues),
        "PostgreSQL": await enqueue_latency(new_database(pg_server), args.enqueues),
    }
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=serve, args=(child, args.rtt_ms / 2000.0), daemon=True
    )
    server.start()
    rates: dict[str, list[float]] = {"direct": [], "SQLite queue": [], "PostgreSQL queue": []}
    try:
        port, ca_pem = parent.recv()
        bench = Throughput(port, ca_pem, args.messages)
        scenarios = list(rates)
        for round_number in range(args.rounds):
            turn = round_number % len(scenarios)
            for name in scenarios[turn:] + scenarios[:turn]:
                if name == "direct":
                    elapsed = await bench.direct()
                elif name == "SQLite queue":
                    url = f"sqlite:///{workdir / f'queue-{round_number}.db'}"
                    elapsed = await bench.queued(url)
                else:
                    elapsed = await bench.queued(new_database(pg_server))
                rates[name].append(args.messages / elapsed)
                print(f"round {round_number + 1} {name:18} {args.messages / elapsed:6.1f} msg/s")
    finally:
        server.terminate()
        server.join(5)
    return {"latency": latency, "rates": rates}


def render(results: dict[str, object], args: argparse.Namespace, took: float) -> str:
    latency: dict[str, list[float]] = results["latency"]  # type: ignore[assignment]
    rates: dict[str, list[float]] = results["rates"]  # type: ignore[assignment]
    machine = f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs"
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lat_rows = "\n".join(
        f"| {name} | {len(values)} | {statistics.median(values):.2f} | "
        f"{percentile(values, 0.99):.2f} | {min(values):.2f} | {max(values):.2f} |"
        for name, values in latency.items()
    )
    rate_rows = "\n".join(f"| {name} | {spread(values)} |" for name, values in rates.items())
    direct = statistics.median(rates["direct"])
    shares = "; ".join(
        f"{name}: {statistics.median(values) / direct:.0%} of direct"
        for name, values in rates.items()
        if name != "direct"
    )
    where = (
        "the server given by --postgres"
        if args.postgres
        else "a private cluster on 127.0.0.1 (fsync off, as in the tests)"
    )
    return f"""{SECTION_START}
## The mail queue

Measured by `python benchmarks/mail_queue.py` (not part of the test suite) on this machine,
whose 2 cores are shared with whatever else runs (the long tail of the latency is mostly
that): PostgreSQL is {where}; SQLite files are in a temporary directory (WAL,
`synchronous=NORMAL`).

- Machine: {machine}
- Date: {when}; the run took {took:.0f} s.

### Enqueue latency

`await queue.enqueue(to=..., subject=..., text=...)` one call after another on the queue's
own connection: composing and checking the message, and storing it (two rows, one
transaction). This is what a request waits for instead of Gmail.

| database | calls | median ms | p99 ms | min ms | max ms |
|---|---:|---:|---:|---:|---:|
{lat_rows}

### Throughput: queue against direct sends

{args.messages} messages of one recipient, sent by one `GmailSender` with a pool of {POOL}
sessions (cold start) to the local Gmail behind the latency proxy ({args.rtt_ms:g} ms RTT):
directly, all handed to `send` at once; and from a queue filled beforehand, by
`queue.work(sender, until_empty=True)`. {args.rounds} rounds, the scenarios taking turns in a
rotating order; messages per second:

| scenario | min | median | max |
|---|---:|---:|---:|
{rate_rows}

Medians: {shares}. A queued mail costs database work a direct send does not
(claiming it, marking it possibly sent before its body goes out, the shared daily count,
recording the outcome), most of it while other sessions wait on the network.

Re-run with `python benchmarks/mail_queue.py`; `--enqueues`, `--messages`, `--rounds`,
`--rtt-ms` and `--postgres URL` change the set-up, `--no-write` leaves this page alone.
{SECTION_END}
"""


def write_doc(text: str) -> None:
    replace_section(DOC, SECTION_START, SECTION_END, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enqueues", type=int, default=500)
    parser.add_argument("--messages", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rtt-ms", type=float, default=50.0)
    parser.add_argument("--postgres", help="a PostgreSQL server URL (default: a private one)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    with postgres(args.postgres) as pg_server, tempfile.TemporaryDirectory() as workdir:
        results = asyncio.run(run(args, pg_server, Path(workdir)))
    text = render(results, args, time.perf_counter() - started)
    print(text)
    if not args.no_write:
        write_doc(text)


if __name__ == "__main__":
    main()
