"""gmail_send.contrib.fastapi in a real FastAPI app: an app's own lifespan, a missing one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gmail_send.contrib.fastapi import GmailDep, get_gmail, open_gmail
from gmail_send.testing import Outbox


def make_app(lifespan: object = None) -> FastAPI:
    app = FastAPI(lifespan=lifespan)  # type: ignore[arg-type]

    @app.post("/hello")
    async def hello(gmail: GmailDep) -> dict[str, str]:
        result = await gmail.send(to="ada@example.com", subject="Hello", text="Hi")
        return {"message_id": result.message_id}

    return app


def test_open_gmail_in_the_apps_own_lifespan() -> None:
    outbox = Outbox()
    started: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started.append("database")
        async with open_gmail(app, {"credentials": None, "sink": outbox}) as gmail:
            assert gmail is not None and gmail.sink is outbox
            yield
        assert not hasattr(app.state, "gmail")  # closed and removed with the app

    app = make_app(lifespan)
    with TestClient(app) as client:
        message_id = client.post("/hello").json()["message_id"]
    assert started == ["database"]
    assert outbox.assert_sent(to="ada@example.com").message_id == message_id


def test_without_the_lifespan_the_dependency_says_what_to_do() -> None:
    with TestClient(make_app()) as client, pytest.raises(RuntimeError, match="gmail_lifespan"):
        client.post("/hello")


def test_the_override_is_used_and_the_configuration_never_read(
    gmail_outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GMAIL_SEND_SINK", "not a sink")  # from_env() would refuse this
    app = make_app(lambda app: open_gmail(app))
    app.dependency_overrides[get_gmail] = gmail_outbox.gmail_sender
    with TestClient(app) as client:
        assert client.post("/hello").is_success
    gmail_outbox.assert_sent(to="ada@example.com", subject="Hello")
    assert gmail_outbox.gmail_sender() is gmail_outbox.gmail_sender()
