"""Benchmark: how long a Sent Mail lookup (`find_sent`) takes, next to a cold send.

    python benchmarks/sent_lookup.py [--rtt-ms 50] [--rounds 9] [--no-write]

Settling an unknown outcome costs one IMAP session: TLS, the sign-in, LIST, EXAMINE, one
SEARCH, LOGOUT. Its fair yardstick is what the same account pays to open one new SMTP session
and send one message (a cold send: greeting, EHLO, STARTTLS, EHLO, AUTH, the transaction,
QUIT), since both open one new connection and sign in once. Measured side by side, with the
same credentials, in interleaved rounds (the order rotates), on the local Gmail of
gmail_send.testing directly and behind the latency proxy (`benchmarks/latency_proxy.py`, 50 ms
RTT by default) in a child process:

- lookup, app password (LOGIN), Gmail's search (X-GM-RAW rfc822msgid:), copy present;
- lookup, OAuth2 access token (AUTHENTICATE XOAUTH2), Gmail's search, copy present;
- lookup, app password, the standard SEARCH HEADER Message-ID (a server without X-GM-EXT-1);
- cold send, app password (the yardstick).

A lookup that does not find the copy searches until its window ends, by design: its time is the
window, not a cost. Results go into docs/performance.md between this script's markers. Not part
of the test suite; needs the [testing] extra.
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

from doc_section import replace_section  # noqa: E402

from gmail_send import (  # noqa: E402
    AccountQuotas,
    AppPassword,
    GmailSender,
    OAuth2Token,
    SendingLimits,
)

ACCOUNT = "bench@gmail.com"
PASSWORD = "benchmarkpassword"  # noqa: S105 - the local server's test password
TOKEN = "ya29.benchmark-token"  # noqa: S105 - the local server's test token
DOC = ROOT / "docs" / "performance.md"
SECTION_START = "<!-- sent_lookup.py: start -->"
SECTION_END = "<!-- sent_lookup.py: end -->"
SCENARIOS = (
    "lookup, app password, X-GM-RAW",
    "lookup, XOAUTH2, X-GM-RAW",
    "lookup, app password, SEARCH HEADER",
    "cold send, app password (yardstick)",
)


def serve(pipe: Any, one_way: float) -> None:
    """Child process: two local Gmails (with and without Gmail's IMAP extensions), each port
    reachable directly and behind a latency proxy."""
    from latency_proxy import LatencyProxy

    from gmail_send.testing import LocalAccount, LocalGmail, TestCertificates

    async def main() -> None:
        certificates = TestCertificates()
        ports: dict[str, dict[str, int]] = {}
        for name, extensions in (("gmail", True), ("plain", False)):
            gmail = LocalGmail(
                accounts=[LocalAccount(ACCOUNT, app_password=PASSWORD)],
                certificates=certificates,
                pipelining=True,
                imap_gmail_extensions=extensions,
            )
            await gmail.start()
            gmail.add_access_token(ACCOUNT, TOKEN)
            smtp_proxy = LatencyProxy(gmail.port, one_way=one_way)
            imap_proxy = LatencyProxy(gmail.imap_port, one_way=one_way)
            await smtp_proxy.start()
            await imap_proxy.start()
            ports[name] = {
                "smtp": gmail.port,
                "imap": gmail.imap_port,
                "smtp_slow": smtp_proxy.port,
                "imap_slow": imap_proxy.port,
            }
        pipe.send((ports, certificates.ca_pem))
        await asyncio.Event().wait()  # until the parent terminates this process

    asyncio.run(main())


class Bench:
    def __init__(self, ports: dict[str, dict[str, int]], ca_pem: bytes, *, slow: bool) -> None:
        self.ports = ports
        self.context = ssl.create_default_context(cadata=ca_pem.decode("ascii"))
        self.suffix = "_slow" if slow else ""
        self.message_ids: dict[str, str] = {}

    def sender(self, server: str, *, token: bool = False) -> GmailSender:
        ports = self.ports[server]
        credentials = OAuth2Token(ACCOUNT, TOKEN) if token else AppPassword(ACCOUNT, PASSWORD)
        return GmailSender(
            credentials,
            host="127.0.0.1",
            port=ports["smtp" + self.suffix],
            imap_host="127.0.0.1",
            imap_port=ports["imap" + self.suffix],
            tls_context=self.context,
            limits=SendingLimits(daily_limit=None, quotas=AccountQuotas()),
        )

    async def prepare(self) -> None:
        """One message in each server's Sent Mail, to be found by every lookup."""
        for server in self.ports:
            async with self.sender(server) as gmail:
                result = await gmail.send(to="you@example.com", subject="kept", text="Hi\n")
            self.message_ids[server] = result.message_id

    def lookup(self, server: str, *, token: bool = False) -> Callable[[], Awaitable[float]]:
        async def run() -> float:
            gmail = self.sender(server, token=token)
            try:
                started = time.perf_counter()
                found = await gmail.find_sent(self.message_ids[server], wait=0)
                took = time.perf_counter() - started
            finally:
                await gmail.aclose()
            assert found, "the kept message should be in Sent Mail"
            return took

        return run

    async def cold_send(self) -> float:
        started = time.perf_counter()
        async with self.sender("gmail") as gmail:
            await gmail.send(to="you@example.com", subject="cold", text="Hi\n")
        return time.perf_counter() - started

    def scenarios(self) -> dict[str, Callable[[], Awaitable[float]]]:
        runs = (
            self.lookup("gmail"),
            self.lookup("gmail", token=True),
            self.lookup("plain"),
            self.cold_send,
        )
        return dict(zip(SCENARIOS, runs, strict=True))


async def measure(bench: Bench, rounds: int) -> dict[str, list[float]]:
    await bench.prepare()
    scenarios = bench.scenarios()
    for run in scenarios.values():  # warm up imports, the proxies and the servers
        await run()
    samples: dict[str, list[float]] = {name: [] for name in scenarios}
    names = list(scenarios)
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(await scenarios[name]())
    return samples


def table(samples: dict[str, list[float]], rtt: float | None) -> str:
    rows = [
        "| scenario | rounds | min ms | median ms | max ms | round trips (median) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, values in samples.items():
        ms = [v * 1000 for v in values]
        trips = f"{statistics.median(values) / rtt:.1f}" if rtt else "n/a"
        rows.append(
            f"| {name} | {len(values)} | {min(ms):.1f} | {statistics.median(ms):.1f} | "
            f"{max(ms):.1f} | {trips} |"
        )
    return "\n".join(rows)


def ratio_line(samples: dict[str, list[float]], where: str) -> str:
    cold = statistics.median(samples[SCENARIOS[-1]])
    lookup = statistics.median(samples[SCENARIOS[0]])
    return (
        f"- {where}: a lookup with the app password takes {lookup * 1000:.1f} ms (median), "
        f"{lookup / cold:.2f}x a cold send's {cold * 1000:.1f} ms."
    )


def section(
    local: dict[str, list[float]],
    slow: dict[str, list[float]],
    rtt: float,
    rounds: int,
    took: float,
) -> str:
    machine = (
        f"{platform.platform()}, Python {platform.python_version()}, "
        f"{multiprocessing.cpu_count()} CPUs"
    )
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""{SECTION_START}
## Settling an unknown outcome: the Sent Mail lookup

Measured by `python benchmarks/sent_lookup.py` (not part of the test suite): `find_sent` with
the copy already filed (`wait=0`: one search), against a cold send on the same account as the
yardstick (both open one new connection and sign in once). Two local Gmails (with and without
Gmail's IMAP extensions) run in a child process, reached directly and through a proxy that
delays each direction by {rtt * 500:.0f} ms (RTT {rtt * 1000:.0f} ms). {rounds} interleaved
rounds, the order rotating.

- Machine: {machine}
- Date: {when}; the run took {took:.0f} s.

On 127.0.0.1 (no added latency):

{table(local, None)}

With a {rtt * 1000:.0f} ms round trip:

{table(slow, rtt)}

{ratio_line(local, "127.0.0.1")}
{ratio_line(slow, f"{rtt * 1000:.0f} ms RTT")}

What the round trips are made of: the TLS handshake (implicit TLS on 993, 1 round trip with
TLS 1.3), the greeting and the CAPABILITY that `imaplib` asks for on connecting (2), the sign-in
(LOGIN: 1; AUTHENTICATE XOAUTH2: 2, since `imaplib` does not send the initial response with
the command, SASL-IR, and waits for the server's `+` first), LIST, EXAMINE and the SEARCH (1
each), and LOGOUT (1): about 8.5 with the app password, one more with a token. A lookup costs
about what a cold send does; it runs only for a mail whose outcome was unknown, in its own
task and threads, so it never holds up other sends. A lookup that does not find the copy
searches until the window has passed (120 s by default, counted from when the body went out):
that time is the window, chosen for safety, not a cost of the lookup. The proxy accepts TCP
connections on this machine, so TCP's own handshake (one more round trip on a real network)
is in neither figure.

This benchmark found a stall: `imaplib` writes the XOAUTH2 response and its line end in two
writes, and the second waited for the server's delayed ACK (Nagle's algorithm), about 40 ms
per sign-in on 127.0.0.1 (56 ms against 12 ms for LOGIN). The session now sets TCP_NODELAY,
and both sign-ins take the same time locally.

Re-run with `python benchmarks/sent_lookup.py`; `--rtt-ms` and `--rounds` change the set-up,
`--no-write` leaves this page alone.
{SECTION_END}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt-ms", type=float, default=50.0)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rtt = args.rtt_ms / 1000
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(child, rtt / 2), daemon=True)
    server.start()
    started = time.perf_counter()
    try:
        ports, ca_pem = parent.recv()
        local = asyncio.run(measure(Bench(ports, ca_pem, slow=False), args.rounds))
        slow = asyncio.run(measure(Bench(ports, ca_pem, slow=True), args.rounds))
    finally:
        server.terminate()
        server.join()
    took = time.perf_counter() - started
    print(table(local, None))
    print(table(slow, rtt))
    print(ratio_line(local, "127.0.0.1"))
    print(ratio_line(slow, f"{args.rtt_ms:.0f} ms RTT"))
    if not args.no_write:
        replace_section(
            DOC, SECTION_START, SECTION_END, section(local, slow, rtt, args.rounds, took)
        )


if __name__ == "__main__":
    main()
