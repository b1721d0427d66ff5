"""Messages: typed fields -> a validated `EmailMessage` -> the exact bytes and envelope to send.

Nothing here touches the network. `compose_message` builds a new message from keyword fields;
`prepare_message` takes a ready `email.message.Message`. Both check everything Gmail would refuse
(addresses, header injection, 100 recipients, the SIZE limit, blocked attachment types) before
any connection is opened.

Templates (`Templates`, with the `[templates]` extra) give a message's subject, text and HTML
from one name, by a file convention in a folder:

- `NAME.subject.txt`: the Subject (optional; whitespace runs, line breaks included, become one
  space);
- `NAME.txt`: the plain-text body, not escaped;
- `NAME.html`: the HTML body, autoescaped.

At least one body must exist; with only HTML, a text part is derived from it. A variable the
context lacks raises `TemplateError` naming the file, line and variable, before any
connection. `{{ inline_image("logo.png") }}` in a template gives a `cid:` URL and attaches the
file (from the templates folder) inline, once per message.
"""

from ._compose import (
    BLOCKED_EXTENSIONS,
    MAX_MESSAGE_SIZE,
    MAX_RECIPIENTS,
    Attachment,
    OutgoingMessage,
    RenderedTemplate,
    Templates,
    compose_message,
    prepare_message,
)

__all__ = [
    "BLOCKED_EXTENSIONS",
    "MAX_MESSAGE_SIZE",
    "MAX_RECIPIENTS",
    "Attachment",
    "OutgoingMessage",
    "RenderedTemplate",
    "Templates",
    "compose_message",
    "prepare_message",
]
