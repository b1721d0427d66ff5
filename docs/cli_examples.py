"""Regenerate the example output in docs/cli.md by running gmail-send against local servers.

    python docs/cli_examples.py           # rewrite the blocks in docs/cli.md
    python docs/cli_examples.py --check   # exit 1 if docs/cli.md is out of date (a test runs it)

Each example runs the real command (`gmail_send.cli.main`) against the bundled local Gmail, a
local OAuth2 token endpoint and a local DNS server. What changes from run to run (ports,
Message-IDs, temporary paths, timings) is replaced by fixed stand-ins so the page is stable.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "cli.md"
sys.path.insert(0, str(ROOT))

from gmail_send import AppPassword, GmailSender, MailQueue  # noqa: E402
from gmail_send.cli import main  # noqa: E402
from gmail_send.testing import (  # noqa: E402
    LocalAccount,
    LocalGmail,
    LocalGmailAPI,
    LocalTokenEndpoint,
    TestCertificates,
)
from tests.local_dns import LocalDNS  # noqa: E402

ACCOUNT = "me@gmail.com"
APP_PASSWORD = "abcdefghijklmnop"  # noqa: S105 - the local server's test account
SHOWN_PASSWORD = "abcd efgh ijkl mnop"  # noqa: S105 - as Google displays it
DOMAIN_OK = {
    "example.com": ["v=spf1 include:_spf.google.com ~all"],
    "google._domainkey.example.com": ["v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A"],
    "_dmarc.example.com": ["v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"],
}
DOMAIN_BARE = {"example.org": ["google-site-verification=abc123"]}


class Examples:
    """Runs commands and collects their normalized output into named blocks."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.blocks: dict[str, str] = {}
        self.replacements: list[tuple[str, str]] = [(str(tmp), "/home/me")]

    def stand_in(self, real: int, shown: int) -> None:
        self.replacements.append((str(real), str(shown)))

    def normalize(self, text: str) -> str:
        for real, shown in self.replacements:
            if real.isdigit():
                text = re.sub(rf"(?<![\d.]){real}(?!\d)", shown, text)
            else:
                text = text.replace(real, shown)
        text = re.sub(
            r"<\d+\.\d+\.\d+@gmail\.com>", "<173912345678.4242.1234567890@gmail.com>", text
        )
        text = re.sub(
            r"OK \d+ [0-9a-f]+\.\d+ - gsmtp", "OK 1739123456 a1b2c3d4e5f6.1 - gsmtp", text
        )
        text = re.sub(r"in \d+\.\d+ s", "in 0.05 s", text)
        text = re.sub(
            r"valid until \d{4}-\d\d-\d\d \d\d:\d\d UTC", "valid until 2025-02-10 13:00 UTC", text
        )
        text = re.sub(r"ESMTP [0-9a-f]{16} - gsmtp", "ESMTP 5d2a1c3b4e6f7a8b - gsmtp", text)
        text = re.sub(r"Gmail id [0-9a-f]{16}", "Gmail id 1a2b3c4d5e6f7081", text)

        text = re.sub(
            r"<merge\.[0-9a-f]+\.[0-9a-f]+@gmail\.com>",
            "<merge.5f1e2d3c4b5a6978.0a1b2c3d4e5f60718293a4b5@gmail.com>",
            text,
        )
        return re.sub(r'"refresh_seconds": [\d.]+', '"refresh_seconds": 0.05', text)

    async def run(
        self,
        name: str,
        shown: str,
        argv: list[str],
        env: dict[str, str],
        *,
        stdin: str = "",
    ) -> None:
        out = io.StringIO()

        def call() -> int:
            old_stdin = sys.stdin
            sys.stdin = io.StringIO(stdin)
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                    return main(argv, environ=env)
            finally:
                sys.stdin = old_stdin

        code = await asyncio.to_thread(call)
        text = f"$ {shown}\n{out.getvalue()}"
        if code:
            text += f"$ echo $?\n{code}\n"
        self.blocks[name] = self.normalize(text)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def collect(tmp: Path) -> dict[str, str]:
    """Run every example; block name -> normalized transcript."""
    ex = Examples(tmp)
    certificates = TestCertificates()
    ca = certificates.ca_pem_path(tmp)
    account = LocalAccount(ACCOUNT, app_password=APP_PASSWORD, password="correct horse")  # noqa: S106
    env = {
        "GMAIL_SEND_USER": ACCOUNT,
        "GMAIL_SEND_APP_PASSWORD": APP_PASSWORD,
        "GMAIL_SEND_CA_FILE": str(ca),
    }
    shown_env = f"GMAIL_SEND_USER={ACCOUNT} GMAIL_SEND_APP_PASSWORD='{SHOWN_PASSWORD}'"
    async with (
        LocalGmail(accounts=[account], certificates=certificates) as gmail,
        LocalGmail(accounts=[account], certificates=certificates, security="tls") as tls,
        LocalTokenEndpoint(gmail=gmail, signed_in_user=ACCOUNT, exclusive=False) as endpoint,
        LocalGmailAPI(gmail) as api,
    ):
        ex.stand_in(api.port, 8443)
        ex.stand_in(gmail.port, 2587)
        ex.stand_in(tls.port, 2465)
        ex.stand_in(endpoint.port, 8080)
        closed = _closed_port()
        ex.stand_in(closed, 2525)
        ex.stand_in(gmail.imap_port, 2993)
        local = ["--host", "127.0.0.1", "--port", str(gmail.port)]
        shown_local = "--host 127.0.0.1 --port 2587"
        imap = ["--imap-host", "127.0.0.1", "--imap-port", str(gmail.imap_port)]
        shown_doctor = f"{shown_local} --imap-host 127.0.0.1 --imap-port 2993"
        doctor_local = [*local, *imap]
        with LocalDNS({**DOMAIN_OK, **DOMAIN_BARE}) as dns_server:
            ns = dns_server.nameserver
            ex.replacements.append((ns, "127.0.0.1:5353"))
            await ex.run(
                "doctor-pass",
                f"{shown_env} GMAIL_SEND_CA_FILE=ca.pem gmail-send doctor {shown_doctor} "
                "--domain example.com --nameserver 127.0.0.1:5353 --send-test you@example.com",
                [
                    *_doctor(doctor_local),
                    "--domain",
                    "example.com",
                    "--nameserver",
                    ns,
                    "--send-test",
                    "you@example.com",
                ],
                env,
            )
            await ex.run(
                "doctor-domain",
                f"{shown_env} GMAIL_SEND_CA_FILE=ca.pem gmail-send doctor {shown_doctor} "
                "--domain example.org --nameserver 127.0.0.1:5353",
                [*_doctor(doctor_local), "--domain", "example.org", "--nameserver", ns],
                env,
            )
        await ex.run(
            "doctor-port",
            f"{shown_env} GMAIL_SEND_CA_FILE=ca.pem gmail-send doctor --host 127.0.0.1 "
            "--port 2525 --other-port 2465",
            ["doctor", "--host", "127.0.0.1", "--port", str(closed), "--other-port", str(tls.port)],
            env,
        )
        no_ca = {k: v for k, v in env.items() if k != "GMAIL_SEND_CA_FILE"}
        await ex.run(
            "doctor-certificate",
            f"{shown_env} gmail-send doctor {shown_doctor}",
            _doctor(doctor_local),
            no_ca,
        )
        await ex.run(
            "doctor-password",
            f"GMAIL_SEND_USER={ACCOUNT} GMAIL_SEND_APP_PASSWORD='wxyz wxyz wxyz wxyz' "
            f"GMAIL_SEND_CA_FILE=ca.pem gmail-send doctor {shown_doctor}",
            _doctor(doctor_local),
            {**env, "GMAIL_SEND_APP_PASSWORD": "wxyzwxyzwxyzwxyz"},
        )
        token = tmp / "token.json"
        endpoint.issue_token_file(token, scopes=("https://www.googleapis.com/auth/gmail.send",))
        token_env = {"GMAIL_SEND_TOKEN_FILE": str(token), "GMAIL_SEND_CA_FILE": str(ca)}
        await ex.run(
            "doctor-scope",
            f"GMAIL_SEND_TOKEN_FILE=token.json GMAIL_SEND_CA_FILE=ca.pem gmail-send doctor "
            f"{shown_doctor}",
            _doctor(doctor_local),
            token_env,
        )
        await ex.run(
            "doctor-api",
            "GMAIL_SEND_TOKEN_FILE=token.json GMAIL_SEND_CA_FILE=ca.pem gmail-send doctor "
            "--transport api --api-url https://127.0.0.1:8443 --send-test you@example.com",
            [
                "doctor",
                "--transport",
                "api",
                "--api-url",
                api.url,
                "--send-test",
                "you@example.com",
            ],
            token_env,
        )
        ex.replacements.append((str(token), "token.json"))
        await ex.run(
            "doctor-json",
            f"{shown_env} GMAIL_SEND_CA_FILE=ca.pem gmail-send doctor --host 127.0.0.1 "
            "--port 2525 --other-port 2465 --json",
            [
                "doctor",
                "--host",
                "127.0.0.1",
                "--port",
                str(closed),
                "--other-port",
                str(tls.port),
                "--json",
            ],
            env,
        )
        await ex.run(
            "send",
            f"echo 'The report is attached.' | {shown_env} GMAIL_SEND_CA_FILE=ca.pem "
            f"gmail-send send {shown_local} --to you@example.com --subject 'Weekly report'",
            ["send", *local, "--to", "you@example.com", "--subject", "Weekly report"],
            env,
            stdin="The report is attached.\n",
        )
        recipients = tmp / "recipients.txt"
        recipients.write_text(
            "# newsletter\nann@example.com\nBob <gone@example.com>\ncarol@example.com\n",
            encoding="utf-8",
        )
        gmail.inject(
            "rcpt",
            (550, "5.1.1 The email account that you tried to reach does not exist."),
            recipient="gone@example.com",
        )
        await ex.run(
            "send-file",
            f"{shown_env} GMAIL_SEND_CA_FILE=ca.pem gmail-send send {shown_local} "
            "--to-file recipients.txt --subject News --text 'Hello!'",
            ["send", *local, "--to-file", str(recipients), "--subject", "News", "--text", "Hello!"],
            env,
        )
        await _merge_examples(ex, tmp, local, shown_local, env, shown_env)
        await _queue_examples(ex, gmail, tmp, certificates)
    await ex.run("demo", "gmail-send demo", ["demo"], {})
    ex.blocks["demo"] = _normalize_demo(ex.blocks["demo"])
    await ex.run("demo-api", "gmail-send demo --transport api", ["demo", "--transport", "api"], {})
    ex.blocks["demo-api"] = _normalize_demo(ex.blocks["demo-api"])
    web_client = tmp / "client_secret.json"
    web_client.write_text(
        '{"web": {"client_id": "x", "client_secret": "y", '
        '"auth_uri": "https://accounts.google.com/o/oauth2/auth", '
        '"token_uri": "https://oauth2.googleapis.com/token"}}'
    )
    await ex.run(
        "auth-web-client",
        "gmail-send auth --client-secrets client_secret.json --token token.json --no-browser",
        [
            "auth",
            "--client-secrets",
            str(web_client),
            "--token",
            str(tmp / "token.json"),
            "--no-browser",
        ],
        {},
    )
    return ex.blocks


