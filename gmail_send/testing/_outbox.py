"""`Outbox`: an in-memory `MessageSink` for an application's own tests.

Point the application's sender at it, `GmailSender(credentials, sink=outbox)`, and every
message is composed and validated exactly as for Gmail, then kept here instead of sent, so a
test can assert on what the application would have sent without any network:

    outbox = Outbox()
    async with GmailSender(AppPassword("me@gmail.com", "unused"), sink=outbox) as gmail:
        await signup(gmail, "new@example.com")
    outbox.assert_sent(to="new@example.com", subject="Welcome")

`fail_next(error)` makes the next delivery raise, to test the application's error handling.
The `gmail_outbox` fixture of the pytest plugin gives a fresh one to each test. It is the
core's `MemorySink` (what `GMAIL_SEND_SINK=memory` uses) with assertions added.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage

from .._result import SendResult
from .._sender import GmailSender
from .._sink import DEV_SENDER, MemorySink
from ..errors import GmailSendError
from ..message._outgoing import OutgoingMessage

__all__ = ["Outbox", "SentMessage"]


@dataclass(frozen=True)
class SentMessage:
    """One message the outbox took: the composed message and its envelope.

    Attributes:
        outgoing: what the sender handed the outbox; the properties below read from it.
    """

    outgoing: OutgoingMessage

    @property
    def message(self) -> EmailMessage:
        """The composed message (no Bcc header), as Gmail would have received it."""
        return self.outgoing.message

    @property
    def sender(self) -> str:
        """The envelope sender."""
        return self.outgoing.sender

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every envelope recipient: To, Cc and Bcc."""
        return self.outgoing.recipients

    @property
    def message_id(self) -> str:
        return self.outgoing.message_id

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    def header(self, name: str) -> str | None:
        """A header's decoded value, or None when the message has none.

        Args:
            name: the header's name (case-insensitive), e.g. "Reply-To".
        """
        value = self.message.get(name)
        return None if value is None else str(value)

    @property
    def text(self) -> str | None:
        """The text/plain body, decoded, or None."""
        return self._body("plain")

    @property
    def html(self) -> str | None:
        """The text/html body, decoded, or None."""
        return self._body("html")

    @property
    def attachments(self) -> list[str]:
        """The file names of the attachments, in order."""
        return [part.get_filename() or "" for part in self.message.iter_attachments()]

    def _body(self, subtype: str) -> str | None:
        part = self.message.get_body(preferencelist=(subtype,))
        if part is None or part.get_content_subtype() != subtype:
            return None
        content = part.get_content()
        return content if isinstance(content, str) else None


class Outbox(MemorySink):
    """Keeps the messages a `GmailSender` hands it; thread-safe, in order of arrival.

    Args:
        account: the default From of a sender without credentials, as for `MemorySink`.
    """

    def __init__(self, account: str = DEV_SENDER) -> None:
        super().__init__(account)
        self._messages: list[SentMessage] = []
        self._failures: list[GmailSendError] = []
        self._sender: GmailSender | None = None

    async def deliver(self, outgoing: OutgoingMessage) -> SendResult:
        """Keep the message and report every recipient as accepted (or raise a planned error).

        Args:
            outgoing: the composed message.
        """
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            raise failure
        return await super().deliver(outgoing)

    def _keep(self, outgoing: OutgoingMessage) -> None:
        super()._keep(outgoing)
        self._messages.append(SentMessage(outgoing))

    def gmail_sender(self) -> GmailSender:
        """A `GmailSender` that delivers into this outbox (one, made on first use).

        For replacing an application's sender where it is looked up, e.g. FastAPI's
        `app.dependency_overrides[get_gmail] = gmail_outbox.gmail_sender`. It has no
        credentials; messages are From `account` unless they say otherwise.
        """
        with self._lock:
            if self._sender is None:
                self._sender = GmailSender(None, sink=self)
            return self._sender

    def fail_next(self, error: GmailSendError, *, times: int = 1) -> None:
        """Make the next `times` deliveries raise `error` (nothing is kept for them).

        Args:
            error: the exception to raise, e.g. a `QuotaExceededError`, as Gmail's would be.
            times: how many deliveries in a row fail (at least 1).
        """
        if times < 1:
            raise ValueError(f"times must be at least 1, not {times}")
        with self._lock:
            self._failures.extend([error] * times)

    @property
    def messages(self) -> list[SentMessage]:
        """The messages kept so far, oldest first (a copy)."""
        with self._lock:
            return list(self._messages)

    @property
    def last(self) -> SentMessage:
        """The most recent message; AssertionError when there is none."""
        messages = self.messages
        assert messages, "no message was sent"
        return messages[-1]

    def __iter__(self) -> Iterator[SentMessage]:
        return iter(self.messages)

    def clear(self) -> None:
        """Forget the messages and planned failures."""
        with self._lock:
            self._kept.clear()
            self._messages.clear()
            self._failures.clear()

    def find(
        self,
        *,
        to: str | None = None,
        subject: str | None = None,
        contains: str | None = None,
    ) -> list[SentMessage]:
        """The messages that match every given filter, oldest first.

        Args:
            to: an envelope recipient, To, Cc or Bcc (case-insensitive).
            subject: a substring of the subject.
            contains: a substring of the text or HTML body.
        """
        found = []
        for sent in self.messages:
            if to is not None and to.lower() not in {r.lower() for r in sent.recipients}:
                continue
            if subject is not None and subject not in sent.subject:
                continue
            if contains is not None and not any(
                contains in body for body in (sent.text, sent.html) if body is not None
            ):
                continue
            found.append(sent)
        return found

    def assert_sent(
        self,
        *,
        to: str | None = None,
        subject: str | None = None,
        contains: str | None = None,
        count: int | None = None,
    ) -> SentMessage:
        """Assert that a message matching the filters (see `find`) was sent; return the last.

        The failure message lists what was sent.

        Args:
            to: an envelope recipient, To, Cc or Bcc (case-insensitive).
            subject: a substring of the subject.
            contains: a substring of the text or HTML body.
            count: exactly this many messages must match (at least 1; for none, use
                `assert_nothing_sent`).
        """
        if count is not None and count < 1:
            raise ValueError("count must be at least 1; use assert_nothing_sent() for none")
        found = self.find(to=to, subject=subject, contains=contains)
        wanted = {"to": to, "subject": subject, "contains": contains}
        described = ", ".join(f"{k}={v!r}" for k, v in wanted.items() if v is not None)
        if count is not None:
            assert len(found) == count, (
                f"expected {count} message(s) matching {described or 'anything'}, "
                f"found {len(found)}; sent: {self._summary()}"
            )
        assert found, f"no message matching {described or 'anything'}; sent: {self._summary()}"
        return found[-1]

    def assert_nothing_sent(self) -> None:
        """Assert that no message was sent."""
        assert len(self) == 0, f"expected no message; sent: {self._summary()}"

    def _summary(self) -> str:
        messages = self.messages
        if not messages:
            return "nothing"
        return "; ".join(f"to {', '.join(m.recipients)} subject {m.subject!r}" for m in messages)
