"""What `run.py` measures: gmail_send and its peers, each sending as its users run it.

Every scenario is a coroutine function `(bench, rcpts, count) -> Sample`: it sends `count`
messages to `rcpts` recipients through the latency proxy and returns the wall time and the
client's CPU time (this process only: the server and the proxy run in another one). Sessions a
scenario keeps are opened before its clock starts ("warm"), unless the scenario is about cold
sends. The peers (yagmail, fastapi-mail) come from the `benchmarks` extra.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import aiosmtplib

from gmail_send import AccountQuotas, AppPassword, GmailSender, PoolOptions, SendingLimits, send

ACCOUNT = "bench@gmail.com"
PASSWORD = "abcdefghijklmnop"  # noqa: S105 - the local test server's app password
TEXT = "Hello from the benchmark.\n" * 20


@dataclass(frozen=True)
class Sample:
    """One timed run: messages sent, wall seconds, client CPU seconds."""

    count: int
    wall: float
    cpu: float


@dataclass(frozen=True)
class Bench:
    """Where the servers are: STARTTLS and implicit TLS, each behind the latency proxy."""

    starttls_port: int
    tls_port: int
    ca_pem: str
    ca_file: str

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem)

    def sender(self, **options: Any) -> GmailSender:
        return GmailSender(AppPassword(ACCOUNT, PASSWORD), **self.options(**options))

    def options(self, **options: Any) -> dict[str, Any]:
        options.setdefault("host", "127.0.0.1")
        options.setdefault("port", self.starttls_port)
        options.setdefault("tls_context", self.context())
        options.setdefault("limits", SendingLimits(daily_limit=None, quotas=AccountQuotas()))
        return options


def recipients(count: int) -> list[str]:
    return [f"r{n}@example.com" for n in range(count)]


def fields(rcpts: int, n: int) -> dict[str, Any]:
    return {"to": recipients(rcpts), "subject": f"benchmark {n}", "text": TEXT}


def message(rcpts: int, n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = ACCOUNT
    msg["To"] = ", ".join(recipients(rcpts))
    msg["Subject"] = f"benchmark {n}"
    msg.set_content(TEXT)
    return msg


async def timed(work: Callable[[], Awaitable[object]], count: int) -> Sample:
    wall, cpu = time.perf_counter(), time.process_time()
    await work()
    return Sample(count, time.perf_counter() - wall, time.process_time() - cpu)


# -- gmail_send ------------------------------------------------------------------------------


async def gmail_warm(bench: Bench, rcpts: int, count: int) -> Sample:
    """One warm session, one message after the other, with send()."""
    async with bench.sender(max_connections=1) as sender:
        await sender.send(**fields(rcpts, -1))
        prepared = [fields(rcpts, n) for n in range(count)]

        async def run() -> None:
            for each in prepared:
                await sender.send(**each)

        return await timed(run, count)


async def gmail_warm_message(bench: Bench, rcpts: int, count: int) -> Sample:
    """The same with send_message() of ready EmailMessage objects."""
    async with bench.sender(max_connections=1) as sender:
        await sender.send(**fields(rcpts, -1))
        ready = [message(rcpts, n) for n in range(count)]

        async def run() -> None:
            for each in ready:
                await sender.send_message(each)

        return await timed(run, count)


async def gmail_burst(bench: Bench, rcpts: int, count: int, *, connections: int) -> Sample:
    """`count` sends at once on `connections` warm sessions (3: the default pool)."""
    async with bench.sender(max_connections=connections) as sender:
        # Warm up as many sessions as the burst will use (the pool opens them as sends wait).
        window = PoolOptions().max_in_flight
        await asyncio.gather(*(sender.send(**fields(rcpts, -n)) for n in range(window * 3)))
        prepared = [fields(rcpts, n) for n in range(count)]

        async def run() -> None:
            await asyncio.gather(*(sender.send(**each) for each in prepared))

        return await timed(run, count)


async def gmail_cold(bench: Bench, rcpts: int, count: int, *, implicit_tls: bool) -> Sample:
    """The one-shot send(): a new session for each message."""
    if implicit_tls:
        options = bench.options(port=bench.tls_port, security="tls")
    else:
        options = bench.options()
    credentials = AppPassword(ACCOUNT, PASSWORD)

    async def run() -> None:
        for n in range(count):
            await send(credentials, **options, **fields(rcpts, n))

    return await timed(run, count)


# -- aiosmtplib and smtplib, reused connections driven by hand --------------------------------


async def _aiosmtplib_connected(bench: Bench) -> aiosmtplib.SMTP:
    smtp = aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=bench.starttls_port,
        start_tls=True,
        tls_context=bench.context(),
        username=ACCOUNT,
        password=PASSWORD,
    )
    await smtp.connect()
    return smtp


async def aiosmtplib_reused(bench: Bench, rcpts: int, count: int, *, connections: int) -> Sample:
    """`connections` reused aiosmtplib connections, each sending its share one by one."""
    sessions = [await _aiosmtplib_connected(bench) for _ in range(connections)]
    ready = [message(rcpts, n) for n in range(count)]

    async def share(smtp: aiosmtplib.SMTP, part: list[EmailMessage]) -> None:
        for each in part:
            await smtp.send_message(each)

    async def run() -> None:
        await asyncio.gather(*(share(s, ready[i::connections]) for i, s in enumerate(sessions)))

    try:
        return await timed(run, count)
    finally:
        for smtp in sessions:
            await smtp.quit()


async def aiosmtplib_cold(bench: Bench, rcpts: int, count: int, *, implicit_tls: bool) -> Sample:
    """aiosmtplib's one-shot send(): a new connection for each message."""
    port = bench.tls_port if implicit_tls else bench.starttls_port

    async def run() -> None:
        for n in range(count):
            await aiosmtplib.send(
                message(rcpts, n),
                hostname="127.0.0.1",
                port=port,
                use_tls=implicit_tls,
                start_tls=not implicit_tls,
                tls_context=bench.context(),
                username=ACCOUNT,
                password=PASSWORD,
            )

    return await timed(run, count)


