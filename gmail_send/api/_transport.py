"""The Gmail API transport: users.messages.send over HTTPS with httpx.

One `httpx.AsyncClient` per sender keeps up to `max_connections` connections alive and reuses
them (HTTP/1.1 keep-alive), verifies certificates with the sender's TLS context, and waits at
most `timeout` seconds for each step (connect, write, read). A message goes as a simple upload
(`uploadType=media`, `message/rfc822`: the bytes as they are, up to 35 MB, no base64), or as a
multipart upload when it names a thread (`threadId` needs metadata beside the bytes).

Like an SMTP session, this layer never retries on its own and never decides policy: it turns
every answer and every failure into the library's typed errors (`_errors.py`), and records in
the `Progress` when the whole request body has gone out (httpx's `trace` extension), which is
what tells a failure that may be retried from an unknown outcome. `Progress.before_body` (the
mail queue's hook) is awaited just before each request, the first write that may carry the
body. The one thing it does repeat
is the request after a 401, once, with a new token: the same rule as SMTP sign-in.

Recipients: Gmail takes them from the To, Cc and Bcc headers and removes Bcc from what it
delivers, so the Bcc header the composed bytes never hold is added here, in front of them.
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
import ssl
from collections.abc import Sequence
from typing import Any, Literal

import httpx

from .._result import SendResult
from .._transport import API_UNKNOWN_HINT, Progress
from ..auth._credentials import TokenSource
from ..auth._renewal import no_other_token, refused_token, with_renewal
from ..errors import (
    ConfigurationError,
    GmailConnectionError,
    GmailSendError,
    TLSError,
    UnknownOutcomeError,
)
from ..message._outgoing import OutgoingMessage
from ._errors import error_for_answer, parse_send_answer

__all__ = ["SEND_PATH", "APITransport", "with_bcc"]

log = logging.getLogger("gmail_send.api")

SEND_PATH = "/upload/gmail/v1/users/me/messages/send"
"""users.messages.send's upload address, below `api_url`."""

_ids = itertools.count(1)
_FOLD_AT = 76


def with_bcc(data: bytes, bcc: Sequence[str]) -> bytes:
    """`data` with a Bcc header naming `bcc` in front (folded), or unchanged when empty."""
    if not bcc:
        return data
    lines: list[str] = []
    line = "Bcc:"
    for index, address in enumerate(bcc):
        item = f" {address}{',' if index < len(bcc) - 1 else ''}"
        if len(line) + len(item) > _FOLD_AT and line != "Bcc:":
            lines.append(line)
            line = ""
        line += item
    lines.append(line)
    return "\r\n".join(lines).encode("utf-8") + b"\r\n" + data


