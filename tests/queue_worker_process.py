"""A worker process for the queue's crash and multi-worker tests (run as a script).

    python tests/queue_worker_process.py '{"queue": URL, "host": ..., "port": ..., ...}'

Sends the queue's due mail through the local Gmail until nothing is due or being sent (or
looked up in the Sent Mail), then exits 0. The tests kill it with SIGKILL at points the local
Gmail holds it.
"""

from __future__ import annotations

import asyncio
import json
import sys

from gmail_send import AppPassword, GmailSender, MailQueue, RetryPolicy, SendingLimits


async def main(config: dict[str, object]) -> None:
    queue = MailQueue(
        str(config["queue"]),
        lease=float(config.get("lease", 60.0)),  # type: ignore[arg-type]
        settle_unknown=bool(config.get("settle_unknown", True)),
    )
    sender = GmailSender(
        AppPassword(str(config["account"]), str(config["app_password"])),
        host=str(config["host"]),
        port=int(config["port"]),  # type: ignore[call-overload]
        ca_file=str(config["ca_file"]),
        max_connections=int(config.get("max_connections", 1)),  # type: ignore[call-overload]
        retry=RetryPolicy(backoff=0.05),
        limits=SendingLimits(daily_limit=config.get("daily_limit", "auto")),  # type: ignore[arg-type]
        imap_host=str(config["host"]),
        imap_port=int(config.get("imap_port", 993)),  # type: ignore[call-overload]
        find_sent_wait=float(config.get("find_sent_wait", 120.0)),  # type: ignore[arg-type]
    )
    async with queue, sender:
        await queue.work(sender, until_empty=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
