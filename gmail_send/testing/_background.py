"""`LocalGmailThread`: the local Gmail served from a thread of its own, for sync code and tests.

A `LocalGmail` started in a test's event loop cannot answer while that loop's thread is
blocked, which is exactly what a sync caller (a Django view, `send_sync`, FastAPI's
`TestClient`, a subprocess waiting to finish) does. Here the server runs on a private loop in a
daemon thread, so sync and async tests alike can send to it. It also hands out the ways an
application is configured: `settings()` for `GmailSender(**...)` and `environ()` for
`from_env()`, with the test CA written to a file for `GMAIL_SEND_CA_FILE`.

    with LocalGmailThread() as gmail:
        send_sync(**gmail.settings(), to="you@example.com", subject="Hi", text="...")
        assert gmail.messages[0].rcpt_tos == ("you@example.com",)
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from collections.abc import Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from ..auth._credentials import AppPassword
from ..config import Settings
from ._accounts import LocalAccount
from ._records import ReceivedMessage
from ._server import LocalGmail
from ._state import Security
from ._tls import TestCertificates

__all__ = ["LocalGmailThread"]

T = TypeVar("T")

DEFAULT_ACCOUNT = "me@gmail.com"
DEFAULT_APP_PASSWORD = "abcdefghijklmnop"  # noqa: S105 - a well-known test value
DEFAULT_ACCESS_TOKEN = "ya29.local-test-token"  # noqa: S105 - a well-known test value


class LocalGmailThread:
    """A `LocalGmail` on its own loop thread; use `with` or `start()`/`stop()`.

    It has one account, `account` with `app_password`, which also accepts the XOAUTH2 token
    `access_token`. `server` is the `LocalGmail` itself (its sync methods, like `inject`, may
    be called from the test's thread; run its coroutines with `call`). With `web=True` it also
    serves the inbox page, at `web_url`; IMAP is served at `imap_port` (its Sent Mail holds a
    copy of each message the account sent: `server.sent_mail(account)`).

    Args:
        security: "starttls", "tls" or "none", as for `LocalGmail`.
        account: the address of the one account.
        app_password: the account's app password, for LOGIN and PLAIN.
        access_token: a token XOAUTH2 accepts for the account (never expires).
        certificates: the test CA and server certificate; None makes new ones.
        web: also serve the inbox page, at `web_url`.
        web_port: the inbox page's port; 0 picks a free one.
        pipelining: advertise PIPELINING, as for `LocalGmail` (Gmail does).
        chunking: advertise CHUNKING and take BDAT, as for `LocalGmail` (False: DATA only).
        imap: also serve IMAP (implicit TLS, at `imap_port`), as for `LocalGmail`.
        imap_port: the IMAP port; 0 picks a free one.
        imap_gmail_extensions: X-GM-EXT-1 and X-GM-RAW, as for `LocalGmail`.
        imap_special_use: the special-use mailbox attributes, as for `LocalGmail`.
    """

    def __init__(
        self,
        *,
        security: Security = "starttls",
        account: str = DEFAULT_ACCOUNT,
        app_password: str = DEFAULT_APP_PASSWORD,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        certificates: TestCertificates | None = None,
        web: bool = False,
        web_port: int = 0,
        pipelining: bool = False,
        chunking: bool = True,
        imap: bool = True,
        imap_port: int = 0,
        imap_gmail_extensions: bool = True,
        imap_special_use: bool = True,
    ) -> None:
        self.account = account
        self.app_password = app_password
        self.access_token = access_token
        self.server = LocalGmail(
            security=security,
            accounts=[LocalAccount(account, app_password=app_password)],
            certificates=certificates,
            web=web,
            web_port=web_port,
            pipelining=pipelining,
            chunking=chunking,
            imap=imap,
            imap_port=imap_port,
            imap_gmail_extensions=imap_gmail_extensions,
            imap_special_use=imap_special_use,
        )
        self.server.add_access_token(account, access_token)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._directory: Path | None = None

    def __repr__(self) -> str:
        return f"<LocalGmailThread {self.server!r}>"

    def start(self) -> None:
        """Start the loop thread and the server on it."""
        if self._thread is not None:
            raise RuntimeError("this LocalGmailThread is already running")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=loop.run_forever, name="gmail_send.testing.local_gmail", daemon=True
        )
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            self.call(self.server.start())
        except BaseException:
            self._stop_loop()
            raise

    def stop(self) -> None:
        """Stop the server and its thread; safe to call more than once."""
        if self._thread is None:
            return
        try:
            self.call(self.server.stop())
        finally:
            self._stop_loop()
            if self._directory is not None:
                shutil.rmtree(self._directory, ignore_errors=True)
                self._directory = None

    def _stop_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
            if not thread.is_alive():
                loop.close()

    def __enter__(self) -> LocalGmailThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine (e.g. `server.close_all()`) on the server's loop and wait for it.

        Args:
            coroutine: the coroutine to run; it is closed unrun if the thread is not running.

        Returns:
            What the coroutine returned (what it raised is raised here).
        """
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("this LocalGmailThread is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def imap_port(self) -> int:
        """The IMAP port (implicit TLS; the same host and test CA as SMTP)."""
        return self.server.imap_port

    @property
    def security(self) -> Security:
        return self.server.security

    @property
    def web_url(self) -> str | None:
        """The inbox page's address while running with `web=True`, else None."""
        return self.server.web_url

    @property
    def messages(self) -> list[ReceivedMessage]:
        """The messages accepted so far, oldest first."""
        return self.server.messages

    def credentials(self) -> AppPassword:
        """App-password credentials for the account."""
        return AppPassword(self.account, self.app_password)

    def settings(self) -> Settings:
        """Everything `GmailSender(**settings)` or `send_sync(**settings, ...)` needs."""
        return Settings(
            credentials=self.credentials(),
            host=self.host,
            port=self.port,
            security=self.security,
            tls_context=self.server.client_tls_context(),
            account=self.account,
        )

    @property
    def ca_file(self) -> Path:
        """The test CA in a PEM file (removed by `stop()`), for `GMAIL_SEND_CA_FILE`."""
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix="gmail-send-test-"))
        path = self._directory / "gmail-send-test-ca.pem"
        if not path.exists():
            path = self.server.certificates.ca_pem_path(self._directory)
        return path

    def environ(self) -> dict[str, str]:
        """`GMAIL_SEND_*` variables that make `from_env()` point at this server."""
        return {
            "GMAIL_SEND_USER": self.account,
            "GMAIL_SEND_APP_PASSWORD": self.app_password,
            "GMAIL_SEND_HOST": self.host,
            "GMAIL_SEND_PORT": str(self.port),
            "GMAIL_SEND_SECURITY": self.security,
            "GMAIL_SEND_CA_FILE": str(self.ca_file),
        }
