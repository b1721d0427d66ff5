"""One IMAP connection to the local Gmail: reading commands, signing in, answering like Gmail.

`IMAPSession` is an asyncio protocol whose task reads one command at a time (lines and
literals, with bounds: a line over `MAX_LINE` bytes or a literal over `MAX_LITERAL` ends the
session with `* BYE`, as does `idle_timeout` seconds of silence) and answers it. Sign-ins
(`AUTHENTICATE XOAUTH2` or `PLAIN`, with or without an initial response, and `LOGIN`) are
judged by the same rules as SMTP's AUTH; the mailbox commands live in `_imap_commands.py`.
Nothing secret reaches the session's record or the log: AUTHENTICATE's and LOGIN's
arguments are recorded as `***`, SASL answers not at all.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from collections.abc import Awaitable, Callable

from ._accounts import LocalAccount, check_password, xoauth2_challenge
from ._imap_commands import MailboxCommands
from ._imap_syntax import LITERAL_AT_END, Command, CommandSyntaxError, parse_command
from ._imap_wording import (
    ALREADY_SIGNED_IN,
    APP_PASSWORD_REQUIRED,
    BAD_COMMAND,
    BAD_SYNTAX,
    BYE_IDLE,
    BYE_LINE_TOO_LONG,
    BYE_LITERAL_TOO_LARGE,
    BYE_LOGOUT,
    CAPABILITY_DONE,
    GO_AHEAD,
    ID_REPLY,
    IMAP_DISABLED,
    INVALID_CREDENTIALS,
    LOGOUT_DONE,
    NO_MAILBOX_SELECTED,
    NOT_SIGNED_IN,
    SASL_CANCELLED,
    SUCCESS,
    UNSUPPORTED_MECHANISM,
    capabilities,
    greeting,
    signed_in,
)
from ._records import IMAPSessionRecord
from ._state import ServerState

__all__ = ["MAX_LINE", "MAX_LITERAL", "IMAPSession"]

MAX_LINE = 64 * 1024
"""The longest command line read, in bytes."""
MAX_LITERAL = 1024 * 1024
"""The most literal bytes one command may carry."""
MAX_NON_SYNC_LITERAL = 4096
"""RFC 7888's LITERAL- bound on a literal sent without waiting for `+`."""

logger = logging.getLogger("gmail_send.testing.imap")


class _Hangup(Exception):
    """The session is over (the client left, or the server said BYE)."""


