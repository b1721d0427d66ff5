"""One blocking IMAP session with Gmail's Sent Mail: connect over TLS, sign in, find the
mailbox, search it for a Message-ID. Built on the standard library's `imaplib`; every method
blocks, so the lookup (`_lookup.py`) calls them in a worker thread, never on the event loop.

Failures leave as `ReconciliationUnavailableError` with the reason and a hint, or as
`SessionBroken` (the connection failed mid-way; the lookup may open a new session). No token,
password or SASL string is ever part of a message or a log line.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import imaplib
import socket
import ssl
from dataclasses import dataclass

from ..auth._xoauth2 import MAIL_SCOPE, XOAuth2Challenge, build_xoauth2, parse_xoauth2_challenge
from ..errors import ReconciliationUnavailableError
from ._wire import (
    IMAPReplyError,
    ListedMailbox,
    parse_list,
    parse_search,
    quote,
    refusal_of,
    safe_text,
)

__all__ = ["IMAPSettings", "SentMailSession", "SessionBroken", "TokenRefused"]

_SIGN_IN_HINT = (
    "the lookup signs in with the sender's own credentials: an access token with the "
    f"{MAIL_SCOPE} scope, or the app password"
)
_DISABLED_HINT = (
    "turn IMAP on in Gmail's settings (Forwarding and POP/IMAP); in Workspace the "
    "administrator may have to allow IMAP for the domain"
)


class SessionBroken(Exception):
    """The connection failed or the server answered nonsense: a new session may do better."""


class TokenRefused(Exception):
    """Gmail refused the access token (the XOAUTH2 failure exchange); `challenge` says why."""

    def __init__(self, challenge: XOAuth2Challenge | None, text: str) -> None:
        super().__init__(text)
        self.challenge = challenge
        self.text = text

    @property
    def may_refresh(self) -> bool:
        """Whether a new token may be accepted (expired or revoked: status 401, or unknown)."""
        return self.challenge is None or self.challenge.status != "400"


@dataclass(frozen=True)
class IMAPSettings:
    """Where the account's IMAP server is and how to reach it (the sender's options)."""

    host: str
    port: int
    tls_context: ssl.SSLContext
    timeout: float | None

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


class SentMailSession:
    """A connected IMAP session (not signed in yet); `close()` ends it."""

    def __init__(self, settings: IMAPSettings) -> None:
        self.settings = settings
        try:
            self._imap = imaplib.IMAP4_SSL(
                settings.host,
                settings.port,
                ssl_context=settings.tls_context,
                timeout=settings.timeout,
            )
        except ssl.SSLCertVerificationError as exc:
            raise ReconciliationUnavailableError(
                f"the certificate of {settings.where} could not be verified: {exc.verify_message}",
                reason="unreachable",
                hint="IMAP trusts the same tls_context or ca_file as SMTP: pass the CA of a "
                "private or test server (never switch checks off)",
            ) from None
        except (OSError, imaplib.IMAP4.error, EOFError, ValueError) as exc:
            raise ReconciliationUnavailableError(
                f"could not open IMAP at {settings.where}: {_describe(exc)}",
                reason="unreachable",
                hint="the lookup needs outgoing connections to imap.gmail.com:993 (implicit "
                "TLS); check the firewall, or imap_host / imap_port",
            ) from None
        self.gmail_extensions = "X-GM-EXT-1" in self._imap.capabilities
        self.mailbox: str | None = None

    # -- signing in ---------------------------------------------------------------------------

    def sign_in_with_token(self, user: str, token: str) -> None:
        """AUTHENTICATE XOAUTH2, answering Gmail's failure challenge with an empty line.

        Raises:
            TokenRefused: Gmail refused the token.
            ReconciliationUnavailableError: IMAP is off for the account ("imap_disabled").
            SessionBroken: the connection failed.
        """
        initial = base64.b64decode(build_xoauth2(user, token))
        challenges: list[bytes] = []

        def respond(challenge: bytes) -> bytes:
            if not challenges and challenge == b"":
                challenges.append(b"")
                return initial
            challenges.append(challenge)
            return b""  # the failure exchange: an empty response, then the tagged NO

        try:
            self._imap.authenticate("XOAUTH2", respond)
        except imaplib.IMAP4.abort as exc:
            raise SessionBroken(_describe(exc)) from None
        except imaplib.IMAP4.error as exc:
            text = safe_text(str(exc))
            if refusal_of(text) == "imap_disabled":
                raise _disabled(user, text) from None
            failure = next((c for c in challenges[1:] if c), None)
            challenge = None
            if failure is not None:
                challenge = parse_xoauth2_challenge(base64.b64encode(failure).decode("ascii"))
            raise TokenRefused(challenge, text) from None
        except (OSError, EOFError, binascii.Error, ValueError) as exc:
            raise SessionBroken(_describe(exc)) from None

    def sign_in_with_password(self, user: str, password: str) -> None:
        """LOGIN with the app password.

        Raises:
            ReconciliationUnavailableError: refused ("sign_in") or IMAP off ("imap_disabled").
            SessionBroken: the connection failed.
        """
        try:
            self._imap.login(user, password)
        except imaplib.IMAP4.abort as exc:
            raise SessionBroken(_describe(exc)) from None
        except imaplib.IMAP4.error as exc:
            text = safe_text(str(exc))
            refusal = refusal_of(text)
            if refusal == "imap_disabled":
                raise _disabled(user, text) from None
            hint = _SIGN_IN_HINT
            if refusal == "app_password":
                hint = "Gmail wants an app password, not the account's password"
            raise ReconciliationUnavailableError(
                f"IMAP at {self.settings.where} refused the app password of {user}: {text}",
                reason="sign_in",
                hint=hint,
            ) from None
        except (OSError, EOFError, ValueError) as exc:
            raise SessionBroken(_describe(exc)) from None

    # -- the Sent mailbox ---------------------------------------------------------------------

    def open_sent_mailbox(self) -> str:
        """Find the mailbox with the `\\Sent` attribute (else `\\All`) and EXAMINE it.

        Returns:
            The mailbox's name as the server lists it.

        Raises:
            ReconciliationUnavailableError: no such mailbox ("no_sent_mailbox").
            SessionBroken: the connection failed or the replies did not parse.
        """
        status, data = self._call("LIST", lambda: self._imap.list('""', "*"))
        if status != "OK":
            raise SessionBroken(f"LIST was answered {status}")
        mailboxes: list[ListedMailbox] = []
        for item in data:
            if not item:  # None, or the empty rest of a line that ended in a literal
                continue
            try:
                mailboxes.append(parse_list(item))
            except IMAPReplyError as exc:
                raise SessionBroken(f"a LIST reply did not parse: {exc}") from None
        chosen = _pick(mailboxes)
        if chosen is None:
            raise ReconciliationUnavailableError(
                f"IMAP at {self.settings.where} lists no mailbox marked \\Sent or \\All",
                reason="no_sent_mailbox",
                hint="the account has no Sent Mail to search (a relay-only account?); Gmail "
                "marks [Gmail]/Sent Mail as \\Sent",
            )
        status, data = self._call(
            "EXAMINE", lambda: self._imap.select(quote(chosen.name), readonly=True)
        )
        if status != "OK":
            raise SessionBroken(f"EXAMINE {chosen.name} was answered {status}")
        self.mailbox = chosen.name
        return chosen.name

    def contains(self, message_id: str) -> bool:
        """Whether the examined mailbox holds a message with this Message-ID: Gmail's
        `X-GM-RAW "rfc822msgid:..."` where the server offers X-GM-EXT-1, else the standard
        `SEARCH HEADER Message-ID`.

        Raises:
            SessionBroken: the connection failed or the reply did not parse.
        """
        bare = message_id.strip().removeprefix("<").removesuffix(">")
        bracketed = f"<{bare}>"
        if self.gmail_extensions:
            status, data = self._search("X-GM-RAW", quote(f"rfc822msgid:{bare}"))
            if status == "OK":
                return bool(_numbers(data))
            self.gmail_extensions = False  # refused: search the standard way from now on
        status, data = self._search("HEADER", "Message-ID", quote(bracketed))
        if status != "OK":
            raise SessionBroken(f"SEARCH HEADER was answered {status}")
        return bool(_numbers(data))

    def refresh(self) -> None:
        """NOOP, so the server reports messages filed since the last search."""
        self._call("NOOP", self._imap.noop)

    def _search(self, *criteria: str) -> tuple[str, list[bytes | None]]:
        try:
            return self._call("SEARCH", lambda: self._imap.uid("SEARCH", *criteria))
        except _CommandRefused:
            return "BAD", []

    def _call(self, what: str, command: object) -> tuple[str, list[bytes | None]]:
        assert callable(command)
        try:
            status, data = command()
        except imaplib.IMAP4.abort as exc:
            raise SessionBroken(f"{what}: {_describe(exc)}") from None
        except imaplib.IMAP4.error as exc:
            if what == "SEARCH":
                raise _CommandRefused() from None
            raise SessionBroken(f"{what}: {safe_text(str(exc))}") from None
        except (OSError, EOFError, ValueError) as exc:
            raise SessionBroken(f"{what}: {_describe(exc)}") from None
        return str(status), list(data)

    # -- ending -------------------------------------------------------------------------------

    def close(self) -> None:
        """LOGOUT, then close the connection; never raises."""
        try:
            self._imap.logout()
        except Exception:  # the session is over either way
            self.abort()

    def abort(self) -> None:
        """Cut the connection at once (from any thread: a blocked read then fails)."""
        sock = getattr(self._imap, "sock", None)
        if sock is None:
            return
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()


class _CommandRefused(Exception):
    """The server answered NO or BAD to a command."""


def _pick(mailboxes: list[ListedMailbox]) -> ListedMailbox | None:
    usable = [m for m in mailboxes if "\\noselect" not in m.attributes]
    for attribute in ("\\sent", "\\all"):
        for mailbox in usable:
            if attribute in mailbox.attributes:
                return mailbox
    return None


def _numbers(data: list[bytes | None]) -> list[int]:
    try:
        return parse_search(data)
    except IMAPReplyError as exc:
        raise SessionBroken(f"a SEARCH reply did not parse: {exc}") from None


def _disabled(user: str, text: str) -> ReconciliationUnavailableError:
    return ReconciliationUnavailableError(
        f"IMAP is not enabled for {user}: {text}", reason="imap_disabled", hint=_DISABLED_HINT
    )


def _describe(exc: BaseException) -> str:
    text = safe_text(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
