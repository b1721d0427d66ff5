"""Benchmark: 1,000 messages rendered from templates and sent, against the same 1,000 without.

    python benchmarks/templates.py [--messages 1000] [--rounds 5] [--no-write]

A local Gmail-like server (gmail_send.testing, STARTTLS, PIPELINING) runs in a child process.
One `GmailSender` (3 pooled sessions, no rate or daily limit) sends each batch with 10 sends in
flight. "templated" sends `template="welcome"` with a context per message (Jinja2 renders the
subject and the HTML, the text part is derived from it, composing runs in a worker thread);
"plain" sends the same subject, text and HTML as ready strings. The two alternate, the first
one swapped every round, for `--rounds` rounds after one unmeasured warm-up batch each.
Messages per second (min, median, max over the rounds) are printed and written into
docs/performance.md as its "Templates" section. Not part of the test suite; needs the
[testing] and [templates] extras. Takes about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gmail_send import (  # noqa: E402
    AccountQuotas,
    AppPassword,
    GmailSender,
    SendingLimits,
    Templates,
)
from gmail_send.message._html_text import html_to_text  # noqa: E402

ACCOUNT = "bench@gmail.com"
PASSWORD = "abcdefghijklmnop"  # noqa: S105 - the local test server's app password
from doc_section import replace_section  # noqa: E402

DOC = ROOT / "docs" / "performance.md"
SECTION_START = "<!-- templates.py: start -->"
SECTION_END = "<!-- templates.py: end -->"
IN_FLIGHT = 10

SUBJECT = "Welcome to {{ shop }}, {{ name }}"
HTML = """<!doctype html>
<html><body>
<h1>Welcome, {{ name }}!</h1>
<p>Thank you for joining {{ shop }}. Your plan: <b>{{ plan }}</b>.</p>
<ul>{% for item in items %}<li>{{ item }}</li>{% endfor %}</ul>
<p><a href="https://shop.example/account/{{ number }}">Your account</a></p>
</body></html>
"""


def serve(pipe: Any) -> None:
    """Child process: the local Gmail, until terminated."""
    from gmail_send.testing import LocalAccount, LocalGmail

    async def main() -> None:
        server = LocalGmail(
            accounts=[LocalAccount(ACCOUNT, app_password=PASSWORD)], pipelining=True
        )
        await server.start()
        pem = server.certificates.ca_pem_path(Path(tempfile.mkdtemp()))
        pipe.send((server.port, str(pem)))
        await asyncio.Event().wait()  # until the parent terminates this process

    asyncio.run(main())


def context(number: int) -> dict[str, Any]:
    return {
        "shop": "Example Shop",
        "name": f"Person {number} <&>",
        "plan": ["Free", "Pro", "Team"][number % 3],
        "items": ["tea", "cups", f"order {number}"],
        "number": number,
    }


def plain_fields(number: int) -> dict[str, Any]:
    """What the template renders for `number`, as ready strings (built with Jinja2 once here,
    outside the timing)."""
    import jinja2

    environment = jinja2.Environment(autoescape=True)
    values = context(number)
    html = environment.from_string(HTML).render(values)
    subject = jinja2.Environment(autoescape=False).from_string(SUBJECT).render(values)  # noqa: S701
    return {"subject": subject, "html": html, "text": html_to_text(html)}


async def batch(send: Callable[[int], Coroutine[Any, Any, Any]], count: int) -> float:
    """Messages per second for `count` sends with IN_FLIGHT at a time."""
    numbers = iter(range(count))

    async def worker() -> None:
        for number in numbers:
            await send(number)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return count / (time.perf_counter() - started)


async def measure(port: int, ca_file: str, args: argparse.Namespace) -> dict[str, list[float]]:
    folder = Path(tempfile.mkdtemp())
    (folder / "welcome.subject.txt").write_text(SUBJECT + "\n", encoding="utf-8")
    (folder / "welcome.html").write_text(HTML, encoding="utf-8")
    plain = [plain_fields(n) for n in range(args.messages)]
    gmail = GmailSender(
        AppPassword(ACCOUNT, PASSWORD),
        host="127.0.0.1",
        port=port,
        ca_file=ca_file,
        templates=Templates(folder),
        limits=SendingLimits(daily_limit=None, quotas=AccountQuotas()),
    )

    async def templated(number: int) -> None:
        await gmail.send(to=f"p{number}@example.com", template="welcome", context=context(number))

    async def ready(number: int) -> None:
        await gmail.send(to=f"p{number}@example.com", **plain[number])

    kinds = {"templated": templated, "plain": ready}
    results: dict[str, list[float]] = {name: [] for name in kinds}
    async with gmail:
        for send in kinds.values():  # warm-up: sessions open, templates compiled
            await batch(send, min(args.messages, 100))
        for round_number in range(args.rounds):
            order = list(kinds) if round_number % 2 == 0 else list(reversed(kinds))
            for name in order:
                results[name].append(await batch(kinds[name], args.messages))
                print(f"round {round_number + 1} {name}: {results[name][-1]:.0f} msg/s")
    return results


def section(results: dict[str, list[float]], args: argparse.Namespace, took: float) -> str:
    rows = []
    labels = {
        "templated": "rendered from templates (`template=`, `context=`)",
        "plain": "the same messages as ready strings (`subject=`, `text=`, `html=`)",
    }
    for name, label in labels.items():
        values = results[name]
        low, middle, high = min(values), statistics.median(values), max(values)
        rows.append(f"| {label} | {low:.0f} | {middle:.0f} | {high:.0f} |")
    ratio = statistics.median(results["templated"]) / statistics.median(results["plain"])
    import jinja2

    machine = (
        f"{platform.platform()}, Python {platform.python_version()}, "
        f"{multiprocessing.cpu_count()} CPUs, Jinja2 {jinja2.__version__}"
    )
    return f"""{SECTION_START}
## Templates

Measured by `python benchmarks/templates.py` (not part of the test suite) on this machine
(2 cores, shared with whatever else ran, so rounds vary widely): {args.messages:,} messages
to the local Gmail-like server (a child process, STARTTLS, PIPELINING, no added latency)
through one `GmailSender` with 3 pooled sessions and {IN_FLIGHT} sends in flight.
Templated messages render a subject and an HTML body with a loop (Jinja2), derive the text
part from the HTML and compose in a worker thread; the plain ones send the same subject, text
and HTML as ready strings. The two alternate, the first swapped every round, for
{args.rounds} rounds after a warm-up batch each; messages per second, higher is better.

- Machine: {machine}
- Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; the run took {took:.0f} s.

| {args.messages:,} messages | min msg/s | median msg/s | max msg/s |
|---|---:|---:|---:|
{chr(10).join(rows)}

Templated sending runs at **{ratio:.2f}x** the plain rate (ratio of medians). This server
answers at once; against Gmail each message also waits for network round trips (see above),
so the same rendering cost is a smaller share of a real send.

Re-run with `python benchmarks/templates.py`; `--messages` and `--rounds` change the set-up,
`--no-write` leaves this page alone.
{SECTION_END}"""


def write_doc(text: str) -> None:
    replace_section(DOC, SECTION_START, SECTION_END, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(child,), daemon=True)
    server.start()
    try:
        port, ca_file = parent.recv()
        results = asyncio.run(measure(port, ca_file, args))
    finally:
        server.terminate()
        server.join(10)
    text = section(results, args, time.perf_counter() - started)
    print(text)
    if not args.no_write:
        write_doc(text)


if __name__ == "__main__":
    main()
