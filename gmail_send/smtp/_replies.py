"""Gmail's SMTP replies as data: what each means, which error it becomes, and what to do.

The table is shared by the error mapping here, the local Gmail-like server in
`gmail_send.testing` (which injects these exact replies) and the documentation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ..errors import (
    AuthenticationError,
    GmailSendError,
    LoginThrottledError,
    PermanentError,
    QuotaExceededError,
    SMTPReply,
    TemporaryError,
)

__all__ = [
    "GMAIL_REPLIES",
    "ReplyKind",
    "ReplyRule",
    "Stage",
    "error_for_reply",
    "find_rule",
    "markdown_table",
    "parse_reply",
    "reply_is_transient",
]

ReplyKind = Literal["temporary", "throttled", "auth", "quota", "permanent"]
Stage = Literal["connect", "ehlo", "starttls", "auth", "mail", "rcpt", "data"]

_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")


@dataclass(frozen=True)
class ReplyRule:
    """One row of the table.

    `text` is the whole reply as Gmail words it (the local server sends it verbatim); `match`
    picks this row among rows of the same code and enhanced code when the text tells them apart;
    `stages`, when set, limits the row to replies to those commands (454 4.7.0 means too many
    logins only as the answer to AUTH; to STARTTLS it is RFC 3207's "TLS not available").
    `retryable=False` marks a 4xx reply after which the same message must not simply be sent
    again.

    Attributes:
        code: the basic reply code, e.g. 550.
        enhanced_code: the enhanced status code, e.g. "5.4.5".
        kind: what the reply is about: "temporary", "throttled", "auth", "quota" or
            "permanent".
        text: the whole reply as Gmail words it.
        meaning: what the reply means, in words.
        hint: what to do about it.
        match: a piece of `text` that picks this row among rows with the same codes; None
            when the codes alone decide.
        retryable: False for a 4xx reply after which the same message must not simply be sent
            again; None to go by the code.
        stages: the commands whose replies this row is limited to; None for any.
    """

    code: int
    enhanced_code: str
    kind: ReplyKind
    text: str
    meaning: str
    hint: str
    match: str | None = None
    retryable: bool | None = None
    stages: tuple[Stage, ...] | None = None

    @property
    def reply(self) -> SMTPReply:
        """The reply as the client sees it."""
        return SMTPReply(self.code, self.enhanced_code, self.text)


_APP_PASSWORDS = "https://myaccount.google.com/apppasswords"

GMAIL_REPLIES: tuple[ReplyRule, ...] = (
    ReplyRule(
        421,
        "4.7.0",
        "temporary",
        "Connection expired, try reconnecting. - gsmtp",
        "the SMTP session is over (OAuth sessions last about an hour)",
        "reconnect with a fresh access token",
        match="expired",
    ),
    ReplyRule(
        421,
        "4.7.0",
        "temporary",
        "Try again later, closing connection. - gsmtp",
        "transient problem at Gmail; the connection was closed",
        "retry later with exponential backoff",
    ),
    ReplyRule(
        421,
        "4.7.28",
        "temporary",
        "Gmail has detected an unusual rate of mail originating from your IP address. - gsmtp",
        "rate-limited for sending unusually fast",
        "slow down and spread sends out over time",
    ),
    ReplyRule(
        421,
        "4.7.26",
        "temporary",
        "This mail has been rate limited because it is unauthenticated. - gsmtp",
        "rate-limited because the message failed SPF and DKIM",
        "publish SPF and DKIM records for the sending domain, then retry later",
    ),
    ReplyRule(
        450,
        "4.2.1",
        "temporary",
        "The user you are trying to contact is receiving mail too quickly. - gsmtp",
        "the recipient (or relay) is receiving mail too fast",
        "retry this recipient later",
    ),
    ReplyRule(
        451,
        "4.3.0",
        "temporary",
        "Mail server temporarily rejected message. - gsmtp",
        "temporary rejection",
        "retry later",
    ),
    ReplyRule(
        451,
        "4.4.2",
        "temporary",
        "Timeout - closing connection. - gsmtp",
        "the server timed out waiting",
        "retry on a new connection",
    ),
    ReplyRule(
        452,
        "4.5.3",
        "temporary",
        "Your message has too many recipients. - gsmtp",
        "more recipients than Gmail accepts in one message",
        "split the message: at most 100 recipients per message",
        retryable=False,
    ),
    ReplyRule(
        454,
        "4.7.0",
        "throttled",
        "Too many login attempts, please try again later. - gsmtp",
        "too many logins in a short time (one login per message, or failing logins)",
        "reuse one connection for many messages and wait several minutes before logging in again",
        retryable=False,
        stages=("auth",),
    ),
    ReplyRule(
        530,
        "5.7.0",
        "permanent",
        "Must issue a STARTTLS command first. - gsmtp",
        "the command was sent before TLS was started",
        "use port 587 with security='starttls', or port 465 with security='tls'",
        match="STARTTLS",
    ),
    ReplyRule(
        530,
        "5.7.0",
        "auth",
        "Authentication Required. - gsmtp",
        "MAIL was sent without logging in",
        "pass credentials: an OAuth2 token source or an AppPassword",
    ),
    ReplyRule(
        534,
        "5.7.9",
        "auth",
        "Application-specific password required. - gsmtp",
        "the account has 2-Step Verification and its normal password was used",
        f"create an app password at {_APP_PASSWORDS} and use AppPassword, or use OAuth2",
    ),
    ReplyRule(
        534,
        "5.7.14",
        "auth",
        "Please log in via your web browser and then try again. - gsmtp",
        "Google blocked this sign-in as suspicious",
        "sign in to the account in a browser and confirm the activity, or use OAuth2",
    ),
    ReplyRule(
        535,
        "5.7.8",
        "auth",
        "Username and Password not accepted. For more information, go to\n"
        "5.7.8  https://support.google.com/mail/?p=BadCredentials - gsmtp",
        "the credentials were rejected",
        "check the address and the app password (16 letters from "
        f"{_APP_PASSWORDS}); for OAuth2 the token may be expired, revoked or lack the "
        "https://mail.google.com/ scope",
    ),
    ReplyRule(
        550,
        "5.4.5",
        "quota",
        "Daily user sending limit exceeded. - gsmtp",
        "the account reached its daily sending limit",
        "stop sending from this account for up to 24 hours; do not retry now",
    ),
    ReplyRule(
        550,
        "5.7.26",
        "permanent",
        "Unauthenticated email is not accepted from this domain (DMARC policy). - gsmtp",
        "the message failed the sending domain's DMARC, SPF or DKIM checks",
        "fix the domain's SPF, DKIM and DMARC DNS records",
    ),
    ReplyRule(
        550,
        "5.7.1",
        "permanent",
        "Invalid credentials for relay [192.0.2.1]. The IP address you've registered in your "
        "Workspace SMTP Relay service doesn't match the domain of the account this email is "
        "being sent from. - gsmtp",
        "the Workspace SMTP relay does not accept mail from this IP address for this sender",
        "in the Admin console (Gmail > Routing > SMTP relay service) add this server's public "
        "IP address to the allowed senders, or require SMTP authentication and pass credentials; "
        "the sender must be an address of your domain",
        match="relay",
    ),
    ReplyRule(
        550,
        "5.7.1",
        "permanent",
        "Email quota exceeded or message rejected by policy. - gsmtp",
        "refused by policy (often SPF/DKIM/DMARC, or a relay that does not know this sender)",
        "check the domain's SPF, DKIM and DMARC records; for smtp-relay, allow this IP address "
        "or authenticate in the Admin console's SMTP relay settings",
    ),
    ReplyRule(
        552,
        "5.3.4",
        "permanent",
        "Your message exceeded Google's message size limits. - gsmtp",
        "the message is larger than Gmail accepts",
        "keep the encoded message under 35,882,577 bytes (about 25 MB of attachments); "
        "share large files as links",
    ),
    ReplyRule(
        552,
        "5.7.0",
        "permanent",
        "This message was blocked because its content presents a potential security issue. - gsmtp",
        "an attachment type Gmail blocks (executables, scripts, also inside archives)",
        "remove the attachment or share it as a link",
    ),
    ReplyRule(
        553,
        "5.1.2",
        "permanent",
        "We weren't able to find the recipient domain. - gsmtp",
        "the recipient's domain does not exist",
        "fix the recipient address",
    ),
    ReplyRule(
        553,
        "5.1.3",
        "permanent",
        "The recipient address is not a valid RFC 5321 address. - gsmtp",
        "an address is not valid",
        "fix the address",
    ),
    ReplyRule(
        553,
        "5.1.7",
        "permanent",
        "The sender address is invalid. - gsmtp",
        "the envelope sender is not valid",
        "fix the sender address",
    ),
    ReplyRule(
        555,
        "5.5.2",
        "permanent",
        "Syntax error, cannot decode response. - gsmtp",
        "a command was malformed",
        "this is a bug in gmail_send: please report it",
    ),
)
"""Gmail's replies worth a typed error and a hint, one row each (docs/errors.md shows them)."""


def parse_reply(code: int, message: str) -> SMTPReply:
    """Split a reply's text into its enhanced status code (RFC 3463) and the rest."""
    text = message.strip()
    found = _ENHANCED.match(text)
    if found is None:
        return SMTPReply(code, None, text)
    return SMTPReply(code, found.group(0), text[found.end() :].strip())


def find_rule(reply: SMTPReply, stage: Stage | None = None) -> ReplyRule | None:
    """The table row for a reply, keyed on code and enhanced code, refined by text.

    With `stage` (the command the reply answered), rows meant for other commands are skipped.
    """
    candidates = [
        rule
        for rule in GMAIL_REPLIES
        if rule.code == reply.code
        and rule.enhanced_code == reply.enhanced_code
        and (stage is None or rule.stages is None or stage in rule.stages)
    ]
    for rule in candidates:
        if rule.match is not None and rule.match.lower() in reply.message.lower():
            return rule
    for rule in candidates:
        if rule.match is None:
            return rule
    return None


def reply_is_transient(reply: SMTPReply, stage: Stage = "rcpt") -> bool:
    """A 4xx reply after which the same message (or recipient) may simply be tried again later.

    Not so for rows of the table marked `retryable=False`: `452 4.5.3` (too many recipients:
    the message must be split) and, as the answer to AUTH, `454 4.7.0` (too many logins).
    """
    if not 400 <= reply.code < 500:
        return False
    rule = find_rule(reply, stage)
    return rule is None or rule.retryable is not False


def error_for_reply(
    reply: SMTPReply,
    *,
    stage: Stage,
    mechanism: str | None = None,
    oauth_status: str | None = None,
    oauth_scope: str | None = None,
    hint: str | None = None,
) -> GmailSendError:
    """The typed error for an error reply at a given stage of the session.

    `mechanism` names the login mechanism a reply at "auth" refused. `hint` overrides the
    table's hint where the caller knows more (e.g. the XOAUTH2 challenge).
    """
    rule = find_rule(reply, stage)
    kind: ReplyKind
    if rule is not None:
        kind = rule.kind
    elif reply.code == 454 and stage == "auth":
        kind = "throttled"
    elif 400 <= reply.code < 500:
        kind = "temporary"
    elif stage == "auth":
        kind = "auth"
    else:
        kind = "permanent"
    if stage == "auth" and kind == "permanent" and reply.code != 530:
        kind = "auth"
    if kind == "auth" and mechanism in ("login", "plain") and reply.code in (534, 535):
        hint = hint or _APP_PASSWORD_HINT
    hint = hint or (rule.hint if rule else None)
    what = f"Gmail refused {_STAGE_WORDS[stage]}: {reply}"
    if rule is not None:
        what = f"{what} ({rule.meaning})"
    if oauth_status is not None or oauth_scope is not None:
        said = ", ".join(
            f"{name} {value}"
            for name, value in (("status", oauth_status), ("scope", oauth_scope))
            if value is not None
        )
        what = f"{what}; the XOAUTH2 challenge said {said}"
    if kind == "auth":
        return AuthenticationError(
            what,
            hint=hint,
            reply=reply,
            mechanism=mechanism,
            oauth_status=oauth_status,
            oauth_scope=oauth_scope,
        )
    if kind == "quota":
        return QuotaExceededError(what, reply=reply, hint=hint)
    if kind == "throttled":
        return LoginThrottledError(what, reply=reply, hint=hint, retryable=False)
    if kind == "temporary":
        return TemporaryError(
            what, reply=reply, hint=hint, retryable=reply_is_transient(reply, stage)
        )
    return PermanentError(what, reply=reply, hint=hint)


_APP_PASSWORD_HINT = (
    "use a 16-letter app password (create one at https://myaccount.google.com/apppasswords; "  # noqa: S105
    "the account needs 2-Step Verification), not the account's normal password; "
    "`gmail-send doctor` checks the set-up"
)

_STAGE_WORDS: dict[Stage, str] = {
    "connect": "the connection",
    "ehlo": "EHLO",
    "starttls": "STARTTLS",
    "auth": "the login",
    "mail": "the sender (MAIL FROM)",
    "rcpt": "the recipient (RCPT TO)",
    "data": "the message (DATA)",
}


def markdown_table() -> str:
    """The table as Markdown, for docs/errors.md (a test keeps the page in step)."""
    kinds = {
        "temporary": "TemporaryError",
        "throttled": "LoginThrottledError",
        "auth": "AuthenticationError",
        "quota": "QuotaExceededError",
        "permanent": "PermanentError",
    }
    lines = [
        "| reply | raised as | meaning | what to do |",
        "|---|---|---|---|",
    ]
    for rule in GMAIL_REPLIES:
        first_line = rule.text.split("\n")[0].removesuffix(" - gsmtp")
        lines.append(
            f"| `{rule.code} {rule.enhanced_code}` {first_line} | `{kinds[rule.kind]}` "
            f"| {rule.meaning} | {rule.hint} |"
        )
    return "\n".join(lines) + "\n"
