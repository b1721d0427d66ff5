"""Messages: typed fields -> a validated `EmailMessage` -> the exact bytes and envelope to send.

Nothing here touches the network. `compose_message` builds a new message from keyword fields;
`prepare_message` takes a ready `email.message.Message`. Both check everything Gmail would refuse
(addresses, header injection, 100 recipients, the SIZE limit, blocked attachment types) before
any connection is opened.
"""

from ._compose import (
    BLOCKED_EXTENSIONS,
    MAX_MESSAGE_SIZE,
    MAX_RECIPIENTS,
    Attachment,
    OutgoingMessage,
    compose_message,
    prepare_message,
)

__all__ = [
    "BLOCKED_EXTENSIONS",
    "MAX_MESSAGE_SIZE",
    "MAX_RECIPIENTS",
    "Attachment",
    "OutgoingMessage",
    "compose_message",
    "prepare_message",
]
