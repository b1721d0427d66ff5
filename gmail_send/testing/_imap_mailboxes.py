"""The mailboxes an account has on the local Gmail's IMAP server, and LIST's matching.

Gmail's set: INBOX, `[Gmail]` (no messages, only children) and its special mailboxes with the
RFC 6154 attributes (and Gmail's own `\\Important`). The Sent mailbox has the account's
(possibly localised) name. Sent Mail and All Mail both show the account's filed Sent copies
(with the same UIDs: nothing else arrives here); the others are empty. Names go on the wire in
modified UTF-7; `"/"` is the hierarchy delimiter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._accounts import LocalAccount
from ._imap_syntax import quote
from ._imap_utf7 import decode_mailbox_name, encode_mailbox_name

__all__ = ["DELIMITER", "Mailbox", "account_mailboxes", "find_mailbox", "list_matches"]

DELIMITER = "/"
DEFAULT_SENT = "[Gmail]/Sent Mail"

_ALL = "\\All"
_SPECIAL_USE = frozenset({"\\Drafts", "\\Flagged", "\\Important", "\\Junk", "\\Sent", "\\Trash"})


@dataclass(frozen=True)
class Mailbox:
    """One mailbox: its Unicode name, LIST attributes, and whether it shows the Sent copies."""

    name: str
    attributes: tuple[str, ...]
    shows_sent: bool = False

    @property
    def wire_name(self) -> str:
        """The name in modified UTF-7."""
        return encode_mailbox_name(self.name)

    @property
    def selectable(self) -> bool:
        return "\\Noselect" not in self.attributes

    @property
    def special_use(self) -> bool:
        return any(attribute in _SPECIAL_USE or attribute == _ALL for attribute in self.attributes)

    def list_line(self) -> str:
        """Its `* LIST` reply line."""
        attributes = " ".join(sorted(self.attributes))
        return f"* LIST ({attributes}) {quote(DELIMITER)} {quote(self.wire_name)}"


def account_mailboxes(account: LocalAccount | None, *, special_use: bool) -> list[Mailbox]:
    """The account's mailboxes in Gmail's order.

    Args:
        account: the signed-in account; None (a user the token hook let in without an
            account) gets the default names.
        special_use: give the RFC 6154 attributes; False leaves only `\\All` on All Mail, as
            a server without SPECIAL-USE that still marks All Mail.
    """
    sent = account.sent_mailbox if account is not None else DEFAULT_SENT
    boxes = [
        Mailbox("INBOX", ("\\HasNoChildren",)),
        Mailbox("[Gmail]", ("\\HasChildren", "\\Noselect")),
        Mailbox("[Gmail]/All Mail", ("\\All", "\\HasNoChildren"), shows_sent=True),
        Mailbox("[Gmail]/Drafts", ("\\Drafts", "\\HasNoChildren")),
        Mailbox("[Gmail]/Important", ("\\HasNoChildren", "\\Important")),
        Mailbox(sent, ("\\HasNoChildren", "\\Sent"), shows_sent=True),
        Mailbox("[Gmail]/Spam", ("\\HasNoChildren", "\\Junk")),
        Mailbox("[Gmail]/Starred", ("\\Flagged", "\\HasNoChildren")),
        Mailbox("[Gmail]/Trash", ("\\HasNoChildren", "\\Trash")),
    ]
    boxes = [box for box in boxes if box.name != sent or "\\Sent" in box.attributes]
    if not special_use:
        boxes = [_without_special_use(box) for box in boxes]
    return boxes


def _without_special_use(box: Mailbox) -> Mailbox:
    attributes = tuple(a for a in box.attributes if a not in _SPECIAL_USE)
    return Mailbox(box.name, attributes, box.shows_sent)


def find_mailbox(mailboxes: list[Mailbox], wire_name: str) -> Mailbox | None:
    """The mailbox a client named (modified UTF-7; INBOX in any case), or None.

    Args:
        mailboxes: the account's mailboxes.
        wire_name: the name as the client sent it.
    """
    try:
        name = decode_mailbox_name(wire_name)
    except ValueError:
        return None
    if name.upper() == "INBOX":
        name = "INBOX"
    return next((box for box in mailboxes if box.name == name), None)


def list_matches(reference: str, pattern: str, mailbox: Mailbox) -> bool:
    """Whether LIST's `reference` and `pattern` (`*`: anything; `%`: anything but the
    delimiter) take in `mailbox`; both are in modified UTF-7, as the client sent them.

    Args:
        reference: LIST's first argument, prefixed to the pattern.
        pattern: LIST's second argument.
        mailbox: the mailbox to test.
    """
    wanted = reference + pattern
    expression = "".join(
        ".*" if char == "*" else "[^/]*" if char == "%" else re.escape(char) for char in wanted
    )
    flags = re.IGNORECASE if mailbox.name == "INBOX" else 0
    return re.fullmatch(expression, mailbox.wire_name, flags | re.DOTALL) is not None
