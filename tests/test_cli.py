"""The gmail-send command, run as a real subprocess."""

from __future__ import annotations

import json
import os
import queue
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import requests

from gmail_send.testing import LocalTokenEndpoint, TestCertificates

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gmail_send", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_demo_sends_end_to_end() -> None:
    done = run_cli("demo")
    assert done.returncode == 0, done.stderr
    assert "refreshed 1 time(s)" in done.stdout
    assert "via xoauth2" in done.stdout
    assert "Bcc header present: False" in done.stdout
    assert "Subject: Hello from gmail_send / ご注文ありがとうございます" in done.stdout


def test_demo_through_the_gmail_api() -> None:
    done = run_cli("demo", "--transport", "api")
    assert done.returncode == 0, done.stderr
    assert "refreshed 1 time(s)" in done.stdout
    assert "through the Gmail API, Gmail id" in done.stdout
    assert "recipient audit@example.com (from To, Cc and Bcc)" in done.stdout
    assert "Bcc header present: False" in done.stdout


def test_auth_takes_a_scope(tmp_path: Path) -> None:
    done = run_cli("auth", "--help")
    assert "--scope {mail,send}" in done.stdout
    wrong = run_cli(
        "auth", "--client-secrets", "x.json", "--token", "t.json", "--scope", "everything"
    )
    assert wrong.returncode == 2
    assert "invalid choice: 'everything'" in wrong.stderr


def test_demo_with_web_serves_the_inbox_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "gmail_send", "demo", "--web", "--seconds", "120"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:  # the demo prints the address once the message is in
            lines.append(line)
            if line.startswith("inbox in the browser: "):
                break
        url = lines[-1].split()[4]
        assert url.startswith("http://127.0.0.1:"), lines
        listed = requests.get(url + "api/messages", timeout=10).json()
        assert sorted(m["subject"] for m in listed) == [
            "Cut after storing",  # the demo's reconciliation: one found in Sent Mail
            "Cut before storing",  # and one not found, sent again
            "Hello from gmail_send / ご注文ありがとうございます",
        ]
        assert requests.get(url, timeout=10).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    assert code == 0


def test_help_lists_commands() -> None:
    done = run_cli("--help")
    assert done.returncode == 0
    assert "demo" in done.stdout
    assert "auth" in done.stdout


def test_auth_missing_client_secrets(tmp_path: Path) -> None:
    done = run_cli(
        "auth",
        "--client-secrets",
        str(tmp_path / "nope.json"),
        "--token",
        str(tmp_path / "token.json"),
        "--no-browser",
    )
    assert done.returncode == 1
    assert "nope.json" in done.stderr
    assert "Traceback" not in done.stderr


def test_auth_with_an_http_endpoint_is_a_clear_error(tmp_path: Path) -> None:
    secrets = tmp_path / "client_secret.json"
    client = {
        "client_id": "id.apps.googleusercontent.com",
        "client_secret": "secret",
        "auth_uri": "http://127.0.0.1:9/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    secrets.write_text(json.dumps({"installed": client}))
    done = run_cli(
        "auth",
        "--client-secrets",
        str(secrets),
        "--token",
        str(tmp_path / "t.json"),
        "--no-browser",
    )
    assert done.returncode == 1
    assert "auth_uri that is not https: 'http://127.0.0.1:9/auth'" in done.stderr
    assert "Traceback" not in done.stderr
    assert "InsecureTransport" not in done.stderr
    assert not (tmp_path / "t.json").exists()


def test_auth_no_browser_paste_back(certificates: TestCertificates, tmp_path: Path) -> None:
    ca = certificates.ca_pem_path(tmp_path)
    env = {**os.environ, "REQUESTS_CA_BUNDLE": str(ca)}
    with LocalTokenEndpoint(certificates=certificates, signed_in_user="me@gmail.com") as endpoint:
        secrets_file = tmp_path / "client_secret.json"
        endpoint.write_client_secrets(secrets_file)
        token = tmp_path / "token.json"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gmail_send",
                "auth",
                "--client-secrets",
                str(secrets_file),
                "--token",
                str(token),
                "--no-browser",
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None and process.stdin is not None
        reader = threading.Thread(target=lambda: [lines.put(x) for x in process.stdout])
        reader.start()
        try:
            url = ""
            while not url:
                url = next((w for w in lines.get(timeout=60).split() if "/auth?" in w), "")
            # The user's own browser, elsewhere: it lands on a localhost address it cannot load.
            answer = requests.get(url, allow_redirects=False, timeout=30, verify=str(ca))
            process.stdin.write(answer.headers["Location"] + "\n")
            process.stdin.flush()
            process.wait(timeout=60)
        finally:
            process.kill()
            reader.join(10)
    output = []
    while not lines.empty():
        output.append(lines.get())
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    assert any(f"token for me@gmail.com written to {token}" in line for line in output)
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    saved = json.loads(token.read_text())
    assert saved["account"] == "me@gmail.com"
    assert saved["refresh_token"]
