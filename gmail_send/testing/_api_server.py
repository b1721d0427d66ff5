"""`LocalGmailAPI`: the Gmail API's users.messages.send on 127.0.0.1, beside a `LocalGmail`.

    async with LocalGmail(accounts=[...]) as gmail, LocalGmailAPI(gmail) as api:
        gmail.add_access_token("me@gmail.com", "ya29.test", scope=SEND_SCOPE)
        ...  # GmailSender(..., transport="api", api_url=api.url, tls_context=...)
        assert gmail.messages[-1].rcpt_tos == ("you@example.com", "hidden@example.com")

It serves HTTPS with the local Gmail's test CA, on the same event loop, and shares its accounts,
access tokens (and a `LocalTokenEndpoint` attached to it) and its mailbox store: a message sent
through the API lands in `gmail.messages` like one sent over SMTP (`via="api"`), so one
assertion checks both transports. As Gmail does, it takes the recipients from the To, Cc and
Bcc headers, removes Bcc from what it stores, rewrites a From the account may not send as, and
answers errors with Google's JSON (`gmail_send.api.API_ERRORS`). Three ways in:

- `POST /upload/gmail/v1/users/me/messages/send?uploadType=media` (`message/rfc822` body),
- `?uploadType=multipart` (`multipart/related`: JSON metadata such as `threadId`, then the
  message),
- `POST /gmail/v1/users/me/messages/send` with JSON `{"raw": base64url, "threadId": ...}`.

Faults (`fail_next`): Google's error answers by name, `Retry-After` where it fits, and cut or
silent connections before the body, after it, or after the message was stored.
"""

from __future__ import annotations

import base64
import binascii
import email.message
import email.policy
import email.utils
import inspect
import json
import secrets
import ssl
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Literal, get_args

from ..api._errors import error_rule
from ..auth._scopes import API_SEND_SCOPES
from ._accounts import TokenVerdict
from ._api_http import DROP, HANG, HTTPRequest, HTTPResponse, HTTPServer, Outcome
from ._records import ReceivedMessage
from ._rewrite import rewrite_from_header

if TYPE_CHECKING:
    from ._server import LocalGmail

__all__ = ["MAX_UPLOAD", "APIFault", "APIRequestRecord", "LocalGmailAPI"]

MAX_UPLOAD = 36_700_160
"""users.messages.send's `maxSize` (35 MB) in Google's discovery document."""

UPLOAD_PATH = "/upload/gmail/v1/users/{user}/messages/send"
JSON_PATH = "/gmail/v1/users/{user}/messages/send"

APIFault = Literal[
    "unauthorized",
    "insufficient_scope",
    "access_not_configured",
    "rate_limit",
    "user_rate_limit",
    "daily_limit",
    "server_error",
    "unavailable",
    "bad_request",
    "drop_before_body",
    "drop_after_body",
    "drop_after_stored",
    "hang_after_body",
    "hang_after_stored",
]
"""What `fail_next` can do to a send request: answer with one of Google's errors (the first
nine, by their `API_ERRORS` name), cut the connection (before the request body is read, after
it was read but before storing, after storing), or never answer (the same two points)."""

_ANSWERS = frozenset(get_args(APIFault)[:9])
_RETRY_AFTER_FAULTS = frozenset({"rate_limit", "user_rate_limit", "daily_limit", "unavailable"})


@dataclass(frozen=True)
class APIRequestRecord:
    """One request to the local API: never its Authorization header or body.

    Attributes:
        method: the HTTP method, e.g. "POST".
        path: the request's path, without the query.
        upload_type: the `uploadType` query parameter ("media", "multipart"); None without.
        connection_id: which connection of the server it came on (1 for the first).
        status: the status answered; None when the connection was cut or left without an
            answer.
        user: the account its access token belongs to; None when the token was not known.
        fault: the planned fault (`fail_next`) this request met; None when none.
        size: the bytes of the request body received.
    """

    method: str
    path: str
    upload_type: str | None
    connection_id: int
    status: int | None
    user: str | None
    fault: str | None
    size: int


