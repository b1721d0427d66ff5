"""The installed-app consent flow: sign in once in a browser, get a token file for good.

`run_consent_flow` uses google-auth-oauthlib's `InstalledAppFlow` (authorization URL with
PKCE, code exchange) with Google's loopback redirect: a small HTTP server on
`http://localhost:PORT/` receives the browser's redirect. It asks for
`https://mail.google.com/` plus `openid email`, so the mailbox is learnt from the ID token when
`user` is not given, and writes the token file (mode 0600, atomically, with "account").

On a machine without a browser the user opens the URL elsewhere and either forwards the port
(`ssh -L PORT:localhost:PORT server`) or pastes back the address the browser ended on; the
loopback server and the paste-back race, and the first valid answer wins. Only a response
carrying this flow's `state` is accepted from either.

requests-oauthlib logs token bodies at DEBUG, so its loggers (and oauthlib's, urllib3's,
google_auth_oauthlib's) are held at WARNING while the flow runs, and restored afterwards.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import webbrowser
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from google_auth_oauthlib.flow import InstalledAppFlow
from oauthlib.oauth2.rfc6749.errors import (  # type: ignore[import-untyped]
    InsecureTransportError,
    OAuth2Error,
)

from ..errors import AuthenticationError, ConfigurationError, TokenError
from ._json import parse_json
from ._loopback import LoopbackReceiver, read_pasted_line
from ._oauth2 import OAuth2Credentials, check_mailbox
from ._token_errors import missing_scope_error
from ._token_file import format_expiry, write_token_file
from ._xoauth2 import MAIL_SCOPE

__all__ = [
    "CONSENT_SCOPES",
    "load_client_config",
    "quiet_third_party_loggers",
    "read_pasted_line",
    "run_consent_flow",
]

log = logging.getLogger("gmail_send.auth")

EMAIL_SCOPE = "https://www.googleapis.com/auth/userinfo.email"
CONSENT_SCOPES = (MAIL_SCOPE, "openid", EMAIL_SCOPE)
"""What the flow asks for: Gmail's SMTP scope, and `openid email` to learn the address."""

_QUIET = ("requests_oauthlib", "oauthlib", "urllib3", "google_auth_oauthlib")
_CREATE_CLIENT = (
    "in Google Cloud console > Google Auth Platform > Clients, create an OAuth client of type "
    "'Desktop app' and download its JSON"
)


def run_consent_flow(
    client_secrets: str | os.PathLike[str] | Mapping[str, Any],
    token_path: str | os.PathLike[str],
    *,
    user: str | None = None,
    open_browser: bool = True,
    port: int = 0,
    host: str = "localhost",
    no_browser_input: Callable[[str], str] | None = None,
    timeout: float | None = 600.0,
    echo: Callable[[str], object] = print,
    open_url: Callable[[str], object] | None = None,
) -> OAuth2Credentials:
    """Run the consent flow, write `token_path` and return credentials backed by it.

    `open_browser=False` prints the URL with SSH port-forward instructions instead; with
    `no_browser_input` the redirected address may also be pasted back: pass
    `read_pasted_line` (stdin, polled so the flow can finish when the redirect wins first) or
    any `ask(prompt) -> str`; `ask("")` is called again while waiting, without a prompt.
    `open_url` replaces `webbrowser.open`. Blocking: from async code use `asyncio.to_thread`.

    Args:
        client_secrets: the OAuth client's JSON (a path, or its content as a dict).
        token_path: where to write the token file.
        user: the mailbox to sign in as: a hint to Google's page, and checked against the
            account that signed in.
        open_browser: open the consent page in a browser; False to print its address only.
        port: the loopback port Google redirects to (0: any free port).
        host: the loopback host name Google redirects to.
        no_browser_input: `ask(prompt) -> str` to read the redirected address pasted back,
            e.g. `read_pasted_line`; None to wait for the redirect only.
        timeout: seconds to wait for an answer from the browser; None to wait forever.
        echo: where messages for the user (the address to open, ...) go.
        open_url: opens the consent page instead of `webbrowser.open`.

    Returns:
        `OAuth2Credentials` backed by the token file written.
    """
    config = load_client_config(client_secrets)
    installed = config["installed"]
    if user is not None:
        check_mailbox(user, what="user")
    with quiet_third_party_loggers():
        flow = InstalledAppFlow.from_client_config(config, scopes=list(CONSENT_SCOPES))
        with LoopbackReceiver(host, port) as receiver:
            flow.redirect_uri = receiver.redirect_uri
            options = {"prompt": "consent"}  # so Google sends a refresh token every time
            if user:
                options["login_hint"] = user
            auth_url, state = flow.authorization_url(**options)
            receiver.state = state
            _show(auth_url, receiver, open_browser, no_browser_input is not None, echo, open_url)
            if no_browser_input is not None:
                receiver.read_pasted(no_browser_input, echo)
            response = receiver.wait(timeout)
        token = _exchange(flow, response)
    info = _token_info(token, installed, user)
    try:
        write_token_file(token_path, info)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write the token file {os.fspath(token_path)}: "
            f"{exc.strerror or type(exc).__name__}",
            hint="choose a writable path for --token",
        ) from None
    log.info("wrote the token for %s to %s", info["account"], os.fspath(token_path))
    return OAuth2Credentials.from_file(token_path)


