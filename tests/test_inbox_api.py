"""The local inbox's HTTP side: its JSON, the message's parts, the policies and the refusals.

Real requests over 127.0.0.1 to a `LocalGmail(web=True)` after real sends; the browser tests
(test_inbox_page.py) look at the same pages as a person would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx

from gmail_send import Attachment
from gmail_send.testing import LocalGmail

from .local_helpers import sender_for


async def web_gmail(start_gmail: Callable[..., Any]) -> tuple[LocalGmail, httpx.AsyncClient]:
    server: LocalGmail = await start_gmail(web=True)
    assert server.web_url is not None and server.web_url.startswith("http://127.0.0.1:")
    return server, httpx.AsyncClient(base_url=server.web_url, timeout=10)


async def test_json_lists_messages_newest_first_with_details(
    start_gmail: Callable[..., Any],
) -> None:
    server, client = await web_gmail(start_gmail)
    async with sender_for(server) as gmail, client:
        await gmail.send(to="ada@example.com", subject="one", text="first")
        sent = await gmail.send(
            to="bob@example.com",
            bcc="audit@example.com",
            subject="two / 二",
            text="second",
            html="<p>second</p>",
            attachments=[Attachment(b"a,b\n1,2\n", filename="data.csv")],
        )
        listed = (await client.get("/api/messages")).json()
        assert [m["subject"] for m in listed] == ["two / 二", "one"]
        newest = listed[0]
        assert newest["rcpt_tos"] == ["bob@example.com", "audit@example.com"]
        assert newest["message_id"] == sent.message_id
        assert newest["attachments"] == ["data.csv"]

        detail = (await client.get(f"/api{newest['url']}")).json()
        assert detail["envelope"]["signed_in_as"] == "me@gmail.com"
        assert detail["text"] == "second\n"
        assert detail["html"] == "<p>second</p>\n"
        assert ["Subject", "two / 二"] in detail["headers"]
        [part] = detail["parts"]
        assert part["filename"] == "data.csv" and part["content_type"] == "text/csv"

        download = await client.get(part["url"])
        assert download.content == b"a,b\n1,2\n"
        assert download.headers["content-disposition"].startswith("attachment;")
        raw = await client.get(detail["raw_url"])
        assert raw.content == server.messages[-1].data


async def test_the_html_body_is_served_under_a_policy_that_runs_and_loads_nothing(
    start_gmail: Callable[..., Any],
) -> None:
    server, client = await web_gmail(start_gmail)
    async with sender_for(server) as gmail, client:
        await gmail.send(to="ada@example.com", subject="s", html="<script>alert(1)</script>")
        [listed] = (await client.get("/api/messages")).json()
        body = await client.get(f"{listed['url']}/html")
        policy = body.headers["content-security-policy"]
        assert policy.startswith("sandbox;")
        assert "default-src 'none'" in policy and "img-src data:" in policy
        assert "script-src" not in policy
        page = await client.get(listed["url"])
        assert '<iframe class="html-body" title="HTML body" sandbox ' in page.text
        assert "<script>alert" not in page.text  # the HTML body is never part of the page
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"


async def test_the_event_stream_announces_each_message(start_gmail: Callable[..., Any]) -> None:
    server, client = await web_gmail(start_gmail)
    async with sender_for(server) as gmail, client:
        async with client.stream("GET", "/api/events") as events:
            lines = events.aiter_lines()
            assert await anext(lines) == "retry: 1000"
            await gmail.send(to="ada@example.com", subject="announced", text="x")
            found = [await asyncio.wait_for(anext(lines), 10) for _ in range(3)]
        assert found[1] == "event: message"
        data = json.loads(found[2].removeprefix("data: "))
        assert data == {"id": server.messages[0].transaction_id, "subject": "announced"}


async def test_requests_for_another_host_or_method_are_refused(
    start_gmail: Callable[..., Any],
) -> None:
    server, client = await web_gmail(start_gmail)
    async with client:
        # A page elsewhere that rebinds its DNS name to 127.0.0.1 sends its own Host header.
        rebound = await client.get("/api/messages", headers={"Host": "attacker.example:80"})
        assert rebound.status_code == 421
        assert (await client.post("/api/messages")).status_code == 405
        assert (await client.get("/messages/nope")).status_code == 404
        assert (await client.get("/static/../_inbox.py")).status_code == 404
        assert (await client.get("/api/messages")).json() == []
    await server.stop()
    assert server.web_url is None
