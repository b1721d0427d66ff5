"""Django: send at once through Gmail, or queue mail in Django's own database.

    # settings.py: send at once (each send_mail waits for Gmail)
    EMAIL_BACKEND = "gmail_send.contrib.django.EmailBackend"

    # settings.py: queue in the project's database, send from a worker
    INSTALLED_APPS = [..., "gmail_send.contrib.django"]   # then: manage.py migrate
    EMAIL_BACKEND = "gmail_send.contrib.django.QueuedEmailBackend"
    # and run: manage.py gmail_send_worker

With `QueuedEmailBackend`, `send_mail` inside `transaction.atomic()` enqueues the mail in that
transaction: it commits or rolls back with the rest. The app's migration creates the queue's
tables through gmail_send's own migrator (the same schema as `MailQueue` anywhere else), on
PostgreSQL (psycopg 3) or SQLite; any other database is `ImproperlyConfigured`. Sending is
configured as for `EmailBackend` (below). Needs the `[django]` extra.

`EmailBackend` sets `message.gmail_send_result` on each message and sends the library's events
as Django signals (`send_event`, `message_sent`, `send_retried`, `token_refreshed`,
`quota_reached`, `outcome_unknown`); `QueuedEmailBackend` sets `message.gmail_send_mail`.
"""

from ._backend import (
    EmailBackend,
    message_sent,
    outcome_unknown,
    quota_reached,
    send_event,
    send_retried,
    token_refreshed,
)
from ._queued import QueuedEmailBackend

__all__ = [
    "EmailBackend",
    "QueuedEmailBackend",
    "message_sent",
    "outcome_unknown",
    "quota_reached",
    "send_event",
    "send_retried",
    "token_refreshed",
]
