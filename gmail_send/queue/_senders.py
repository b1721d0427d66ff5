"""The senders a worker or `reconcile` is given: checked once, each with the accounts it
serves, and a claimed mail as a sender takes it.

A sender with an account serves that account's mails; one without (a relay) serves every
account no other sender names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .._sender import GmailSender
from ..errors import ConfigurationError, MessageError
from ..message._outgoing import OutgoingMessage
from ..message._prepare import stored_blind_recipients
from ._claims import Claimed

if TYPE_CHECKING:
    from ._queue import MailQueue

__all__ = ["Routes", "check_senders", "outgoing_of", "routes", "serves"]

Routes = list[tuple[GmailSender, tuple[str, ...] | None, tuple[str, ...]]]
"""Each sender, the accounts it serves (None: every one not in the third), the accounts named."""


def routes(senders: Sequence[GmailSender]) -> Routes:
    """Each sender with the accounts it serves (None: every account the others do not)."""
    named = tuple(s.account.lower() for s in senders if s.account is not None)
    return [(s, (s.account.lower(),) if s.account is not None else None, named) for s in senders]


def serves(accounts: tuple[str, ...] | None, others: tuple[str, ...], account: str) -> bool:
    """Whether a sender of `routes` serves `account` (lower case)."""
    return account in accounts if accounts is not None else account not in others


def check_senders(senders: Sequence[GmailSender], queue: MailQueue) -> None:
    """Refuse senders a worker cannot use: none, not `GmailSender`s, retrying unknown outcomes,
    with another store than the queue's, counting sends elsewhere, or two for one account."""
    if not senders:
        raise ConfigurationError("work() needs at least one GmailSender")
    accounts: set[str | None] = set()
    for sender in senders:
        if not isinstance(sender, GmailSender):
            raise ConfigurationError(f"work() takes GmailSenders, not {type(sender).__name__}")
        if sender.settings.retry.retry_unknown_outcome:
            raise ConfigurationError(
                "a queue's sender must not have RetryPolicy(retry_unknown_outcome=True)",
                hint="the queue never resends a mail whose outcome is unknown; it ends unknown",
            )
        if sender.store is not None and not queue.same_database(sender.store.url):
            raise ConfigurationError(
                f"the sender for {sender.account} has another store ({sender.store.name}) than "
                f"the queue ({queue.name})",
                hint="give the sender no store (it gets the queue's) or the queue's URL",
            )
        if sender.store is None and sender.settings.limits.quotas is not None:
            raise ConfigurationError(
                "a queue's sender counts its sends in the queue's database, not in "
                "SendingLimits(quotas=...)"
            )
        key = sender.account.lower() if sender.account is not None else None
        if key in accounts:
            raise ConfigurationError(f"two senders for the account {sender.account}")
        accounts.add(key)


def outgoing_of(mail: Claimed) -> OutgoingMessage:
    """The stored mail as the sender takes it: the bytes as stored, sent as they are (the
    message is parsed from them only if something asks for it, e.g. a sink). The Gmail API
    takes the recipients from the headers: the envelope recipients the To and Cc headers
    leave out (Bcc, never stored in the bytes) are found again from the header block, and an
    envelope that leaves out a header's address goes over SMTP only, as when it was sent
    directly."""
    assert mail.data is not None
    try:
        bcc, from_headers = stored_blind_recipients(mail.data, mail.recipients)
    except MessageError:
        bcc, from_headers = (), False
    return OutgoingMessage(
        data=mail.data,
        sender=mail.sender,
        recipients=mail.recipients,
        message_id=mail.message_id,
        smtputf8=mail.smtputf8,
        bcc=bcc,
        envelope_from_headers=from_headers,
    )
