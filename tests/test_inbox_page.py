"""The local inbox in a real browser: the list, a message, a download, a script that never runs.

Headless Chromium (Debian's package) loads the page a `LocalGmailThread(web=True)` serves after
real sends over SMTP with TLS, and the assertions are on what the browser shows.
"""

from __future__ import annotations

import http.server
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gmail_send import Attachment
from gmail_send.sync import send_sync
from gmail_send.testing import LocalGmailThread, TestCertificates

from .browser_helpers import browser

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

__all__ = ["browser"]  # the fixture, imported for this module

SCRIPTED_HTML = (
    '<p id="said">written by the sender</p>'
    "<script>document.getElementById('said').textContent = 'a script ran';"
    "document.title = 'a script ran'</script>"
    '<img id="broken" src="x" '
    "onerror=\"document.getElementById('said').textContent = 'onerror ran'\">"
)


def png(width: int, height: int) -> bytes:
    """A small opaque PNG, so the test can see that an inline image really rendered."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x0b\x57\xd0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def inbox(certificates: TestCertificates) -> Iterator[LocalGmailThread]:
    with LocalGmailThread(certificates=certificates, web=True) as server:
        yield server


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(accept_downloads=True)
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    try:
        yield opened
    finally:
        context.close()


def send(server: LocalGmailThread, **fields: object) -> None:
    send_sync(**server.settings(), **fields)  # type: ignore[arg-type]


def url(server: LocalGmailThread) -> str:
    assert server.web_url is not None
    return server.web_url


def test_the_list_shows_messages_newest_first_and_as_they_arrive(
    inbox: LocalGmailThread, page: Page
) -> None:
    send(inbox, to="ada@example.com", subject="First", text="one")
    page.goto(url(inbox))
    rows = page.locator("#rows tr[data-id]")
    assert rows.count() == 1
    assert "First" in rows.nth(0).inner_text()
    assert "ada@example.com" in rows.nth(0).inner_text()

    send(inbox, to="bob@example.com", subject="Second / 二通目", text="two")
    # No reload: the page hears of the message and shows it at the top.
    page.locator("#rows tr[data-id]", has_text="Second / 二通目").wait_for()
    assert rows.count() == 2
    assert "Second / 二通目" in rows.nth(0).inner_text()
    assert "First" in rows.nth(1).inner_text()
    assert page.locator("#count").inner_text() == "2"
    assert page.title().startswith("(2)")


def test_a_message_shows_envelope_bodies_and_inline_image(
    inbox: LocalGmailThread, page: Page
) -> None:
    send(
        inbox,
        to="Ada <ada@example.com>",
        bcc="audit@example.com",
        subject="Receipt / 領収書",
        text="Thank you for your order.\n",
        html='<h1 id="title">Thank you</h1><img id="logo" src="cid:logo@example.com">',
        attachments=[
            Attachment(png(12, 8), filename="logo.png", inline=True, content_id="logo@example.com"),
            Attachment("領収書\n".encode(), filename="領収書.txt"),
        ],
        headers={"X-Order": "1234"},
    )
    page.goto(url(inbox))
    page.get_by_role("link", name="Receipt / 領収書").click()
    page.wait_for_url("**/messages/*")
    assert page.locator("h1.subject").inner_text() == "Receipt / 領収書"
    envelope = page.locator("table.envelope").inner_text()
    assert "ada@example.com, audit@example.com" in envelope  # RCPT TO: Bcc is in the envelope
    assert "Signed in as\tme@gmail.com" in envelope
    assert page.locator("pre.text-body").inner_text() == "Thank you for your order.\n"
    page.locator("details.headers summary").click()
    assert "X-Order\t1234" in page.locator("table.headers").inner_text()
    assert "Bcc" not in page.locator("table.headers").inner_text()

    frame = page.frame_locator("iframe.html-body")
    assert frame.locator("#title").inner_text() == "Thank you"
    logo = frame.locator("#logo")
    assert str(logo.get_attribute("src")).startswith("data:image/png;base64,")
    assert logo.evaluate("image => [image.complete, image.naturalWidth]") == [True, 12]

    page.locator("details.raw summary").click()
    raw = page.locator("pre.raw-source").inner_text()
    assert "X-Order: 1234" in raw and "Content-Type: multipart/" in raw


def test_an_attachment_downloads_under_its_own_name(
    inbox: LocalGmailThread, page: Page, tmp_path: Path
) -> None:
    send(
        inbox,
        to="ada@example.com",
        subject="With a file",
        text="see the attachment",
        attachments=[Attachment("領収書 / receipt\n".encode(), filename="領収書.txt")],
    )
    page.goto(url(inbox))
    page.get_by_role("link", name="With a file").click()
    with page.expect_download() as waiting:
        page.get_by_role("link", name="領収書.txt").click()
    download = waiting.value
    assert download.suggested_filename == "領収書.txt"
    saved = tmp_path / "saved.txt"
    download.save_as(saved)
    assert saved.read_bytes() == "領収書 / receipt\n".encode()


class _CountingHandler(http.server.BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        self.wfile.write(png(1, 1))

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def remote_server() -> Iterator[tuple[str, list[str]]]:
    """A web server standing for the sender's tracking pixel: it counts what is asked of it."""
    hits: list[str] = []
    handler = type("Handler", (_CountingHandler,), {"hits": hits})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_html_with_a_script_runs_none_and_loads_nothing_remote(
    inbox: LocalGmailThread, page: Page, remote_server: tuple[str, list[str]]
) -> None:
    remote, hits = remote_server
    html = (
        SCRIPTED_HTML
        + f'<img id="pixel" src="{remote}/pixel.png">'
        + f'<link rel="stylesheet" href="{remote}/style.css">'
    )
    send(inbox, to="ada@example.com", subject="Scripted", html=html)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    page.goto(url(inbox))
    page.get_by_role("link", name="Scripted").click()
    page.wait_for_url("**/messages/*")
    frame = page.frame_locator("iframe.html-body")
    said = frame.locator("#said")
    assert said.inner_text() == "written by the sender"
    # The frame is fully loaded (its load event waited for the images it could fetch)...
    assert frame.locator("#pixel").evaluate("image => image.complete")
    # ...and the text is unchanged: neither the <script> nor the onerror attribute ran.
    assert said.inner_text() == "written by the sender"
    assert page.title().endswith("Local Gmail inbox")
    assert frame.locator("#pixel").evaluate("image => image.naturalWidth") == 0
    assert hits == [], f"the page fetched remote content: {hits}"
    assert dialogs == []
