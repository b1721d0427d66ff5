"""The loopback end of the consent flow: the redirect target and the paste-back, racing.

Google sends the browser to `http://localhost:PORT/?state=...&code=...` after consent.
`LoopbackReceiver` serves that address in a thread; on a machine without a browser the user
may instead paste the address back (`read_pasted`, another thread). The first answer that
carries this flow's `state` wins; anything else is refused and waited past. The server logs
nothing: its request lines hold the authorization code.
"""

from __future__ import annotations

import io
import queue
import select
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import ConfigurationError, TokenError

__all__ = ["PASTE_PROMPT", "LoopbackReceiver", "read_pasted_line"]

PASTE_PROMPT = "Paste the address here: "


def read_pasted_line(prompt: str, *, poll: float = 0.5) -> str:
    """`input(prompt)` for `no_browser_input` that gives up after `poll` seconds with "".

    The paste-back runs in a thread; if the browser's redirect wins, a thread blocked in a
    plain `input()` would stay blocked, and Python aborts at exit ("could not acquire lock
    for <stdin> at interpreter shutdown"). Polling with `select` lets the thread end. Where
    stdin cannot be polled (Windows consoles), this is plain `input()`.

    Args:
        prompt: printed first, unless empty.
        poll: seconds to wait for a line before giving up with "".
    """
    if prompt:
        print(prompt, end="", flush=True)
    try:
        ready, _, _ = select.select([sys.stdin], [], [], poll)
    except (OSError, ValueError, io.UnsupportedOperation):
        return input()
    if not ready:
        return ""
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\r\n")


class LoopbackReceiver:
    """The loopback redirect target, plus the paste-back path; the first valid answer wins."""

    def __init__(self, host: str, port: int) -> None:
        self.state = ""
        self._paste_thread: threading.Thread | None = None
        self._answers: queue.Queue[str] = queue.Queue()
        self._done = threading.Event()
        try:
            self._server = HTTPServer((host, port), _RedirectHandler)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot listen on {host}:{port} for the sign-in redirect: "
                f"{exc.strerror or type(exc).__name__}",
                hint="choose another port (--port)",
            ) from None
        self._server.receiver = self  # type: ignore[attr-defined]
        self.port: int = self._server.server_address[1]
        self.redirect_uri = f"http://{host}:{self.port}/"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    def __enter__(self) -> LoopbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        if self._paste_thread is not None:  # returns soon if `ask` polls (read_pasted_line)
            self._paste_thread.join(1.0)

    def offer(self, address: str) -> str | None:
        """Accept a redirected address; return why it is not acceptable, or None."""
        query = parse_qs(urlsplit(address.strip()).query)
        if query.get("state", [""])[0] != self.state or not self.state:
            return "That is not the address of this sign-in (its state does not match)."
        if "code" not in query and "error" not in query:
            return "That address has neither a code nor an error in it."
        self._answers.put(address.strip())
        self._done.set()
        return None

    def read_pasted(self, ask: Callable[[str], str], echo: Callable[[str], object]) -> None:
        """Ask for the pasted address in a thread; `ask("")` means: keep waiting, no prompt."""

        def run() -> None:
            prompt = PASTE_PROMPT
            while not self._done.is_set():
                try:
                    text = ask(prompt)
                except Exception:  # EOF or a closed stdin: rely on the redirect alone
                    return
                prompt = ""
                if self._done.is_set() or not text.strip():
                    continue
                problem = self.offer(text)
                if problem:
                    echo(problem)
                    prompt = PASTE_PROMPT

        self._paste_thread = threading.Thread(
            target=run, name="gmail_send-consent-paste", daemon=True
        )
        self._paste_thread.start()

    def wait(self, timeout: float | None) -> str:
        try:
            return self._answers.get(timeout=timeout)
        except queue.Empty:
            raise TokenError(
                f"no answer from the browser within {timeout:.0f} s",
                hint="open the printed address, sign in and allow access; on a remote machine "
                "forward the port with ssh -L or paste the redirected address back",
            ) from None


class _RedirectHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        receiver: LoopbackReceiver = self.server.receiver  # type: ignore[attr-defined]
        host = self.headers.get("Host") or f"localhost:{receiver.port}"
        problem = receiver.offer(f"http://{host}{self.path}")
        status, text = (400, problem) if problem else (200, _DONE_PAGE)
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request line holds the authorization code."""


_DONE_PAGE = "gmail-send: sign-in complete. You may close this window."
