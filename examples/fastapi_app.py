"""A FastAPI application that sends mail: one `GmailSender` for the app's whole life.

    export GMAIL_SEND_TOKEN_FILE=/etc/myapp/gmail-token.json   # from `gmail-send auth`
    export CONTACT_INBOX=support@example.com
    uvicorn fastapi_app:app        # from the examples directory

The sender is created in the lifespan, so every request shares its session (and its cached
OAuth2 token), and closed with the app. `POST /contact` sends while the client waits and
reports a failure; `POST /signup` answers at once and sends the welcome message from a
background task, after the response. Configured from `GMAIL_SEND_*` variables.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import BackgroundTasks, FastAPI, HTTPException, Request
from pydantic import BaseModel

from gmail_send import GmailSender, GmailSendError, MessageError, from_env

log = logging.getLogger("fastapi_app")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with GmailSender(**from_env()) as gmail:
        app.state.gmail = gmail
        yield


app = FastAPI(lifespan=lifespan)


def gmail_of(request: Request) -> GmailSender:
    gmail: GmailSender = request.app.state.gmail
    return gmail


class Contact(BaseModel):
    email: str
    message: str


class Signup(BaseModel):
    email: str
    name: str


@app.post("/contact")
async def contact(form: Contact, request: Request) -> dict[str, str]:
    """Forward a contact form to the team's inbox; the visitor is the Reply-To."""
    try:
        result = await gmail_of(request).send(
            to=os.environ.get("CONTACT_INBOX", "support@example.com"),
            reply_to=form.email,
            subject=f"Contact form: {form.email}",
            text=form.message,
        )
    except MessageError as exc:  # the visitor's input, e.g. an invalid address
        raise HTTPException(status_code=422, detail=exc.message) from exc
    except GmailSendError as exc:
        log.warning("contact form not sent: %s", exc)
        raise HTTPException(status_code=503, detail="could not send, try again later") from exc
    return {"message_id": result.message_id}


async def send_welcome(gmail: GmailSender, address: str, name: str) -> None:
    try:
        await gmail.send(
            to=address,
            subject=f"Welcome, {name}",
            text=f"Hello {name},\n\nthanks for signing up.\n",
        )
    except GmailSendError as exc:  # nobody waits for a background task: log it
        log.error("welcome message to %s not sent: %s", address, exc)


@app.post("/signup", status_code=202)
async def signup(form: Signup, request: Request, tasks: BackgroundTasks) -> dict[str, str]:
    """Register someone; the welcome message is sent after the response."""
    tasks.add_task(send_welcome, gmail_of(request), form.email, form.name)
    return {"status": "welcome message on its way"}
