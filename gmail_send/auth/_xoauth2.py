"""The SASL XOAUTH2 mechanism: build the initial response, decode Gmail's failure challenge.

Pure functions, no I/O. See https://developers.google.com/gmail/imap/xoauth2-protocol.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from ._json import parse_json

__all__ = ["MAIL_SCOPE", "XOAuth2Challenge", "build_xoauth2", "parse_xoauth2_challenge"]

MAIL_SCOPE = "https://mail.google.com/"
"""The only OAuth2 scope Gmail's SMTP server accepts."""


def build_xoauth2(user: str, access_token: str) -> str:
    """Base64 of `user=<user>^Aauth=Bearer <token>^A^A`, sent as `AUTH XOAUTH2 <this>`."""
    for value in (user, access_token):
        if any(ch in value for ch in "\x01\r\n\x00"):
            raise ValueError("XOAUTH2 user and token must not contain control characters")
    raw = f"user={user}\x01auth=Bearer {access_token}\x01\x01"
    return base64.b64encode(raw.encode("utf-8")).decode("ascii")


@dataclass(frozen=True)
class XOAuth2Challenge:
    """What Gmail's `334` challenge says after a rejected token, e.g. status 400 and the scope."""

    status: str | None
    schemes: str | None
    scope: str | None
    raw: str

    @property
    def hint(self) -> str:
        """What the challenge suggests the user should do."""
        if self.scope and MAIL_SCOPE not in self.scope.split():
            return (
                f"the token lacks the {MAIL_SCOPE} scope (it has {self.scope!r}); "
                f"authorize again with scope {MAIL_SCOPE}"
            )
        if self.status == "400":
            return (
                "the access token is malformed or lacks the https://mail.google.com/ scope; "
                "obtain a token with that scope"
            )
        if self.status == "401":
            return "the access token is expired or revoked; refresh it or authorize again"
        return "the access token was not accepted; refresh it or authorize again"


def parse_xoauth2_challenge(payload: str) -> XOAuth2Challenge:
    """Decode the base64 JSON of a 334 challenge; never fails, since it only refines errors."""
    text = payload.strip()
    try:
        decoded = base64.b64decode(text, validate=True).decode("utf-8")
        data = parse_json(decoded)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return XOAuth2Challenge(status=None, schemes=None, scope=None, raw=text)
    if not isinstance(data, dict):
        return XOAuth2Challenge(status=None, schemes=None, scope=None, raw=decoded)

    def field(name: str) -> str | None:
        value = data.get(name)
        return None if value is None else str(value)

    return XOAuth2Challenge(
        status=field("status"), schemes=field("schemes"), scope=field("scope"), raw=decoded
    )
