"""The page `run.py` writes: the figures against their baselines, and every scenario."""

from __future__ import annotations

import argparse
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from run import Row

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
START, END = "<!-- run.py: start -->", "<!-- run.py: end -->"


def rtt_of(rows: dict[str, Row]) -> float:
    """The run's effective RTT in ms: a reused aiosmtplib connection's 1-recipient message / 4."""
    return rows["aiosmtplib-1-1"].ms() / 4


def table(rows: list[Row], rtt: float) -> str:
    lines = [
        "| scenario | recipients | messages per round | ms per message: min / median / max "
        "| round trips per message (median) | client CPU ms per message |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.label} | {row.rcpts} | {row.count} | {row.ms(min):.1f} / {row.ms():.1f} / "
            f"{row.ms(max):.1f} | {row.ms() / rtt:.2f} | {row.cpu_ms:.2f} |"
        )
    return "\n".join(lines)


def summary(rows: dict[str, Row], rtt: float, wire: int, peaks: dict[str, int]) -> str:
    """The figures the issue asks for, each against the baseline named in its row."""

    def trips(key: str) -> float:
        return rows[key].ms() / rtt

    lines = [
        "| what | gmail_send | baseline | baseline's figure | gmail_send against it |",
        "|---|---:|---|---:|---:|",
    ]
    for rcpts in (1, 5):
        for peer, name in (("aiosmtplib", "aiosmtplib"), ("smtplib", "smtplib")):
            mine, theirs = trips(f"warm-{rcpts}"), trips(f"{peer}-1-{rcpts}")
            lines.append(
                f"| warm send, {rcpts} recipient{'s' * (rcpts > 1)}: round trips per message "
                f"| {mine:.2f} | {name}, the same: one reused connection | {theirs:.2f} "
                f"| {theirs / mine:.1f}x fewer |"
            )
    mine, theirs = trips("burst-1"), trips("aiosmtplib-1-1")
    lines.append(
        f"| burst of 300 on ONE session: round trips per message | {mine:.2f} "
        f"| aiosmtplib, one reused connection | {theirs:.2f} | {theirs / mine:.1f}x fewer |"
    )
    burst = rows["burst-3"].ms()
    for key in ("aiosmtplib-3", "smtplib-3", "yagmail-3", "fastapi-mail-3"):
        theirs = rows[key].ms()
        lines.append(
            f"| burst of 300 on the default pool (3 sessions): ms per message | {burst:.1f} "
            f"| {rows[key].label} | {theirs:.1f} | {theirs / burst:.1f}x faster |"
        )
    for kind in ("starttls", "tls"):
        mine, theirs = trips(f"cold-{kind}"), trips(f"aiosmtplib-cold-{kind}")
        what = "STARTTLS" if kind == "starttls" else "implicit TLS"
        lines.append(
            f"| cold send (one-shot, new session), {what}: round trips | {mine:.2f} "
            f"| aiosmtplib.send(), one-shot | {theirs:.2f} | {theirs / mine:.1f}x fewer |"
        )
    baseline_key = next(k for k in peaks if k.startswith("aiosmtplib"))
    for key, peak in peaks.items():
        if key != baseline_key:
            lines.append(
                f"| peak traced memory, 25 MB attachment, in wire sizes: {key} "
                f"| {peak / wire:.2f}x | {baseline_key} | {peaks[baseline_key] / wire:.2f}x "
                f"| {peaks[baseline_key] / peak:.1f}x less |"
            )
    send_cpu, message_cpu = rows["warm-1"].cpu_ms, rows["warm-message-1"].cpu_ms
    raw_cpu = rows["aiosmtplib-1-1"].cpu_ms
    lines += [
        f"| client CPU per message, send() | {send_cpu:.2f} ms | aiosmtplib send_message(), "
        f"reused connection | {raw_cpu:.2f} ms | {send_cpu / raw_cpu:.2f}x |",
        f"| client CPU per message, send_message() | {message_cpu:.2f} ms | gmail_send send() "
        f"| {send_cpu:.2f} ms | {message_cpu / send_cpu:.2f}x |",
    ]
    return "\n".join(lines)


