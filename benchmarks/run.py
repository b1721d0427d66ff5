"""Benchmark: GmailSender (pool + PIPELINING) against plain aiosmtplib and smtplib.

    python benchmarks/run.py [--rtt-ms 50] [--messages 500] [--baseline-messages 20] [--no-write]

A local Gmail-like server (gmail_send.testing, STARTTLS, PIPELINING advertised) runs in a child
process behind a latency proxy that delays each direction by half the round trip. Figures are
per message: round trips (elapsed / RTT, meaningful for sequential sends) and messages per
second. The table is printed and written into docs/performance.md with the machine and date.
Not part of the test suite; needs the [testing] extra. Takes about two minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import smtplib
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from gmail_send import SendingLimits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import aiosmtplib  # noqa: E402

from gmail_send import (  # noqa: E402
    AccountQuotas,
    AppPassword,
    GmailSender,
)

ACCOUNT = "bench@gmail.com"
PASSWORD = "abcdefghijklmnop"  # noqa: S105 - the local test server's app password
DOC = ROOT / "docs" / "performance.md"
KEEP_MARKER = "<!-- kept when run.py rewrites the page -->"


def serve(pipe: Any, one_way: float) -> None:
    """Child process: the local Gmail behind the latency proxy, until terminated."""
    from latency_proxy import LatencyProxy

    from gmail_send.testing import LocalAccount, LocalGmail

    async def main() -> None:
        server = LocalGmail(
            accounts=[LocalAccount(ACCOUNT, app_password=PASSWORD)], pipelining=True
        )
        await server.start()
        proxy = LatencyProxy(server.port, one_way=one_way)
        await proxy.start()
        pipe.send((proxy.port, server.certificates.ca_pem))
        await asyncio.Event().wait()

    asyncio.run(main())


def recipients(count: int) -> list[str]:
    return [f"r{n}@example.com" for n in range(count)]


def message(count: int, n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = ACCOUNT
    msg["To"] = ", ".join(recipients(count))
    msg["Subject"] = f"benchmark {n}"
    msg.set_content("Hello from the benchmark.\n" * 20)
    return msg


class Bench:
    def __init__(self, port: int, ca_pem: bytes, rtt: float) -> None:
        self.port = port
        self.ca = ca_pem.decode("ascii")
        self.rtt = rtt
        self.rows: list[tuple[str, int, int, float, float | None, float]] = []

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca)

    def sender(self, **options: Any) -> GmailSender:
        return GmailSender(
            AppPassword(ACCOUNT, PASSWORD),
            host="127.0.0.1",
            port=self.port,
            tls_context=self.context(),
            limits=SendingLimits(daily_limit=None, quotas=AccountQuotas()),
            **options,
        )

    def record(self, name: str, rcpts: int, count: int, elapsed: float, sequential: bool) -> None:
        per = elapsed / count
        rtts = per / self.rtt if sequential else None
        self.rows.append((name, rcpts, count, per * 1000, rtts, count / elapsed))
        shown = f"{rtts:5.1f} RTT" if rtts is not None else "    - RTT"
        print(
            f"{name:55} rcpt={rcpts} n={count:4} {per * 1000:8.1f} ms/msg {shown} "
            f"{count / elapsed:8.1f} msg/s",
            flush=True,
        )

    async def timed(self, work: Callable[[], Awaitable[object]]) -> float:
        started = time.perf_counter()
        await work()
        return time.perf_counter() - started

    async def gmail_cold(self, rcpts: int, count: int) -> None:
        async def run() -> None:
            for n in range(count):
                async with self.sender() as sender:
                    await sender.send_message(message(rcpts, n))

        self.record(
            "GmailSender, cold (new sender per message)", rcpts, count, await self.timed(run), True
        )

    async def gmail_warm(self, rcpts: int, count: int, *, pipelining: bool) -> None:
        async with self.sender(pipelining=pipelining) as sender:
            await sender.send_message(message(rcpts, -1))  # warm up: connect and sign in

            async def run() -> None:
                for n in range(count):
                    await sender.send_message(message(rcpts, n))

            elapsed = await self.timed(run)
        label = "PIPELINING" if pipelining else "no pipelining"
        self.record(
            f"GmailSender, warm connection, sequential, {label}", rcpts, count, elapsed, True
        )

    async def gmail_concurrent(self, rcpts: int, count: int) -> None:
        async def run() -> None:
            async with self.sender() as sender:  # default pool: max_connections=3
                await asyncio.gather(
                    *(sender.send_message(message(rcpts, n)) for n in range(count))
                )

        self.record(
            "GmailSender, all at once (pool of 3, cold start)",
            rcpts,
            count,
            await self.timed(run),
            False,
        )

    async def aiosmtplib_one_shot(self, rcpts: int, count: int) -> None:
        async def run() -> None:
            for n in range(count):
                await aiosmtplib.send(
                    message(rcpts, n),
                    hostname="127.0.0.1",
                    port=self.port,
                    start_tls=True,
                    tls_context=self.context(),
                    username=ACCOUNT,
                    password=PASSWORD,
                )

        self.record(
            "aiosmtplib.send() one-shot per message, sequential",
            rcpts,
            count,
            await self.timed(run),
            True,
        )

    async def aiosmtplib_reused(self, rcpts: int, count: int) -> None:
        smtp = aiosmtplib.SMTP(
            hostname="127.0.0.1",
            port=self.port,
            start_tls=True,
            tls_context=self.context(),
            username=ACCOUNT,
            password=PASSWORD,
        )
        await smtp.connect()
        try:

            async def run() -> None:
                for n in range(count):
                    await smtp.send_message(message(rcpts, n))

            elapsed = await self.timed(run)
        finally:
            await smtp.quit()
        self.record("aiosmtplib, one reused connection, sequential", rcpts, count, elapsed, True)

    async def smtplib_reused(self, rcpts: int, count: int) -> None:
        def run() -> float:
            with smtplib.SMTP("127.0.0.1", self.port, timeout=60) as smtp:
                smtp.starttls(context=self.context())
                smtp.login(ACCOUNT, PASSWORD)
                started = time.perf_counter()
                for n in range(count):
                    smtp.send_message(message(rcpts, n))
                return time.perf_counter() - started

        elapsed = await asyncio.to_thread(run)
        self.record("smtplib, one reused connection, sequential", rcpts, count, elapsed, True)


def table(bench: Bench, args: argparse.Namespace) -> str:
    lines = [
        "| scenario | recipients | messages | ms per message | round trips per message "
        "| messages per second |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, rcpts, count, ms, rtts, rate in bench.rows:
        shown = f"{rtts:.1f}" if rtts is not None else "n/a (concurrent)"
        lines.append(f"| {name} | {rcpts} | {count} | {ms:.1f} | {shown} | {rate:.1f} |")
    return "\n".join(lines)


def ratios(bench: Bench) -> list[str]:
    found: list[str] = []
    for rcpts in (1, 5):
        one_shot = next(
            (r for r in bench.rows if r[0].startswith("aiosmtplib.send()") and r[1] == rcpts), None
        )
        pooled = next(
            (
                r
                for r in bench.rows
                if r[0].startswith("GmailSender, all at once") and r[1] == rcpts
            ),
            None,
        )
        if one_shot and pooled:
            found.append(
                f"- {rcpts} recipient(s): {pooled[2]} messages handed to one "
                f"GmailSender at once: {pooled[3]:.1f} ms per message, against "
                f"{one_shot[3]:.1f} ms per message with aiosmtplib's one-shot send(): "
                f"**{one_shot[3] / pooled[3]:.1f}x faster**."
            )
    return found


def write_doc(bench: Bench, args: argparse.Namespace, took: float) -> None:
    machine = (
        f"{platform.platform()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, aiosmtplib {aiosmtplib.__version__}"
    )
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = f"""# Performance

