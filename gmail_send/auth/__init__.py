"""Credentials: who signs in and with what.

A `TokenSource` hands out OAuth2 access tokens (`OAuth2Token`, `TokenFunction`, refreshing
`OAuth2Credentials`, Workspace `ServiceAccount`); an `AppPassword` signs in with a password;
`Fallback` pairs the two. `run_consent_flow` is the installed-app consent flow behind
`gmail-send auth`. `MAIL_SCOPE` opens SMTP and the Gmail API, `SEND_SCOPE` the Gmail API only;
`granted_scopes(source)` tells what a token's grant holds. Nothing here knows how mail is sent.

The google-auth based names are loaded on first use, so an application that signs in with an
app password never imports google-auth's HTTP transport.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._credentials import (
    AppPassword,
    Credentials,
    Fallback,
    OAuth2Token,
    SingleCredentials,
    TokenFunction,
    TokenSource,
)
from ._scopes import MAIL_SCOPE, SEND_SCOPE, granted_scopes

if TYPE_CHECKING:
    from ._consent import quiet_third_party_loggers, read_pasted_line, run_consent_flow
    from ._oauth2 import OAuth2Credentials
    from ._service_account import ServiceAccount

_LAZY = {
    "OAuth2Credentials": "._oauth2",
    "ServiceAccount": "._service_account",
    "quiet_third_party_loggers": "._consent",
    "read_pasted_line": "._consent",
    "run_consent_flow": "._consent",
}


def _load(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


if not TYPE_CHECKING:
    # PEP 562 hook, hidden from type checkers: they see the names imported above, and a
    # misspelt one is an error there instead of an Any.
    __getattr__ = _load

__all__ = [
    "MAIL_SCOPE",
    "SEND_SCOPE",
    "AppPassword",
    "Credentials",
    "Fallback",
    "OAuth2Credentials",
    "OAuth2Token",
    "ServiceAccount",
    "SingleCredentials",
    "TokenFunction",
    "TokenSource",
    "granted_scopes",
    "quiet_third_party_loggers",
    "read_pasted_line",
    "run_consent_flow",
]