@dataclass
class _Queued:
    fault: APIFault
    remaining: int
    retry_after: float | None


class _Refusal(Exception):
    """An error answer: a row of API_ERRORS, optionally with its own message."""

    def __init__(self, name: str, message: str | None = None) -> None:
        super().__init__(name)
        self.name = name
        self.message = message


class LocalGmailAPI:
    """The local Gmail API of `gmail`; start with `async with` or `await start()`.

    Args:
        gmail: the `LocalGmail` whose accounts, tokens and mailbox it shares (and whose
            event loop and test CA it uses).
        host: the address to listen on.
        port: the port to listen on; 0 for a free one.
        max_upload: the largest message taken, in bytes; a larger one is refused as too large.
    """

    def __init__(
        self,
        gmail: LocalGmail,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_upload: int = MAX_UPLOAD,
    ) -> None:
        self.gmail = gmail
        self.max_upload = max_upload
        self._http = HTTPServer(
            self._app,
            context=gmail.certificates.server_context(),
            on_head=self._on_head,
            host=host,
            port=port,
        )
        self._faults: deque[_Queued] = deque()
        self._threads: set[str] = set()
        self.requests: list[APIRequestRecord] = []
        """Every request in order (the live list)."""

    def __repr__(self) -> str:
        where = self.url if self.running else "stopped"
        return f"<LocalGmailAPI {where} requests={len(self.requests)}>"

    # -- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen (a free port the first time, the same one after a stop)."""
        await self._http.start()

    async def stop(self) -> None:
        """Stop listening and cut every open connection; safe to call more than once."""
        await self._http.stop()

    async def __aenter__(self) -> LocalGmailAPI:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        return self._http.running

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def url(self) -> str:
        """What `api_url=` takes: `https://127.0.0.1:<port>`."""
        return f"https://{self._http.host}:{self._http.port}"

    def client_tls_context(self) -> ssl.SSLContext:
        """An SSL context that trusts this server's certificate (verification on)."""
        return self.gmail.client_tls_context()

    # -- what happened ----------------------------------------------------------------------

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted so far (a client that reuses its connection opens one)."""
        return self._http.connections_opened

    @property
    def open_connections(self) -> int:
        return self._http.open_connections

    @property
    def max_concurrent_connections(self) -> int:
        return self._http.max_concurrent_connections

    @property
    def messages(self) -> list[ReceivedMessage]:
        """The local Gmail's store: messages from both SMTP and the API."""
        return self.gmail.messages

    # -- faults -----------------------------------------------------------------------------

    def fail_next(
        self, fault: APIFault, *, times: int = 1, retry_after: float | None = None
    ) -> None:
        """Do `fault` to the next `times` send requests (in the order faults were queued).

        `retry_after` (seconds) is sent as `Retry-After` with the rate-limit and unavailable
        answers (default 1 for those; Google's text carries the time as well).

        Args:
            fault: what to do: an error answer by name ("unauthorized", "rate_limit", ...),
                or a cut ("drop_before_body", ...) or silence ("hang_after_body", ...).
            times: how many send requests it applies to.
            retry_after: seconds sent as `Retry-After` with the answers that carry one.
        """
        if fault not in get_args(APIFault):
            raise ValueError(f"unknown fault {fault!r}; one of {', '.join(get_args(APIFault))}")
        if not isinstance(times, int) or times < 1:
            raise ValueError(f"times must be a positive integer, not {times!r}")
        if retry_after is None and fault in _RETRY_AFTER_FAULTS:
            retry_after = 1.0
        self._faults.append(_Queued(fault, times, retry_after))

    @property
    def pending_faults(self) -> list[tuple[APIFault, int]]:
        return [(queued.fault, queued.remaining) for queued in self._faults]

    def clear_faults(self) -> None:
        self._faults.clear()

    def _take(self, *, before_body: bool) -> _Queued | None:
        if not self._faults:
            return None
        queued = self._faults[0]
        if (queued.fault == "drop_before_body") != before_body:
            return None
        queued.remaining -= 1
        if queued.remaining == 0:
            self._faults.popleft()
        return queued

    # -- serving ----------------------------------------------------------------------------

    def _on_head(
        self, method: str, path: str, headers: dict[str, str], connection_id: int
    ) -> Outcome | None:
        if _route(path) is None or method != "POST":
            return None
        if self._take(before_body=True) is None:
            return None
        self._record(method, path, None, connection_id, None, None, "drop_before_body", 0)
        return DROP

    async def _app(self, request: HTTPRequest) -> Outcome:
        route = _route(request.path)
        upload_type = request.query.get("uploadType") if route == "upload" else None
        record = _Recorder(self, request, upload_type)
        if route is None or request.method != "POST":
            return record.answer(_error("not_found"))
        queued = self._take(before_body=False)
        fault = queued.fault if queued is not None else None
        if fault is not None and fault in _ANSWERS:
            assert queued is not None
            return record.answer(_error(fault, retry_after=queued.retry_after), fault=fault)
        try:
            user = await self._authorize(request)
            record.user = user
            data, thread_id = self._message(request, route, upload_type)
        except _Refusal as refusal:
            return record.answer(_error(refusal.name, message=refusal.message))
        if fault in ("drop_after_body", "hang_after_body"):
            return record.action(DROP if fault == "drop_after_body" else HANG, fault)
        try:
            stored = self._store(user, data, thread_id, request.connection_id)
        except _Refusal as refusal:
            return record.answer(_error(refusal.name, message=refusal.message))
        if fault in ("drop_after_stored", "hang_after_stored"):
            return record.action(DROP if fault == "drop_after_stored" else HANG, fault)
        answer = {"id": stored.gmail_id, "threadId": stored.thread_id, "labelIds": ["SENT"]}
        return record.answer(_json(200, answer))

    def _record(
        self,
        method: str,
        path: str,
        upload_type: str | None,
        connection_id: int,
        status: int | None,
        user: str | None,
        fault: str | None,
        size: int,
    ) -> None:
        self.requests.append(
            APIRequestRecord(method, path, upload_type, connection_id, status, user, fault, size)
        )

    async def _authorize(self, request: HTTPRequest) -> str:
        """The account the bearer token is for, or the refusal Google would answer.

        The local Gmail's `token_validator` (e.g. an attached `LocalTokenEndpoint` that accepts
        only its own tokens) is asked first, then its token list, which also knows the scopes.
        """
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _Refusal("login_required")
        state = self.gmail._state
        user = state.tokens.user_of(token)
        verdict: TokenVerdict | None = None
        if state.token_validator is not None:
            answer = state.token_validator(user or "", token)
            verdict = await answer if inspect.isawaitable(answer) else answer
        if verdict is None or verdict.accepted:
            verdict = state.tokens.check_bearer(token, scopes=API_SEND_SCOPES)
        if not verdict.accepted:
            raise _Refusal("insufficient_scope" if verdict.status == "403" else "unauthorized")
        if user is None:
            raise _Refusal("unauthorized")
        wanted = request.path.split("/users/", 1)[1].split("/", 1)[0]
        if wanted != "me" and wanted.lower() != user.lower():
            raise _Refusal("bad_request", f"Delegation denied for {user}")
        return user

    def _message(
        self, request: HTTPRequest, route: str, upload_type: str | None
    ) -> tuple[bytes, str | None]:
        """The RFC 5322 bytes and the threadId asked for, from whichever way they came."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if route == "json":
            return _from_json(request.body)
        if upload_type == "media":
            if not content_type.startswith("message/"):
                raise _Refusal(
                    "bad_request",
                    f"Media type '{content_type}' is not supported. Valid media types: [message/*]",
                )
            data, thread_id = request.body, None
        elif upload_type == "multipart":
            data, thread_id = _from_multipart(request.headers.get("content-type", ""), request.body)
        else:
            raise _Refusal("bad_request", f"Invalid upload type: {upload_type!r}")
        if len(data) > self.max_upload:
            raise _Refusal("too_large")
        return data, thread_id

    def _store(
        self, user: str, data: bytes, thread_id: str | None, connection_id: int
    ) -> ReceivedMessage:
        head_end = data.find(b"\r\n\r\n")
        head = data[: head_end if head_end >= 0 else len(data)]
        text = head.decode("utf-8", "replace") + "\r\n\r\n"
        headers = email.message_from_string(text, policy=email.policy.compat32)
        recipients = _recipients(headers)
        if not recipients:
            raise _Refusal("no_recipients")
        if thread_id is not None and thread_id not in self._threads:
            raise _Refusal("not_found")
        state = self.gmail._state
        account = state.account_for(user)
        target = account.address if account is not None else user

        def may_send_as(address: str) -> bool:
            if account is None:
                return address.strip().lower() == user.strip().lower()
            return account.may_send_as(address)

        without_bcc = _without_header(data, b"bcc")
        content, original_from = rewrite_from_header(without_bcc, may_send_as, target)
        senders = email.utils.getaddresses(headers.get_all("From", []))
        original_sender = senders[0][1] if senders and senders[0][1] else target
        mail_from = original_sender if may_send_as(original_sender) else target
        gmail_id = secrets.token_hex(8)
        thread = thread_id or gmail_id
        self._threads.add(thread)
        session_id = f"api-{connection_id}"
        message = ReceivedMessage(
            mail_from=mail_from,
            rcpt_tos=recipients,
            data=content,
            session_user=user,
            mail_options=(),
            original_mail_from=original_sender,
            original_from_header=original_from,
            smtputf8=not content.isascii(),
            session_id=session_id,
            transaction_id=state.next_transaction_id(session_id),
            received_at=time.time(),
            via="api",
            gmail_id=gmail_id,
            thread_id=thread,
        )
        state.store(message)
        return message


class _Recorder:
    """Notes one request's outcome in `api.requests` when it is answered."""

    def __init__(self, api: LocalGmailAPI, request: HTTPRequest, upload_type: str | None):
        self.api = api
        self.request = request
        self.upload_type = upload_type
        self.user: str | None = None

    def answer(self, response: HTTPResponse, *, fault: str | None = None) -> HTTPResponse:
        self._note(response.status, fault)
        return response

    def action(self, action: Outcome, fault: str) -> Outcome:
        self._note(None, fault)
        return action

    def _note(self, status: int | None, fault: str | None) -> None:
        request = self.request
        self.api._record(
            request.method,
            request.path,
            self.upload_type,
            request.connection_id,
            status,
            self.user,
            fault,
            len(request.body),
        )


