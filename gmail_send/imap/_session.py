"""One blocking IMAP session with Gmail's Sent Mail: connect over TLS, sign in, find the
mailbox, search it for a Message-ID. Built on the standard library's `imaplib`; every method
blocks, so the lookup (`_lookup.py`) calls them in its worker threads, never on the event loop.

Failures leave as `ReconciliationUnavailableError` with the reason and a hint, or as
`SessionBroken` (the connection failed mid-way; the lookup may open a new session). No token,
password or SASL string is part of a message: imaplib's own record of the commands it wrote
(which holds LOGIN's password) is emptied after each sign-in.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import imaplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..auth._xoauth2 import MAIL_SCOPE, XOAuth2Challenge, build_xoauth2, parse_xoauth2_challenge
from ..errors import ReconciliationUnavailableError
from ._wire import (
    IMAPReplyError,
    ListedMailbox,
    parse_internal_dates,
    parse_list,
    parse_search,
    quote,
    refusal_of,
    safe_text,
    search_terms,
)

if TYPE_CHECKING:
    from .._options import Settings

__all__ = ["DEFAULT_TIMEOUT", "IMAPSettings", "SentMailSession", "SessionBroken", "TokenRefused"]

DEFAULT_TIMEOUT = 60.0
"""Seconds each IMAP step may take when the sender's `timeout` is None: a lookup never waits
for a silent server for ever."""

_SIGN_IN_HINT = (
    "the lookup signs in with the sender's own credentials: an access token with the "
    f"{MAIL_SCOPE} scope, or the app password"
)
_DISABLED_HINT = (
    "turn IMAP on in Gmail's settings (Forwarding and POP/IMAP); in Workspace the "
    "administrator may have to allow IMAP for the domain"
)
_BUSY_HINT = (
    "Gmail limits the IMAP connections open at once per account (mail clients count too); "
    "the lookup is tried again later"
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
    """Where the account's IMAP server is and how to reach it (the sender's options).

    Attributes:
        host: the IMAP server.
        port: its port (implicit TLS).
        tls_context: a context that verifies certificates (the sender's).
        timeout: seconds each step may take.
    """

    host: str
    port: int
    tls_context: ssl.SSLContext
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def of(cls, settings: Settings, context: ssl.SSLContext) -> IMAPSettings:
        """The IMAP settings of a sender's `Settings`, with its verified TLS context.

        Args:
            settings: the sender's settings (`imap_host`, `imap_port`, `timeout`).
            context: the sender's verified TLS context.
        """
        timeout = settings.timeout if settings.timeout is not None else DEFAULT_TIMEOUT
        return cls(settings.imap_host, settings.imap_port, context, timeout)

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
                reason="tls",
                hint="IMAP trusts the same tls_context or ca_file as SMTP: pass the CA of a "
                "private or test server (never switch checks off); a proxy or antivirus may "
                "be intercepting TLS",
            ) from None
        except (OSError, imaplib.IMAP4.error, EOFError, ValueError) as exc:
            raise ReconciliationUnavailableError(
                f"could not open IMAP at {settings.where}: {_describe(exc)}",
                reason="unreachable",
                hint=f"the lookup needs outgoing connections to {settings.where} (implicit "
                "TLS); check the firewall, or imap_host / imap_port",
            ) from None
        with contextlib.suppress(OSError):
            # imaplib writes a continuation's line and its CRLF apart: without this, the CRLF
            # waits for the server's delayed ACK (Nagle), some 40 ms per sign-in.
            self._imap.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.gmail_extensions = "X-GM-EXT-1" in self._imap.capabilities
        self.mailbox: str | None = None

    # -- signing in ---------------------------------------------------------------------------

    def sign_in_with_token(self, user: str, token: str) -> None:
        """AUTHENTICATE XOAUTH2, answering Gmail's failure challenge with an empty line.

        Raises:
            TokenRefused: Gmail refused the token.
            ReconciliationUnavailableError: IMAP is off for the account ("imap_disabled"), or
                the account is busy ("unreachable").
            SessionBroken: the connection failed.
        """
        challenges: list[bytes] = []
        try:
            initial = base64.b64decode(build_xoauth2(user, token))

            def respond(challenge: bytes) -> bytes:
                if not challenges and challenge == b"":
                    challenges.append(b"")
                    return initial
                challenges.append(challenge)
                return b""  # the failure exchange: an empty response, then the tagged NO

            self._imap.authenticate("XOAUTH2", respond)
        except imaplib.IMAP4.abort as exc:
            raise SessionBroken(_describe(exc)) from None
        except imaplib.IMAP4.error as exc:
            text = safe_text(str(exc))
            self._refused_for_good(user, text)
            failure = next((c for c in challenges[1:] if c), None)
            challenge = None
            if failure is not None:
                challenge = parse_xoauth2_challenge(base64.b64encode(failure).decode("ascii"))
            raise TokenRefused(challenge, text) from None
        except (OSError, EOFError, binascii.Error, ValueError) as exc:
            raise SessionBroken(_describe(exc)) from None
        finally:
            self._forget_commands()

    def sign_in_with_password(self, user: str, password: str) -> None:
        """LOGIN with the app password.

        Raises:
            ReconciliationUnavailableError: refused ("sign_in"), IMAP off ("imap_disabled"),
                or the account busy ("unreachable").
            SessionBroken: the connection failed.
        """
        if not (user.isascii() and password.isascii()):
            # imaplib writes LOGIN in ASCII: its error would quote the password's characters.
            raise ReconciliationUnavailableError(
                f"IMAP LOGIN takes an ASCII address and password; {user}'s has other characters",
                reason="sign_in",
                hint="an app password is 16 letters; check it with gmail-send doctor",
            )
        try:
            self._imap.login(user, password)
        except imaplib.IMAP4.abort as exc:
            raise SessionBroken(_describe(exc)) from None
        except imaplib.IMAP4.error as exc:
            text = safe_text(str(exc))
            self._refused_for_good(user, text)
            hint = _SIGN_IN_HINT
            if refusal_of(text) == "app_password":
                hint = "Gmail wants an app password, not the account's password"
            raise ReconciliationUnavailableError(
                f"IMAP at {self.settings.where} refused the app password of {user}: {text}",
                reason="sign_in",
                hint=hint,
            ) from None
        except (OSError, EOFError, ValueError) as exc:
            raise SessionBroken(_describe(exc)) from None
        finally:
            self._forget_commands()

    def _refused_for_good(self, user: str, text: str) -> None:
        """Raise the refusals that no other credentials would change: IMAP off, or busy."""
        refusal = refusal_of(text)
        if refusal == "imap_disabled":
            raise ReconciliationUnavailableError(
                f"IMAP is not enabled for {user}: {text}",
                reason="imap_disabled",
                hint=_DISABLED_HINT,
            )
        if refusal == "busy":
            raise ReconciliationUnavailableError(
                f"IMAP at {self.settings.where} is busy for {user}: {text}",
                reason="unreachable",
                hint=_BUSY_HINT,
            )

    def _forget_commands(self) -> None:
        """Empty imaplib's record of the last commands it wrote (LOGIN's holds the password)."""
        log = getattr(self._imap, "_cmd_log", None)
        if isinstance(log, dict):
            log.clear()

    # -- the Sent mailbox ---------------------------------------------------------------------

    def open_sent_mailbox(self) -> str:
        """Find the mailbox with the `\\Sent` attribute (else `\\All`) and EXAMINE it.

        Returns:
            The mailbox's name as the server lists it.

        Raises:
            ReconciliationUnavailableError: no such mailbox, or it cannot be examined
                ("no_sent_mailbox").
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
            raise ReconciliationUnavailableError(
                f"IMAP at {self.settings.where} refused to open {chosen.name}: "
                f"{safe_text(repr(data[-1:]))}",
                reason="no_sent_mailbox",
                hint="the Sent mailbox the server lists cannot be examined",
            )
        self.mailbox = chosen.name
        return chosen.name

    def contains(self, message_id: str, *, not_before: float | None = None) -> bool:
        """Whether the examined mailbox holds a message with this Message-ID: Gmail's
        `X-GM-RAW "rfc822msgid:..."` where the server offers X-GM-EXT-1 and the id is plain,
        else the standard `SEARCH HEADER Message-ID`. With `not_before` (a `time.time()`
        value), a copy the server received earlier (INTERNALDATE) belongs to another message
        that reused the Message-ID, and does not count.

        Raises:
            SessionBroken: the connection failed or a reply did not parse.
        """
        terms = search_terms(message_id)
        uids: list[int] | None = None
        if self.gmail_extensions and terms.gmail_safe:
            uids = self._search("X-GM-RAW", quote(f"rfc822msgid:{terms.bare}"))
            if uids is None:
                self.gmail_extensions = False  # refused: search the standard way from now on
        if uids is None:
            uids = self._search("HEADER", "Message-ID", quote(terms.bracketed))
        if uids is None:
            raise SessionBroken("SEARCH HEADER Message-ID was refused")
        if not uids or not_before is None:
            return bool(uids)
        uid_set = ",".join(str(uid) for uid in uids[-50:])  # the newest copies are enough
        status, data = self._call(
            "FETCH", lambda: self._imap.uid("FETCH", uid_set, "(INTERNALDATE)")
        )
        if status != "OK":
            raise SessionBroken(f"UID FETCH INTERNALDATE was answered {status}")
        try:
            dates = parse_internal_dates(data)  # type: ignore[arg-type]
        except IMAPReplyError as exc:
            raise SessionBroken(f"a FETCH reply did not parse: {exc}") from None
        return any(date >= not_before for date in dates)

    def refresh(self) -> None:
        """NOOP, so the server reports messages filed since the last search."""
        self._call("NOOP", self._imap.noop)

    def _search(self, *criteria: str) -> list[int] | None:
        """The UIDs a UID SEARCH finds; None when the server refuses the search."""
        try:
            status, data = self._call("SEARCH", lambda: self._imap.uid("SEARCH", *criteria))
        except _CommandRefused:
            return None
        if status != "OK":
            return None
        try:
            return parse_search(data)
        except IMAPReplyError as exc:
            raise SessionBroken(f"a SEARCH reply did not parse: {exc}") from None

    def _call(
        self, what: str, command: Callable[[], tuple[Any, list[Any]]]
    ) -> tuple[str, list[bytes | None]]:
        try:
            status, data = command()
        except imaplib.IMAP4.abort as exc:
            raise SessionBroken(f"{what}: {_describe(exc)}") from None
        except imaplib.IMAP4.error as exc:
            if what == "SEARCH":  # BAD to a search syntax: the caller tries another
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
    """The server answered BAD to a search."""


def _pick(mailboxes: list[ListedMailbox]) -> ListedMailbox | None:
    usable = [m for m in mailboxes if "\\noselect" not in m.attributes]
    for attribute in ("\\sent", "\\all"):
        for mailbox in usable:
            if attribute in mailbox.attributes:
                return mailbox
    return None


def _describe(exc: BaseException) -> str:
    """An exception for an error message; a text that may quote what was written (an encoding
    error holds the characters of the command: a password) is left out."""
    if isinstance(exc, UnicodeError):
        return type(exc).__name__
    text = safe_text(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
