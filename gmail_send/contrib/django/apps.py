"""The Django app `gmail_send.contrib.django`: its migration creates the mail queue's tables."""

from __future__ import annotations

from django.apps import AppConfig  # type: ignore[import-untyped, import-not-found, unused-ignore]

__all__ = ["GmailSendConfig"]


class GmailSendConfig(AppConfig):  # type: ignore[misc, unused-ignore]  # Django is untyped
    """Add "gmail_send.contrib.django" to INSTALLED_APPS, then `manage.py migrate`."""

    name = "gmail_send.contrib.django"
    label = "gmail_send"
    verbose_name = "gmail_send mail queue"
