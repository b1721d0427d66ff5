"""Benchmark: `import gmail_send` against `import aiosmtplib, google.oauth2.credentials`.

    python benchmarks/import_time.py [--rounds 30] [--no-write]

Each statement runs in a fresh interpreter (`python -c "..."`), timed from start to exit, with
bytecode cached for every module in a temporary PYTHONPYCACHEPREFIX; an empty interpreter
(`python -c pass`) is timed the same way in every round and subtracted, so the figures are the
import alone. All statements alternate, in a rotating order, for `--rounds` rounds after one
unmeasured warm-up round (which also writes the .pyc files). The baseline is the two libraries
gmail_send wraps; besides the bare import, the statements an application that sends with an app
password or with OAuth2 runs are timed too, the latter also against the baseline plus
google-auth's requests transport (what a hand-written sender that refreshes tokens imports).
Then a local Gmail-like server is started here and a fresh interpreter that imports only
gmail_send sends one message to it with an app password and reports whether requests,
google-auth or cryptography were loaded. Results are printed and written into
docs/performance.md as its "Import time" section (the rest of the page is kept). Not part of
the test suite; needs the [testing] extra. Takes about a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from doc_section import replace_section  # noqa: E402

DOC = ROOT / "docs" / "performance.md"
SECTION_START = "<!-- import_time.py: start -->"
SECTION_END = "<!-- import_time.py: end -->"

BARE = "pass"
OURS = "import gmail_send"
BASELINE = "import aiosmtplib, google.oauth2.credentials"
# Not the figure, but what an application that sends pays: with an app password, and
# with OAuth2 (whose refresh needs google-auth's requests transport, which the baseline lacks).
SENDER_NAMES = "from gmail_send import AppPassword, GmailSender"
OAUTH_NAMES = "from gmail_send import GmailSender, OAuth2Credentials"
# The like-for-like baseline of the OAuth2 row: a hand-written sender that refreshes tokens.
BASELINE_WITH_TRANSPORT = f"{BASELINE}, google.auth.transport.requests"
STATEMENTS = (BARE, OURS, SENDER_NAMES, OAUTH_NAMES, BASELINE, BASELINE_WITH_TRANSPORT)
HEAVY = ("requests", "google", "cryptography", "oauthlib", "google_auth_oauthlib")

# The child imports only gmail_send, sends one message, and names the heavy modules it loaded.
SEND_CHILD = """
import asyncio, json, ssl, sys
server = json.loads(sys.argv[1])
from gmail_send import AccountQuotas, AppPassword, GmailSender

async def main():
    context = ssl.create_default_context(cafile=server["ca_file"])
    async with GmailSender(
        AppPassword(server["account"], server["app_password"]),
        host=server["host"], port=server["port"], tls_context=context, quotas=AccountQuotas(),
    ) as gmail:
        result = await gmail.send(to="you@example.com", subject="import time", text="Hi")
    return list(result.accepted)

accepted = asyncio.run(main())
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(server["heavy"]))
print(json.dumps({"accepted": accepted, "heavy": heavy}))
"""


def child_env(pycache: str) -> dict[str, str]:
    """The environment for children: this checkout's gmail_send comes first, and bytecode is
    cached for every module (in `pycache`), as for an installed package, even where
    PYTHONDONTWRITEBYTECODE is set: without it gmail_send would be compiled from source on each
    import while the baseline's packages load their .pyc files."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def run_once(statement: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 - our own interpreter and statements
        [sys.executable, "-c", statement], env=env, check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def measure(rounds: int, env: dict[str, str]) -> dict[str, list[float]]:
    """Import time in ms (run time minus the same round's empty interpreter), per statement."""
    for statement in STATEMENTS:  # warm-up: .pyc files, disk cache
        run_once(statement, env)
    samples: dict[str, list[float]] = {s: [] for s in STATEMENTS}
    for n in range(rounds):
        shift = n % len(STATEMENTS)
        order = STATEMENTS[shift:] + STATEMENTS[:shift]
        times = {statement: run_once(statement, env) for statement in order}
        for statement in STATEMENTS:
            net = times[statement] - (times[BARE] if statement != BARE else 0.0)
            samples[statement].append(net * 1000)
    return samples


