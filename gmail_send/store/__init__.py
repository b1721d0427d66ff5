"""State shared across processes and hosts: sending limits, pauses and the token refresh.

`GmailSender(..., store="sqlite:///gmail-send.db")` (one host) or
`store="postgresql://..."` (several hosts, `pip install 'gmail-send[postgres]'`) keeps each
account's rolling 24-hour count, Gmail's quota pause, the login hold-off and the current access
token in one database, so N processes together never exceed the daily limit and refresh a token
once. The schema is created and migrated by gmail_send itself. Nothing here sends mail.
"""

from ._database import StoreUnavailableError
from ._schema import SCHEMA_VERSION
from ._store import StateStore
from ._tokens import SharedTokens

__all__ = ["SCHEMA_VERSION", "SharedTokens", "StateStore", "StoreUnavailableError"]
