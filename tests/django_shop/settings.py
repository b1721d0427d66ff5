"""A small Django project for the queue's tests: orders whose receipts go through the queue.

The database comes from SHOP_DATABASE: a SQLite file path, or a postgresql:// URL.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

SECRET_KEY = "only-for-tests"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["shop", "gmail_send.contrib.django"]
EMAIL_BACKEND = "gmail_send.contrib.django.QueuedEmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("GMAIL_SEND_USER", "me@gmail.com")

_database = os.environ["SHOP_DATABASE"]
if _database.startswith("postgresql://"):
    _parts = urlsplit(_database)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _parts.path.lstrip("/"),
            "USER": _parts.username or "",
            "HOST": _parts.hostname or "",
            "PORT": str(_parts.port or ""),
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _database}}
