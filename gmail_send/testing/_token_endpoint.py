"""A local OAuth2 token endpoint and authorization endpoint, for tests and the demo.

`LocalTokenEndpoint` is a real HTTP server on 127.0.0.1 (a thread with a
`ThreadingHTTPServer`), so google-auth and google-auth-oauthlib talk to it with their own
requests transport, exactly as they talk to Google:

- `POST /token`: the refresh_token grant, the authorization_code grant (PKCE S256), and the
  service account JWT bearer grant (RS256 signature verified with the account's public key);
- `GET /auth`: the consent screen, answered at once with a 302 to the loopback redirect URI.

Tied to a `LocalGmail` (`gmail=` or `attach`), every access token it issues is registered
there, and with `exclusive=True` the local Gmail accepts no other token. Knobs for failure
tests: `delay`, `fail_next`, `down`/`up`, `revoke`. Plain http by default (google-auth accepts
an http token URI); pass `certificates=` to serve https with a test CA.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import os
import ssl
import threading
import time
from collections import deque
from collections.abc import Iterable
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socket import socket
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ..auth._token_file import format_expiry, write_token_file
from ..auth._xoauth2 import MAIL_SCOPE
from ._accounts import TokenVerdict
from ._oauth_grants import GOOGLE_TOKEN_URI, GrantBook, GrantError, IssuedToken, OAuthClient
from ._tls import TestCertificates

if TYPE_CHECKING:
    from ._server import LocalGmail

__all__ = ["LocalTokenEndpoint"]

log = logging.getLogger("gmail_send.testing")


class LocalTokenEndpoint:
    """A Google-like OAuth2 server on 127.0.0.1: use `with`, `async with` or start()/stop().

    One OAuth client is registered at once (`client_id`, `client_secret`).

    Args:
        gmail: a `LocalGmail` to register each issued access token in (see `attach`); None:
            tokens are only issued.
        exclusive: with `gmail`, make it accept no access token but the ones issued here.
        certificates: serve https with this test CA's server certificate; None: plain http.
        signed_in_user: the account the scripted "browser" is signed in as at the consent
            screen, and the default account of the tokens issued by hand.
        expires_in: the lifetime of each access token issued, in seconds.
        delay: seconds to wait before answering each token request (for timeout tests).
    """

    def __init__(
        self,
        *,
        gmail: LocalGmail | None = None,
        exclusive: bool = True,
        certificates: TestCertificates | None = None,
        signed_in_user: str = "me@gmail.com",
        expires_in: int = 3599,
        delay: float = 0.0,
    ) -> None:
        self.book = GrantBook(expires_in=expires_in, signed_in_user=signed_in_user)
        self.client: OAuthClient = self.book.add_client()
        self.delay = delay
        self._context = certificates.server_context() if certificates else None
        self._failures: deque[GrantError] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self._gmail: LocalGmail | None = None
        if gmail is not None:
            self.attach(gmail, exclusive=exclusive)

    def __repr__(self) -> str:
        state = self.url if self._server else "stopped"
        return f"<LocalTokenEndpoint {state}, {len(self.book.issued)} token(s) issued>"

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Listen on 127.0.0.1 (a free port the first time, the same port after `down`)."""
        if self._server is not None:
            return
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.endpoint = self
        server.tls = self._context
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"LocalTokenEndpoint:{self._port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop listening; connections are then refused. Idempotent."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join()

    def down(self) -> None:
        """Simulate an unreachable endpoint: stop listening, keep the port for `up`."""
        self.stop()

    def up(self) -> None:
        """Listen again on the same port after `down`."""
        self.start()

    def __enter__(self) -> LocalTokenEndpoint:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> LocalTokenEndpoint:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- addresses and client configuration -------------------------------------------------

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the endpoint is not started yet")
        return self._port

    @property
    def url(self) -> str:
        scheme = "https" if self._context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    @property
    def auth_uri(self) -> str:
        return f"{self.url}/auth"

    @property
    def client_id(self) -> str:
        return self.client.client_id

    @property
    def client_secret(self) -> str:
        return self.client.client_secret

    def client_config(self, *, kind: str = "installed") -> dict[str, Any]:
        """A client secrets dict like Google Cloud console's download.

        Args:
            kind: the top-level key: "installed" (a Desktop app client) or "web".
        """
        return {
            kind: {
                "client_id": self.client_id,
                "project_id": "local-test",
                "auth_uri": self.auth_uri,
                "token_uri": self.token_uri,
                "client_secret": self.client_secret,
                "redirect_uris": ["http://localhost"],
            }
        }

    def write_client_secrets(
        self, path: str | os.PathLike[str], *, kind: str = "installed"
    ) -> None:
        """Write `client_config()` as a client_secret.json file.

        Args:
            path: the file to write (mode 0600).
            kind: as for `client_config`.
        """
        write_token_file(path, self.client_config(kind=kind))

    # -- accounts, tokens, counters ---------------------------------------------------------

    def attach(self, gmail: LocalGmail, *, exclusive: bool = True) -> None:
        """Register each access token issued, so far and from now on, in `gmail`.

        Args:
            gmail: the local Gmail that should accept the tokens.
            exclusive: make `gmail` refuse every other access token (status 400), through its
                `token_validator`.
        """
        self._gmail = gmail
        self.book.on_issue = self._register
        for issued in list(self.book.issued):
            self._register(issued)
        if exclusive:
            gmail.token_validator = self._only_ours

    def _register(self, issued: IssuedToken) -> None:
        # Called from handler threads: TokenStore.add is a single dict assignment.
        if self._gmail is not None:
            self._gmail.add_access_token(
                issued.account,
                issued.access_token,
                scope=issued.scope,
                expires_at=issued.expires_at,
            )

    def _only_ours(self, user: str, token: str) -> TokenVerdict | None:
        if self.book.knows_access_token(token):
            return None  # the server's token list judges expiry, revocation, user and scope
        return TokenVerdict.reject("400", "not-issued-by-token-endpoint")

    def issue_refresh_token(
        self, account: str | None = None, *, scopes: Iterable[str] = (MAIL_SCOPE,)
    ) -> str:
        """A refresh token for `account` and this client.

        Args:
            account: the account it acts for; None: `signed_in_user`.
            scopes: the scopes it grants: its access tokens carry them (or the subset a
                refresh request asks for).
        """
        return self.book.add_refresh_token(
            account or self.book.signed_in_user, self.client_id, scopes
        )

    def token_info(
        self,
        account: str | None = None,
        *,
        scopes: Iterable[str] = (MAIL_SCOPE,),
        access_token_lifetime: float | None = None,
        with_account: bool = True,
    ) -> dict[str, Any]:
        """An authorized-user dict (what a token file holds) pointing at this endpoint.

        Args:
            account: the account it is for; None: `signed_in_user`.
            scopes: the scopes of its new refresh token.
            access_token_lifetime: None for no cached access token (refreshed on first use),
                or seconds until the included, registered token expires (negative: already
                expired).
            with_account: include the "account" key (the mailbox); False: leave it out, so
                whoever loads the file must name the mailbox itself.
        """
        account = account or self.book.signed_in_user
        scopes = list(scopes)
        info: dict[str, Any] = {
            "refresh_token": self.book.add_refresh_token(account, self.client_id, scopes),
            "token_uri": self.token_uri,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scopes": scopes,
        }
        if access_token_lifetime is not None:
            issued = self.book.issue(
                account, scopes, "direct", self.client_id, lifetime=access_token_lifetime
            )
            expiry = datetime.fromtimestamp(issued.expires_at, timezone.utc)
            info.update(token=issued.access_token, expiry=format_expiry(expiry))
        if with_account:
            info["account"] = account
        return info

    def issue_token_file(
        self, path: str | os.PathLike[str], account: str | None = None, **options: Any
    ) -> dict[str, Any]:
        """Write `token_info(account, **options)` to `path` (mode 0600) and return it.

        Args:
            path: the token file to write.
            account: as for `token_info`.
            **options: the keyword arguments of `token_info`.
        """
        info = self.token_info(account, **options)
        write_token_file(path, info)
        return info

    def add_service_account(
        self,
        *,
        subjects: Iterable[str] = (),
        scopes: Iterable[str] = (MAIL_SCOPE,),
        client_email: str | None = None,
    ) -> dict[str, Any]:
        """A new service account key (JSON dict) whose grants come here.

        Args:
            subjects: the mailboxes domain-wide delegation lets it act for (more with
                `grant_delegation`); any other subject gets `unauthorized_client`, as from
                Google.
            scopes: the scopes delegation grants it; any other scope gets
                `unauthorized_client`.
            client_email: the account's address; None makes one up under
                local-test.iam.gserviceaccount.com.
        """
        return self.book.service_accounts.add(
            token_uri=self.token_uri, subjects=subjects, scopes=scopes, client_email=client_email
        )

    def grant_delegation(self, client_email: str, subject: str) -> None:
        """Let a service account act for one more mailbox.

        Args:
            client_email: the address of a service account from `add_service_account`.
            subject: the mailbox it may now act for.
        """
        self.book.service_accounts.grant_delegation(client_email, subject)

    def revoke(self, refresh_token: str) -> None:
        """From now on the refresh token gets `invalid_grant`.

        Args:
            refresh_token: a refresh token issued here; an unknown one is ignored.
        """
        self.book.revoke(refresh_token)

    def fail_next(
        self,
        times: int = 1,
        *,
        status: int = 503,
        error: str = "temporarily_unavailable",
        description: str = "The service is currently unavailable.",
    ) -> None:
        """Answer the next `times` token requests with this error (google-auth retries 5xx).

        Args:
            times: how many requests in a row fail.
            status: the HTTP status of the answer.
            error: the OAuth2 `error` code of the JSON body, e.g. "invalid_grant".
            description: its `error_description`.
        """
        with self._lock:
            self._failures.extend(
                GrantError(error, description, status=status) for _ in range(times)
            )

    @property
    def issued_tokens(self) -> list[IssuedToken]:
        return list(self.book.issued)

    @property
    def refresh_count(self) -> int:
        """Refresh-token grant requests received (whatever the answer)."""
        return self.book.grant_counts["refresh_token"]

    @property
    def grant_counts(self) -> dict[str, int]:
        """Token requests received, by grant_type."""
        return dict(self.book.grant_counts)

    # -- called by the handler --------------------------------------------------------------

    def _next_failure(self) -> GrantError | None:
        with self._lock:
            return self._failures.popleft() if self._failures else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    endpoint: LocalTokenEndpoint
    tls: ssl.SSLContext | None

    def get_request(self) -> tuple[socket, Any]:
        sock, address = super().get_request()
        if self.tls is not None:  # the handshake happens in the handler's thread
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "LocalTokenEndpoint/1"

    def log_message(self, format: str, *args: Any) -> None:
        # Paths only: query strings carry codes and states.
        log.debug("%s %s", self.command, urlsplit(self.path).path)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/auth":
            self._reply(404, {"error": "not_found"})
            return
        try:
            location = self.server.endpoint.book.authorize(dict(parse_qsl(parts.query)))
        except GrantError as exc:
            self._reply(exc.status, exc.body())
            return
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        endpoint = self.server.endpoint
        if urlsplit(self.path).path != "/token":
            self._reply(404, {"error": "not_found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode("utf-8"), keep_blank_values=True))
        if endpoint.delay > 0:
            time.sleep(endpoint.delay)
        failure = endpoint._next_failure()
        try:
            if failure is not None:
                endpoint.book.count(form.get("grant_type", ""))
                raise failure
            audiences = (GOOGLE_TOKEN_URI, endpoint.token_uri)
            answer = endpoint.book.token(form, self._basic_auth(), audiences)
        except GrantError as exc:
            self._reply(exc.status, exc.body())
            return
        self._reply(200, answer)

    def _basic_auth(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
            return unquote(user), unquote(password)
        return None

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