async def _queue_examples(
    ex: Examples, gmail: LocalGmail, tmp: Path, certificates: TestCertificates
) -> None:
    """A queue with a sent, a failed and a waiting mail, for `gmail-send queue`."""
    url = f"sqlite:///{tmp / 'queue.db'}"
    ex.replacements.append((url, "sqlite:////var/lib/myapp/queue.db"))
    async with MailQueue(url, account=ACCOUNT) as queue:
        await queue.enqueue(to="ann@example.com", subject="Receipt 1041", text="Thanks!")
        await queue.enqueue(to="gone@example.com", subject="Receipt 1042", text="Thanks!")
        gmail.inject(
            "rcpt",
            (550, "5.1.1 The email account that you tried to reach does not exist."),
            recipient="gone@example.com",
        )
        async with GmailSender(
            AppPassword(ACCOUNT, APP_PASSWORD),
            host=gmail.host,
            port=gmail.port,
            tls_context=certificates.client_context(),
        ) as sender:
            await queue.work(sender, until_empty=True)
        await queue.enqueue(to="carol@example.com", subject="Receipt 1043", text="Thanks!")
    env = {"GMAIL_SEND_QUEUE": url}
    shown = "GMAIL_SEND_QUEUE=sqlite:////var/lib/myapp/queue.db"
    await ex.run("queue-status", f"{shown} gmail-send queue status", ["queue", "status"], env)
    await ex.run("queue-list", f"{shown} gmail-send queue list", ["queue", "list"], env)
    for name in ("queue-status", "queue-list"):
        ex.blocks[name] = _normalize_queue(ex.blocks[name])


