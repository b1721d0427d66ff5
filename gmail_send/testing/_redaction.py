"""Keep login secrets out of aiosmtpd's log records.

aiosmtpd logs every command line it reads on the "mail.log" logger (DEBUG and INFO). Its own
sanitizer hides the payload of `AUTH <mechanism> <payload>`, but other records (an undecodable
challenge answer, the deprecated `login_data` warning) can still carry credentials or noise.
`AuthRedactingFilter` rewrites or drops those records before any handler sees them; the local
server installs one on "mail.log" while it runs.
"""

from __future__ import annotations

import logging
import re

__all__ = ["AuthRedactingFilter", "install_log_filter", "uninstall_log_filter"]

_AUTH_PAYLOAD = re.compile(r"(AUTH\s+[A-Za-z0-9_-]+\s+)[^\s'\"]+", re.IGNORECASE)
_SECRET_BEARING = ("can't decode base64", "unrecognised")
_PLACEHOLDER = re.compile(r"%[-#0 +]*\d*(?:\.\d+)?[a-z]")
_SERVER_LINES = ("%r << %r", "%r << challenge: %r")
_NOISE = ("Session.login_data is deprecated",)

_LOGGER_NAME = "mail.log"


class AuthRedactingFilter(logging.Filter):
    """Replace AUTH payloads with `***`; blank records that may quote a challenge answer."""

    def filter(self, record: logging.LogRecord) -> bool:
        template = str(record.msg)
        if any(text in template for text in _NOISE):
            return False
        if any(text in template for text in _SECRET_BEARING):
            record.msg = _PLACEHOLDER.sub("***", template)
            record.args = None
            return True
        if template in _SERVER_LINES:  # what the server sent, e.g. its EHLO AUTH line
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        redacted = _AUTH_PAYLOAD.sub(r"\1***", message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


_installed: list[AuthRedactingFilter] = []
_users = 0


def install_log_filter() -> None:
    """Add the filter to "mail.log" (counted: each server start adds one use)."""
    global _users
    _users += 1
    if not _installed:
        log_filter = AuthRedactingFilter()
        logging.getLogger(_LOGGER_NAME).addFilter(log_filter)
        _installed.append(log_filter)


def uninstall_log_filter() -> None:
    """Drop one use; the filter is removed when no server needs it."""
    global _users
    _users = max(0, _users - 1)
    if _users == 0 and _installed:
        logging.getLogger(_LOGGER_NAME).removeFilter(_installed.pop())
