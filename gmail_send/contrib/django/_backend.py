"""`EmailBackend`: Django's mail sent at once through Gmail with OAuth2 or an app password.

    # settings.py
    EMAIL_BACKEND = "gmail_send.contrib.django.EmailBackend"

and then `django.core.mail.send_mail`, `EmailMessage` and `EmailMultiAlternatives` go through
Gmail. Configuration, first found wins:

1. keyword arguments of `get_connection(...)`: GmailSender's (`credentials`, `host`, `port`,
   `security`, `tls_context`, `timeout`, `sink`, the groups `retry`, `pool`, `limits`...), and
   Django's `username` with `password` (the `auth_user`/`auth_password` of `send_mail`), meaning an
   app password;
2. the setting `GMAIL_SEND`: a mapping of GmailSender keywords, e.g. `from_env()` or
   `{"credentials": OAuth2Credentials.from_file(...), "max_connections": 1}`;
3. otherwise the `GMAIL_SEND_*` environment variables, through `gmail_send.from_env()` (read
   again only when they change, so every connection shares one set of credentials and its
   cached OAuth2 access token).

Credentials still missing after that come from Django's own `EMAIL_HOST_USER` and
`EMAIL_HOST_PASSWORD` as an app password, so an existing Gmail set-up keeps working. Django's
`EMAIL_HOST`, `EMAIL_PORT`, `EMAIL_USE_TLS`, `EMAIL_USE_SSL` and `EMAIL_TIMEOUT`, where the
project set them, give the host, port, security and timeout unless the above name them; an
unencrypted combination with credentials is `ImproperlyConfigured`.

Django's messages are legacy MIME objects; `send_message` takes them as they are. Each
`open()`/`close()` pair is one SMTP session (Django opens one per `send_mail`, or one for
a `send_messages` batch). Needs the `[django]` extra.

Each message sent gets `message.gmail_send_result`: the `SendResult` (its `message_id` is the
Message-ID Gmail received), or None when it was not sent (`fail_silently`). The library's
events (`gmail_send.events`) arrive as Django signals, sent in the thread that sent the mail,
after its send, with `sender=` the backend class, `event=` the event and `message=` the Django
message: `send_event` carries every event, and `message_sent`, `send_retried`,
`token_refreshed`, `quota_reached` and `outcome_unknown` one kind each:

    @receiver(message_sent)
    def count(sender, event, message, **kwargs):
        metrics.increment("mail.sent")
"""

from __future__ import annotations

import email.utils
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

try:
    from django.conf import settings  # type: ignore[import-untyped, import-not-found, unused-ignore]
    from django.core.exceptions import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
        ImproperlyConfigured,
    )
    from django.core.mail.backends.base import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
        BaseEmailBackend,
    )
    from django.dispatch import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
        Signal,
    )
except ImportError as _missing:  # pragma: no cover - depends on the installation
    raise ImportError(
        "gmail_send.contrib.django needs Django: pip install 'gmail-send[django]'",
        name=_missing.name,
    ) from _missing

from ..._options import OPTION_NAMES
from ...auth._credentials import AppPassword
from ...config import ENV_PREFIX, Settings, from_env
from ...errors import ConfigurationError, GmailSendError
from ...events import SendEvent
from ...sync import SyncGmailSender

__all__ = [
    "EmailBackend",
    "message_sent",
    "outcome_unknown",
    "quota_reached",
    "send_event",
    "send_retried",
    "sender_options",
    "token_refreshed",
]

send_event = Signal()
"""Every event of gmail_send (`event=` a `SendEvent`, `message=` the Django message)."""
message_sent = Signal()
"""Gmail accepted a message (`event=` a `MessageSent`)."""
send_retried = Signal()
"""A send is retried after a failure that is safe to retry (`event=` a `SendRetried`)."""
token_refreshed = Signal()
"""A new OAuth2 access token was obtained (`event=` a `TokenRefreshed`)."""
quota_reached = Signal()
"""Sending stopped for the account: daily limit or Gmail's 550 5.4.5 (`event=` a
`QuotaReached`)."""
outcome_unknown = Signal()
"""The body went out but no reply came: the message may have been delivered (`event=` an
`OutcomeUnknown`)."""

