"""The Gmail API as a transport: users.messages.send over HTTPS, with the narrow gmail.send scope.

Needs the `[api]` extra (httpx), imported only when a sender uses `transport="api"` (or `auto`
chooses the API). `API_ERRORS` and the error parser need nothing beyond the standard library.
"""

from ._errors import API_ERRORS, APIErrorRule, parse_error_body

__all__ = ["API_ERRORS", "APIErrorRule", "parse_error_body"]
