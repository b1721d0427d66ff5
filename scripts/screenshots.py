"""Make the documentation's screenshots from the real thing: the local inbox page and `doctor`.

    python scripts/screenshots.py [OUTPUT_DIR]      # default docs/images/screenshots

Starts a local Gmail with its inbox page, sends it a few messages through the library, and
photographs the page in headless Chromium (Debian's `chromium`, driven by Playwright, as the
browser tests do); then runs `gmail-send doctor` against the same server with a wrong app
password and photographs its real output in a terminal-like page. Needs the `[test]` extra and
`apt-get install chromium` (and `fonts-noto-cjk` for the Japanese text to show). The output is
not committed (.gitignore); CI runs this script before building the site.
"""

from __future__ import annotations

import html
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from gmail_send import Attachment
from gmail_send.sync import send_sync
from gmail_send.testing import LocalGmailThread

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "images" / "screenshots"
WIDTH = 1100

LOGO_ID = "logo@shop.example"
RECEIPT_HTML = """<div style="font-family: sans-serif; max-width: 32rem">
<img src="cid:logo@shop.example" alt="Example Shop" width="96" height="32">
<h2 style="color: #0b57d0">Thank you for your order</h2>
<p>Order <b>#1042</b>: 2 × notebook, 1 × pen. The receipt is attached.</p>
<p><img src="https://tracker.example/pixel.png" alt="">
<a href="https://shop.example/orders/1042">See your order</a></p>
</div>"""


def logo_png(width: int = 96, height: int = 32) -> bytes:
    """A small two-colour PNG, the shop's 'logo' shown inline from the message itself."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00"
        + b"".join(b"\x0b\x57\xd0" if x < width // 3 else b"\xe8\xf0\xfe" for x in range(width))
        for _ in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def send_examples(gmail: LocalGmailThread) -> None:
    """What an application would send: a welcome, a receipt with a logo and a PDF, a notice."""
    settings = gmail.settings()
    send_sync(
        **settings,
        to="Ada Lovelace <ada@example.com>",
        subject="Welcome, Ada",
        text="Hello Ada,\n\nthanks for signing up.\n",
    )
    send_sync(
        **settings,
        from_="Example Shop <me@gmail.com>",
        to="Ada Lovelace <ada@example.com>",
        bcc="orders@example.com",
        subject="Your receipt for order #1042",
        text="Thank you for your order #1042. The receipt is attached.\n",
        html=RECEIPT_HTML,
        attachments=[
            Attachment(logo_png(), filename="logo.png", inline=True, content_id=LOGO_ID),
            Attachment(b"%PDF-1.4\n% receipt\n", filename="receipt-1042.pdf"),
        ],
    )
    send_sync(
        **settings,
        to="hanako@example.jp",
        subject="ご注文ありがとうございます",
        text="山田 花子 様\n\nご注文を承りました。\n",
    )


def shoot_inbox(page: Page, url: str, output: Path) -> list[Path]:
    page.goto(url)
    page.locator("#rows tr[data-id]").nth(2).wait_for()
    inbox = output / "local-inbox.png"
    page.screenshot(path=str(inbox))
    page.get_by_role("link", name="Your receipt for order #1042").click()
    page.frame_locator("iframe.html-body").locator("h2").wait_for()
    message = output / "local-inbox-message.png"
    page.screenshot(path=str(message), full_page=True)
    return [inbox, message]


def doctor_output(gmail: LocalGmailThread) -> str:
    """`gmail-send doctor` as a user would see it: configured with a wrong app password."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GMAIL_SEND_")}
    environ.update(gmail.environ(), PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8")
    environ["GMAIL_SEND_APP_PASSWORD"] = "wrongwrongwrongx"  # noqa: S105 - a made-up value
    done = subprocess.run(
        [sys.executable, "-m", "gmail_send", "doctor"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.stdout + done.stderr


def terminal_page(command: str, output: str) -> str:
    """A terminal-like page showing a command and its output, statuses coloured."""
    colours = {"PASSED": "#7ee787", "FAILED": "#ff7b72", "SKIPPED": "#e3b341"}
    lines = []
    for line in output.rstrip("\n").splitlines():
        escaped = html.escape(line)
        for word, colour in colours.items():
            if escaped.startswith(word):
                escaped = f'<b style="color:{colour}">{word}</b>{escaped[len(word) :]}'
        lines.append(escaped)
    body = "\n".join(lines)
    return f"""<!doctype html><meta charset="utf-8"><style>
body {{ margin: 0; background: #0d1117; }}
pre {{ margin: 0; padding: 18px 22px; color: #e6edf3; white-space: pre-wrap;
      font: 14px/1.5 "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }}
.prompt {{ color: #8b949e; }}
</style><pre><span class="prompt">$</span> {html.escape(command)}
{body}</pre>"""


def main(argv: list[str]) -> int:
    output = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUTPUT
    output.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("screenshots: no chromium on PATH (apt-get install chromium)", file=sys.stderr)
        return 1
    made: list[Path] = []
    with (
        LocalGmailThread(web=True) as gmail,
        sync_playwright() as playwright,
        tempfile.TemporaryDirectory() as scratch,
    ):
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 560})
            send_examples(gmail)
            assert gmail.web_url is not None
            made += shoot_inbox(page, gmail.web_url, output)
            terminal = Path(scratch) / "doctor.html"
            terminal.write_text(terminal_page("gmail-send doctor", doctor_output(gmail)))
            page.set_viewport_size({"width": 980, "height": 200})
            page.goto(terminal.as_uri())
            doctor = output / "doctor.png"
            page.screenshot(path=str(doctor), full_page=True)
            made.append(doctor)
        finally:
            browser.close()
    for path in made:
        print(f"screenshots: wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