_SIGNALS = {
    "sent": message_sent,
    "retried": send_retried,
    "token_refreshed": token_refreshed,
    "quota_reached": quota_reached,
    "outcome_unknown": outcome_unknown,
}

_SENDER_OPTIONS = frozenset({"credentials", *OPTION_NAMES})


_env_lock = threading.Lock()
_env_cache: tuple[tuple[tuple[str, str], ...], Settings] | None = None


def _settings_from_env() -> Settings:
    """`from_env()`, read again only when a `GMAIL_SEND_*` variable changed.

    Django makes a backend per connection; sharing the settings shares their credentials,
    so an OAuth2 access token is refreshed once an hour, not once per e-mail.
    """
    global _env_cache
    key = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(ENV_PREFIX)))
    with _env_lock:
        if _env_cache is None or _env_cache[0] != key:
            _env_cache = (key, from_env())
        return _env_cache[1]


def _django_app_password() -> AppPassword | None:
    """Django's own EMAIL_HOST_USER / EMAIL_HOST_PASSWORD, the usual Gmail app-password set-up,
    used when nothing else names credentials."""
    user = getattr(settings, "EMAIL_HOST_USER", "")
    password = getattr(settings, "EMAIL_HOST_PASSWORD", "")
    if user and password:
        return AppPassword(user, password)
    return None


def _bare_address(text: str) -> str:
    """`Name <a@b>` -> `a@b`; anything that does not parse stays as given, so the error names it
    (parseaddr turns "bad address" into "bad")."""
    address = email.utils.parseaddr(text)[1]
    return address if "@" in address else text


def _django_connection_settings() -> dict[str, Any]:
    """Django's EMAIL_HOST, EMAIL_PORT, EMAIL_USE_TLS, EMAIL_USE_SSL and EMAIL_TIMEOUT, where the
    project set them (Django's own defaults, localhost:25 unencrypted, never mean Gmail), as
    gmail_send options; GMAIL_SEND settings and the environment win over them."""
    options: dict[str, Any] = {}
    if settings.is_overridden("EMAIL_HOST"):
        options["host"] = settings.EMAIL_HOST
    if settings.is_overridden("EMAIL_PORT"):
        options["port"] = int(settings.EMAIL_PORT)
    if settings.is_overridden("EMAIL_TIMEOUT"):
        options["timeout"] = settings.EMAIL_TIMEOUT
    use_tls = settings.is_overridden("EMAIL_USE_TLS") and bool(settings.EMAIL_USE_TLS)
    use_ssl = settings.is_overridden("EMAIL_USE_SSL") and bool(settings.EMAIL_USE_SSL)
    if use_tls and use_ssl:
        raise ImproperlyConfigured(
            "EMAIL_USE_TLS and EMAIL_USE_SSL are both True: set one (TLS is STARTTLS on port 587, "
            "SSL is implicit TLS on port 465)"
        )
    if use_ssl:
        options["security"] = "tls"
    elif use_tls:
        options["security"] = "starttls"
    elif settings.is_overridden("EMAIL_USE_TLS") or settings.is_overridden("EMAIL_USE_SSL"):
        options["security"] = "none"
    return options


