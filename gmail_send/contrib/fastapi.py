"""FastAPI helpers: one `GmailSender` for the application's life, and a dependency to reach it.

    from fastapi import Depends, FastAPI
    from gmail_send import GmailSender
    from gmail_send.contrib.fastapi import get_gmail, gmail_lifespan

    app = FastAPI(lifespan=gmail_lifespan)

    @app.post("/contact")
    async def contact(form: Contact, gmail: GmailSender = Depends(get_gmail)) -> dict[str, str]:
        result = await gmail.send(to="support@example.com", subject="...", text=form.message)
        return {"message_id": result.message_id}

The lifespan opens one sender from the `GMAIL_SEND_*` variables (`from_env()`, so
`GMAIL_SEND_SINK=memory` makes it send nowhere) and closes it when the application stops;
every request shares its sessions and its cached OAuth2 token. An application with a lifespan
of its own enters `open_gmail(app)` in it instead. In tests, replace the dependency:

    app.dependency_overrides[get_gmail] = gmail_outbox.gmail_sender
    with TestClient(app) as client: ...

When `get_gmail` is overridden at start-up, the lifespan opens no sender and reads no
configuration, so a test needs no credentials. Needs FastAPI (`pip install
'gmail-send[fastapi]'`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

try:
    from fastapi import Depends, FastAPI, Request
except ImportError as _missing:  # pragma: no cover - depends on the installation
    raise ImportError(
        "gmail_send.contrib.fastapi needs FastAPI: pip install 'gmail-send[fastapi]'",
        name=_missing.name,
    ) from _missing

from .._sender import GmailSender
from ..config import from_env

__all__ = ["GmailDep", "get_gmail", "gmail_lifespan", "open_gmail"]

STATE_NAME = "gmail"
"""Where the sender is kept: `app.state.gmail`."""


@asynccontextmanager
async def open_gmail(
    app: FastAPI, settings: Mapping[str, Any] | None = None
) -> AsyncIterator[GmailSender | None]:
    """Open the application's sender, keep it on `app.state.gmail`, close it on exit.

    Args:
        app: the application; `get_gmail` finds the sender on its state.
        settings: `GmailSender` keywords (default: `from_env()`, read now, so a configuration
            problem stops the start-up instead of the first request).

    Yields:
        The sender, or None when `get_gmail` is overridden (then none is opened).
    """
    if get_gmail in app.dependency_overrides:
        yield None
        return
    async with GmailSender(**(from_env() if settings is None else settings)) as gmail:
        setattr(app.state, STATE_NAME, gmail)
        try:
            yield gmail
        finally:
            delattr(app.state, STATE_NAME)


def gmail_lifespan(app: FastAPI) -> AbstractAsyncContextManager[Any]:
    """`FastAPI(lifespan=gmail_lifespan)`: one sender from `from_env()` for the app's life.

    Args:
        app: the application FastAPI starts.
    """
    return open_gmail(app)


def get_gmail(request: Request) -> GmailSender:
    """The dependency that gives a handler the application's sender: `Depends(get_gmail)`.

    Args:
        request: the current request (FastAPI passes it).

    Raises:
        RuntimeError: no sender was opened (the app runs neither `gmail_lifespan` nor
            `open_gmail`).
    """
    gmail = getattr(request.app.state, STATE_NAME, None)
    if not isinstance(gmail, GmailSender):
        raise RuntimeError(
            "no GmailSender on app.state: create the app with FastAPI(lifespan=gmail_lifespan) "
            "or enter open_gmail(app) in its lifespan (and run the lifespan: `with "
            "TestClient(app)`), or override get_gmail in app.dependency_overrides"
        )
    return gmail


GmailDep = Annotated[GmailSender, Depends(get_gmail)]
"""A handler parameter annotated `gmail: GmailDep` receives the application's sender."""
