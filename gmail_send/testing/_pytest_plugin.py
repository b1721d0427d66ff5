"""gmail_send's pytest plugin: the fixtures `gmail_outbox` and `local_gmail`.

Registered through the `pytest11` entry point, so installing gmail-send makes the fixtures
available in every test suite. The plugin itself imports nothing beyond pytest: the local
server's dependencies (the `[testing]` extra: aiosmtpd, trustme) are imported only when a test
asks for a fixture, and a missing extra fails that test with the command to run, never the
whole test session.

- `gmail_outbox`: a fresh `gmail_send.testing.Outbox`; pass it as `sink=` to the application's
  `GmailSender` (or `SyncGmailSender`) and assert on what was sent.
- `local_gmail`: a `gmail_send.testing.LocalGmailThread`, a Gmail-like SMTP server with real TLS
  on 127.0.0.1 running in a thread of its own, usable from sync and async tests alike:
  `GmailSender(**local_gmail.settings())`, or `local_gmail.environ()` for `from_env()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ._background import LocalGmailThread
    from ._outbox import Outbox
    from ._tls import TestCertificates

__all__ = ["gmail_outbox", "gmail_test_certificates", "local_gmail"]

_MISSING_EXTRA = (
    "the gmail_send fixture {fixture!r} needs the [testing] extra ({error}): "
    "pip install 'gmail-send[testing]'"
)


def _require_testing_extra(fixture: str) -> None:
    try:
        from gmail_send.testing import LocalGmail  # noqa: F401 (checks aiosmtpd, trustme)
    except ImportError as exc:
        pytest.fail(_MISSING_EXTRA.format(fixture=fixture, error=exc), pytrace=False)


@pytest.fixture
def gmail_outbox() -> Outbox:
    """An empty in-memory outbox; `GmailSender(credentials, sink=gmail_outbox)` sends into it."""
    from ._outbox import Outbox  # in memory: no [testing] extra needed

    return Outbox()


@pytest.fixture(scope="session")
def gmail_test_certificates() -> TestCertificates:
    """One throw-away CA and server certificate for the session (key generation is slow)."""
    _require_testing_extra("gmail_test_certificates")
    from ._tls import TestCertificates

    return TestCertificates()


@pytest.fixture
def local_gmail(gmail_test_certificates: TestCertificates) -> Iterator[LocalGmailThread]:
    """A running local Gmail (STARTTLS) with one account; stopped when the test ends."""
    _require_testing_extra("local_gmail")
    from ._background import LocalGmailThread

    with LocalGmailThread(certificates=gmail_test_certificates) as server:
        yield server