def write_doc(text: str) -> None:
    old = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n"
    block = f"{START}\n{text}\n{END}"
    if START in old and END in old:
        new = old[: old.index(START)] + block + old[old.index(END) + len(END) :]
    else:
        _, marker, rest = old.partition("<!-- import_time.py: start -->")
        new = f"# Performance\n\n{block}\n\n{marker}{rest}"
    DOC.write_text(new, encoding="utf-8")
    print(f"wrote {DOC}")


def report(
    args: argparse.Namespace, rows: list[Row], wire: int, peaks: dict[str, int], took: float
) -> str:
    import aiosmtplib

    by_key = {row.key: row for row in rows}
    rtt = rtt_of(by_key)
    machine = (
        f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"aiosmtplib {aiosmtplib.__version__}"
    )
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""**Every figure on this page comes from the local emulation, not from Gmail**: the
local Gmail-like server of `gmail_send.testing` (PIPELINING and CHUNKING advertised, as
smtp.gmail.com does), in a child process behind a proxy on 127.0.0.1 that delays each direction by
{args.rtt_ms / 2:g} ms (a {args.rtt_ms:g} ms round trip). Client, server and proxy share the
machine. Measured by `python benchmarks/run.py` (not part of the test suite), which installs
the peers from the `benchmarks` extra into a virtual environment of its own.

- Machine: {machine}
- Date: {when}; {args.rounds} rounds, interleaved (each round runs every scenario once, in a
  rotating order); the run took {took:.0f} s.
- Round trips are counted in the run's effective RTT, {rtt:.1f} ms: a reused aiosmtplib
  connection makes exactly 4 per 1-recipient message (MAIL, RCPT, DATA, the body), so its
  median time per message / 4 is the RTT, with the proxy's and the machine's overhead in it.
- Each baseline is named in its row, with the same number of reused connections where it
  reuses any. Slow peers send fewer messages per round; compare the per-message figures.
  For bursts and concurrent workers, "ms per message" is the run's time divided by its
  messages (a throughput), not one message's latency.

## The figures

{summary(by_key, rtt, wire, peaks)}

The 25 MB attachment is 25,000,000 bytes, {wire / 1e6:.1f} MB on the wire (Gmail's SIZE is
35,882,577); "as bytes" hands them over in memory, "as a file path" lets gmail_send read the
file during the measurement. Client CPU is this process's CPU time (server and proxy run in
another), with the messages (fields or `EmailMessage` objects) built before the clock starts.

## Every scenario

{table(rows, rtt)}

## What it shows

- A warm message costs one round trip: `MAIL`, every `RCPT` and `BDAT <size> LAST` go out
  with the body in one write, whatever the number of recipients. aiosmtplib and smtplib wait
  for each command's reply: 4 round trips, plus one per further recipient.
- Sends waiting for a session are streamed: their transactions are written behind each other
  (up to 10 in flight per session) and the replies matched in order, so a burst on one
  session costs a fraction of a round trip per message, and three sessions share a burst.
- A cold send (greeting, EHLO, STARTTLS and its TLS handshake, EHLO, `AUTH PLAIN` in one
  line, the message, QUIT without waiting for its reply) costs about 6.5 round trips; with
  implicit TLS the STARTTLS exchange and the second EHLO are not needed. The proxy accepts
  the TCP connection itself, so the TCP handshake costs nothing here: over a real network
  every cold send, gmail_send's and the baselines' alike, pays one round trip more.
- yagmail logs in again on every send, and fastapi-mail opens a connection per message: what a
  one-shot send costs, and what makes Gmail answer `454 4.7.0 Too many login attempts`.
- A large attachment is kept once, as the bytes on the wire: `send()` writes its base64
  lines straight into them, and `send_message()` splices a ready message's large payloads
  in after flattening the rest (the stdlib's generator would split them into lists of lines).

Re-run with `python benchmarks/run.py`; `--rtt-ms` and `--rounds` change the set-up,
`--no-write` leaves this page alone."""
