"""Failures while securing the session: which are final, which are retried, and how fast."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from gmail_send import TLSError
from gmail_send.events import SendEvent, SendRetried

from .conftest import sender_for


async def test_a_server_without_starttls_fails_at_once_with_its_hint(
    start_gmail: Callable[..., Any],
) -> None:
    plain = await start_gmail(security="none")  # offers no STARTTLS
    events: list[SendEvent] = []
    started = time.monotonic()
    async with sender_for(plain, backoff=1.0, on_event=events.append) as sender:
        with pytest.raises(TLSError) as caught:
            await sender.send(to="a@example.com", subject="x", text="x")
    elapsed = time.monotonic() - started
    error = caught.value
    assert error.message == f"{plain.host}:{plain.port} does not offer STARTTLS"  # not re-wrapped
    assert error.hint and "refusing to continue unencrypted" in error.hint
    assert error.code is None
    assert len(plain.sessions) == 1  # not retried
    assert not any(isinstance(e, SendRetried) for e in events)
    assert plain.auth_attempts == []  # the password never went out
    assert elapsed < 3  # three retries with backoff=1.0 would take 3.5 s or more
