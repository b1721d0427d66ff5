"""`import gmail_send` and an app-password send stay clear of google-auth, requests, cryptography.

Each check runs in a fresh interpreter (this one has imported everything long ago). The child
imports only gmail_send: the local Gmail (whose test CA needs trustme and cryptography) runs here,
in the parent, and the child gets its address, account and CA file on the command line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import gmail_send
from gmail_send.testing import LocalGmailThread, TestCertificates

# What an application that signs in with an app password must never pay for.
HEAVY = (
    "google.auth.transport.requests",
    "requests",
    "cryptography",
    "oauthlib",
    "google_auth_oauthlib",
    "jinja2",
    "markupsafe",
)

# Prints which of the given top-level names (or their submodules) are loaded after each step.
CHILD = """
import asyncio, json, ssl, sys

watched = tuple(json.loads(sys.argv[1]))
server = json.loads(sys.argv[2])

def loaded():
    return sorted(
        name for name in sys.modules if any(name == w or name.startswith(w + ".") for w in watched)
    )

report = {"at_start": loaded()}
import gmail_send
report["after_import"] = loaded()
report["own_modules"] = sorted(name for name in sys.modules if name.startswith("gmail_send"))

if server:
    from gmail_send import AccountQuotas, GmailSender, SendingLimits, from_env

    async def main():
        settings = from_env(
            {
                "GMAIL_SEND_USER": server["account"],
                "GMAIL_SEND_APP_PASSWORD": server["app_password"],
                "GMAIL_SEND_HOST": server["host"],
                "GMAIL_SEND_PORT": str(server["port"]),
                "GMAIL_SEND_CA_FILE": server["ca_file"],
            }
        )
        async with GmailSender(**settings, limits=SendingLimits(quotas=AccountQuotas())) as gmail:
            result = await gmail.send(
                to="you@example.com", subject="lazy imports", text="Sent by a fresh interpreter."
            )
        return list(result.accepted), result.auth_method

    report["accepted"], report["auth_method"] = asyncio.run(main())
    report["after_send"] = loaded()

print(json.dumps(report))
"""

RESOLVE_ALL = """
import gmail_send, json, sys

before = set(sys.modules)
listed = set(dir(gmail_send))
resolved = {name: type(getattr(gmail_send, name)).__name__ for name in gmail_send.__all__}
star = {}
exec("from gmail_send import *", star)
try:
    gmail_send.no_such_name
    missing = "no error"
except AttributeError as exc:
    missing = str(exc)
print(json.dumps({
    "resolved": resolved,
    "star": sorted(name for name in star if name != "__builtins__"),
    "in_dir": sorted(listed & set(gmail_send.__all__)),
    "errors_module": gmail_send.errors.__name__,
    "missing": missing,
}))
"""

# The doctor's app-password check and the token file module (which config reads) stay clear too.
DOCTOR_AND_TOKEN_FILE = """
import asyncio, json, sys

from gmail_send import AppPassword
from gmail_send.auth._token_file import GOOGLE_TOKEN_URI
from gmail_send.doctor._auth_checks import check_credentials

result = asyncio.run(check_credentials(AppPassword("me@gmail.com", "abcdefghijklmnop")))
watched = tuple(json.loads(sys.argv[1]))
print(json.dumps({
    "status": result.status,
    "loaded": sorted(name for name in sys.modules if name.split(".")[0] in watched),
}))
"""


def run_fresh(script: str, *args: str) -> dict[str, Any]:
    """Run `script` in a new interpreter that imports the gmail_send this test imported."""
    source_root = str(Path(gmail_send.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (source_root, env.get("PYTHONPATH")) if part
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


@pytest.fixture
def local_gmail(certificates: TestCertificates) -> Iterator[LocalGmailThread]:
    with LocalGmailThread(certificates=certificates) as gmail:
        yield gmail


def test_import_loads_no_dependency_and_no_module() -> None:
    watched = [*HEAVY, "google", "aiosmtplib", "trustme"]
    report = run_fresh(CHILD, json.dumps(watched), "null")
    assert report["at_start"] == [], "the bare interpreter already has these; nothing is proved"
    assert report["after_import"] == []
    assert report["own_modules"] == ["gmail_send"]


def test_app_password_send_loads_no_google_auth(local_gmail: LocalGmailThread) -> None:
    server = {
        "host": local_gmail.host,
        "port": local_gmail.port,
        "ca_file": str(local_gmail.ca_file),
        "account": local_gmail.account,
        "app_password": local_gmail.app_password,
    }
    report = run_fresh(CHILD, json.dumps([*HEAVY, "google", "trustme"]), json.dumps(server))
    assert report["at_start"] == []
    assert report["accepted"] == ["you@example.com"]
    assert report["auth_method"] in {"plain", "login"}
    assert report["after_send"] == [], "an app-password send imported these"
    assert [m.parsed()["Subject"] for m in local_gmail.messages] == ["lazy imports"]


def test_every_public_name_resolves_lazily() -> None:
    report = run_fresh(RESOLVE_ALL)
    assert sorted(report["resolved"]) == sorted(gmail_send.__all__)
    assert report["star"] == sorted(gmail_send.__all__)
    assert report["in_dir"] == sorted(gmail_send.__all__)
    assert report["errors_module"] == "gmail_send.errors"
    assert "no_such_name" in report["missing"]
    for name in gmail_send.__all__:
        assert getattr(gmail_send, name) is not None, name


def test_doctor_password_check_and_token_file_load_no_google_auth() -> None:
    report = run_fresh(DOCTOR_AND_TOKEN_FILE, json.dumps([*HEAVY, "google"]))
    assert report["status"] == "passed"
    assert report["loaded"] == []
