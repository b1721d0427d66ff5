"""Which transport carries a message: SMTP, the Gmail API, or `auto`'s choice between them.

`Router` is what a `GmailSender` sends through: it holds the SMTP pool and (made on first use,
with httpx imported then) the Gmail API transport, asks `AutoChooser` when the transport is
`auto`, refuses what the chosen transport cannot carry, and hands the message to the delivery.
"""

from ._auto import PROBE_MEMORY, AutoChooser
from ._router import Router

__all__ = ["PROBE_MEMORY", "AutoChooser", "Router"]
