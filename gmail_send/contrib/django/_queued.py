"""`QueuedEmailBackend`: Django's mail enqueued in Django's own database, in its transaction.

    EMAIL_BACKEND = "gmail_send.contrib.django.QueuedEmailBackend"

Each message is composed and checked at once (a bad address fails in the view) and stored in
the mail queue through Django's connection to the queue's database (settings
`GMAIL_SEND_QUEUE_DATABASE`, default "default"): inside `transaction.atomic()` it commits or
rolls back with the rest of the transaction; outside, at once (Django's autocommit).
`manage.py gmail_send_worker` sends it. The sending account, which picks the worker's sender,
is settings `GMAIL_SEND_QUEUE_ACCOUNT` if set, else the account of the sending configuration
(`GMAIL_SEND`'s credentials, else `GMAIL_SEND_USER`), else each message's From address.
Each message enqueued gets `message.gmail_send_mail`, the `QueuedMail` (its `id` follows it
with `MailQueue.get`), or None when it was not enqueued (`fail_silently`).
"""

from __future__ import annotations

import email.utils
import os
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings  # type: ignore[import-untyped, import-not-found, unused-ignore]
from django.core.mail.backends.base import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
    BaseEmailBackend,
)
from django.db import connections  # type: ignore[import-untyped, import-not-found, unused-ignore]

from ...errors import GmailSendError
from ._backend import _bare_address
from ._database import queue_alias, queue_for

__all__ = ["QueuedEmailBackend", "queue_account"]


def queue_account() -> str | None:
    """The account queued mail is sent from (see the module docstring)."""
    explicit = getattr(settings, "GMAIL_SEND_QUEUE_ACCOUNT", None)
    if explicit:
        return str(explicit)
    configured: Mapping[str, Any] | None = getattr(settings, "GMAIL_SEND", None)
    credentials = configured.get("credentials") if configured is not None else None
    user = getattr(credentials, "user", None)
    if isinstance(user, str):
        return user
    return os.environ.get("GMAIL_SEND_USER") or None


class QueuedEmailBackend(BaseEmailBackend):  # type: ignore[misc, unused-ignore]  # Django is untyped
    """`EMAIL_BACKEND = "gmail_send.contrib.django.QueuedEmailBackend"`; see the module.

    Args:
        fail_silently: as for Django's backends: a failure to enqueue is not raised.
        using: the database alias of the queue (default: `GMAIL_SEND_QUEUE_DATABASE`, else
            "default").
    """

    def __init__(self, fail_silently: bool = False, *, using: str | None = None, **_: Any):
        super().__init__(fail_silently=fail_silently)
        self.using = using or queue_alias()

    def send_messages(self, email_messages: Sequence[Any]) -> int:
        """Enqueue Django `EmailMessage`s in the current transaction; return how many.

        Args:
            email_messages: the messages; each gets `gmail_send_mail`, the `QueuedMail` it
                became (None when it was not enqueued).
        """
        if not email_messages:
            return 0
        try:
            queue = queue_for(self.using, account=queue_account())
            connection = connections[self.using]
            connection.ensure_connection()
        except GmailSendError:
            if not self.fail_silently:
                raise
            return 0
        queued = 0
        for message in email_messages:
            message.gmail_send_mail = None
            recipients = [_bare_address(str(r)) for r in message.recipients()]
            if not recipients:
                continue
            sender = email.utils.parseaddr(str(message.from_email))[1] or None
            try:
                message.gmail_send_mail = queue.enqueue_message_sync(
                    message.message(),
                    sender=sender,
                    recipients=recipients,
                    connection=connection.connection,
                )
            except GmailSendError:
                if not self.fail_silently:
                    raise
                continue
            queued += 1
        return queued