def _route(path: str) -> str | None:
    for name, template in (("upload", UPLOAD_PATH), ("json", JSON_PATH)):
        prefix, _, suffix = template.partition("{user}")
        if path.startswith(prefix) and path.endswith(suffix):
            user = path[len(prefix) : len(path) - len(suffix)]
            if user and "/" not in user:
                return name
    return None


def _json(status: int, body: object, headers: tuple[tuple[str, str], ...] = ()) -> HTTPResponse:
    data = json.dumps(body).encode("utf-8")
    return HTTPResponse(
        status, data, (("Content-Type", "application/json; charset=UTF-8"), *headers)
    )


def _error(
    name: str, *, message: str | None = None, retry_after: float | None = None
) -> HTTPResponse:
    rule = error_rule(name)
    text = message if message is not None else rule.message
    headers: tuple[tuple[str, str], ...] = ()
    if "{retry_at}" in text:
        wait = retry_after if retry_after is not None else 1.0
        at = datetime.now(timezone.utc) + timedelta(seconds=wait)
        text = text.format(
            retry_at=at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
        )
    if retry_after is not None:
        headers += (("Retry-After", str(max(0, round(retry_after)))),)
    if rule.status == 401:
        headers += (("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"'),)
    if rule.reason == "insufficientPermissions":
        headers += (
            (
                "WWW-Authenticate",
                'Bearer realm="https://accounts.google.com/", error="insufficient_scope", '
                f'scope="{" ".join(API_SEND_SCOPES)}"',
            ),
        )
    return _json(rule.status, rule.body(message=text), headers)


def _from_json(body: bytes) -> tuple[bytes, str | None]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise _Refusal("bad_request", "Invalid JSON payload received.") from None
    if not isinstance(data, dict) or not isinstance(data.get("raw"), str):
        raise _Refusal(
            "bad_request",
            "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
        )
    thread_id = data.get("threadId")
    if thread_id is not None and not isinstance(thread_id, str):
        raise _Refusal("bad_request", "Invalid value at 'message.thread_id' (TYPE_STRING)")
    raw = data["raw"].replace("+", "-").replace("/", "_")
    try:
        decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        raise _Refusal(
            "bad_request", "Invalid value at 'message.raw' (TYPE_BYTES), Base64 decode failed"
        ) from None
    return decoded, thread_id


def _from_multipart(content_type: str, body: bytes) -> tuple[bytes, str | None]:
    """The message and metadata of a `multipart/related` upload (JSON part, then media)."""
    parsed = email.message.Message()
    parsed["Content-Type"] = content_type
    boundary = parsed.get_param("boundary")
    if parsed.get_content_type() != "multipart/related" or not isinstance(boundary, str):
        raise _Refusal("bad_request", "multipart/related with a boundary expected")
    delimiter = b"--" + boundary.encode("ascii", "replace")
    pieces = body.split(b"\r\n" + delimiter)
    first = pieces[0]
    if not first.startswith(delimiter):
        raise _Refusal("bad_request", "Malformed multipart body.")
    pieces[0] = first[len(delimiter) :]
    parts = []
    for piece in pieces:
        if piece.startswith(b"--"):
            break
        head, separator, content = piece.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            raise _Refusal("bad_request", "Malformed multipart body.")
        parts.append((head.lower(), content))
    if len(parts) != 2 or b"json" not in parts[0][0]:
        raise _Refusal("bad_request", "Malformed multipart body.")
    try:
        metadata = json.loads(parts[0][1] or b"{}")
    except (ValueError, RecursionError):
        raise _Refusal("bad_request", "Invalid JSON payload received.") from None
    thread_id = metadata.get("threadId") if isinstance(metadata, dict) else None
    if thread_id is not None and not isinstance(thread_id, str):
        raise _Refusal("bad_request", "Invalid value at 'message.thread_id' (TYPE_STRING)")
    return parts[1][1], thread_id


def _recipients(headers: email.message.Message) -> tuple[str, ...]:
    """To, Cc and Bcc addresses in that order, repeats (ignoring case) dropped."""
    found: list[str] = []
    seen: set[str] = set()
    for name in ("To", "Cc", "Bcc"):
        for _, address in email.utils.getaddresses(headers.get_all(name, [])):
            if address and "@" in address and address.lower() not in seen:
                seen.add(address.lower())
                found.append(address)
    return tuple(found)


def _without_header(data: bytes, name: bytes) -> bytes:
    """`data` without the header field `name` (continuation lines included)."""
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        return data
    lines = data[: head_end + 2].split(b"\r\n")[:-1]
    kept: list[bytes] = []
    skipping = False
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = line.split(b":", 1)[0].strip().lower() == name
        if not skipping:
            kept.append(line)
    return b"\r\n".join(kept) + b"\r\n" + data[head_end + 2 :]