def sender_options(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """GmailSender's keywords from `overrides`, settings.GMAIL_SEND (else the environment)
    and Django's EMAIL_* settings, in the order of the module docstring."""
    configured: Mapping[str, Any] | None = getattr(settings, "GMAIL_SEND", None)
    django_password = _django_app_password()
    if configured is None:
        if "credentials" in overrides:
            configured = {}
        else:
            try:
                configured = _settings_from_env()
            except ConfigurationError:
                if django_password is None:
                    raise
                configured = {}
    unknown = set(configured) - _SENDER_OPTIONS
    if unknown:
        raise ConfigurationError(
            f"settings.GMAIL_SEND has unknown keys: {', '.join(sorted(unknown))}",
            hint="its keys are GmailSender's keyword arguments, e.g. credentials, host, port",
        )
    options = _django_connection_settings()
    options.update(configured)
    options.update(overrides)
    if "credentials" not in options and django_password is not None:
        options["credentials"] = django_password
    if options.get("security") == "none" and options.get("credentials") is not None:
        raise ImproperlyConfigured(
            "EMAIL_USE_TLS and EMAIL_USE_SSL are both False, and gmail_send never sends "
            "credentials unencrypted: set EMAIL_USE_TLS = True (port 587) or "
            "EMAIL_USE_SSL = True (port 465), or remove them"
        )
    return options


class EmailBackend(BaseEmailBackend):  # type: ignore[misc, unused-ignore]  # Django is untyped
    """`EMAIL_BACKEND = "gmail_send.contrib.django.EmailBackend"`; see the module docstring.

    Args:
        fail_silently: count a message that cannot be sent as not sent, instead of raising.
        username: the mailbox for an app password, with `password` (instead of the settings'
            credentials).
        password: the app password of `username`.
        **options: `GmailSender` options (and `credentials`) over those of
            `settings.GMAIL_SEND` or the GMAIL_SEND_* variables.
    """

    def __init__(
        self,
        fail_silently: bool = False,
        *,
        username: str | None = None,
        password: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(fail_silently=fail_silently)
        unknown = set(options) - _SENDER_OPTIONS
        if unknown:
            raise TypeError(f"EmailBackend got unknown options: {', '.join(sorted(unknown))}")
        if (username is None) != (password is None):
            raise TypeError("EmailBackend needs username and password together")
        if username is not None and password is not None:
            options["credentials"] = AppPassword(username, password)
        self._overrides = options
        self._sender: SyncGmailSender | None = None
        self._lock = threading.RLock()
        self._events: list[SendEvent] = []
        self._events_lock = threading.Lock()

    def _options(self) -> dict[str, Any]:
        return sender_options(self._overrides)

    def open(self) -> bool:
        """Prepare a sender (the SMTP session opens with the first message); True if new."""
        with self._lock:
            if self._sender is not None:
                return False
            try:
                options = self._options()
                options["on_event"] = self._collector(options.get("on_event"))
                self._sender = SyncGmailSender(**options)
            except GmailSendError:
                if not self.fail_silently:
                    raise
                return False
            return True

    def close(self) -> None:
        """Close the SMTP session, if one is open."""
        with self._lock:
            sender, self._sender = self._sender, None
            if sender is None:
                return
            try:
                sender.close()
            except GmailSendError:
                if not self.fail_silently:
                    raise

    def send_messages(self, email_messages: Sequence[Any]) -> int:
        """Send Django `EmailMessage`s; return how many Gmail accepted.

        Args:
            email_messages: the messages; each gets `gmail_send_result` (None when not sent).
        """
        if not email_messages:
            return 0
        with self._lock:
            opened = self.open()
            if self._sender is None:
                return 0  # could not open, and fail_silently
            sent = 0
            try:
                for message in email_messages:
                    if self._send(self._sender, message):
                        sent += 1
            finally:
                if opened:
                    self.close()
            return sent

    def _send(self, sender: SyncGmailSender, message: Any) -> bool:
        message.gmail_send_result = None
        recipients = [_bare_address(str(r)) for r in message.recipients()]
        if not recipients:
            return False
        envelope_from = email.utils.parseaddr(str(message.from_email))[1] or None
        try:
            message.gmail_send_result = sender.send_message(
                message.message(), sender=envelope_from, recipients=recipients
            )
        except GmailSendError:
            if not self.fail_silently:
                raise
            return False
        finally:
            self._dispatch(message)
        return True

    def _collector(self, hook: Any) -> Any:
        """The sender's `on_event`: keep each event for `_dispatch` (the sender calls it on its
        own loop thread), and call the application's own hook, if any, as before."""

        def collect(event: SendEvent) -> None:
            with self._events_lock:
                self._events.append(event)
            if hook is not None:
                hook(event)

        return collect

    def _dispatch(self, message: Any) -> None:
        """Send the events of the message just sent as signals, in the caller's thread, where
        receivers may use the ORM as anywhere in the request."""
        with self._events_lock:
            events, self._events = self._events, []
        cls = type(self)
        for event in events:
            send_event.send(sender=cls, event=event, message=message)
            specific = _SIGNALS.get(event.name)
            if specific is not None:
                specific.send(sender=cls, event=event, message=message)