Measured by `python benchmarks/run.py` (not part of the test suite): the local Gmail-like
server of `gmail_send.testing` (STARTTLS, app-password login, PIPELINING advertised) in a child
process, behind a proxy on 127.0.0.1 that delays each direction by {args.rtt_ms / 2:g} ms, so
one network round trip (RTT) is {args.rtt_ms:g} ms. Everything else runs on the same machine,
so CPU is shared with the server and the proxy.

- Machine: {machine}
- Date: {when}; the whole run took {took:.0f} s.

"Round trips per message" is elapsed time divided by the RTT, shown for sequential sends
only (for concurrent sends it has no meaning). Slow baselines send fewer messages; compare
the per-message figures.

{table(bench, args)}

## What it shows

{chr(10).join(ratios(bench))}
- On a warm connection with PIPELINING, a message costs 2 round trips on the wire (envelope
  and DATA in one write, then the body), with one recipient or five; the measured figure is a
  little higher because client, server and proxy share the CPU (TLS, parsing and the server's
  work add a few milliseconds per message). Without PIPELINING, aiosmtplib and smtplib need 4
  round trips plus one per extra recipient (MAIL, each RCPT, DATA, body).
- A cold send (new connection: TCP, greeting, EHLO, STARTTLS with its TLS handshake, EHLO,
  AUTH, then the transaction, then QUIT) costs about ten round trips; this is what a backend
  pays for every message when it uses a one-shot send, and what makes Gmail answer
  `454 4.7.0 Too many login attempts`.

Re-run with `python benchmarks/run.py`; `--rtt-ms`, `--messages`, `--sequential-messages`
and `--baseline-messages` change the set-up, `--no-write` leaves this page alone.
"""
    # Sections below the marker (other runs, e.g. at another RTT) are kept as they are.
    old = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    if KEEP_MARKER in old:
        text += "\n" + old[old.index(KEEP_MARKER) :]
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")


async def run_all(bench: Bench, args: argparse.Namespace) -> None:
    few, seq = args.baseline_messages, args.sequential_messages
    for rcpts in (1, 5):
        await bench.gmail_cold(rcpts, 5)
        await bench.gmail_warm(rcpts, seq, pipelining=True)
        await bench.gmail_warm(rcpts, seq, pipelining=False)
        await bench.gmail_concurrent(rcpts, args.messages)
        await bench.aiosmtplib_one_shot(rcpts, few)
        await bench.aiosmtplib_reused(rcpts, seq)
        await bench.smtplib_reused(rcpts, seq)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt-ms", type=float, default=50.0)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--sequential-messages", type=int, default=30)
    parser.add_argument("--baseline-messages", type=int, default=20)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=serve, args=(child, args.rtt_ms / 2000.0), daemon=True
    )
    server.start()
    try:
        port, ca_pem = parent.recv()
        bench = Bench(port, ca_pem, args.rtt_ms / 1000.0)
        started = time.perf_counter()
        asyncio.run(run_all(bench, args))
        took = time.perf_counter() - started
        print()
        print(table(bench, args))
        print("\n".join(ratios(bench)))
        if not args.no_write:
            write_doc(bench, args, took)
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()
