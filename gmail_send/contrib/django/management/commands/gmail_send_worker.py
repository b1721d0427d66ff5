"""`manage.py gmail_send_worker`: send the mail queue in Django's database until SIGTERM.

The sender is configured as for `EmailBackend` (settings `GMAIL_SEND`, else the `GMAIL_SEND_*`
variables, then Django's `EMAIL_*` settings). SIGTERM or Ctrl-C stops it cleanly: no more mail
is claimed and the mails held may finish for `--grace` seconds, then they are released.
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.management.base import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
    BaseCommand,
    CommandError,
)

from gmail_send._sender import GmailSender
from gmail_send.contrib.django._backend import sender_options
from gmail_send.contrib.django._database import queue_alias, queue_url
from gmail_send.errors import GmailSendError
from gmail_send.queue import MailQueue

__all__ = ["Command"]


class Command(BaseCommand):  # type: ignore[misc, unused-ignore]  # Django is untyped
    help = "Send the mail queued by QueuedEmailBackend (or MailQueue) until SIGTERM."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--database", help="the queue's database alias (default: GMAIL_SEND_QUEUE_DATABASE)"
        )
        parser.add_argument(
            "--lease", type=float, default=60.0, help="seconds a claim lasts (default 60)"
        )
        parser.add_argument(
            "--grace",
            type=float,
            default=30.0,
            help="after SIGTERM, seconds the mails held may take to finish (default 30)",
        )
        parser.add_argument(
            "--until-empty", action="store_true", help="exit once nothing is due or being sent"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        alias = options["database"] or queue_alias()
        try:
            queue = MailQueue(queue_url(alias), lease=options["lease"])
            sender = GmailSender(**sender_options({}))
        except GmailSendError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"gmail_send_worker: sending from {queue.name} as {sender.account or 'a relay'} "
            "(SIGTERM or Ctrl-C stops)"
        )

        async def run() -> None:
            async with queue, sender:
                await queue.serve(
                    sender, grace=options["grace"], until_empty=options["until_empty"]
                )

        try:
            asyncio.run(run())
        except GmailSendError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write("gmail_send_worker: stopped")
