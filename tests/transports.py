"""One local Gmail, reached over either transport, for the tests that run over both.

The `mail` fixture (conftest) is parametrized with "smtp" and "api": a test asks it for a
sender and plans faults by what they mean ("a transient failure", "the connection drops after
the body was stored"); `Mail` turns each into the local SMTP server's injected reply or drop,
or into the local Gmail API's error answer or cut connection. Both store into one mailbox, so
the assertions are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from gmail_send import AppPassword, Attachment, Credentials, GmailSender, OAuth2Token
from gmail_send.testing import LocalGmail, LocalGmailAPI, ReceivedMessage

from .local_helpers import ACCESS_TOKEN, ACCOUNT, APP_PASSWORD, sender_for

TransportName = Literal["smtp", "api"]


@dataclass
class Mail:
    """A local Gmail and its API; `transport` is the one this test run sends through."""

    transport: TransportName
    gmail: LocalGmail
    api: LocalGmailAPI

    def sender(self, credentials: Credentials | None = None, **options: Any) -> GmailSender:
        """A sender through this run's transport (an app password over SMTP, the local access
        token over the API, unless given), with its own daily count and quick backoff."""
        if self.transport == "smtp":
            return sender_for(
                self.gmail, credentials or AppPassword(ACCOUNT, APP_PASSWORD), **options
            )
        options.setdefault("api_url", self.api.url)
        return sender_for(
            self.gmail,
            credentials or OAuth2Token(ACCOUNT, ACCESS_TOKEN),
            transport="api",
            **options,
        )

    @property
    def messages(self) -> list[ReceivedMessage]:
        return self.gmail.messages

    @property
    def attempts(self) -> int:
        """Transactions (MAIL commands) or send requests the server saw."""
        if self.transport == "smtp":
            return sum(c.startswith("MAIL") for s in self.gmail.sessions for c in s.commands)
        return len(self.api.requests)

    @property
    def connections(self) -> int:
        """Connections opened to the server so far."""
        if self.transport == "smtp":
            return len(self.gmail.sessions)
        return self.api.connections_opened

    def fail_transiently(self, *, times: int = 1) -> None:
        """Refuse the next message(s) for the moment (451 after the body; API 503)."""
        if self.transport == "smtp":
            self.gmail.inject(
                "data_end", (451, "4.3.0 Mail server temporarily rejected message."), times=times
            )
        else:
            self.api.fail_next("unavailable", times=times, retry_after=0)

    def fail_permanently(self) -> None:
        """Refuse the next message for good (552 5.3.4; API 400)."""
        if self.transport == "smtp":
            self.gmail.inject(
                "data_end", (552, "5.3.4 Your message exceeded Google's message size limits.")
            )
        else:
            self.api.fail_next("bad_request")

    def drop_before_body(self) -> list[Attachment]:
        """Cut the connection before the message body went out; send the attachments this
        returns with the message.

        Over SMTP the cut comes at RCPT. Over HTTP a client learns that its request was cut
        before the body only while it is still writing it: once the whole request sits in the
        socket buffers, a cut is an unknown outcome. So the API's server hangs up after the
        request's head, and the message carries 8 MB that cannot all be written by then.
        """
        if self.transport == "smtp":
            self.gmail.drop_connection("rcpt")
            return []
        self.api.fail_next("drop_before_body")
        return [Attachment(bytes(8 << 20), filename="large.bin")]

    def drop_after_body(self, *, stored: bool) -> None:
        """Cut the connection after the body arrived, before or after storing the message."""
        if self.transport == "smtp":
            self.gmail.drop_connection("data_end_stored" if stored else "data_end")
        else:
            self.api.fail_next("drop_after_stored" if stored else "drop_after_body")

    def fall_silent_after_body(self, *, stored: bool = True) -> None:
        """Never answer the next message (the body arrived; stored or not)."""
        if self.transport == "smtp":
            self.gmail.stall("data_end_stored" if stored else "data_end")
        else:
            self.api.fail_next("hang_after_stored" if stored else "hang_after_body")
