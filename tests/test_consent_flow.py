"""The consent flow end to end: local authorization and token endpoints over https (test CA),
google-auth-oauthlib's real flow, and a scripted browser that follows the redirect."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import queue
import re
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from gmail_send.auth import MAIL_SCOPE
from gmail_send.auth._consent import CONSENT_SCOPES, load_client_config, run_consent_flow
from gmail_send.auth._scopes import SEND_SCOPE
from gmail_send.errors import AuthenticationError, ConfigurationError, TokenError
from gmail_send.testing import LocalTokenEndpoint, TestCertificates


@pytest.fixture
def endpoint(
    certificates: TestCertificates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalTokenEndpoint]:
    # requests (under requests-oauthlib and google-auth) trusts the test CA through this.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificates.ca_pem_path(tmp_path)))
    with LocalTokenEndpoint(certificates=certificates, signed_in_user="me@gmail.com") as server:
        yield server


class ScriptedBrowser:
    """Opens the consent URL like a browser would: GET it and follow the 302 to localhost."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.pages: list[tuple[int, str]] = []

    def open(self, url: str) -> bool:
        thread = threading.Thread(target=self._visit, args=(url,))
        self.threads.append(thread)
        thread.start()
        return True

    def _visit(self, url: str) -> None:
        answer = requests.get(url, timeout=30)
        self.pages.append((answer.status_code, answer.text))

    def land_url(self, url: str) -> str:
        """Where the browser ends up, without going there (for the paste-back path)."""
        answer = requests.get(url, allow_redirects=False, timeout=30)
        assert answer.status_code == 302
        return answer.headers["Location"]

    def close(self) -> None:
        for thread in self.threads:
            thread.join(30)


@pytest.fixture
def browser() -> Iterator[ScriptedBrowser]:
    scripted = ScriptedBrowser()
    yield scripted
    scripted.close()


def auth_url_in(lines: list[str]) -> str:
    for line in lines:
        for word in line.split():
            if "/auth?" in word:
                return word
    raise AssertionError("no authorization URL was shown")


async def test_consent_end_to_end(
    endpoint: LocalTokenEndpoint, browser: ScriptedBrowser, tmp_path: Path
) -> None:
    token_path = tmp_path / "token.json"
    shown: list[str] = []
    credentials = run_consent_flow(
        endpoint.client_config(), token_path, open_url=browser.open, echo=shown.append, timeout=30
    )
    browser.close()
    assert browser.pages == [(200, "gmail-send: sign-in complete. You may close this window.")]
    assert credentials.user == "me@gmail.com"  # learnt from the ID token's email claim
    assert credentials.token_path == str(token_path)
    assert stat.S_IMODE(token_path.stat().st_mode) == 0o600
    stored = json.loads(token_path.read_text())
    assert stored["account"] == "me@gmail.com"
    assert stored["token_uri"] == endpoint.token_uri
    assert set(stored["scopes"]) == set(CONSENT_SCOPES)
    assert endpoint.grant_counts == {"authorization_code": 1}
    for line in shown:
        assert stored["refresh_token"] not in line and stored["token"] not in line

    # The token file works: cached token first, then a real refresh at the same endpoint.
    assert await credentials.get_token() == stored["token"]
    assert await credentials.get_token(force_refresh=True) != stored["token"]
    assert endpoint.refresh_count == 1


async def test_consent_for_the_narrow_send_scope(
    endpoint: LocalTokenEndpoint, browser: ScriptedBrowser, tmp_path: Path
) -> None:
    token_path = tmp_path / "token.json"
    credentials = run_consent_flow(
        endpoint.client_config(),
        token_path,
        open_url=browser.open,
        echo=lambda _: None,
        timeout=30,
        scope="send",
    )
    browser.close()
    stored = json.loads(token_path.read_text())
    assert SEND_SCOPE in stored["scopes"] and MAIL_SCOPE not in stored["scopes"]
    assert credentials.granted_scopes is not None and SEND_SCOPE in credentials.granted_scopes
    assert MAIL_SCOPE not in endpoint.issued_tokens[-1].scope.split()
    await credentials.get_token(force_refresh=True)  # a gmail.send grant refreshes fine
    with pytest.raises(ConfigurationError, match="unknown scope"):
        run_consent_flow(endpoint.client_config(), token_path, scope="everything")