def _normalize_queue(text: str) -> str:
    """Mail ids (made from the time) and times vary per run."""
    ids: dict[str, str] = {}

    def stand_in(match: re.Match[str]) -> str:
        return ids.setdefault(match.group(0), f"0194f1c3a2b5{len(ids) + 1:020x}")

    text = re.sub(r"\b[0-9a-f]{32}\b", stand_in, text)
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "2025-02-10 12:00:00", text)
    return re.sub(r"<\d+\.\d+\.\d+@gmail\.com>", "<173912345678.4242.1234567890@gmail.com>", text)


async def _merge_examples(
    ex: Examples, tmp: Path, local: list[str], shown_local: str, env: dict[str, str], shown: str
) -> None:
    templates = tmp / "templates"
    templates.mkdir()
    (templates / "welcome.subject.txt").write_text("Welcome, {{ name }}\n", encoding="utf-8")
    (templates / "welcome.html").write_text(
        "<p>Hello {{ name }}, your plan is <b>{{ plan }}</b>.</p>\n", encoding="utf-8"
    )
    people = tmp / "people.jsonl"
    people.write_text(
        '{"email": "ada@example.com", "name": "Ada", "plan": "Pro"}\n'
        '{"email": "bob at example.com", "name": "Bob", "plan": "Free"}\n'
        '{"email": "chen@example.com", "name": "Chen"}\n',
        encoding="utf-8",
    )
    merge_env = {**env, "GMAIL_SEND_TEMPLATES": str(templates)}
    shown_env = f"{shown} GMAIL_SEND_CA_FILE=ca.pem GMAIL_SEND_TEMPLATES=templates"
    shown_merge = f"gmail-send send {shown_local} --merge people.csv --template welcome"
    await ex.run(
        "merge-dry-run",
        f"{shown_env} gmail-send send --merge people.jsonl --template welcome --dry-run",
        ["send", "--merge", str(people), "--template", "welcome", "--dry-run"],
        merge_env,
    )
    people = tmp / "people.csv"
    merge = ["send", *local, "--merge", str(people), "--template", "welcome"]
    people.write_text(
        "email,name,plan\nada@example.com,Ada,Pro\nbob@example.com,Bob,Free\n",
        encoding="utf-8",
    )
    journal = tmp / "people.journal"
    resume = [*merge, "--resume", str(journal)]
    await ex.run(
        "merge-resume",
        f"{shown_env} {shown_merge} --resume people.journal",
        resume,
        merge_env,
    )
    people.write_text(
        "email,name,plan\nada@example.com,Ada,Pro\nbob@example.com,Bob,Free\n"
        "chen@example.com,Chen,Team\n",
        encoding="utf-8",
    )
    first = ex.blocks["merge-resume"]
    await ex.run(
        "merge-resume",
        f"{shown_env} {shown_merge} --resume people.journal --json",
        [*resume, "--json"],
        merge_env,
    )
    ex.blocks["merge-resume"] = first + ex.blocks["merge-resume"]