async def smtplib_reused(bench: Bench, rcpts: int, count: int, *, connections: int) -> Sample:
    """`connections` reused smtplib connections, one thread each."""
    ready = [message(rcpts, n) for n in range(count)]

    def connect() -> smtplib.SMTP:
        smtp = smtplib.SMTP("127.0.0.1", bench.starttls_port, timeout=60)
        smtp.starttls(context=bench.context())
        smtp.login(ACCOUNT, PASSWORD)
        return smtp

    sessions = await asyncio.gather(*(asyncio.to_thread(connect) for _ in range(connections)))

    def share(smtp: smtplib.SMTP, part: list[EmailMessage]) -> None:
        for each in part:
            smtp.send_message(each)

    async def run() -> None:
        await asyncio.gather(
            *(asyncio.to_thread(share, s, ready[i::connections]) for i, s in enumerate(sessions))
        )

    try:
        return await timed(run, count)
    finally:
        for smtp in sessions:
            smtp.quit()


# -- peers as their users run them ------------------------------------------------------------


async def yagmail_workers(bench: Bench, rcpts: int, count: int, *, workers: int) -> Sample:
    """yagmail: one client per worker thread, `send()` per message (it logs in on each)."""
    import yagmail

    clients = [
        yagmail.SMTP(
            ACCOUNT,
            PASSWORD,
            host="127.0.0.1",
            port=bench.starttls_port,
            smtp_ssl=False,
            smtp_starttls={"context": bench.context()},
        )
        for _ in range(workers)
    ]

    def share(client: Any, numbers: list[int]) -> None:
        for n in numbers:
            client.send(to=recipients(rcpts), subject=f"benchmark {n}", contents=TEXT)

    async def run() -> None:
        await asyncio.gather(
            *(
                asyncio.to_thread(share, c, list(range(count))[i::workers])
                for i, c in enumerate(clients)
            )
        )

    try:
        return await timed(run, count)
    finally:
        for client in clients:
            client.close()


async def fastapi_mail_workers(bench: Bench, rcpts: int, count: int, *, workers: int) -> Sample:
    """fastapi-mail: `FastMail.send_message()` per message (a connection each), `workers`
    sends at a time, as concurrent requests of a web app would."""
    from fastapi_mail import ConnectionConfig, FastMail, MessageSchema, MessageType

    mail = FastMail(
        ConnectionConfig(
            MAIL_USERNAME=ACCOUNT,
            MAIL_PASSWORD=PASSWORD,
            MAIL_FROM=ACCOUNT,
            MAIL_PORT=bench.starttls_port,
            MAIL_SERVER="127.0.0.1",
            MAIL_STARTTLS=True,
            MAIL_SSL_TLS=False,
            CERT_BUNDLE=bench.ca_file,
        )
    )

    async def share(numbers: list[int]) -> None:
        for n in numbers:
            await mail.send_message(
                MessageSchema(
                    subject=f"benchmark {n}",
                    recipients=recipients(rcpts),
                    body=TEXT,
                    subtype=MessageType.plain,
                )
            )

    async def run() -> None:
        numbers = list(range(count))
        await asyncio.gather(*(share(numbers[i::workers]) for i in range(workers)))

    return await timed(run, count)