def modules_loaded(statement: str, env: dict[str, str]) -> tuple[int, int, list[str]]:
    """What `statement` adds to a fresh interpreter: how many modules, how many of them are
    gmail_send's, and which of the HEAVY packages."""
    probe = (
        "import sys; before = set(sys.modules)\n"
        f"{statement}\n"
        "new = set(sys.modules) - before\n"
        "packages = {name.split('.')[0] for name in new}\n"
        "import json\n"
        "print(json.dumps([len(new), sum(name.split('.')[0] == 'gmail_send' for name in new), "
        f"sorted(packages & set({list(HEAVY)!r}))]))"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], env=env, check=True, capture_output=True, text=True
    )
    total, ours, heavy = json.loads(done.stdout)
    return total, ours, heavy


def self_times(statement: str, env: dict[str, str]) -> dict[str, int]:
    """`python -X importtime`: each module imported by a run -> its own (self) microseconds."""
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-X", "importtime", "-c", statement],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    found = {}
    for line in done.stderr.splitlines():
        fields = line.split("|")
        if line.startswith("import time:") and len(fields) == 3 and "cumulative" not in line:
            found[fields[2].strip()] = int(fields[0].removeprefix("import time:"))
    return found


def time_by_package(
    statement: str, env: dict[str, str], runs: int = 5, count: int = 8
) -> list[str]:
    """Where `statement`'s import time goes: each module's self time (the least of `runs`
    runs), summed by top-level package, largest first, leaving out what the empty interpreter
    imports itself. -X importtime inflates all modules alike, so compare them with each other."""
    startup = self_times(BARE, env)
    least: dict[str, int] = {}
    for _ in range(runs):
        for name, us in self_times(statement, env).items():
            least[name] = min(us, least.get(name, us))
    totals: dict[str, int] = {}
    for name, us in least.items():
        if name not in startup:
            package = name.split(".")[0]
            totals[package] = totals.get(package, 0) + us
    ranked = sorted(totals.items(), key=lambda item: item[1], reverse=True)
    return [f"{package} {us / 1000:.1f} ms" for package, us in ranked[:count]]


def send_with_app_password(env: dict[str, str]) -> dict[str, Any]:
    from gmail_send.testing import LocalGmailThread

    with LocalGmailThread() as gmail:
        server = {
            "host": gmail.host,
            "port": gmail.port,
            "ca_file": str(gmail.ca_file),
            "account": gmail.account,
            "app_password": gmail.app_password,
            "heavy": list(HEAVY),
        }
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-c", SEND_CHILD, json.dumps(server)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
        report["received"] = len(gmail.messages)
    return report


def label(statement: str) -> str:
    return {
        BARE: "empty interpreter (`python -c pass`): its whole run, subtracted below",
        OURS: "`import gmail_send`",
        SENDER_NAMES: "`from gmail_send import AppPassword, GmailSender`",
        OAUTH_NAMES: "`from gmail_send import GmailSender, OAuth2Credentials`",
        BASELINE: "`import aiosmtplib, google.oauth2.credentials` (baseline)",
        BASELINE_WITH_TRANSPORT: "the baseline and `google.auth.transport.requests`",
    }[statement]


Counts = dict[str, tuple[int, int, list[str]]]


