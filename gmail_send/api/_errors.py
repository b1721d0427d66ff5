"""The Gmail API's error answers: Google's JSON shapes, and the typed error each one becomes.

Google answers an HTTP error with `{"error": {"code", "message", "errors": [{"reason",
"domain", "message"}], "status"}}`. `API_ERRORS` holds the answers a sender meets (shared with
the local Gmail API in `gmail_send.testing`, which answers with them); `parse_error_body` reads
any body, Google's or a proxy's, into an `APIReply` without ever raising; `error_for_answer`
turns it into the library's error tree:

| answer | error | what happens next |
|---|---|---|
| 401 (authError, ...) | `AuthenticationError(mechanism="bearer")` | one new token, then the error |
| 403 insufficientPermissions | `TokenError` naming the scopes that send | not retried |
| 403 accessNotConfigured | `ConfigurationError` with the console link | not retried |
| 429, 403 rateLimitExceeded or userRateLimitExceeded, 503 | `TemporaryError` | backoff (*) |
| 429 "... (Mail sending)" | `QuotaExceededError` | the account is paused, as after 550 5.4.5 |
| other 5xx after the body went out | `UnknownOutcomeError` | never resent blindly |
| other 5xx before it | `TemporaryError` | retried |
| 404 | `ConfigurationError` (api_url) | not retried |
| other 4xx | `PermanentError` | not retried |

(*) jittered backoff, never shorter than the answer's Retry-After (`TemporaryError.retry_after`).

Pure functions, no I/O, no HTTP client: this module is also what the outside-input test feeds.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .._transport import API_UNKNOWN_HINT
from ..auth._json import parse_json
from ..auth._scopes import MAIL_SCOPE, SEND_SCOPE
from ..errors import (
    APIReply,
    AuthenticationError,
    ConfigurationError,
    GmailSendError,
    PermanentError,
    QuotaExceededError,
    TemporaryError,
    TokenError,
    UnknownOutcomeError,
)

__all__ = [
    "API_ERRORS",
    "MAX_RETRY_AFTER",
    "APIErrorRule",
    "error_for_answer",
    "error_rule",
    "parse_error_body",
    "parse_retry_after",
    "parse_send_answer",
]

MAX_RETRY_AFTER = 24 * 3600.0
"""The longest Retry-After taken as given (a larger or absurd value is capped here)."""

_MAX_MESSAGE = 500
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]+")
_RETRY_AFTER_TEXT = re.compile(r"Retry after (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)")
_CONSOLE_LINK = re.compile(r"https://console\.(?:developers|cloud)\.google\.com/[^\s\"'<>]+")
_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
_SCOPE_REASONS = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})
_DISABLED_REASONS = frozenset({"accessNotConfigured", "SERVICE_DISABLED"})
_ENABLE_PAGE = "https://console.cloud.google.com/apis/library/gmail.googleapis.com"


@dataclass(frozen=True)
class APIErrorRule:
    """One of Google's error answers: status, reason, texts, and the JSON Google sends."""

    name: str
    status: int
    reason: str
    message: str
    google_status: str
    domain: str = "global"
    detail: str | None = None
    """`errors[0].message` where it differs from the top-level message."""

    def body(self, *, message: str | None = None) -> dict[str, Any]:
        """The JSON body Google answers with (`message` replaces the standard text)."""
        text = message if message is not None else self.message
        entry = {"message": self.detail or text, "domain": self.domain, "reason": self.reason}
        return {
            "error": {
                "code": self.status,
                "message": text,
                "errors": [entry],
                "status": self.google_status,
            }
        }


