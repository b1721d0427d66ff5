"""The local Gmail's IMAP commands after sign-in: LIST, NAMESPACE, SELECT and EXAMINE, SEARCH
and UID SEARCH, FETCH and UID FETCH of (UID and) INTERNALDATE, CHECK, CLOSE and UNSELECT,
answered as imap.gmail.com answers them. INTERNALDATE is when the message was accepted.

The selected mailbox's messages are read afresh for each command, so a Sent copy filed while
the mailbox is selected is found by the next SEARCH; NOOP, CHECK and SEARCH first announce the
grown mailbox with `* n EXISTS`. UIDs equal sequence numbers (nothing is ever expunged).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._imap_mailboxes import Mailbox, account_mailboxes, find_mailbox, list_matches
from ._imap_search import SearchSyntaxError, parse_search
from ._imap_syntax import Command, Token
from ._imap_wording import (
    BAD_COMMAND,
    BAD_SYNTAX,
    FLAGS,
    NAMESPACE_REPLY,
    SEARCH_DONE,
    SUCCESS,
    UNSELECTED,
    unknown_mailbox,
)
from ._records import ReceivedMessage
from ._sent_mail import UIDVALIDITY

if TYPE_CHECKING:
    from ._imap_session import IMAPSession

__all__ = ["MailboxCommands"]

_LIST_SELECTION = frozenset({"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"})


class MailboxCommands:
    """A session's mailbox commands and its selected mailbox (`current`)."""

    signed_in = frozenset({"LIST", "NAMESPACE", "SELECT", "EXAMINE"})
    """Commands that need a sign-in."""
    selected = frozenset({"SEARCH", "FETCH", "UID", "CHECK", "CLOSE", "UNSELECT"})
    """Commands that need a selected mailbox."""

    def __init__(self, session: IMAPSession) -> None:
        self.session = session
        self.current: Mailbox | None = None
        self._announced = 0

    async def run(self, command: Command) -> None:
        """Answer a command of `signed_in` or `selected` (the session checked the state).

        Args:
            command: the command read.
        """
        tag, name, args = command.tag, command.name, command.args
        if name == "LIST":
            self._list(tag, args)
        elif name == "NAMESPACE":
            self._reply(tag, SUCCESS, NAMESPACE_REPLY)
        elif name in ("SELECT", "EXAMINE"):
            self._select(tag, args, read_only=name == "EXAMINE")
        elif name == "SEARCH":
            self._search(tag, args)
        elif name == "UID" and args and args[0].keyword() == "SEARCH":
            self._search(tag, args[1:])
        elif name == "FETCH":
            self._fetch(tag, args)
        elif name == "UID" and args and args[0].keyword() == "FETCH":
            self._fetch(tag, args[1:], by_uid=True)
        elif name == "UID":
            self._reply(tag, BAD_COMMAND)
        elif name == "CHECK":
            self.announce_new_messages()
            self._reply(tag, SUCCESS)
        else:  # CLOSE, UNSELECT
            self.current = None
            self._reply(tag, UNSELECTED)

    def _reply(self, tag: str, tagged: str, *untagged: str) -> None:
        for line in untagged:
            self.session.send(line)
        self.session.send(f"{tag} {tagged}")

    def _mailboxes(self) -> list[Mailbox]:
        state = self.session.state
        account = state.account_for(self.session.user or "")
        return account_mailboxes(account, special_use=state.config.imap_special_use)

    def messages(self, mailbox: Mailbox) -> list[ReceivedMessage]:
        """What `mailbox` holds now: the account's Sent copies, or nothing.

        Args:
            mailbox: one of the account's mailboxes.
        """
        if not mailbox.shows_sent or self.session.user is None:
            return []
        return self.session.state.sent_mail.copies(self.session.user)

    def announce_new_messages(self) -> None:
        """Tell the client, with `* n EXISTS`, that the selected mailbox grew since it last
        heard."""
        if self.current is None:
            return
        count = len(self.messages(self.current))
        if count > self._announced:
            self._announced = count
            self.session.send(f"* {count} EXISTS")

    # -- the commands -----------------------------------------------------------------------

    def _list(self, tag: str, args: list[Token]) -> None:
        special_use_only = False
        if args and args[0].opens:  # LIST-EXTENDED selection options
            close = next((i for i, token in enumerate(args) if token.closes), None)
            options = {token.keyword() for token in args[1:close]} if close else {None}
            if close is None or not options <= _LIST_SELECTION:
                self._reply(tag, BAD_SYNTAX)
                return
            if "SPECIAL-USE" in options and not self.session.state.config.imap_special_use:
                self._reply(tag, BAD_SYNTAX)
                return
            special_use_only = "SPECIAL-USE" in options
            args = args[close + 1 :]
        extra = args[2:]
        if (
            len(args) < 2
            or any(token.opens or token.closes for token in args[:2])
            or (extra and (extra[0].keyword() != "RETURN" or len(extra) < 2))
        ):
            self._reply(tag, BAD_SYNTAX)
            return
        reference, pattern = args[0].text, args[1].text
        if not pattern:
            self._reply(tag, SUCCESS, '* LIST (\\Noselect) "/" ""')
            return
        lines = [
            box.list_line()
            for box in self._mailboxes()
            if list_matches(reference, pattern, box) and (box.special_use or not special_use_only)
        ]
        self._reply(tag, SUCCESS, *lines)

    def _select(self, tag: str, args: list[Token], *, read_only: bool) -> None:
        parameters = args[1:]
        if (
            not args
            or args[0].opens
            or args[0].closes
            or (parameters and not (parameters[0].opens and parameters[-1].closes))
        ):
            self._reply(tag, BAD_SYNTAX)
            return
        self.current = None  # a failed SELECT leaves none selected (RFC 3501 6.3.1)
        wire_name = args[0].text
        mailbox = find_mailbox(self._mailboxes(), wire_name)
        if mailbox is None or not mailbox.selectable:
            self._reply(tag, unknown_mailbox(wire_name))
            return
        count = len(self.messages(mailbox))
        permanent = "" if read_only else f"{FLAGS} \\*"
        access = "READ-ONLY" if read_only else "READ-WRITE"
        self._reply(
            tag,
            f"OK [{access}] {mailbox.wire_name} selected. (Success)",
            f"* FLAGS ({FLAGS})",
            f"* OK [PERMANENTFLAGS ({permanent})] Flags permitted.",
            f"* OK [UIDVALIDITY {UIDVALIDITY}] UIDs valid.",
            f"* {count} EXISTS",
            "* 0 RECENT",
            f"* OK [UIDNEXT {count + 1}] Predicted next UID.",
        )
        self.current = mailbox
        self._announced = count

    def _search(self, tag: str, args: list[Token]) -> None:
        assert self.current is not None
        config = self.session.state.config
        try:
            criterion = parse_search(args, gmail_extensions=config.imap_gmail_extensions)
        except SearchSyntaxError:
            self._reply(tag, BAD_SYNTAX)
            return
        self.announce_new_messages()
        messages = self.messages(self.current)[: self._announced]
        found = [number for number, message in enumerate(messages, 1) if criterion(message)]
        self._reply(tag, SEARCH_DONE, "* SEARCH" + "".join(f" {n}" for n in found))

    def _fetch(self, tag: str, args: list[Token], *, by_uid: bool = False) -> None:
        """FETCH of UID and INTERNALDATE only; UIDs equal sequence numbers here."""
        assert self.current is not None
        items = [token.keyword() for token in args[1:] if not (token.opens or token.closes)]
        numbers = parse_sequence_set(args[0].text) if args and not args[0].string else None
        if numbers is None or not items or not set(items) <= {"INTERNALDATE", "UID"}:
            self._reply(tag, BAD_SYNTAX)
            return
        messages = self.messages(self.current)[: self._announced]
        lines = []
        for number in sorted(numbers(len(messages))):
            message = messages[number - 1]
            parts = [f"UID {number}"] if by_uid or "UID" in items else []
            if "INTERNALDATE" in items:
                parts.append(f'INTERNALDATE "{internal_date(message.received_at)}"')
            lines.append(f"* {number} FETCH ({' '.join(parts)})")
        self._reply(tag, SUCCESS, *lines)


def parse_sequence_set(text: str) -> Callable[[int], set[int]] | None:
    """A sequence set such as `1,3:5,7:*` as a function of the mailbox's size giving the
    numbers it names there (those past the end left out); None when it does not parse."""
    ranges: list[tuple[int | None, int | None]] = []
    for part in text.split(","):
        ends = part.split(":")
        if len(ends) > 2 or not all(e == "*" or (e.isdigit() and int(e) > 0) for e in ends):
            return None
        low, high = ends[0], ends[-1]
        ranges.append((None if low == "*" else int(low), None if high == "*" else int(high)))

    def numbers(size: int) -> set[int]:
        chosen: set[int] = set()
        for low, high in ranges:
            first, last = low or size, high or size
            first, last = min(first, last), max(first, last)
            chosen.update(range(first, min(last, size) + 1))
        return chosen

    return numbers


def internal_date(when: float) -> str:
    """A `time.time()` value as IMAP's date-time, in UTC: `01-Dec-2026 17:43:13 +0000`."""
    moment = time.gmtime(when)
    month = _MONTHS[moment.tm_mon - 1]
    return (
        f"{moment.tm_mday:02d}-{month}-{moment.tm_year} {time.strftime('%H:%M:%S', moment)} +0000"
    )


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