class APITransport:
    """Sends messages through the Gmail API for one account; also its own (only) carrier."""

    name: Literal["api"] = "api"

    def __init__(
        self,
        tokens: TokenSource,
        *,
        api_url: str,
        tls_context: ssl.SSLContext,
        timeout: float | None,
        max_connections: int,
        idle_timeout: float | None,
        wait_for_quota: Any = None,
    ) -> None:
        """`wait_for_quota`: an awaitable-returning callable run before each request (the
        per-user rate limit), or None."""
        self._tokens = tokens
        self.api_url = api_url.rstrip("/")
        self.id = next(_ids)
        self.messages_sent = 0
        self._wait_for_quota = wait_for_quota
        self._client = httpx.AsyncClient(
            base_url=self.api_url,
            verify=tls_context,
            timeout=httpx.Timeout(timeout, pool=None),
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
                keepalive_expiry=idle_timeout,
            ),
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"<APITransport #{self.id} {self.api_url} user={self._tokens.user!r}>"

    async def acquire(self) -> APITransport:
        """This transport, once the per-user rate limit lets one more request go."""
        if self._wait_for_quota is not None:
            await self._wait_for_quota()
        return self

    def release(self, carrier: APITransport, *, reusable: bool = True) -> None:
        """Nothing to give back: httpx keeps or drops its connections itself."""

    async def aclose(self) -> None:
        await self._client.aclose()

    def use_tokens(self, tokens: TokenSource) -> None:
        """Take access tokens from `tokens` from now on (the sender got a store)."""
        self._tokens = tokens

    async def send(self, outgoing: OutgoingMessage, *, progress: Progress) -> SendResult:
        """One users.messages.send; after a 401, once more with a new token."""
        progress.connection_id = self.id
        progress.body_sent = False

        async def post(token: str) -> SendResult:
            progress.body_sent = False
            return await self._post(outgoing, token, progress)

        return await with_renewal(
            self._tokens,
            post,
            refused=refused_token,
            not_renewed=no_other_token,
            log=log,
            door="the Gmail API",
        )

    async def _post(self, outgoing: OutgoingMessage, token: str, progress: Progress) -> SendResult:
        data = with_bcc(outgoing.data, outgoing.bcc)
        if outgoing.thread_id is None:
            upload_type, content_type, content = "media", "message/rfc822", data
        else:
            upload_type, content_type, content = _multipart(data, outgoing.thread_id)

        async def trace(event: str, info: dict[str, Any]) -> None:
            if event.endswith("send_request_body.complete"):
                progress.body_sent = True

        if progress.before_body is not None:
            # The request's body may reach Google from its first byte on: "may be out" starts
            # here. If the hook raises, nothing is sent (the connection is not touched yet).
            await progress.before_body()
        try:
            response = await self._client.post(
                SEND_PATH,
                params={"uploadType": upload_type},
                content=content,
                headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
                extensions={"trace": trace},
            )
        except httpx.HTTPError as exc:
            raise self._failure(exc, progress, outgoing) from None
        if 200 <= response.status_code < 300:
            self.messages_sent += 1
            gmail_id, thread_id = parse_send_answer(response.content)
            return SendResult(
                message_id=outgoing.message_id,
                accepted=outgoing.recipients,
                reply=None,
                auth_method="bearer",
                gmail_id=gmail_id,
                thread_id=thread_id,
            )
        raise error_for_answer(
            response.status_code,
            response.content,
            response.headers,
            sent_at=progress.body_sent_at,
            message_id=outgoing.message_id,
        )

    def _failure(
        self, exc: httpx.HTTPError, progress: Progress, outgoing: OutgoingMessage
    ) -> GmailSendError:
        """The typed error for a request that got no answer."""
        where = self.api_url
        if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
            return ConfigurationError(f"api_url {where!r} cannot be used: {exc}")
        certificate = _ssl_cause(exc)
        if certificate is not None:
            if isinstance(certificate, ssl.SSLCertVerificationError):
                return TLSError(
                    f"the certificate of {where} could not be verified: "
                    f"{certificate.verify_message}",
                    hint="a proxy or antivirus may be intercepting TLS; for a private or test "
                    "server pass tls_context or ca_file with its CA (never switch checks off)",
                )
            return TLSError(f"TLS with {where} failed: {certificate.reason or certificate}")
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return GmailConnectionError(
                f"could not connect to {where}: {exc or type(exc).__name__}",
                hint="check that outgoing HTTPS (port 443) is allowed, and the HTTPS_PROXY "
                "settings if this host needs a proxy",
            )
        what = type(exc).__name__
        if progress.body_sent:
            return UnknownOutcomeError(
                f"no answer from the Gmail API after the message went out ({what}); it may or "
                "may not have been sent",
                message_id=outgoing.message_id,
                hint=API_UNKNOWN_HINT,
                sent_at=progress.body_sent_at,
                transport="api",
            )
        return GmailConnectionError(
            f"the connection to {where} broke before the message went out ({what})",
            after_greeting=True,
        )


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    """The TLS failure under an httpx error, if one caused it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _multipart(data: bytes, thread_id: str) -> tuple[str, str, bytes]:
    """A multipart/related upload: the metadata naming the thread, then the message."""
    boundary = f"gmail-send-{secrets.token_hex(16)}"
    while boundary.encode("ascii") in data:  # pragma: no cover - 128 random bits
        boundary = f"gmail-send-{secrets.token_hex(16)}"
    metadata = json.dumps({"threadId": thread_id}).encode("utf-8")
    body = b"".join(
        (
            f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode(),
            metadata,
            f"\r\n--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n".encode(),
            data,
            f"\r\n--{boundary}--\r\n".encode(),
        )
    )
    return "multipart", f"multipart/related; boundary={boundary}", body
