"""Benchmark: the Gmail API transport against SMTP, side by side, over the same latency.

    python benchmarks/transports.py [--rtt-ms 50] [--rounds 7] [--burst 300] [--no-write]

The local Gmail of gmail_send.testing (STARTTLS, PIPELINING advertised) and its local Gmail API
run in a child process, each behind a latency proxy that delays each direction by half the
round trip. Both transports sign in with the same OAuth2 access token (XOAUTH2 / Bearer), so
only the transport differs. Rounds are interleaved (smtp, api, then api, smtp, ...) so that a
busy moment of the machine hits both. Per scenario and transport: min, median and max of the
time per message, and the median in round trips (elapsed / RTT).

- cold: a new sender per message (TCP, TLS, sign-in, the send, goodbye);
- warm: a message on a sender whose connection is open (the median of a few per round);
- burst: `--burst` messages handed to one new sender at once (`max_connections=3`); the API's
  per-user window (150 sends a minute by default, Google's quota) is switched off here, or it
  alone would decide the figure.

The table is printed and written into docs/performance.md with the machine and date. Not part
of the test suite; needs the [testing] and [api] extras.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import platform
import ssl
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from gmail_send import (  # noqa: E402
    AccountQuotas,
    GmailSender,
    OAuth2Token,
    SendingLimits,
)

ACCOUNT = "bench@gmail.com"
TOKEN = "ya29.benchmark-token"  # noqa: S105 - the local server's test token
from doc_section import replace_section  # noqa: E402

DOC = ROOT / "docs" / "performance.md"
SECTION_START = "<!-- transports.py: start -->"
SECTION_END = "<!-- transports.py: end -->"
WARM_PER_ROUND = 5
TRANSPORTS = ("smtp", "api")


def serve(pipe: Any, one_way: float) -> None:
    """Child process: the local Gmail and its API, each behind a latency proxy."""
    from latency_proxy import LatencyProxy

    from gmail_send.testing import LocalAccount, LocalGmail, LocalGmailAPI

    async def main() -> None:
        gmail = LocalGmail(accounts=[LocalAccount(ACCOUNT)], pipelining=True, chunking=True)
        await gmail.start()
        gmail.add_access_token(ACCOUNT, TOKEN)
        api = LocalGmailAPI(gmail)
        await api.start()
        smtp_proxy = LatencyProxy(gmail.port, one_way=one_way)
        api_proxy = LatencyProxy(api.port, one_way=one_way)
        await smtp_proxy.start()
        await api_proxy.start()
        pipe.send((smtp_proxy.port, api_proxy.port, gmail.certificates.ca_pem))
        while True:  # keep the mailbox small: the parent only needs the answers
            await asyncio.sleep(1)
            gmail.messages.clear()

    asyncio.run(main())


class Bench:
    def __init__(self, smtp_port: int, api_port: int, ca_pem: bytes) -> None:
        self.smtp_port = smtp_port
        self.api_port = api_port
        self.ca_pem = ca_pem

    def sender(self, transport: str, **options: Any) -> GmailSender:
        return GmailSender(
            OAuth2Token(ACCOUNT, TOKEN),
            transport=transport,  # type: ignore[arg-type]
            host="127.0.0.1",
            port=self.smtp_port,
            api_url=f"https://127.0.0.1:{self.api_port}",
            tls_context=ssl.create_default_context(cadata=self.ca_pem.decode("ascii")),
            limits=SendingLimits(
                daily_limit=None, quotas=AccountQuotas(), api_sends_per_minute=None
            ),
            **options,
        )

    async def cold(self, transport: str) -> list[float]:
        started = time.perf_counter()
        async with self.sender(transport) as gmail:
            await gmail.send(to="you@example.com", subject="cold", text=BODY)
        return [time.perf_counter() - started]

    async def warm(self, transport: str) -> list[float]:
        timings = []
        async with self.sender(transport) as gmail:
            await gmail.send(to="you@example.com", subject="warm-up", text=BODY)
            for n in range(WARM_PER_ROUND):
                started = time.perf_counter()
                await gmail.send(to="you@example.com", subject=f"warm {n}", text=BODY)
                timings.append(time.perf_counter() - started)
        return [statistics.median(timings)]

    def burst(self, count: int) -> Callable[[str], Awaitable[list[float]]]:
        async def run(transport: str) -> list[float]:
            started = time.perf_counter()
            async with self.sender(transport, max_connections=3) as gmail:
                await asyncio.gather(
                    *(
                        gmail.send(to="you@example.com", subject=f"burst {n}", text=BODY)
                        for n in range(count)
                    )
                )
            return [(time.perf_counter() - started) / count]

        return run


BODY = "Hello from the benchmark.\n" * 20


async def measure(bench: Bench, rounds: int, burst: int) -> dict[tuple[str, str], list[float]]:
    scenarios: dict[str, Callable[[str], Awaitable[list[float]]]] = {
        "cold (new sender per message)": bench.cold,
        "warm (connection open)": bench.warm,
        f"burst of {burst} at once (3 connections)": bench.burst(burst),
    }
    samples: dict[tuple[str, str], list[float]] = {
        (name, transport): [] for name in scenarios for transport in TRANSPORTS
    }
    import gmail_send.api._transport  # noqa: F401 - imported once, not in the first cold send

    for transport in TRANSPORTS:  # warm up both servers, the proxies and the imports
        await bench.cold(transport)
    for round_number in range(rounds):
        order = TRANSPORTS if round_number % 2 == 0 else TRANSPORTS[::-1]
        for name, scenario in scenarios.items():
            if name.startswith("burst") and round_number >= max(3, rounds // 2):
                continue  # bursts are long: fewer rounds of them
            for transport in order:
                samples[(name, transport)] += await scenario(transport)
        print(f"round {round_number + 1}/{rounds} done", flush=True)
    return samples


def table(samples: dict[tuple[str, str], list[float]], rtt: float) -> str:
    rows = [
        "| scenario | transport | rounds | min ms | median ms | max ms | round trips (median) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for (name, transport), values in samples.items():
        ms = [v * 1000 for v in values]
        trips = f"{statistics.median(values) / rtt:.1f}" if not name.startswith("burst") else "n/a"
        rows.append(
            f"| {name} | {transport} | {len(values)} | {min(ms):.1f} | "
            f"{statistics.median(ms):.1f} | {max(ms):.1f} | {trips} |"
        )
    return "\n".join(rows)


def findings(samples: dict[tuple[str, str], list[float]], rtt: float) -> list[str]:
    lines = []
    for name in dict.fromkeys(name for name, _ in samples):
        smtp = statistics.median(samples[(name, "smtp")])
        api = statistics.median(samples[(name, "api")])
        faster = "api" if api < smtp else "smtp"
        ratio = max(smtp, api) / min(smtp, api)
        lines.append(
            f"- {name}: smtp {smtp * 1000:.1f} ms, api {api * 1000:.1f} ms per message "
            f"(median); {faster} is {ratio:.1f}x faster."
        )
    return lines


def section(
    samples: dict[tuple[str, str], list[float]], rtt: float, rounds: int, burst: int, took: float
) -> str:
    import aiosmtplib
    import httpx

    machine = (
        f"{platform.platform()}, Python {platform.python_version()}, "
        f"{multiprocessing.cpu_count()} CPUs, aiosmtplib {aiosmtplib.__version__}, "
        f"httpx {httpx.__version__}"
    )
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""{SECTION_START}
## SMTP or the Gmail API

Measured by `python benchmarks/transports.py` (not part of the test suite): the local Gmail and
its local Gmail API in a child process, each behind a proxy that delays each direction by
{rtt * 500:.0f} ms (one round trip, RTT, is {rtt * 1000:.0f} ms). Both transports use the same
OAuth2 access token; rounds are interleaved ({rounds} rounds of cold and warm sends, fewer of
the burst). Round trips are the median time divided by the RTT.

- Machine: {machine}
- Date: {when}; the run took {took:.0f} s.

{table(samples, rtt)}

{chr(10).join(findings(samples, rtt))}

What the round trips are made of:

- **warm**: the API sends one HTTP request on a kept-alive HTTPS connection: 1 round trip.
  SMTP with PIPELINING and CHUNKING (as Gmail offers them) writes MAIL, RCPT and
  `BDAT <size> LAST` with the body at once: 1 round trip as well.
- **cold**: the API pays the TLS 1.3 handshake and the request (2 round trips; the connection
  is then closed without a goodbye round trip); SMTP pays the greeting, EHLO, STARTTLS and its
  handshake, EHLO again, AUTH, the transaction and QUIT (about 8). The proxy accepts TCP
  connections on this machine, so TCP's own handshake is in neither figure: add one round
  trip to each on a real network.
- **burst**: {burst} messages through 3 connections. With the round trips alone, the API
  would need a third of a round trip per message (one request at a time per HTTP/1.1
  connection) and measures more, because here the client, the local servers (Python, TLS) and
  the proxies share the machine's CPUs; SMTP streams several transactions on each session
  without waiting for the replies in between (`PoolOptions.max_in_flight`), so its sessions
  are not bound to one round trip per message. Google's per-user quota allows 150 sends a
  minute through the API, and the sender keeps to it by default
  (`SendingLimits.api_sends_per_minute`): a real burst of {burst} takes at least a minute over
  the API, whatever the figure above; SMTP has no published per-minute limit (the daily one
  counts for both).
- Only HTTP/1.1 is measured: the local Gmail API does not speak HTTP/2, and with one request
  per message and several connections, HTTP/2's multiplexing has little to add; it is not
  enabled. Messages are uploaded as `message/rfc822` (no base64): the JSON `raw` form would
  send a third more bytes in the same single round trip.

Re-run with `python benchmarks/transports.py`; `--rtt-ms`, `--rounds` and `--burst` change the
set-up, `--no-write` leaves this page alone.
{SECTION_END}
"""


def write_doc(text: str) -> None:
    replace_section(DOC, SECTION_START, SECTION_END, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt-ms", type=float, default=50.0)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--burst", type=int, default=300)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rtt = args.rtt_ms / 1000
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(child, rtt / 2), daemon=True)
    server.start()
    started = time.perf_counter()
    try:
        smtp_port, api_port, ca_pem = parent.recv()
        samples = asyncio.run(measure(Bench(smtp_port, api_port, ca_pem), args.rounds, args.burst))
    finally:
        server.terminate()
        server.join()
    took = time.perf_counter() - started
    print(table(samples, rtt))
    print("\n".join(findings(samples, rtt)))
    if not args.no_write:
        write_doc(section(samples, rtt, args.rounds, args.burst, took))


if __name__ == "__main__":
    main()