def test_paste_back_without_a_browser(
    endpoint: LocalTokenEndpoint, browser: ScriptedBrowser, tmp_path: Path
) -> None:
    shown: list[str] = []
    pasted: list[str] = []

    def ask(prompt: str) -> str:
        url = auth_url_in(shown)
        landed = browser.land_url(url)
        attempts = [
            "no idea",
            landed.replace("state=", "state=x"),  # another flow's address
            "  " + landed + "\n",
        ]
        answer = attempts[len(pasted)]
        pasted.append(answer)
        return answer

    credentials = run_consent_flow(
        endpoint.client_config(),
        tmp_path / "token.json",
        open_browser=False,
        no_browser_input=ask,
        echo=shown.append,
        timeout=30,
    )
    assert credentials.user == "me@gmail.com"
    assert len(pasted) == 3
    text = "\n".join(shown)
    port = urlsplit(parse_qs(urlsplit(auth_url_in(shown)).query)["redirect_uri"][0]).port
    assert f"ssh -L {port}:localhost:{port}" in text
    assert "paste it here" in text
    assert "not the address of this sign-in" in text


def test_redirect_wins_while_waiting_for_a_paste(
    endpoint: LocalTokenEndpoint, browser: ScriptedBrowser, tmp_path: Path
) -> None:
    shown: list[str] = []
    release = threading.Event()

    def ask(prompt: str) -> str:
        browser.open(auth_url_in(shown))  # the forwarded port carries the redirect
        release.wait(30)
        return ""

    try:
        credentials = run_consent_flow(
            endpoint.client_config(),
            tmp_path / "token.json",
            open_browser=False,
            no_browser_input=ask,
            echo=shown.append,
            timeout=30,
        )
    finally:
        release.set()
    assert credentials.user == "me@gmail.com"


def test_user_given_and_signed_in_as_someone_else(
    endpoint: LocalTokenEndpoint, browser: ScriptedBrowser, tmp_path: Path
) -> None:
    token_path = tmp_path / "token.json"
    with pytest.raises(
        ConfigurationError, match=re.escape("signed in as me@gmail.com, not boss@gmail.com")
    ):
        run_consent_flow(
            endpoint.client_config(),
            token_path,
            user="boss@gmail.com",
            open_url=browser.open,
            echo=lambda _: None,
            timeout=30,
        )
    assert not token_path.exists()
    credentials = run_consent_flow(
        endpoint.client_config(),
        token_path,
        user="Me@gmail.com",
        open_url=browser.open,
        echo=lambda _: None,
        timeout=30,
    )
    assert credentials.user == "Me@gmail.com"


def test_consent_denied(
    endpoint: LocalTokenEndpoint, browser: ScriptedBrowser, tmp_path: Path
) -> None:
    endpoint.book.deny_consent = True
    with pytest.raises(AuthenticationError, match="access_denied"):
        run_consent_flow(
            endpoint.client_config(),
            tmp_path / "token.json",
            open_url=browser.open,
            echo=lambda _: None,
            timeout=30,
        )


def test_gmail_permission_unticked(
    endpoint: LocalTokenEndpoint, browser: ScriptedBrowser, tmp_path: Path
) -> None:
    endpoint.book.withhold_scopes = {MAIL_SCOPE}
    with pytest.raises(TokenError, match=re.escape("lacks the https://mail.google.com/ scope")):
        run_consent_flow(
            endpoint.client_config(),
            tmp_path / "token.json",
            open_url=browser.open,
            echo=lambda _: None,
            timeout=30,
        )
    assert not (tmp_path / "token.json").exists()


def test_no_answer_times_out(endpoint: LocalTokenEndpoint, tmp_path: Path) -> None:
    with pytest.raises(TokenError, match="no answer from the browser"):
        run_consent_flow(
            endpoint.client_config(),
            tmp_path / "token.json",
            open_browser=False,
            echo=lambda _: None,
            timeout=0.3,
        )


def test_busy_port(endpoint: LocalTokenEndpoint, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigurationError, match="choose another port"):
            run_consent_flow(
                endpoint.client_config(),
                tmp_path / "token.json",
                host="127.0.0.1",
                port=port,
                open_browser=False,
                echo=lambda _: None,
                timeout=1,
            )


def test_third_party_loggers_are_held_at_warning(
    endpoint: LocalTokenEndpoint,
    browser: ScriptedBrowser,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # an application that turned on DEBUG everywhere
    chatty = logging.getLogger("requests_oauthlib")
    chatty.setLevel(logging.DEBUG)
    try:
        run_consent_flow(
            endpoint.client_config(),
            tmp_path / "token.json",
            open_url=browser.open,
            echo=lambda _: None,
            timeout=30,
        )
        assert chatty.level == logging.DEBUG  # restored afterwards
    finally:
        chatty.setLevel(logging.NOTSET)
    stored = json.loads((tmp_path / "token.json").read_text())
    for secret in (stored["token"], stored["refresh_token"], stored["client_secret"]):
        assert secret not in caplog.text


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ({"web": {"client_id": "x"}}, "'Web application' OAuth client"),
        ({"refresh_token": "r"}, "token file"),
        ({"type": "service_account"}, "service account key"),
        ({"installed": {"client_id": "x", "client_secret": "s"}}, "lacks auth_uri, token_uri"),
        ([], "not a JSON object"),
    ],
)
def test_client_secrets_of_the_wrong_kind(tmp_path: Path, content: object, words: str) -> None:
    path = tmp_path / "client_secret.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ConfigurationError, match=words) as caught:
        run_consent_flow(path, tmp_path / "token.json", open_browser=False, timeout=1)
    assert caught.value.hint is not None and "Desktop app" in caught.value.hint


