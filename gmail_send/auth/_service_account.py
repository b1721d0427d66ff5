"""`ServiceAccount`: a Workspace service account with domain-wide delegation sends as a user.

The service account signs a JWT whose `sub` is the mailbox to send as and whose scope is
`https://mail.google.com/`; the token endpoint answers with an access token for that mailbox,
which is also the XOAUTH2 user. Delegation exists only in Google Workspace: a consumer
@gmail.com subject is refused here, before any request. Caching and the single in-flight
refresh are shared with `OAuth2Credentials` (`RefreshingTokenSource`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import google.auth.exceptions
import google.oauth2.service_account

from ..errors import ConfigurationError
from ._json import parse_json
from ._oauth2 import check_mailbox
from ._refresh import DEFAULT_TOKEN_TIMEOUT, RefreshingTokenSource
from ._token_file import GOOGLE_TOKEN_URI
from ._xoauth2 import MAIL_SCOPE

__all__ = ["CONSUMER_DOMAINS", "ServiceAccount"]

CONSUMER_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
"""Mail domains of consumer Google accounts, which domain-wide delegation cannot reach."""

_REQUIRED = ("client_email", "private_key")


class ServiceAccount(RefreshingTokenSource):
    """A service account key acting for `subject`, a mailbox of your Workspace domain.

    Prefer `ServiceAccount.from_file("sa.json", subject="user@your-domain")`; the
    constructor takes a ready google-auth service account credential.

    Args:
        credentials: a google-auth service account credential (the mail scope is added).
        subject: the Workspace mailbox to act for, by domain-wide delegation.
        timeout: seconds each request to the token endpoint may take.
    """

    _kind = "service_account"

    def __init__(
        self,
        credentials: google.oauth2.service_account.Credentials,
        *,
        subject: str,
        timeout: float = DEFAULT_TOKEN_TIMEOUT,
    ) -> None:
        check_subject(subject)
        delegated = credentials.with_subject(subject)  # type: ignore[no-untyped-call]
        if MAIL_SCOPE not in (delegated.scopes or ()):
            delegated = delegated.with_scopes([MAIL_SCOPE])
        super().__init__(
            delegated,
            user=subject,
            token_uri=getattr(delegated, "_token_uri", None),
            timeout=timeout,
        )
        self._service_account_email: str = delegated.service_account_email

    @classmethod
    def from_info(
        cls,
        info: Mapping[str, Any],
        *,
        subject: str,
        token_uri: str | None = None,
        timeout: float = DEFAULT_TOKEN_TIMEOUT,
    ) -> ServiceAccount:
        """From a service account key's JSON content (as Google Cloud console downloads it).

        Args:
            info: the key's content as a dict.
            subject: the Workspace mailbox to act for.
            token_uri: the token endpoint instead of the key's.
            timeout: seconds each request to the token endpoint may take.
        """
        return cls._from_checked(info, "service account info", subject, token_uri, timeout)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        subject: str,
        token_uri: str | None = None,
        timeout: float = DEFAULT_TOKEN_TIMEOUT,
    ) -> ServiceAccount:
        """From a service account key file; `token_uri=` wins over the file's.

        Args:
            path: the JSON key file.
            subject: the Workspace mailbox to act for.
            token_uri: the token endpoint instead of the file's.
            timeout: seconds each request to the token endpoint may take.
        """
        name = os.fspath(path)
        try:
            info = parse_json(Path(name).read_bytes().decode("utf-8"))
        except FileNotFoundError:
            raise ConfigurationError(
                f"service account key file {name} does not exist",
                hint="create a JSON key for the service account in Google Cloud console "
                "(IAM & Admin > Service Accounts > Keys)",
            ) from None
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read service account key file {name}: "
                f"{exc.strerror or type(exc).__name__}",
                hint="check the path and the file's permissions",
            ) from None
        except ValueError:
            raise ConfigurationError(
                f"service account key file {name} is not valid JSON",
                hint="download the key again (JSON type)",
            ) from None
        source = f"service account key file {name}"
        return cls._from_checked(info, source, subject, token_uri, timeout)

    @classmethod
    def _from_checked(
        cls,
        info: object,
        source: str,
        subject: str,
        token_uri: str | None,
        timeout: float,
    ) -> ServiceAccount:
        check_subject(subject)
        data = _checked_info(info, source)
        data["token_uri"] = token_uri or data.get("token_uri") or GOOGLE_TOKEN_URI
        try:
            service_account = google.oauth2.service_account.Credentials
            credentials = service_account.from_service_account_info(  # type: ignore[no-untyped-call]
                data, scopes=[MAIL_SCOPE]
            )
        except (ValueError, google.auth.exceptions.GoogleAuthError):
            # The exception text could quote part of the key: say only what is wrong.
            raise ConfigurationError(
                f"{source}: the private key could not be loaded",
                hint="download a new JSON key for the service account",
            ) from None
        account = cls(credentials, subject=subject, timeout=timeout)
        client_id = data.get("client_id")
        account._client_id = client_id if isinstance(client_id, str) else None
        return account

    @property
    def service_account_email(self) -> str:
        """The service account's own address (the JWT issuer), not the mailbox."""
        return self._service_account_email

    @property
    def token_uri(self) -> str:
        """The token endpoint the JWT grant goes to."""
        return str(self._token_uri)

    def __repr__(self) -> str:
        return (
            f"ServiceAccount(user={self._user!r}, "
            f"service_account={self._service_account_email!r}, private_key='***')"
        )


def check_subject(subject: object) -> str:
    """A Workspace mailbox for domain-wide delegation, or a `ConfigurationError`."""
    address = check_mailbox(subject, what="subject")
    domain = address.rsplit("@", 1)[1].lower()
    if domain in CONSUMER_DOMAINS:
        raise ConfigurationError(
            f"a service account cannot send as {address}: domain-wide delegation works only "
            "for Google Workspace mailboxes, never consumer @gmail.com / @googlemail.com ones",
            hint="for a consumer account use OAuth2Credentials with a token from "
            "gmail-send auth, or an app password",
        )
    return address


def _checked_info(info: object, source: str) -> dict[str, Any]:
    if not isinstance(info, Mapping):
        raise ConfigurationError(f"{source} is not a JSON object")
    if "installed" in info or "web" in info:
        raise ConfigurationError(
            f"{source} is an OAuth client secrets file, not a service account key",
            hint="for a user account run gmail-send auth with it; for a service account "
            "download a JSON key (IAM & Admin > Service Accounts > Keys)",
        )
    if "refresh_token" in info:
        raise ConfigurationError(
            f"{source} is a user token file, not a service account key",
            hint="use gmail_send.OAuth2Credentials.from_file for it",
        )
    kind = info.get("type")
    if kind is not None and kind != "service_account":
        raise ConfigurationError(f"{source} has type {kind!r}, not 'service_account'")
    missing = [key for key in _REQUIRED if not isinstance(info.get(key), str) or not info[key]]
    if missing:
        raise ConfigurationError(
            f"{source} lacks {', '.join(missing)}",
            hint="download the service account's JSON key again",
        )
    return dict(info)
