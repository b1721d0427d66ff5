"""A FastAPI application that queues its mail: requests enqueue, a worker in the lifespan sends.

    export MAIL_QUEUE=sqlite:////var/lib/shop/mail.db      # or postgresql://shop@db/shop
    export GMAIL_SEND_TOKEN_FILE=/etc/shop/gmail-token.json  # from `gmail-send auth`
    uvicorn fastapi_queue:app        # from the examples directory

`POST /orders` answers in milliseconds whether Gmail is fast, slow or down: the receipt is
stored in the queue (composed and checked first, so a bad address is a 422 at once), with the
order number as its idempotency key, so a client that retries the request gets the same mail,
not a second one. The worker started in the lifespan sends it; `GET /mails/{id}` says where
it is. At shutdown the worker stops claiming and finishes the mail it holds. With several
processes (uvicorn --workers, several hosts on PostgreSQL) each runs a worker; every mail is
sent by one of them. The sender shares its daily count through the queue's database.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel

from gmail_send import GmailSender, MailNotFoundError, MailQueue, MessageError, from_env


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = from_env()
    async with (
        MailQueue(os.environ["MAIL_QUEUE"], account=settings.account) as queue,
        GmailSender(**settings) as gmail,
    ):
        app.state.queue = queue
        worker = asyncio.create_task(queue.work(gmail))
        try:
            yield
        finally:
            queue.stop()  # claim nothing more; the mail held finishes
            await worker


app = FastAPI(lifespan=lifespan)


def queue_of(request: Request) -> MailQueue:
    queue: MailQueue = request.app.state.queue
    return queue


class Order(BaseModel):
    number: str
    email: str
    total: str


@app.post("/orders", status_code=202)
async def place_order(order: Order, request: Request) -> dict[str, str]:
    """Take an order; its receipt is queued, not sent while the client waits."""
    try:
        mail = await queue_of(request).enqueue(
            to=order.email,
            subject=f"Receipt for order {order.number}",
            text=f"Thank you for your order {order.number} ({order.total}).",
            idempotency_key=f"receipt-{order.number}",
        )
    except MessageError as exc:  # the customer's input, e.g. an invalid address
        raise HTTPException(status_code=422, detail=exc.message) from exc
    return {"mail_id": mail.id, "status": mail.status}


@app.get("/mails/{mail_id}")
async def mail_status(mail_id: str, request: Request) -> dict[str, str | int | None]:
    """Where a queued mail is: queued, sending, sent, failed, held, unknown, ..."""
    try:
        mail = await queue_of(request).get(mail_id)
    except MailNotFoundError as exc:
        raise HTTPException(status_code=404, detail=exc.message) from exc
    return {
        "status": mail.status,
        "attempts": mail.attempts,
        "message_id": mail.message_id,
        "last_error": str(mail.last_error) if mail.last_error else None,
    }
