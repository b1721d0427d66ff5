"""A FastAPI application that sends mail: one `GmailSender` for the app's whole life.

    export GMAIL_SEND_TOKEN_FILE=/etc/myapp/gmail-token.json   # from `gmail-send auth`
    export CONTACT_INBOX=support@example.com
    uvicorn fastapi_app:app        # from the examples directory

`gmail_lifespan` opens the sender from the `GMAIL_SEND_*` variables when the app starts (so
every request shares its session and its cached OAuth2 token) and closes it with the app;
handlers receive it through the `get_gmail` dependency, which tests replace. `POST /contact`
sends while the client waits and reports a failure; `POST /signup` answers at once and sends
the welcome message from a background task, after the response. In development,
`GMAIL_SEND_SINK=memory` makes it log messages instead of sending them.
"""

from __future__ import annotations

import logging
import os
from typing import Annotated

from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException
from pydantic import BaseModel

from gmail_send import GmailSender, GmailSendError, MessageError
from gmail_send.contrib.fastapi import get_gmail, gmail_lifespan

log = logging.getLogger("fastapi_app")

app = FastAPI(lifespan=gmail_lifespan)

Gmail = Annotated[GmailSender, Depends(get_gmail)]
"""A handler's parameter of this type gets the app's sender (`GmailDep` of gmail_send.contrib.
fastapi is the same)."""


class Contact(BaseModel):
    email: str
    message: str


class Signup(BaseModel):
    email: str
    name: str


@app.post("/contact")
async def contact(form: Contact, gmail: Gmail) -> dict[str, str]:
    """Forward a contact form to the team's inbox; the visitor is the Reply-To."""
    try:
        result = await gmail.send(
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
async def signup(form: Signup, tasks: BackgroundTasks, gmail: Gmail) -> dict[str, str]:
    """Register someone; the welcome message is sent after the response."""
    tasks.add_task(send_welcome, gmail, form.email, form.name)
    return {"status": "welcome message on its way"}
