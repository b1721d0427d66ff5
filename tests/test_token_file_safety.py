"""Token write-back goes to the file that was loaded, never through a link planted later; a
token file others can read is named once."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gmail_send.auth import OAuth2Credentials
from gmail_send.testing import LocalTokenEndpoint


@pytest.fixture
def endpoint() -> Iterator[LocalTokenEndpoint]:
    # Tokens that live 60 s are "expired" at once (google-auth refreshes 225 s early), so every
    # get_token() refreshes and writes back.
    with LocalTokenEndpoint(expires_in=60) as server:
        yield server


async def test_a_link_planted_after_loading_is_not_followed(
    endpoint: LocalTokenEndpoint, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "token.json"
    endpoint.issue_token_file(path, "me@gmail.com")
    credentials = OAuth2Credentials.from_file(path)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious\n")
    path.unlink()
    path.symlink_to(victim)

    with caplog.at_level(logging.WARNING, logger="gmail_send.auth"):
        token = await credentials.get_token()

    assert token == endpoint.issued_tokens[-1].access_token  # the send goes on
    assert victim.read_bytes() == b"precious\n"
    assert path.is_symlink()
    assert any("was replaced since it was loaded" in r.getMessage() for r in caplog.records)
    assert token not in caplog.text


async def test_a_file_swapped_after_loading_is_not_overwritten(
    endpoint: LocalTokenEndpoint, tmp_path: Path
) -> None:
    path = tmp_path / "token.json"
    endpoint.issue_token_file(path, "me@gmail.com")
    credentials = OAuth2Credentials.from_file(path)
    replacement = tmp_path / "other.json"
    replacement.write_text('{"someone": "else"}')
    os.replace(replacement, path)

    await credentials.get_token()

    assert json.loads(path.read_text()) == {"someone": "else"}


async def test_the_loaded_file_keeps_being_written_after_each_refresh(
    endpoint: LocalTokenEndpoint, tmp_path: Path
) -> None:
    real = tmp_path / "secrets" / "token.json"
    real.parent.mkdir()
    endpoint.issue_token_file(real, "me@gmail.com")
    link = tmp_path / "token.json"
    link.symlink_to(real)  # a link that was there at load time is the file that was loaded
    credentials = OAuth2Credentials.from_file(link)

    first = await credentials.get_token()
    second = await credentials.get_token()

    assert first != second
    assert json.loads(real.read_text())["token"] == second
    assert link.is_symlink()


def test_a_token_file_others_can_read_is_named_once(
    endpoint: LocalTokenEndpoint, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "token.json"
    endpoint.issue_token_file(path, "me@gmail.com")
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="gmail_send.auth"):
        OAuth2Credentials.from_file(path)
        OAuth2Credentials.from_file(path)
    warnings = [r for r in caplog.records if getattr(r, "event", None) == "token_file_readable"]
    assert len(warnings) == 1
    assert f"chmod 600 {path}" in warnings[0].getMessage()
