"""The service account side of the local token endpoint: keys, delegation, JWT checks.

`ServiceAccountKeys` makes service account keys (RSA 2048, generated on the spot) and checks
a JWT bearer assertion as Google does: the RS256 signature against the account's public key,
`iss`, `aud`, a lifetime of at most an hour, then whether domain-wide delegation lets the
account act for `sub` with the requested scopes. Thread-safe; no I/O.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["AssertionRejected", "ServiceAccountKeys", "b64url", "unb64url"]

_SHORT_LIVED = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
    "timeframe. Check your iat and exp values in the JWT claim."
)
_UNAUTHORIZED = (
    "Client is unauthorized to retrieve access tokens using this method, or client not "
    "authorized for any of the scopes requested."
)


class AssertionRejected(Exception):
    """Google's answer to a bad assertion: the OAuth2 error code, description, HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


@dataclass
class _Account:
    public_key: rsa.RSAPublicKey
    subjects: set[str]
    scopes: frozenset[str]


class ServiceAccountKeys:
    """The service accounts the endpoint knows, with the subjects each may act for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[str, _Account] = {}

    def add(
        self,
        *,
        token_uri: str,
        subjects: Iterable[str],
        scopes: Iterable[str],
        client_email: str | None = None,
    ) -> dict[str, Any]:
        """A new key in Google's JSON format; delegation covers `subjects` with `scopes`."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        email = client_email or f"sender-{secrets.token_hex(3)}@local-test.iam.gserviceaccount.com"
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        with self._lock:
            self._accounts[email] = _Account(
                key.public_key(), {s.lower() for s in subjects}, frozenset(scopes)
            )
        return {
            "type": "service_account",
            "project_id": "local-test",
            "private_key_id": secrets.token_hex(20),
            "private_key": pem,
            "client_email": email,
            "client_id": str(10**20 + secrets.randbelow(10**20)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "universe_domain": "googleapis.com",
        }

    def grant_delegation(self, client_email: str, subject: str) -> None:
        """Let the account act for one more mailbox (as an admin would in the console)."""
        with self._lock:
            self._accounts[client_email].subjects.add(subject.lower())

    def verify(self, assertion: str, audiences: Iterable[str]) -> tuple[str, frozenset[str]]:
        """`(subject, scopes)` of a valid, delegated assertion, or `AssertionRejected`."""
        try:
            head_b64, body_b64, signature_b64 = assertion.split(".")
            header = json.loads(unb64url(head_b64))
            claims = json.loads(unb64url(body_b64))
            signature = unb64url(signature_b64)
        except ValueError:
            raise AssertionRejected("invalid_grant", "Invalid JWT: malformed assertion.") from None
        if not isinstance(claims, dict) or not isinstance(header, dict):
            raise AssertionRejected("invalid_grant", "Invalid JWT: malformed assertion.")
        issuer = str(claims.get("iss"))
        with self._lock:
            account = self._accounts.get(issuer)
        if header.get("alg") != "RS256" or account is None:
            raise AssertionRejected("invalid_grant", "Invalid JWT Signature.")
        try:
            account.public_key.verify(
                signature,
                f"{head_b64}.{body_b64}".encode("ascii"),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            raise AssertionRejected("invalid_grant", "Invalid JWT Signature.") from None
        if claims.get("aud") not in set(audiences):
            raise AssertionRejected("invalid_grant", "Invalid JWT: Failed audience check.")
        _check_lifetime(claims.get("iat"), claims.get("exp"))
        subject = str(claims.get("sub") or issuer)
        scopes = frozenset(str(claims.get("scope", "")).split())
        with self._lock:
            delegated = subject.lower() in account.subjects
        if not delegated or not scopes or not scopes <= account.scopes:
            raise AssertionRejected("unauthorized_client", _UNAUTHORIZED, status=401)
        return subject, scopes


def _check_lifetime(iat: object, exp: object) -> None:
    now = time.time()
    if (
        not isinstance(exp, int)
        or not isinstance(iat, int)
        or exp <= now
        or iat > now + 300
        or exp - iat > 3600
    ):
        raise AssertionRejected("invalid_grant", _SHORT_LIVED)


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWTs use it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """The inverse of `b64url`; raises ValueError (binascii.Error) on bad input."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