def test_client_secrets_missing_or_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "client_secret.json"
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_client_config(path)
    path.write_text('{"installed": ')
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        load_client_config(path)


def test_endpoint_checks_pkce_and_the_client(endpoint: LocalTokenEndpoint) -> None:
    verifier = "v" * 64
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    query = {
        "response_type": "code",
        "client_id": endpoint.client_id,
        "redirect_uri": "http://localhost:1/",
        "scope": " ".join(CONSENT_SCOPES),
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }

    def code() -> str:
        answer = requests.get(endpoint.auth_uri, params=query, allow_redirects=False, timeout=10)
        assert answer.status_code == 302
        return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]

    def exchange(code: str, verifier: str) -> requests.Response:
        return requests.post(
            endpoint.token_uri,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": verifier,
                "redirect_uri": "http://localhost:1/",
            },
            auth=(endpoint.client_id, endpoint.client_secret),
            timeout=10,
        )

    refused = exchange(code(), "w" * 64)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    first = code()
    accepted = exchange(first, verifier)
    assert accepted.status_code == 200
    assert {"access_token", "refresh_token", "id_token", "scope"} <= accepted.json().keys()
    assert exchange(first, verifier).status_code == 400  # a code works once
    wrong_client = requests.get(
        endpoint.auth_uri,
        params={**query, "client_id": "nobody"},
        allow_redirects=False,
        timeout=10,
    )
    assert wrong_client.status_code == 401
    web_redirect = requests.get(
        endpoint.auth_uri,
        params={**query, "redirect_uri": "https://example.com/cb"},
        allow_redirects=False,
        timeout=10,
    )
    assert web_redirect.status_code == 400
    assert os.environ["REQUESTS_CA_BUNDLE"]  # https with the test CA, never verify=False


# A process like `gmail-send auth --no-browser`: stdin is read with read_pasted_line.
CLI_LIKE = """
import os, sys, threading, tempfile, requests
from gmail_send.auth import read_pasted_line, run_consent_flow
from gmail_send.testing import TestCertificates
from gmail_send.testing import LocalTokenEndpoint

certificates = TestCertificates()
folder = tempfile.mkdtemp()
os.environ["REQUESTS_CA_BUNDLE"] = str(certificates.ca_pem_path(folder))
print("CA", os.environ["REQUESTS_CA_BUNDLE"], flush=True)
follow = sys.argv[1] == "redirect"

def echo(text):
    print(text, flush=True)
    for word in text.split():
        if follow and "/auth?" in word:  # a browser reaching us through the port forward
            threading.Thread(target=requests.get, args=(word,), kwargs={"timeout": 30}).start()

with LocalTokenEndpoint(certificates=certificates) as endpoint:
    credentials = run_consent_flow(
        endpoint.client_config(), os.path.join(folder, "token.json"), open_browser=False,
        no_browser_input=read_pasted_line, echo=echo, timeout=30,
    )
print("SIGNED IN AS", credentials.user, flush=True)
"""


def _start_cli_like(mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CLI_LIKE, mode],
        cwd=Path(__file__).parent.parent,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_cli_like_process_exits_cleanly_when_the_redirect_wins(tmp_path: Path) -> None:
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", CLI_LIKE, "redirect"],
            cwd=Path(__file__).parent.parent,
            stdin=subprocess.PIPE,  # stays open: nothing is ever pasted, no EOF either
            stdout=stdout,
            stderr=stderr,
        )
        try:
            process.wait(timeout=60)
        finally:
            process.kill()
            assert process.stdin is not None
            process.stdin.close()
    assert "Fatal Python error" not in err.read_text()
    assert process.returncode == 0, err.read_text()
    assert "SIGNED IN AS me@gmail.com" in out.read_text()


def test_cli_like_process_takes_the_pasted_address_from_stdin() -> None:
    process = _start_cli_like("paste")
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None and process.stdin is not None
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout])
    reader.start()
    try:
        ca = lines.get(timeout=60).split()[1]  # the child's test CA, to trust its https
        url = ""
        while not url:
            url = next((w for w in lines.get(timeout=60).split() if "/auth?" in w), "")
        answer = requests.get(url, allow_redirects=False, timeout=30, verify=ca)
        landed = answer.headers["Location"]
        process.stdin.write(landed + "\n")
        process.stdin.flush()
        process.wait(timeout=60)
    finally:
        process.kill()
        reader.join(10)
    seen = []
    while not lines.empty():
        seen.append(lines.get())
    assert process.returncode == 0
    assert any("SIGNED IN AS me@gmail.com" in line for line in seen)
