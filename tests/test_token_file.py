"""Token files: every unusable file is a ConfigurationError with a hint; writes are atomic."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gmail_send.auth import OAuth2Credentials
from gmail_send.auth._token_file import parse_expiry, read_token_file, write_token_file
from gmail_send.errors import ConfigurationError

INFO = {
    "token": "ya29.cached-access-token",
    "refresh_token": "1//refresh-token-secret",
    "token_uri": "http://127.0.0.1:9/token",
    "client_id": "123-abc.apps.googleusercontent.com",
    "client_secret": "GOCSPX-client-secret",
    "scopes": ["https://mail.google.com/"],
    "expiry": "2030-01-01T00:00:00.123456Z",
    "account": "me@gmail.com",
}
SECRETS = ("ya29.cached-access-token", "1//refresh-token-secret", "GOCSPX-client-secret")


def problem(path: Path) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        OAuth2Credentials.from_file(path)
    error = caught.value
    for secret in SECRETS:
        assert secret not in str(error)
    return error


def test_missing_file_names_the_auth_command(tmp_path: Path) -> None:
    error = problem(tmp_path / "token.json")
    assert "does not exist" in error.message
    assert error.hint is not None
    assert f"gmail-send auth --client-secrets client_secret.json --token {tmp_path}" in error.hint


def test_unreadable_path(tmp_path: Path) -> None:
    error = problem(tmp_path)  # a directory
    assert "cannot read token file" in error.message


@pytest.mark.parametrize("content", [b"", b"{not json", b"\xff\xfe", b'{"token": "ya29.cached-acc'])
def test_corrupt_json(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "token.json"
    path.write_bytes(content)
    error = problem(path)
    assert "not valid JSON" in error.message
    assert error.hint is not None and "gmail-send auth" in error.hint


@pytest.mark.parametrize("field", ["refresh_token", "client_id", "client_secret"])
def test_missing_fields(tmp_path: Path, field: str) -> None:
    path = tmp_path / "token.json"
    path.write_text(json.dumps({k: v for k, v in INFO.items() if k != field}))
    error = problem(path)
    assert field in error.message


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ({"installed": {"client_id": "x"}}, "client secrets file"),
        ({"type": "service_account", "client_email": "a@b"}, "service account key"),
        ({**INFO, "type": "external_account"}, "type 'external_account'"),
        ([1, 2], "not a JSON object"),
        ({**INFO, "expiry": "next tuesday"}, "not an ISO 8601 time"),
        ({**INFO, "scopes": 5}, "scopes"),
    ],
)
def test_wrong_kinds_of_file(tmp_path: Path, content: object, words: str) -> None:
    path = tmp_path / "token.json"
    path.write_text(json.dumps(content))
    assert words in problem(path).message


def test_no_account_needs_user(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    path.write_text(json.dumps({k: v for k, v in INFO.items() if k != "account"}))
    error = problem(path)
    assert "no 'account' key" in error.message
    assert OAuth2Credentials.from_file(path, user="me@gmail.com").user == "me@gmail.com"


def test_user_argument_wins_over_account(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    path.write_text(json.dumps(INFO))
    assert OAuth2Credentials.from_file(path, user="other@gmail.com").user == "other@gmail.com"


def test_expiry_formats() -> None:
    assert parse_expiry("2030-01-01T00:00:00Z").isoformat() == "2030-01-01T00:00:00"
    assert parse_expiry("2030-01-01T00:00:00.5Z").isoformat() == "2030-01-01T00:00:00"
    assert parse_expiry("2030-01-01T09:00:00+09:00").isoformat() == "2030-01-01T00:00:00"


def test_write_is_0600_even_over_a_0644_file(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    path.write_text("{}")
    os.chmod(path, 0o644)
    old_umask = os.umask(0)
    try:
        write_token_file(path, INFO)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_token_file(path) == INFO
    assert [p.name for p in tmp_path.iterdir()] == ["token.json"]  # no temp file left


def test_write_follows_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "data" / "token.json"
    real.parent.mkdir()
    real.write_text("{}")
    link = tmp_path / "token.json"
    link.symlink_to(real)
    write_token_file(link, INFO)
    assert link.is_symlink()
    assert read_token_file(real) == INFO


def test_write_to_a_missing_directory_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        write_token_file(tmp_path / "nope" / "token.json", INFO)


def test_stale_temp_files_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    stale = tmp_path / ".token.json.deadbeef0000.tmp"
    stale.write_text("secret leftovers")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    fresh = tmp_path / ".token.json.0123456789ab.tmp"  # maybe another writer's: kept
    fresh.write_text("{}")
    write_token_file(path, INFO)
    assert not stale.exists()
    assert fresh.exists()


# The writer is killed (os._exit, as by SIGKILL or a power cut) just before the named call.
CRASH_SCRIPT = """
import os, sys
from gmail_send.auth._token_file import write_token_file
target = getattr(os, sys.argv[2])
def crash(frame, event, arg):
    if event == "c_call" and arg is target:
        os._exit(9)
sys.setprofile(crash)
write_token_file(sys.argv[1], {"refresh_token": "new", "client_id": "c", "client_secret": "s"})
"""


@pytest.mark.parametrize("crash_before", ["write", "fsync", "replace"])
def test_crash_mid_write_keeps_the_old_file(tmp_path: Path, crash_before: str) -> None:
    path = tmp_path / "token.json"
    write_token_file(path, INFO)
    done = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(path), crash_before],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 9, done.stderr.decode()
    assert read_token_file(path) == INFO  # the old file, whole
    leftovers = [p for p in tmp_path.iterdir() if p.name != "token.json"]
    assert len(leftovers) == 1  # the abandoned temp file, private to the owner
    assert stat.S_IMODE(leftovers[0].stat().st_mode) == 0o600
    write_token_file(path, {**INFO, "token": "ya29.next"})  # the next write still works
    assert read_token_file(path)["token"] == "ya29.next"
