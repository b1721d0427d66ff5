"""Events a `GmailSender` reports to an application's hook, so it can count and alert.

`GmailSender(..., on_event=hook)` calls `hook(event)` synchronously for every event below; the
hook should be quick (increment a counter, put on a queue). An exception in a hook is logged
and ignored: observability never breaks a send. Events hold no secret.

Each event is also a log record: `Reporter.report(event, message)` writes the record (its
`event` field is `event.name`, its other fields the event's own plus the context given) and
calls the hook, so the two never drift apart.

    def hook(event: SendEvent) -> None:
        if isinstance(event, QuotaReached):
            alert(f"{event.account} stopped sending for {event.retry_after} s")
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

from .errors import GmailSendError

__all__ = [
    "EventHook",
    "MailResent",
    "MailSettled",
    "MessageSent",
    "OutcomeUnknown",
    "QuotaReached",
    "Reporter",
    "SendEvent",
    "SendRetried",
    "TokenRefreshed",
    "TransportChosen",
    "emit",
]

log = logging.getLogger("gmail_send.events")


@dataclass(frozen=True)
class SendEvent:
    """Base of every event; `name` is also the `event` field of the matching log record.

    Attributes:
        account: the sending mailbox, or None for a relay that authorizes by IP address.
    """

    name: ClassVar[str] = "event"
    account: str | None


@dataclass(frozen=True)
class MessageSent(SendEvent):
    """Gmail accepted a message (for at least one recipient) after `attempts` transactions.

    Attributes:
        account: the sending mailbox, or None for a relay that authorizes by IP address.
        message_id: the message's Message-ID.
        attempts: how many transactions it took (1 when the first one succeeded).
        connection_id: the id of the pooled connection that delivered it, as in the
            `connected` log record; None when a sink took the message.
        accepted: how many recipients Gmail accepted.
        refused: how many recipients Gmail refused.
        transport: the transport that carried it, "smtp" or "api"; None for a sink.
    """

    name: ClassVar[str] = "sent"
    message_id: str
    attempts: int
    connection_id: int | None
    accepted: int
    refused: int
    transport: Literal["smtp", "api"] | None = None


@dataclass(frozen=True)
class TransportChosen(SendEvent):
    """`transport="auto"` chose a transport, or changed its choice; `reason` says why.

    Attributes:
        account: the sending mailbox, or None for a relay that authorizes by IP address.
        transport: the transport chosen, "smtp" or "api".
        reason: why it was chosen.
    """

    name: ClassVar[str] = "transport_chosen"
    transport: Literal["smtp", "api"]
    reason: str


@dataclass(frozen=True)
class SendRetried(SendEvent):
    """A transaction failed in a way that is safe to retry; the next one starts after `delay` s.

    `recipients` is how many recipients the next attempt is for (fewer than the message has
    when only some were refused for the moment).

    Attributes:
        account: the sending mailbox, or None for a relay that authorizes by IP address.
        message_id: the message's Message-ID, the same in every attempt.
        attempt: the number of the attempt that failed (1 for the first).
        delay: seconds before the next attempt starts.
        error: what made the attempt fail.
        recipients: how many recipients the next attempt is for.
    """

    name: ClassVar[str] = "retried"
    message_id: str
    attempt: int
    delay: float
    error: GmailSendError
    recipients: int


@dataclass(frozen=True)
class TokenRefreshed(SendEvent):
    """The token source handed out a new access token (`forced`: after Gmail rejected one).

    Attributes:
        account: the mailbox the token signs in as (the token source's `user`).
        forced: True when the refresh followed Gmail rejecting the previous token.
    """

    name: ClassVar[str] = "token_refreshed"
    forced: bool


@dataclass(frozen=True)
class QuotaReached(SendEvent):
    """Sending stopped for this account: the client-side daily limit, or Gmail's 550 5.4.5.

    Attributes:
        account: the mailbox that stopped sending.
        source: "daily_limit" for the client-side limit, "server" for Gmail's 550 5.4.5.
        retry_after: seconds until the account may send again, or None when not known.
    """

    name: ClassVar[str] = "quota_reached"
    source: Literal["daily_limit", "server"]
    retry_after: float | None


@dataclass(frozen=True)
class OutcomeUnknown(SendEvent):
    """The message body went out but no final reply came (drop, deadline or cancellation).

    Attributes:
        account: the sending mailbox, or None for a relay that authorizes by IP address.
        message_id: the Message-ID of the message that may or may not have been delivered.
        reason: what happened after the body went out, in words.
    """

    name: ClassVar[str] = "outcome_unknown"
    message_id: str
    reason: str


@dataclass(frozen=True)
class MailSettled(SendEvent):
    """The mail queue found an `unknown` mail's Message-ID in the account's Sent Mail: Gmail
    took it, and the mail is `sent` (reported through the hook of the sender that looked).

    Attributes:
        account: the mail's account.
        mail_id: the queued mail's id.
        message_id: its Message-ID.
    """

    name: ClassVar[str] = "mail_settled"
    mail_id: str
    message_id: str


@dataclass(frozen=True)
class MailResent(SendEvent):
    """The mail queue did not find an `unknown` mail in the account's Sent Mail within the
    window: Gmail did not take it, so it is sent again with the same bytes and Message-ID. If
    Gmail filed its copy after the window, this resend is a duplicate: count these.

    Attributes:
        account: the mail's account.
        mail_id: the queued mail's id.
        message_id: its Message-ID, the same in the resend.
        sent_at: when the body of the attempt whose outcome was unknown went out (a
            `time.time()` value; None when not recorded): the window started there.
        wait: the window's length in seconds.
        resends: how many times this mail was sent again, this time included.
    """

    name: ClassVar[str] = "mail_resent"
    mail_id: str
    message_id: str
    sent_at: float | None
    wait: float
    resends: int


EventHook = Callable[[SendEvent], object]
"""What `on_event` takes: called with each event; its return value is ignored."""


def emit(hook: EventHook | None, event: SendEvent) -> None:
    """Call the hook, if any; its failures are logged, never raised.

    Args:
        hook: the application's `on_event` hook, or None for no call.
        event: the event to hand it.
    """
    if hook is None:
        return
    try:
        hook(event)
    except Exception:
        log.exception(
            "the on_event hook failed on a %s event",
            event.name,
            extra={"event": "hook_failed", "failed_event": event.name},
        )


class Reporter:
    """Turns each happening of a send into its log record and, for an event, the hook's call.

    `report(event, message, *args)` logs `message % args` with `event=event.name`, the event's
    fields (an exception as its class name) and any further `fields`, then calls the hook.
    `note(name, message, *args)` logs a happening that has no event class (`attempt_failed`,
    `reconnect`, `login_throttled`, ...). No secret may be passed to either.

    Args:
        logger: where the records go.
        hook: the application's `on_event` hook, or None for log records only.
    """

    def __init__(self, logger: logging.Logger, hook: EventHook | None = None) -> None:
        self.logger = logger
        self.hook = hook

    def report(
        self,
        event: SendEvent,
        message: str,
        *args: object,
        level: int = logging.INFO,
        **fields: object,
    ) -> None:
        """Log `event` and call the hook with it.

        Args:
            event: the event: its `name` and fields go into the record, then to the hook.
            message: the log message, a %-format string for `args`.
            *args: the values `message` formats.
            level: the record's logging level.
            **fields: further fields for the record only (the hook gets just `event`).
        """
        self.note(event.name, message, *args, level=level, **{**_log_fields(event), **fields})
        emit(self.hook, event)

    def note(
        self, name: str, message: str, *args: object, level: int = logging.DEBUG, **fields: object
    ) -> None:
        """Log a happening the hook does not see; `name` goes into the record's `event`.

        Args:
            name: the record's `event` field, e.g. "reconnect".
            message: the log message, a %-format string for `args`.
            *args: the values `message` formats.
            level: the record's logging level.
            **fields: further fields for the record.
        """
        self.logger.log(level, message, *args, extra={"event": name, **fields})


def _log_fields(event: SendEvent) -> dict[str, object]:
    fields: dict[str, object] = {}
    for item in dataclasses.fields(event):
        value = getattr(event, item.name)
        fields[item.name] = type(value).__name__ if isinstance(value, BaseException) else value
    return fields
