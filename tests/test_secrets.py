"""No secret shows up in any log record at DEBUG, in a repr or in an exception text."""

from __future__ import annotations

import base64
import logging
import traceback
from collections.abc import Iterator

import pytest

from gmail_send import AppPassword, GmailSender, GmailSendError, OAuth2Token
from gmail_send.auth._xoauth2 import build_xoauth2
from gmail_send.testing import LocalGmail

from .local_helpers import ACCESS_TOKEN, ACCOUNT, APP_PASSWORD

WRONG_PASSWORD = "zyxwvutsrqponmlk"
WRONG_TOKEN = "ya29.wrong-token-that-must-stay-secret"


def secret_forms(*secrets: str) -> list[str]:
    forms: list[str] = []
    for secret in secrets:
        forms += [secret, base64.b64encode(secret.encode()).decode()]
    for token in (ACCESS_TOKEN, WRONG_TOKEN):
        forms.append(build_xoauth2(ACCOUNT, token))
    forms.append(base64.b64encode(f"\0{ACCOUNT}\0{APP_PASSWORD}".encode()).decode())
    return forms


class Everything(logging.Handler):
    """Collects every record of every logger, fully formatted, extras included."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(record.getMessage())
        self.texts.append(repr(record.__dict__))
        if record.exc_info and record.exc_info[1] is not None:
            self.texts.append("".join(traceback.format_exception(record.exc_info[1])))


@pytest.fixture
def every_log_record() -> Iterator[Everything]:
    handler = Everything()
    root = logging.getLogger()
    old_level = root.level
    loggers = [root, *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]
    levels = {lg: lg.level for lg in loggers}
    root.addHandler(handler)
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for lg, level in levels.items():
            lg.setLevel(level)


async def test_no_secret_anywhere(gmail: LocalGmail, every_log_record: Everything) -> None:
    errors: list[BaseException] = []
    reprs: list[str] = []
    cases = [
        AppPassword(ACCOUNT, APP_PASSWORD),
        OAuth2Token(ACCOUNT, ACCESS_TOKEN),
        AppPassword(ACCOUNT, WRONG_PASSWORD),
        OAuth2Token(ACCOUNT, WRONG_TOKEN),
    ]
    for credentials in cases:
        sender = GmailSender(
            credentials, host=gmail.host, port=gmail.port, tls_context=gmail.client_tls_context()
        )
        reprs += [repr(credentials), repr(sender)]
        try:
            result = await sender.send(to="you@example.com", subject="s", text="t")
            reprs.append(repr(result))
        except GmailSendError as exc:
            errors.append(exc)
        finally:
            await sender.aclose()
    assert len(gmail.messages) == 2
    assert len(errors) == 2

    texts = list(every_log_record.texts) + reprs
    for exc in errors:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
        texts += [repr(vars(exc))]
    texts += [repr(s) for s in gmail.sessions]
    assert every_log_record.texts, "the test must see log records to mean anything"
    haystack = "\n".join(texts)
    for secret in secret_forms(APP_PASSWORD, ACCESS_TOKEN, WRONG_PASSWORD, WRONG_TOKEN):
        assert secret not in haystack