API_ERRORS: tuple[APIErrorRule, ...] = (
    APIErrorRule(
        "unauthorized",
        401,
        "authError",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
        "cookie or other valid authentication credential. See "
        "https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "UNAUTHENTICATED",
        detail="Invalid Credentials",
    ),
    APIErrorRule(
        "login_required",
        401,
        "required",
        "Request is missing required authentication credential. Expected OAuth 2 access "
        "token, login cookie or other valid authentication credential.",
        "UNAUTHENTICATED",
        detail="Login Required.",
    ),
    APIErrorRule(
        "insufficient_scope",
        403,
        "insufficientPermissions",
        "Request had insufficient authentication scopes.",
        "PERMISSION_DENIED",
        detail="Insufficient Permission",
    ),
    APIErrorRule(
        "access_not_configured",
        403,
        "accessNotConfigured",
        "Gmail API has not been used in project 123456789012 before or it is disabled. Enable "
        "it by visiting https://console.developers.google.com/apis/api/gmail.googleapis.com/"
        "overview?project=123456789012 then retry. If you enabled this API recently, wait a "
        "few minutes for the action to propagate to our systems and retry.",
        "PERMISSION_DENIED",
        domain="usageLimits",
    ),
    APIErrorRule(
        "user_rate_limit",
        403,
        "userRateLimitExceeded",
        "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of "
        "service 'gmail.googleapis.com' for consumer 'project_number:123456789012'.",
        "PERMISSION_DENIED",
        domain="usageLimits",
    ),
    APIErrorRule(
        "rate_limit",
        429,
        "rateLimitExceeded",
        "User-rate limit exceeded.  Retry after {retry_at}",
        "RESOURCE_EXHAUSTED",
        domain="usageLimits",
    ),
    APIErrorRule(
        "daily_limit",
        429,
        "rateLimitExceeded",
        "User-rate limit exceeded.  Retry after {retry_at} (Mail sending)",
        "RESOURCE_EXHAUSTED",
        domain="usageLimits",
    ),
    APIErrorRule(
        "bad_request",
        400,
        "invalidArgument",
        "Invalid To header",
        "INVALID_ARGUMENT",
    ),
    APIErrorRule(
        "no_recipients",
        400,
        "failedPrecondition",
        "Recipient address required",
        "FAILED_PRECONDITION",
    ),
    APIErrorRule(
        "not_found",
        404,
        "notFound",
        "Requested entity was not found.",
        "NOT_FOUND",
    ),
    APIErrorRule(
        "too_large",
        413,
        "uploadTooLarge",
        "Request Too Large",
        "FAILED_PRECONDITION",
    ),
    APIErrorRule(
        "server_error",
        500,
        "backendError",
        "Internal error encountered.",
        "INTERNAL",
        detail="Backend Error",
    ),
    APIErrorRule(
        "unavailable",
        503,
        "backendError",
        "The service is currently unavailable.",
        "UNAVAILABLE",
    ),
)
"""The Gmail API's error answers that a sender meets, as Google words them."""


def error_rule(name: str) -> APIErrorRule:
    """The row of `API_ERRORS` called `name`."""
    for rule in API_ERRORS:
        if rule.name == name:
            return rule
    raise KeyError(name)


def _clean(text: str) -> str:
    cleaned = _CONTROL.sub(" ", text).strip()
    return cleaned if len(cleaned) <= _MAX_MESSAGE else cleaned[: _MAX_MESSAGE - 3] + "..."


def parse_error_body(status: int, body: bytes | str) -> APIReply:
    """An `APIReply` from any error answer: Google's JSON, another JSON, HTML or garbage."""
    reason: str | None = None
    message = ""
    try:
        data = parse_json(body)
    except ValueError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        if isinstance(error.get("message"), str):
            message = error["message"]
        entries = error.get("errors")
        first = entries[0] if isinstance(entries, list) and entries else None
        if isinstance(first, dict) and isinstance(first.get("reason"), str):
            reason = first["reason"]
        if reason is None:
            reason = _detail_reason(error.get("details"))
        if not message and isinstance(first, dict) and isinstance(first.get("message"), str):
            message = first["message"]
    elif isinstance(error, str):  # OAuth-style {"error": "invalid_token", ...}
        reason = error
        description = data.get("error_description") if isinstance(data, dict) else None
        message = description if isinstance(description, str) else ""
    if not message and data is None:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        message = text[:200]
    return APIReply(status, (_clean(reason) or None) if reason else None, _clean(message))


def _detail_reason(details: object) -> str | None:
    """The `reason` of a google.rpc.ErrorInfo in `details`, if there is one."""
    if not isinstance(details, list):
        return None
    for detail in details:
        if isinstance(detail, dict) and isinstance(detail.get("reason"), str):
            return str(detail["reason"])
    return None


