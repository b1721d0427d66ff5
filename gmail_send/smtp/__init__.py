"""SMTP with Gmail on aiosmtplib: sessions (TLS, EHLO, sign-in), transactions, the pool, and
Gmail's reply table.

The sender uses this package; it decides no policy (retries and quotas are the sender's; sign-in
asks `gmail_send._retry.classify` whether Gmail rejected a token).
`GMAIL_REPLIES` is public so the local server, the docs and applications read one table.
"""

from ._connection import GMAIL_HOST, default_port
from ._replies import GMAIL_REPLIES, ReplyRule

__all__ = ["GMAIL_HOST", "GMAIL_REPLIES", "ReplyRule", "default_port"]
