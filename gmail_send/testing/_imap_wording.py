"""What the local Gmail's IMAP server says, worded as imap.gmail.com words it (one place).

Texts come from public transcripts of imap.gmail.com; where Gmail's wording is not known the
text follows RFC 3501 and says so in a comment.
"""

from __future__ import annotations

from ._state import ServerConfig

__all__ = [
    "ALREADY_SIGNED_IN",
    "APP_PASSWORD_REQUIRED",
    "BAD_COMMAND",
    "BAD_SYNTAX",
    "BYE_IDLE",
    "BYE_LINE_TOO_LONG",
    "BYE_LITERAL_TOO_LARGE",
    "BYE_LOGOUT",
    "CAPABILITY_DONE",
    "FLAGS",
    "GO_AHEAD",
    "ID_REPLY",
    "IMAP_DISABLED",
    "INVALID_CREDENTIALS",
    "LOGOUT_DONE",
    "NAMESPACE_REPLY",
    "NOT_SIGNED_IN",
    "NO_MAILBOX_SELECTED",
    "SASL_CANCELLED",
    "SEARCH_DONE",
    "SUCCESS",
    "UNSELECTED",
    "UNSUPPORTED_MECHANISM",
    "capabilities",
    "greeting",
    "signed_in",
    "unknown_mailbox",
]

INVALID_CREDENTIALS = "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)"
APP_PASSWORD_REQUIRED = (
    "NO [ALERT] Application-specific password required: "  # noqa: S105 - a reply text
    "https://support.google.com/accounts/answer/185833 (Failure)"
)
IMAP_DISABLED = (
    "NO [ALERT] Your account is not enabled for IMAP use. Please visit your Gmail settings "
    "page and enable your account for IMAP access. (Failure)"
)
SUCCESS = "OK Success"
SEARCH_DONE = "OK SEARCH completed (Success)"
CAPABILITY_DONE = "OK Thats all she wrote!"
UNSELECTED = "OK Returned to authenticated state. (Success)"
BYE_LOGOUT = "* BYE LOGOUT Requested"
LOGOUT_DONE = "OK 73 good day (Success)"
GO_AHEAD = "+ go ahead"
ID_REPLY = (
    '* ID ("name" "GImap" "vendor" "Google, Inc." "support-url" "https://support.google.com/mail")'
)
FLAGS = r"\Answered \Flagged \Draft \Deleted \Seen $NotPhishing $Phishing"
NAMESPACE_REPLY = '* NAMESPACE (("" "/")) NIL NIL'
BAD_COMMAND = "BAD Unknown command"
BAD_SYNTAX = "BAD Could not parse command"
# Gmail's wording for these is not known; the texts say what RFC 3501 means.
NOT_SIGNED_IN = "BAD Command not valid before authentication"
ALREADY_SIGNED_IN = "BAD Already in authenticated state"
NO_MAILBOX_SELECTED = "BAD Command not valid without a selected mailbox"
SASL_CANCELLED = "BAD Authentication cancelled"
UNSUPPORTED_MECHANISM = "NO Unsupported authentication mechanism (Failure)"
BYE_IDLE = "* BYE Autologout; idle for too long"
BYE_LINE_TOO_LONG = "* BYE Command line too long"
BYE_LITERAL_TOO_LARGE = "* BYE Literal too large"

_BEFORE_SIGN_IN = (
    "IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 XYZZY SASL-IR "
    "AUTH=XOAUTH2 AUTH=PLAIN AUTH=PLAIN-CLIENTTOKEN AUTH=OAUTHBEARER"
)
_AFTER_SIGN_IN = (
    "IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 UIDPLUS "
    "COMPRESS=DEFLATE ENABLE MOVE CONDSTORE ESEARCH UTF8=ACCEPT LIST-EXTENDED LIST-STATUS "
    "LITERAL- SPECIAL-USE APPENDLIMIT=35651584"
)


def greeting(peer_ip: str, session_id: str) -> str:
    """The untagged OK a client reads first."""
    return f"* OK Gimap ready for requests from {peer_ip} {session_id}"


def capabilities(config: ServerConfig, *, signed_in: bool) -> str:
    """The `* CAPABILITY` line: Gmail's, less X-GM-EXT-1 and SPECIAL-USE when switched off."""
    names = (_AFTER_SIGN_IN if signed_in else _BEFORE_SIGN_IN).split()
    if not config.imap_gmail_extensions:
        names.remove("X-GM-EXT-1")
    if not config.imap_special_use and "SPECIAL-USE" in names:
        names.remove("SPECIAL-USE")
    return "* CAPABILITY " + " ".join(names)


def signed_in(address: str) -> str:
    """The tagged OK after a successful AUTHENTICATE or LOGIN."""
    return f"OK {address} authenticated (Success)"


def unknown_mailbox(name: str) -> str:
    """The tagged NO for a SELECT or EXAMINE of a mailbox that does not exist or cannot be
    selected (`[Gmail]`)."""
    return f"NO [NONEXISTENT] Unknown Mailbox: {name} (now in authenticated state) (Failure)"