def parse_retry_after(
    header: str | None, message: str = "", *, now: Callable[[], float] = time.time
) -> float | None:
    """Seconds to wait: the Retry-After header (seconds or an HTTP date), else Gmail's
    "Retry after <ISO time>" in the message; None when neither says; capped at a day."""
    seconds: float | None = None
    if header is not None:
        text = header.strip()
        if text.isascii() and text.isdigit():
            seconds = float(text[:9])  # a billion seconds is capped below anyway
        else:
            try:
                when = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError, OverflowError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=timezone.utc)
                seconds = when.timestamp() - now()
    if seconds is None:
        found = _RETRY_AFTER_TEXT.search(message)
        if found:
            try:
                when = datetime.strptime(found.group(1).replace("Z", "+0000"), _ISO)
            except ValueError:
                when = None
            if when is not None:
                seconds = when.timestamp() - now()
    if seconds is None:
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


_ISO = "%Y-%m-%dT%H:%M:%S.%f%z"


def parse_send_answer(body: bytes) -> tuple[str | None, str | None]:
    """`(id, threadId)` from users.messages.send's answer; None for what it lacks."""
    try:
        data = parse_json(body)
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    ids = [data.get(key) for key in ("id", "threadId")]
    gmail_id, thread_id = (_clean(v) if isinstance(v, str) and v else None for v in ids)
    return gmail_id, thread_id


def error_for_answer(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    sent_at: float | None,
    message_id: str,
    now: Callable[[], float] = time.time,
) -> GmailSendError:
    """The typed error for an HTTP error answer to users.messages.send (see the table above).

    `headers` are the answer's, keys in lower case; `sent_at` says when the whole request body
    went out before the answer came (None: it had not).
    """
    reply = parse_error_body(status, body)
    reason = reply.reason or ""
    text = reply.message
    if status == 401:
        return AuthenticationError(
            f"the Gmail API refused the access token ({reply})",
            hint="the token expired or was revoked; a refreshing token source gets a new one",
            mechanism="bearer",
            api_reply=reply,
        )
    if reason in _SCOPE_REASONS:
        return TokenError(
            f"the access token may not send through the Gmail API ({reply})",
            hint=f"authorize with the scope {SEND_SCOPE} (`gmail-send auth --scope send`) or "
            f"{MAIL_SCOPE}",
            mechanism="bearer",
            api_reply=reply,
        )
    if reason in _DISABLED_REASONS:
        link = _CONSOLE_LINK.search(text)
        return ConfigurationError(
            f"the Gmail API is not enabled in the Google Cloud project of this OAuth client "
            f"({reply})",
            hint=f"enable it at {link.group(0) if link else _ENABLE_PAGE}, wait a few minutes, "
            "then send again",
            api_reply=reply,
        )
    retry_after = parse_retry_after(headers.get("retry-after"), text, now=now)
    if reason in _RATE_REASONS or status == 429:
        if "(Mail sending)" in text or reason == "dailyLimitExceeded":
            return QuotaExceededError(
                f"Gmail reports the account's daily sending limit reached ({reply})",
                retry_after=retry_after,
                hint="wait; the limit is per account, shared by SMTP, the API and the web",
                api_reply=reply,
            )
        return TemporaryError(
            f"the Gmail API asks to slow down ({reply})",
            hint="sending again after the wait is safe; lower rate_limit if it keeps happening",
            retryable=True,
            retry_after=retry_after,
            api_reply=reply,
        )
    if status == 503:
        return TemporaryError(
            f"the Gmail API is unavailable for the moment ({reply})",
            hint="nothing was sent; sending again later is safe",
            retryable=True,
            retry_after=retry_after,
            api_reply=reply,
        )
    if status >= 500:
        if sent_at is not None:
            return UnknownOutcomeError(
                f"the Gmail API failed after the message went out ({reply}); it may or may not "
                "have been sent",
                message_id=message_id,
                hint=API_UNKNOWN_HINT,
                api_reply=reply,
                sent_at=sent_at,
                transport="api",
            )
        return TemporaryError(
            f"the Gmail API failed before the message went out ({reply})",
            retryable=True,
            retry_after=retry_after,
            api_reply=reply,
        )
    if status == 404:
        return ConfigurationError(
            f"no Gmail API send method at this address ({reply})",
            hint="check api_url (default https://gmail.googleapis.com)",
            api_reply=reply,
        )
    return PermanentError(
        f"the Gmail API refused the message ({reply})",
        hint="sending the same message again will fail the same way",
        retryable=False,
        api_reply=reply,
    )