def _normalize_demo(text: str) -> str:
    """The demo starts its own servers: their ports, the Date and the size vary per run."""
    text = re.sub(r"listening on 127\.0\.0\.1:\d+", "listening on 127.0.0.1:2587", text)
    text = re.sub(r"http://127\.0\.0\.1:\d+/token", "http://127.0.0.1:8080/token", text)
    text = re.sub(r"https://127\.0\.0\.1:\d+", "https://127.0.0.1:8443", text)
    text = re.sub(r"Gmail id [0-9a-f]{16}", "Gmail id 1a2b3c4d5e6f7081", text)
    text = re.sub(r"Date: .*", "Date: Mon, 10 Feb 2025 12:00:00 +0000", text)
    return re.sub(r"[\d,]+ bytes, signed in", "1,203 bytes, signed in", text)


def _doctor(local: list[str]) -> list[str]:
    return ["doctor", *local]


def render(page: str, blocks: dict[str, str]) -> str:
    """`page` with each `<!-- example:NAME -->` fenced block replaced by the new output."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in blocks:
            raise KeyError(f"docs/cli.md names an unknown example {name!r}")
        return f"<!-- example:{name} -->\n```console\n{blocks[name]}```"

    return re.sub(r"<!-- example:([\w-]+) -->\n```console\n.*?```", replace, page, flags=re.DOTALL)


def generate() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        blocks = asyncio.run(collect(Path(tmp)))
    return render(PAGE.read_text(encoding="utf-8"), blocks)


def run(argv: list[str], write: Callable[[str], object] = print) -> int:
    new = generate()
    if "--check" in argv:
        if new != PAGE.read_text(encoding="utf-8"):
            write("docs/cli.md is out of date: run python docs/cli_examples.py")
            return 1
        return 0
    PAGE.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
