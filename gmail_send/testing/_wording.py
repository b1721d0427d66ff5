"""Gmail's reply texts as the local server sends them, built from gmail_send.smtp.GMAIL_REPLIES
so that the server, the client and the docs read one table."""

from __future__ import annotations

from ..smtp._replies import GMAIL_REPLIES, ReplyRule
from ._faults import format_reply

__all__ = [
    "ACCEPTED",
    "APP_PASSWORD_REQUIRED",
    "AUTH_REQUIRED",
    "BAD_ADDRESS",
    "BAD_CREDENTIALS",
    "IDLE_TIMEOUT",
    "MUST_STARTTLS",
    "SYNTAX_ERROR",
    "TOO_BIG",
    "gmail_reply",
    "gmail_wording",
]


def gmail_reply(code: int, enhanced: str, match: str | None = None) -> str:
    """The wire form of a row of GMAIL_REPLIES (first row matching, refined by text)."""
    rows: list[ReplyRule] = [
        rule for rule in GMAIL_REPLIES if rule.code == code and rule.enhanced_code == enhanced
    ]
    if match is not None:
        rows = [rule for rule in rows if match.lower() in rule.text.lower()]
    if not rows:
        raise LookupError(f"no reply {code} {enhanced} in gmail_send.smtp.GMAIL_REPLIES")
    return format_reply(rows[0])


ACCEPTED = "235 2.7.0 Accepted"
MUST_STARTTLS = gmail_reply(530, "5.7.0", "STARTTLS")
AUTH_REQUIRED = gmail_reply(530, "5.7.0", "Authentication Required")
APP_PASSWORD_REQUIRED = gmail_reply(534, "5.7.9")
BAD_CREDENTIALS = gmail_reply(535, "5.7.8")
TOO_BIG = gmail_reply(552, "5.3.4")
SYNTAX_ERROR = gmail_reply(555, "5.5.2")
BAD_ADDRESS = gmail_reply(553, "5.1.3")
IDLE_TIMEOUT = gmail_reply(451, "4.4.2")


def gmail_wording(status: str, sid: str, command: str | None) -> str:
    """aiosmtpd's fixed reply texts, reworded as Gmail's (`command`: the one being answered)."""
    if status == "220 Ready to start TLS":
        return "220 2.0.0 Ready to start TLS"
    if status.startswith("354 End data"):
        return f"354 Go ahead {sid} - gsmtp"
    if status.startswith("552 Error:"):
        return TOO_BIG
    if status.startswith("503 Error: send"):
        return f"503 5.5.1 EHLO/HELO first. {sid} - gsmtp"
    if status == "503 Error: need MAIL command":
        return f"503 5.5.1 MAIL first. {sid} - gsmtp"
    if status == "503 Error: need RCPT command":
        return f"503 5.5.1 RCPT first. {sid} - gsmtp"
    if status == "503 Error: nested MAIL command":
        return f"503 5.5.1 Nested MAIL command. {sid} - gsmtp"
    if status.startswith(("501 Syntax: MAIL", "501 Syntax: RCPT", "501 Error: BODY")):
        return SYNTAX_ERROR
    if status.startswith("553 5.1.3 Error: malformed address"):
        return SYNTAX_ERROR if command == "MAIL" else BAD_ADDRESS
    if status.startswith("500 Error: command"):
        return f"502 5.5.1 Unrecognized command. {sid} - gsmtp"
    if status == "454 TLS not available":
        return f"454 4.7.0 TLS not available. {sid} - gsmtp"
    if status.startswith("501 5.5.2 Can't decode base64"):
        return f"501 5.5.2 Cannot Decode response. {sid} - gsmtp"
    return status
