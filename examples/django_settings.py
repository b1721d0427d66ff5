"""Django settings for sending through Gmail; copy the lines you need into settings.py.

With these, `django.core.mail.send_mail(...)`, `EmailMessage` and `EmailMultiAlternatives`
(and so password resets, admin error mails...) go through Gmail. Install `gmail-send[django]`.
Credentials and connection come from the `GMAIL_SEND_*` environment variables; for the
OAuth2 set-up run `gmail-send auth` once and set GMAIL_SEND_TOKEN_FILE.

Run this file to send a test message with these settings:

    GMAIL_SEND_USER=me@gmail.com GMAIL_SEND_APP_PASSWORD=... \\
        python examples/django_settings.py you@example.com
"""

from __future__ import annotations

import os
import sys

# --- settings.py ------------------------------------------------------------------------------
from gmail_send import from_env

EMAIL_BACKEND = "gmail_send.contrib.django.EmailBackend"

# Optional: without it, the backend calls from_env() itself when it opens a connection.
# Reading once at start-up makes a missing variable fail at start, not at the first mail.
GMAIL_SEND = from_env()

# Gmail sends as the signed-in account (or one of its verified "Send mail as" aliases);
# any other From address is rewritten by Gmail, so use the account here.
DEFAULT_FROM_EMAIL = os.environ.get("GMAIL_SEND_USER", "me@gmail.com")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# ------------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    import django
    from django.conf import settings
    from django.core.mail import send_mail

    settings.configure(
        EMAIL_BACKEND=EMAIL_BACKEND,
        GMAIL_SEND=GMAIL_SEND,
        DEFAULT_FROM_EMAIL=DEFAULT_FROM_EMAIL,
        SERVER_EMAIL=SERVER_EMAIL,
    )
    django.setup()
    sent = send_mail(
        "Test from Django",
        "This message was sent by Django through gmail_send.",
        None,
        argv or [DEFAULT_FROM_EMAIL],
    )
    print(f"Django sent {sent} message(s)")
    return 0 if sent else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