def load_client_config(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Read and check an OAuth client secrets file (or dict): it must be a Desktop app client."""
    name = "client secrets"
    if isinstance(source, Mapping):
        data: Any = dict(source)
    else:
        name = f"client secrets file {os.fspath(source)}"
        try:
            data = parse_json(Path(source).read_bytes().decode("utf-8"))
        except FileNotFoundError:
            raise ConfigurationError(f"{name} does not exist", hint=_CREATE_CLIENT) from None
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read {name}: {exc.strerror or type(exc).__name__}",
                hint="check the path and the file's permissions",
            ) from None
        except ValueError:
            raise ConfigurationError(
                f"{name} is not valid JSON", hint=f"download it again: {_CREATE_CLIENT}"
            ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{name} is not a JSON object", hint=_CREATE_CLIENT)
    if "installed" not in data:
        if "web" in data:
            message = f"{name} is for a 'Web application' OAuth client"
        elif "refresh_token" in data:
            message = f"{name} is a token file, not client secrets"
        elif data.get("type") == "service_account":
            message = f"{name} is a service account key, not client secrets"
        else:
            message = f"{name} is not an OAuth client secrets file"
        raise ConfigurationError(
            message, hint=f"the loopback consent flow needs a Desktop app client: {_CREATE_CLIENT}"
        )
    client = data["installed"]
    wanted = ("client_id", "client_secret", "auth_uri", "token_uri")
    missing = [k for k in wanted if not isinstance(client, dict) or not client.get(k)]
    if missing:
        raise ConfigurationError(f"{name} lacks {', '.join(missing)}", hint=_CREATE_CLIENT)
    for key in ("auth_uri", "token_uri"):
        value = client[key]
        if not isinstance(value, str) or urlsplit(value).scheme != "https":
            raise ConfigurationError(
                f"{name} has a {key} that is not https: {value!r}",
                hint="the sign-in and the token exchange carry secrets and must use https; "
                f"download the client secrets again ({_CREATE_CLIENT}); a local test "
                "endpoint must serve https with a test CA",
            )
    return {"installed": dict(client)}


@contextlib.contextmanager
def quiet_third_party_loggers() -> Iterator[None]:
    """Hold the loggers that print tokens at DEBUG at WARNING for a while, then restore them."""
    saved = [(logging.getLogger(name), logging.getLogger(name).level) for name in _QUIET]
    for logger, _ in saved:
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def _show(
    url: str,
    receiver: LoopbackReceiver,
    open_browser: bool,
    pasting: bool,
    echo: Callable[[str], object],
    open_url: Callable[[str], object] | None,
) -> None:
    if open_browser:
        opened = (open_url or webbrowser.open)(url)
        if opened is not False:
            echo(f"A browser window should open; if it does not, open this address:\n\n  {url}\n")
            return
        echo("Could not open a browser.")
    port = receiver.port
    echo(f"Open this address in a browser and sign in with the Gmail account:\n\n  {url}\n")
    echo(
        f"The browser is then sent to {receiver.redirect_uri}. If this machine is not the one "
        f"with the browser, forward the port first, on the browser's machine:\n\n"
        f"  ssh -L {port}:localhost:{port} <this server>\n"
    )
    if pasting:
        echo(
            "Or, without a forward: copy the address the browser ends on (it starts with "
            f"{receiver.redirect_uri} and may show an error page) and paste it here."
        )


def _exchange(flow: InstalledAppFlow, response: str) -> dict[str, Any]:
    query = parse_qs(urlsplit(response).query)
    if "error" in query:
        error = query["error"][0]
        raise AuthenticationError(
            f"the sign-in was not completed: {error}",
            hint="allow access on the consent screen, including the Gmail permission"
            if error == "access_denied"
            else "run gmail-send auth again",
        )
    # oauthlib insists on https; the loopback redirect is plain http by Google's design.
    https_response = "https://" + response.split("://", 1)[-1]
    try:
        token = flow.fetch_token(authorization_response=https_response)
    except Warning as changed:  # oauthlib: "Scope has changed" (the user unticked one)
        token = getattr(changed, "token", None)
        if not isinstance(token, Mapping):
            raise
    except InsecureTransportError:
        raise ConfigurationError(
            "the client secrets' token_uri is not https", hint="download them again"
        ) from None
    except OAuth2Error as exc:
        raise TokenError(
            f"the authorization code was refused ({exc.error}: {exc.description})",
            hint="wrong client secret?"
            if exc.error in ("invalid_client", "unauthorized_client")
            else "the code expired or was used already; run gmail-send auth again",
        ) from None
    except requests.RequestException as exc:
        raise TokenError(
            f"token endpoint unreachable: {type(exc).__name__}",
            hint="check the network and proxy settings, then run gmail-send auth again",
        ) from None
    return dict(token)


def _token_info(
    token: Mapping[str, Any], client: Mapping[str, Any], user: str | None
) -> dict[str, Any]:
    scope = token.get("scope") or []
    granted = scope.split() if isinstance(scope, str) else [str(s) for s in scope]
    signed_in = _email_from_id_token(token.get("id_token"), client["client_id"])
    account = user or signed_in
    if account is None:
        raise ConfigurationError(
            "could not learn the mailbox address from the sign-in (no email in the ID token)",
            hint="pass the address with --user (user=...)",
        )
    if user and signed_in and signed_in.lower() != user.lower():
        raise ConfigurationError(
            f"the browser signed in as {signed_in}, not {user}",
            hint=f"run again and choose {user} on Google's account page, or drop --user",
        )
    if granted and MAIL_SCOPE not in granted:
        raise missing_scope_error(account, " ".join(granted), kind="user")
    if not token.get("refresh_token"):
        raise TokenError(
            "Google sent no refresh token",
            hint="remove the app's access at https://myaccount.google.com/permissions "
            "and run gmail-send auth again",
        )
    info: dict[str, Any] = {
        "token": token["access_token"],
        "refresh_token": token["refresh_token"],
        "token_uri": client["token_uri"],
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "scopes": sorted(granted) or list(CONSENT_SCOPES),
        "account": account,
    }
    expires_at = token.get("expires_at")
    if isinstance(expires_at, (int, float)):
        info["expiry"] = format_expiry(datetime.fromtimestamp(expires_at, timezone.utc))
    return info


def _email_from_id_token(id_token: object, client_id: str) -> str | None:
    """The `email` claim of the ID token, read without verifying its signature.

    Verification is not needed: the token came straight from the token endpoint named in the
    client secrets, over TLS, in answer to our own code exchange, so it cannot be forged by a
    third party. Only its audience is checked, against a mix-up of clients.
    """
    if not isinstance(id_token, str) or id_token.count(".") != 2:
        return None
    payload = id_token.split(".")[1]
    try:
        claims = parse_json(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(claims, dict) or claims.get("aud") not in (None, client_id):
        return None
    email = claims.get("email")
    return email if isinstance(email, str) and "@" in email else None
