"""Shared type aliases and the two keyword sets every send function takes.

`MessageFields` declares the message keywords once (`to`, `subject`, `html`, ...) and
`SenderOptions` the sender's options once (`host`, `port`, `retry`, `pool`, ...). `send()`,
`send_sync()`, `GmailSender`, `SyncGmailSender` and `workspace_relay` take them through
`Unpack`, so each keyword has one type everywhere and adding one is a single edit here (plus
the code that uses it). At run time this module imports nothing of gmail_send.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Union

if TYPE_CHECKING:
    from ._options import PoolOptions, SendingLimits
    from ._retry import RetryPolicy
    from ._sink import MessageSink
    from .events import EventHook
    from .message import Attachment, Templates
    from .store import StateStore

__all__ = [
    "Addresses",
    "AttachmentInput",
    "Encoding",
    "MessageFields",
    "Security",
    "SendArguments",
    "SenderOptions",
    "Transport",
]

Security = Literal["starttls", "tls", "none"]
"""How the connection is encrypted: STARTTLS (port 587), implicit TLS (465), or none (relay)."""

Transport = Literal["smtp", "api", "auto"]
"""How messages go to Gmail: SMTP (587/465), the Gmail API over HTTPS (443), or `auto`: SMTP
when it can be reached and the token allows it, else the API."""

Encoding = Literal["utf-8", "iso-2022-jp"]
"""The charset of text, HTML, Subject and display names."""

Addresses = str | Sequence[str] | None
"""One string holding an address list, or a sequence of strings holding one mailbox each."""

AttachmentInput = Union["Attachment", "os.PathLike[str]", str]
"""An `Attachment`, or the path of a file to attach."""


class MessageFields(TypedDict, total=False):
    """The message keywords; see `gmail_send.message.compose_message` for what each does."""

    to: Addresses
    cc: Addresses
    bcc: Addresses
    reply_to: Addresses
    from_: str | None
    subject: str
    text: str | None
    html: str | None
    attachments: Sequence[AttachmentInput]
    headers: Mapping[str, str] | None
    encoding: Encoding
    message_id: str | None
    date: datetime | None
    in_reply_to: str | None
    references: str | Sequence[str] | None
    thread_id: str | None
    template: str | None
    context: Mapping[str, Any] | None


class SenderOptions(TypedDict, total=False):
    """The sender's options; defaults and meanings are on `gmail_send.Settings`.

    Plain keywords are the connection and wiring ones; everything else is grouped
    (`retry=RetryPolicy(...)`, `pool=PoolOptions(...)`, `limits=SendingLimits(...)`).
    """

    host: str
    port: int | None
    security: Security
    tls_context: ssl.SSLContext | None
    ca_file: str | os.PathLike[str] | None
    timeout: float | None
    max_connections: int
    sink: MessageSink | None
    on_event: EventHook | None
    templates: Templates | str | os.PathLike[str] | None
    retry: RetryPolicy
    pool: PoolOptions
    limits: SendingLimits
    store: str | StateStore | None
    transport: Transport
    api_url: str
    imap_host: str
    imap_port: int
    find_sent_wait: float


class SendArguments(MessageFields, SenderOptions, total=False):
    """What the one-shot `send()` and `send_sync()` take: message fields and sender options."""