def table(samples: dict[str, list[float]], counts: Counts) -> str:
    lines = [
        "| import | min ms | median ms | max ms | modules loaded (gmail_send's) "
        "| of google, requests, cryptography, oauthlib, google_auth_oauthlib |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for statement in STATEMENTS:
        values = samples[statement]
        total, ours, heavy = counts[statement]
        lines.append(
            f"| {label(statement)} | {min(values):.1f} | {statistics.median(values):.1f} "
            f"| {max(values):.1f} | {total} ({ours}) | {', '.join(heavy) or 'none'} |"
        )
    return "\n".join(lines)


def ratio(samples: dict[str, list[float]], statement: str, baseline: str = BASELINE) -> str:
    """Median of `statement` over the baseline's median, e.g. "0.82x" or "0.004x"."""
    value = statistics.median(samples[statement]) / statistics.median(samples[baseline])
    return f"{value:.2f}x" if abs(value) >= 0.1 else f"{value:.3f}x"


def section(
    samples: dict[str, list[float]],
    counts: Counts,
    send: dict[str, Any],
    time_goes: list[str],
    rounds: int,
    took: float,
) -> str:
    import aiosmtplib
    import google.auth

    machine = (
        f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"aiosmtplib {aiosmtplib.__version__}, google-auth {google.auth.__version__}"
    )
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    heavy = send["heavy"]
    sent = (
        "loaded none of requests, google-auth, cryptography, oauthlib or google_auth_oauthlib"
        if not heavy
        else f"loaded {', '.join(heavy)}"
    )
    return f"""{SECTION_START}
## Import time

Measured by `python benchmarks/import_time.py` (not part of the test suite) on this machine
({os.cpu_count()} cores, shared with whatever else ran). Each statement runs in a fresh
interpreter, timed from start to exit, with every module's bytecode cached as in an installed
package; an empty interpreter is timed the same way in each round and subtracted, so the
figures are the import alone (a figure near zero can come out negative). All alternate, in a
rotating order, for {rounds} rounds after one unmeasured warm-up round.

The baseline is `import aiosmtplib, google.oauth2.credentials`: the two libraries gmail_send
wraps, aiosmtplib and google-auth's OAuth2 credentials class, without google-auth's requests
transport, which a sender that refreshes tokens also needs (the last row adds it).
`import gmail_send` loads its names on first use (PEP 562), so by itself it imports neither;
the next two rows are what an application that sends actually imports, with an app password
and with OAuth2.

- Machine: {machine}
- Date: {when}; the run took {took:.0f} s.

{table(samples, counts)}

Ratios of medians to the baseline's:

- **`import gmail_send`: {ratio(samples, OURS)}** (the goal is at most 1.0x).
- `from gmail_send import AppPassword, GmailSender`: {ratio(samples, SENDER_NAMES)}.
- `from gmail_send import GmailSender, OAuth2Credentials`: {ratio(samples, OAUTH_NAMES)}; \
{ratio(samples, OAUTH_NAMES, BASELINE_WITH_TRANSPORT)} of the baseline with the requests \
transport, which it loads too.

An app-password send (a fresh interpreter that imports only gmail_send sends one message to \
the local Gmail-like server) {sent}.

Where the time of `from gmail_send import AppPassword, GmailSender` goes (`python -X \
importtime`: each module's own time, the least of 5 runs, summed by top-level package): \
{"; ".join(time_goes)}.

Re-run with `python benchmarks/import_time.py`; `--rounds` sets the number of rounds,
`--no-write` leaves this page alone.
{SECTION_END}
"""


def write_doc(text: str) -> None:
    replace_section(DOC, SECTION_START, SECTION_END, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gmail-send-pycache-") as pycache:
        env = child_env(pycache)
        samples = measure(args.rounds, env)
        counts = {statement: modules_loaded(statement, env) for statement in STATEMENTS}
        counts[BARE] = modules_loaded("", env)
        time_goes = time_by_package(SENDER_NAMES, env)
        send = send_with_app_password(env)
    took = time.perf_counter() - started
    for statement in STATEMENTS:
        values = samples[statement]
        print(
            f"{statement:76} min {min(values):7.1f}  median {statistics.median(values):7.1f}  "
            f"max {max(values):7.1f} ms  modules {counts[statement][0]}",
            flush=True,
        )
    print(f"ratio of medians, import gmail_send / baseline: {ratio(samples, OURS)}")
    print(f"ratio of medians, {SENDER_NAMES} / baseline: {ratio(samples, SENDER_NAMES)}")
    print(f"ratio of medians, {OAUTH_NAMES} / baseline: {ratio(samples, OAUTH_NAMES)}")
    with_transport = ratio(samples, OAUTH_NAMES, BASELINE_WITH_TRANSPORT)
    print(f"ratio of medians, {OAUTH_NAMES} / baseline with transport: {with_transport}")
    print(f"app-password send: {send}")
    print("where the app-password names' import time goes:", "; ".join(time_goes))
    if not args.no_write:
        write_doc(section(samples, counts, send, time_goes, args.rounds, took))


if __name__ == "__main__":
    main()
