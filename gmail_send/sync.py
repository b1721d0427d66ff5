"""Blocking twins of the async API: `send_sync()` and `SyncGmailSender`, for scripts and sync
frameworks (Django views, Flask, a Jupyter cell, a sync view inside an async server).

`asyncio.run` fails when the calling thread already runs an event loop, and a session kept
between calls must stay on one loop. So every sync call runs its coroutine on one private
event loop in a daemon thread of this module, shared by all sync senders of the process, and
waits for the result. Any number of threads may call at once; token refreshes keep their single
in-flight rule because `OAuth2Credentials` coordinates across threads and loops itself.
"""

from __future__ import annotations

import asyncio
import email.message
import os
import threading
from collections.abc import Coroutine, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ._result import SendResult
from ._sender import GmailSender, send
from ._types import MessageFields, SendArguments, SenderOptions
from .auth._credentials import Credentials
from .errors import ConfigurationError

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["SyncGmailSender", "send_sync"]

T = TypeVar("T")


class _LoopThread:
    """An event loop running forever in a daemon thread; `run` waits for a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, name="gmail_send.sync", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self.thread:
            coroutine.close()
            raise RuntimeError(
                "a gmail_send sync call was made from gmail_send's own event loop thread "
                "(for example from an async callback); use the async API there"
            )
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result()
        except BaseException:
            # KeyboardInterrupt or the like in the caller: stop the work on the loop too.
            future.cancel()
            raise


_runner: _LoopThread | None = None
_runner_pid: int | None = None
_runner_lock = threading.Lock()


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` on the module's loop thread, starting it (again after a fork) if needed."""
    global _runner, _runner_pid
    with _runner_lock:
        if _runner is None or _runner_pid != os.getpid() or not _runner.thread.is_alive():
            _runner = _LoopThread()
            _runner_pid = os.getpid()
        runner = _runner
    return runner.run(coroutine)


class SyncGmailSender:
    """`GmailSender` for code without `await`: same parameters, blocking methods.

        with SyncGmailSender(credentials) as gmail:
            gmail.send(to="you@example.com", subject="Hello", text="Hi")

    Takes the same options as `GmailSender` (`SenderOptions`). Safe to share between threads:
    their sends run concurrently on the sender.

    Args:
        credentials: who signs in (see `GmailSender`); None for a relay that authorizes by IP
            address.
        **options: the sender's options (`SenderOptions`), as for `GmailSender`.
    """

    def __init__(self, credentials: Credentials | None, **options: Unpack[SenderOptions]) -> None:
        async def create() -> GmailSender:
            return GmailSender(credentials, **options)

        # Built on the loop that will run it, so nothing in it is tied to the caller's loop.
        self._sender = _run(create())
        self._closed = False

    def __repr__(self) -> str:
        return f"Sync{self._sender!r}"

    @property
    def account(self) -> str | None:
        """The signed-in mailbox, the default sender."""
        return self._sender.account

    @property
    def async_sender(self) -> GmailSender:
        """The `GmailSender` doing the work, on gmail_send's private loop thread."""
        return self._sender

    def __enter__(self) -> SyncGmailSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, *, deadline: float | None = None, **fields: Unpack[MessageFields]) -> SendResult:
        """Compose a message from keyword fields and send it (see `GmailSender.send`).

        Args:
            deadline: seconds this send may take in all (default: the sender's).
            **fields: the message (`MessageFields`).
        """
        self._check_open()
        return _run(self._sender.send(deadline=deadline, **fields))

    def send_message(
        self,
        message: email.message.Message,
        *,
        sender: str | None = None,
        recipients: Sequence[str] | None = None,
        deadline: float | None = None,
        thread_id: str | None = None,
    ) -> SendResult:
        """Send a ready message (see `GmailSender.send_message`).

        Args:
            message: the message, as built by the `email` package (or parsed from a file).
            sender: the envelope sender (MAIL FROM) instead of the one the headers give.
            recipients: the envelope recipients instead of the To, Cc and Bcc headers.
            deadline: seconds this send may take in all (default: the sender's).
            thread_id: the Gmail thread to file it in (the Gmail API only).
        """
        self._check_open()
        return _run(
            self._sender.send_message(
                message,
                sender=sender,
                recipients=recipients,
                deadline=deadline,
                thread_id=thread_id,
            )
        )

    def find_sent(
        self, message_id: str, *, sent_at: float | None = None, wait: float | None = None
    ) -> bool:
        """Whether the account's Sent Mail holds this Message-ID (see `GmailSender.find_sent`);
        blocks up to the window's end.

        Args:
            message_id: the Message-ID (`UnknownOutcomeError.message_id`).
            sent_at: when the body went out (`UnknownOutcomeError.sent_at`); None: now.
            wait: the window in seconds (default: the `find_sent_wait` option).

        Raises:
            MessageError: `message_id` cannot be a Message-ID.
            ConfigurationError: `wait` or `sent_at` is not a finite number of seconds.
            ReconciliationUnavailableError: no lookup can run (its `reason` says why).
        """
        self._check_open()
        return _run(self._sender.find_sent(message_id, sent_at=sent_at, wait=wait))

    def reset_quota(self, *, count: bool = False) -> None:
        """Let this account send again after Gmail's 550 5.4.5 (see `GmailSender.reset_quota`).

        Args:
            count: also forget the messages counted in the last 24 hours.
        """
        self._check_open()
        _run(self._sender.reset_quota(count=count))

    def close(self) -> None:
        """Finish the send in flight, then close the session politely; safe to call again."""
        if self._closed:
            return
        self._closed = True
        _run(self._sender.aclose())

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigurationError("this SyncGmailSender is closed")


def send_sync(credentials: Credentials | None, **arguments: Unpack[SendArguments]) -> SendResult:
    """`gmail_send.send` for code without `await`: one message on a session of its own.

    Works in a plain script and in a thread whose event loop is running. For more than one
    message, keep a `SyncGmailSender`.

    Args:
        credentials: who signs in (see `GmailSender`).
        **arguments: the message fields and the sender's options, as for `send()`.
    """
    return _run(send(credentials, **arguments))