class IMAPSession(asyncio.Protocol):
    """One client connection; its task serves the commands until LOGOUT or a hang-up.

    Args:
        state: the local Gmail's shared state.
        session_id: a random id, shown at the end of the greeting.
        live: the listener's open sessions, joined once TLS is up, left when closed.
    """

    def __init__(
        self,
        state: ServerState,
        *,
        session_id: str,
        live: set[IMAPSession],
    ) -> None:
        self.state = state
        self.session_id = session_id
        self.record = IMAPSessionRecord(session_id, None)
        self.reader = asyncio.StreamReader(limit=MAX_LINE)
        self.transport: asyncio.Transport | None = None
        self.task: asyncio.Task[None] | None = None
        self.gone = asyncio.Event()
        """Set once the connection is closed."""
        self.user: str | None = None
        self.mailboxes = MailboxCommands(self)
        self._live = live

    def __repr__(self) -> str:
        return f"<IMAPSession {self.session_id} peer={self.record.peer} user={self.user}>"

    # -- connection -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.reader.set_transport(transport)
        peer = transport.get_extra_info("peername")
        self.record.peer = (str(peer[0]), int(peer[1])) if peer else None
        self.state.imap_sessions.append(self.record)
        self._live.add(self)
        self.task = asyncio.get_running_loop().create_task(self._serve())

    def data_received(self, data: bytes) -> None:
        self.reader.feed_data(data)

    def eof_received(self) -> bool | None:
        self.reader.feed_eof()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.reader.feed_eof()
        if self.record.closed_at is None:
            self.record.closed_at = time.time()
        self.gone.set()
        self._live.discard(self)

    def abort(self) -> None:
        """Cut the connection at once (the server stops)."""
        if self.transport is not None:
            self.transport.abort()

    # -- reading and writing ----------------------------------------------------------------

    def send(self, line: str) -> None:
        """Write one response line (CRLF added)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(line.encode("utf-8") + b"\r\n")

    def bye(self, line: str) -> _Hangup:
        """Say `line` (a `* BYE`), close; the caller raises what this returns."""
        self.send(line)
        if self.transport is not None:
            self.transport.close()
        return _Hangup()

    async def _within_idle_timeout(self, read: Awaitable[bytes]) -> bytes:
        try:
            return await asyncio.wait_for(read, self.state.config.idle_timeout)
        except asyncio.TimeoutError:
            raise self.bye(BYE_IDLE) from None
        except asyncio.IncompleteReadError:
            raise _Hangup from None

    async def read_line(self) -> bytes:
        """The next line without its line end."""
        try:
            line = await self._within_idle_timeout(self.reader.readuntil(b"\n"))
        except asyncio.LimitOverrunError:
            raise self.bye(BYE_LINE_TOO_LONG) from None
        line = line[:-1]
        return line[:-1] if line.endswith(b"\r") else line

    async def _read_command(self) -> Command:
        lines: list[bytes] = []
        literals: list[bytes] = []
        total = 0
        while True:
            line = await self.read_line()
            marker = LITERAL_AT_END.search(line)
            if marker is None:
                lines.append(line)
                return parse_command(lines, literals)
            size = int(marker.group(1)) if len(marker.group(1)) <= 9 else MAX_LITERAL + 1
            non_sync = bool(marker.group(2))
            total += size
            if total > MAX_LITERAL or (non_sync and size > MAX_NON_SYNC_LITERAL):
                raise self.bye(BYE_LITERAL_TOO_LARGE)
            if not non_sync:
                self.send(GO_AHEAD)
            lines.append(line[: marker.start()])
            literals.append(await self._within_idle_timeout(self.reader.readexactly(size)))

    # -- serving ----------------------------------------------------------------------------

    async def _serve(self) -> None:
        peer = self.record.peer
        try:
            self.send(greeting(peer[0] if peer else "", self.session_id))
            while True:
                try:
                    command = await self._read_command()
                except CommandSyntaxError as error:
                    self.send(f"{error.tag or '*'} {BAD_SYNTAX}")
                    continue
                self.record.commands.append(command.shown)
                logger.debug("IMAP %s << %s", self.session_id, command.shown)
                await self._dispatch(command)
        except (_Hangup, ConnectionError):
            pass
        finally:
            if self.transport is not None:
                self.transport.close()

    async def _dispatch(self, command: Command) -> None:
        tag, name = command.tag, command.name
        if name in _ANY_STATE:
            await _ANY_STATE[name](self, command)
        elif name in ("AUTHENTICATE", "LOGIN"):
            if self.user is not None:
                self.send(f"{tag} {ALREADY_SIGNED_IN}")
            elif name == "LOGIN":
                await self._login(command)
            else:
                await self._authenticate(command)
        elif name not in self.mailboxes.signed_in and name not in self.mailboxes.selected:
            self.send(f"{tag} {BAD_COMMAND}")
        elif self.user is None:
            self.send(f"{tag} {NOT_SIGNED_IN}")
        elif name in self.mailboxes.selected and self.mailboxes.current is None:
            self.send(f"{tag} {NO_MAILBOX_SELECTED}")
        else:
            await self.mailboxes.run(command)

    async def _capability(self, command: Command) -> None:
        self.send(capabilities(self.state.config, signed_in=self.user is not None))
        self.send(f"{command.tag} {CAPABILITY_DONE} {self.session_id}")

    async def _noop(self, command: Command) -> None:
        self.mailboxes.announce_new_messages()
        self.send(f"{command.tag} {SUCCESS}")

    async def _id(self, command: Command) -> None:
        self.send(ID_REPLY)
        self.send(f"{command.tag} {SUCCESS}")

    async def _logout(self, command: Command) -> None:
        self.send(BYE_LOGOUT)
        self.send(f"{command.tag} {LOGOUT_DONE}")
        if self.transport is not None:
            self.transport.close()
        raise _Hangup

    # -- signing in -------------------------------------------------------------------------

    def _note(self, method: str, reason: str, user: str | None = None) -> None:
        self.record.method = method
        self.record.sign_in_reason = reason
        if user is not None:
            self.user = self.record.user = user

    def _refused_by_fault(self) -> bool:
        if self.state.imap_sign_in_refusals <= 0:
            return False
        self.state.imap_sign_in_refusals -= 1
        return True

    async def _login(self, command: Command) -> None:
        args = command.args
        if len(args) != 2 or any(t.opens or t.closes for t in args):
            self.send(f"{command.tag} {BAD_SYNTAX}")
            return
        await self._password_sign_in(command.tag, "login", args[0].text, args[1].text)

    async def _authenticate(self, command: Command) -> None:
        tag, args = command.tag, command.args
        if not args or len(args) > 2 or args[0].keyword() is None:
            self.send(f"{tag} {BAD_SYNTAX}")
            return
        mechanism = args[0].text.upper()
        if mechanism not in ("XOAUTH2", "PLAIN"):
            self.send(f"{tag} {UNSUPPORTED_MECHANISM}")
            return
        method = mechanism.lower()
        if len(args) == 2:  # SASL-IR: the response on the command line ("=" for empty)
            answer = "" if args[1].text == "=" else args[1].text
        else:
            self.send("+ ")
            answer = (await self.read_line()).decode("ascii", "replace").strip()
        if answer == "*":
            self._note(method, "cancelled")
            self.send(f"{tag} {SASL_CANCELLED}")
            return
        try:
            blob = base64.b64decode(answer, validate=True)
        except (binascii.Error, ValueError):
            self._note(method, "malformed")
            self.send(f"{tag} {BAD_SYNTAX}")
            return
        if method == "plain":
            parts = blob.split(b"\x00")
            login, password = (parts[1], parts[2]) if len(parts) == 3 else (b"", b"")
            await self._password_sign_in(
                tag, method, login.decode("utf-8", "replace"), password.decode("utf-8", "replace")
            )
            return
        if self._refused_by_fault():
            self._note(method, "refused")
            self.send(f"{tag} {INVALID_CREDENTIALS}")
            return
        user, verdict = await self.state.judge_xoauth2(blob)
        if not verdict.accepted or user is None:
            self.send("+ " + xoauth2_challenge(verdict).decode("ascii"))
            await self.read_line()  # Gmail waits for the client's (empty) answer
            self._note(method, verdict.reason or "validator")
            self.send(f"{tag} {INVALID_CREDENTIALS}")
            return
        account = self.state.account_for(user)
        await self._signed_in(tag, method, account.address if account else user, account)

    async def _password_sign_in(self, tag: str, method: str, login: str, password: str) -> None:
        if self._refused_by_fault():
            self._note(method, "refused")
            self.send(f"{tag} {INVALID_CREDENTIALS}")
            return
        verdict = check_password(self.state.accounts, login, password)
        if verdict.account is None:
            self._note(method, verdict.outcome)
            normal = verdict.outcome == "normal-password"
            self.send(f"{tag} {APP_PASSWORD_REQUIRED if normal else INVALID_CREDENTIALS}")
            return
        await self._signed_in(tag, method, verdict.account.address, verdict.account)

    async def _signed_in(
        self, tag: str, method: str, address: str, account: LocalAccount | None
    ) -> None:
        if account is not None and not account.imap_enabled:
            self._note(method, "imap-disabled")
            self.send(f"{tag} {IMAP_DISABLED}")
            return
        self._note(method, "accepted", address)
        self.send(capabilities(self.state.config, signed_in=True))
        self.send(f"{tag} {signed_in(address)}")


_ANY_STATE: dict[str, Callable[[IMAPSession, Command], Awaitable[None]]] = {
    "CAPABILITY": IMAPSession._capability,
    "NOOP": IMAPSession._noop,
    "ID": IMAPSession._id,
    "LOGOUT": IMAPSession._logout,
}
