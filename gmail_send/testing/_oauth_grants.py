"""What the local OAuth2 endpoints decide: clients, grants and tokens, without any I/O.

`GrantBook` answers like Google's endpoints closely enough for google-auth and
google-auth-oauthlib to take their real code paths: the refresh_token grant, the
authorization code grant with PKCE (S256), and the JWT bearer grant of service accounts,
whose RS256 signature is verified with the account's public key. The ID tokens it issues are
HS256-signed with a key of its own: fine for a local test server, useless to anyone else.
Service account keys and JWT checks live in `jwt_bearer`. Handler threads call all this
concurrently, so every method takes the lock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from ..auth._xoauth2 import MAIL_SCOPE
from ._jwt_bearer import AssertionRejected, ServiceAccountKeys, b64url

__all__ = [
    "EMAIL_SCOPE",
    "GOOGLE_TOKEN_URI",
    "JWT_GRANT_TYPE",
    "GrantBook",
    "GrantError",
    "IssuedToken",
    "OAuthClient",
]

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL)
JWT_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
EMAIL_SCOPE = "https://www.googleapis.com/auth/userinfo.email"
_ALIASES = {"email": EMAIL_SCOPE, "profile": "https://www.googleapis.com/auth/userinfo.profile"}
_KNOWN_SCOPES = frozenset(
    {MAIL_SCOPE, "openid", *_ALIASES.values(), "https://www.googleapis.com/auth/gmail.send"}
)
_REVOKED = "Token has been expired or revoked."


class GrantError(Exception):
    """An OAuth2 error answer: HTTP status and the JSON body Google would send."""

    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True)
class OAuthClient:
    """An OAuth client the endpoint knows (a "Desktop app" client in Google's terms)."""

    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class IssuedToken:
    """An access token the endpoint issued: for whom, what scope, until when (time.time())."""

    access_token: str = field(repr=False)
    account: str
    scope: str
    expires_at: float
    grant_type: str
    client_id: str | None


@dataclass
class _RefreshRecord:
    account: str
    client_id: str
    scopes: frozenset[str]
    revoked: bool = False


@dataclass
class _CodeRecord:
    client_id: str
    redirect_uri: str
    account: str
    scopes: frozenset[str]
    challenge: str | None
    expires_at: float


class GrantBook:
    """The endpoint's memory and rules. `on_issue` sees each new access token."""

    def __init__(self, *, expires_in: int = 3599, signed_in_user: str = "me@gmail.com") -> None:
        self.expires_in = expires_in
        self.signed_in_user = signed_in_user
        self.deny_consent = False
        self.withhold_scopes: set[str] = set()
        self.on_issue: Callable[[IssuedToken], None] | None = None
        self.issued: list[IssuedToken] = []
        self.grant_counts: Counter[str] = Counter()
        self._lock = threading.RLock()
        self._clients: dict[str, str] = {}
        self._refresh: dict[str, _RefreshRecord] = {}
        self._codes: dict[str, _CodeRecord] = {}
        self.service_accounts = ServiceAccountKeys()
        self._id_key = secrets.token_bytes(32)

    # -- setup ------------------------------------------------------------------------------

    def add_client(
        self, client_id: str | None = None, client_secret: str | None = None
    ) -> OAuthClient:
        client = OAuthClient(
            client_id or f"{secrets.randbelow(10**12):012d}-local.apps.googleusercontent.com",
            client_secret or "GOCSPX-" + secrets.token_urlsafe(21),
        )
        with self._lock:
            self._clients[client.client_id] = client.client_secret
        return client

    def add_refresh_token(self, account: str, client_id: str, scopes: Iterable[str]) -> str:
        token = "1//local-" + secrets.token_urlsafe(32)
        with self._lock:
            self._refresh[token] = _RefreshRecord(account, client_id, _normalize(scopes))
        return token

    def revoke(self, refresh_token: str) -> None:
        with self._lock:
            record = self._refresh.get(refresh_token)
            if record is not None:
                record.revoked = True

    def issue(
        self,
        account: str,
        scopes: Iterable[str],
        grant_type: str,
        client_id: str | None,
        *,
        lifetime: float | None = None,
    ) -> IssuedToken:
        """Make, remember and announce a new access token."""
        issued = IssuedToken(
            "ya29.local-" + secrets.token_urlsafe(32),
            account,
            " ".join(sorted(_normalize(scopes))),
            time.time() + (self.expires_in if lifetime is None else lifetime),
            grant_type,
            client_id,
        )
        with self._lock:
            self.issued.append(issued)
        if self.on_issue is not None:
            self.on_issue(issued)
        return issued

    def count(self, grant_type: str) -> None:
        """Count one token request of this grant type."""
        with self._lock:
            self.grant_counts[grant_type] += 1

    def knows_access_token(self, token: str) -> bool:
        with self._lock:
            return any(hmac.compare_digest(t.access_token, token) for t in self.issued)

    # -- the authorization endpoint ---------------------------------------------------------

    def authorize(self, query: Mapping[str, str]) -> str:
        """The consent screen, answered at once: the redirect Location, or a `GrantError`."""
        with self._lock:
            client_id = query.get("client_id", "")
            if client_id not in self._clients:
                raise GrantError("invalid_client", "The OAuth client was not found.", status=401)
            redirect_uri = query.get("redirect_uri", "")
            parts = urlsplit(redirect_uri)
            if parts.scheme != "http" or parts.hostname not in ("localhost", "127.0.0.1"):
                raise GrantError(
                    "redirect_uri_mismatch",
                    "A desktop client needs a loopback redirect_uri (http://localhost:PORT/).",
                )
            if query.get("response_type") != "code":
                raise GrantError("unsupported_response_type", "response_type must be code.")
            challenge = query.get("code_challenge")
            if challenge and query.get("code_challenge_method") != "S256":
                raise GrantError("invalid_request", "code_challenge_method must be S256.")
            state = query.get("state", "")
            requested = _normalize(query.get("scope", "").split())
            if self.deny_consent:
                return _with_query(redirect_uri, error="access_denied", state=state)
            if not requested or not requested <= _KNOWN_SCOPES:
                return _with_query(redirect_uri, error="invalid_scope", state=state)
            granted = requested - {_normalize_one(s) for s in self.withhold_scopes}
            code = "4/local-" + secrets.token_urlsafe(24)
            self._codes[code] = _CodeRecord(
                client_id,
                redirect_uri,
                self.signed_in_user,
                granted,
                challenge or None,
                time.time() + 600,
            )
        return _with_query(redirect_uri, state=state, code=code, scope=" ".join(sorted(granted)))

    # -- the token endpoint -----------------------------------------------------------------

    def token(
        self, form: Mapping[str, str], basic: tuple[str, str] | None, audiences: Iterable[str]
    ) -> dict[str, Any]:
        """The 200 answer to a token request, or a `GrantError`."""
        grant_type = form.get("grant_type", "")
        self.count(grant_type)
        if grant_type == "refresh_token":
            return self._refresh_grant(form, self._client(form, basic))
        if grant_type == "authorization_code":
            return self._code_grant(form, self._client(form, basic))
        if grant_type == JWT_GRANT_TYPE:
            return self._jwt_grant(form.get("assertion", ""), set(audiences))
        raise GrantError("unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _client(self, form: Mapping[str, str], basic: tuple[str, str] | None) -> str:
        client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        with self._lock:
            known = self._clients.get(client_id)
        if known is None or not hmac.compare_digest(known.encode(), secret.encode()):
            raise GrantError("invalid_client", "Unauthorized", status=401)
        return client_id

    def _refresh_grant(self, form: Mapping[str, str], client_id: str) -> dict[str, Any]:
        with self._lock:
            record = self._refresh.get(form.get("refresh_token", ""))
            if record is None or record.revoked:
                raise GrantError("invalid_grant", _REVOKED)
            if record.client_id != client_id:
                raise GrantError("unauthorized_client", "Unauthorized")
            scopes = record.scopes
        if form.get("scope"):
            requested = _normalize(form["scope"].split())
            if not requested <= scopes:
                raise GrantError(
                    "invalid_scope",
                    f"Some requested scopes were invalid. {{invalid={sorted(requested - scopes)}}}",
                )
            scopes = requested
        return self._answer(record.account, scopes, "refresh_token", client_id)

    def _code_grant(self, form: Mapping[str, str], client_id: str) -> dict[str, Any]:
        with self._lock:
            record = self._codes.pop(form.get("code", ""), None)  # a code works once
        if record is None or record.expires_at < time.time() or record.client_id != client_id:
            raise GrantError("invalid_grant", "Malformed auth code.")
        if form.get("redirect_uri") != record.redirect_uri:
            raise GrantError("redirect_uri_mismatch", "Bad Request")
        if record.challenge is not None:
            digest = hashlib.sha256(form.get("code_verifier", "").encode("ascii")).digest()
            if not hmac.compare_digest(b64url(digest), record.challenge):
                raise GrantError("invalid_grant", "Invalid code verifier.")
        answer = self._answer(record.account, record.scopes, "authorization_code", client_id)
        answer["refresh_token"] = self.add_refresh_token(record.account, client_id, record.scopes)
        return answer

    def _jwt_grant(self, assertion: str, audiences: set[str]) -> dict[str, Any]:
        try:
            subject, scopes = self.service_accounts.verify(assertion, audiences)
        except AssertionRejected as exc:
            raise GrantError(exc.error, exc.description, status=exc.status) from None
        issued = self.issue(subject, scopes, JWT_GRANT_TYPE, None)
        return {
            "access_token": issued.access_token,
            "expires_in": self.expires_in,
            "token_type": "Bearer",
        }

    def _answer(
        self, account: str, scopes: frozenset[str], grant_type: str, client_id: str
    ) -> dict[str, Any]:
        issued = self.issue(account, scopes, grant_type, client_id)
        answer: dict[str, Any] = {
            "access_token": issued.access_token,
            "expires_in": self.expires_in,
            "scope": issued.scope,
            "token_type": "Bearer",
        }
        if "openid" in scopes:
            answer["id_token"] = self._id_token(account, client_id, EMAIL_SCOPE in scopes)
        return answer

    def _id_token(self, account: str, client_id: str, with_email: bool) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "https://accounts.google.com",
            "aud": client_id,
            "sub": str(int(hashlib.sha256(account.lower().encode()).hexdigest()[:16], 16)),
            "iat": now,
            "exp": now + 3600,
        }
        if with_email:
            claims.update(email=account, email_verified=True)
        header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = b64url(json.dumps(claims).encode())
        signature = hmac.new(self._id_key, f"{header}.{payload}".encode(), "sha256").digest()
        return f"{header}.{payload}.{b64url(signature)}"


def _normalize_one(scope: str) -> str:
    return _ALIASES.get(scope, scope)


def _normalize(scopes: Iterable[str]) -> frozenset[str]:
    return frozenset(_normalize_one(s) for s in scopes if s)


def _with_query(url: str, **params: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
