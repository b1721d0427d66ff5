"""The public surface is exactly what __all__ says, and secrets never show in reprs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import gmail_send
from gmail_send import (
    AppPassword,
    ConfigurationError,
    OAuth2Token,
    TokenFunction,
    TokenSource,
)
from gmail_send.errors import (
    GmailConnectionError,
    GmailSendError,
    MessageError,
    MessageTooLargeError,
    TLSError,
)

CONTRACT = {
    "GmailSender",
    "send",
    "AppPassword",
    "OAuth2Token",
    "TokenSource",
    "Attachment",
    "SendResult",
    "GmailSendError",
}


def test_all_is_the_public_surface() -> None:
    public = {name for name in dir(gmail_send) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(gmail_send, name)).__name__ == "module"}
    assert set(gmail_send.__all__) - {"__version__"} == public - modules
    assert set(gmail_send.__all__) >= CONTRACT


def test_error_tree_mirrors_builtins() -> None:
    assert issubclass(MessageError, ValueError)
    assert issubclass(MessageTooLargeError, MessageError)
    assert issubclass(GmailConnectionError, ConnectionError)
    assert issubclass(TLSError, GmailConnectionError)
    for name in gmail_send.errors.__all__:
        cls = getattr(gmail_send.errors, name)
        if isinstance(cls, type) and issubclass(cls, Exception):
            assert issubclass(cls, GmailSendError), name


def test_reprs_hide_secrets() -> None:
    password = "abcd efgh ijkl mnop"
    app = AppPassword("me@gmail.com", password)
    assert app.password == "abcdefghijklmnop"
    assert "abcd" not in repr(app) and "***" in repr(app)
    token = OAuth2Token("me@gmail.com", "ya29.secret-token")
    assert "secret" not in repr(token) and "***" in repr(token)


async def test_token_sources_satisfy_the_protocol() -> None:
    async def fetch(force_refresh: bool) -> str:
        return "forced" if force_refresh else "cached"

    function = TokenFunction("me@gmail.com", fetch)
    fixed = OAuth2Token("me@gmail.com", "tok")
    assert isinstance(function, TokenSource) and isinstance(fixed, TokenSource)
    assert await function.get_token() == "cached"
    assert await function.get_token(force_refresh=True) == "forced"
    assert await fixed.get_token(force_refresh=True) == "tok"
    assert not isinstance(AppPassword("me@gmail.com", "x"), TokenSource)


@pytest.mark.parametrize("bad", ["", "   ", None, 1234])
def test_empty_or_wrong_secrets_are_configuration_errors(bad: Any) -> None:
    """The rule: a wrong type or value in credentials or options is a ConfigurationError."""
    with pytest.raises(ConfigurationError, match="non-empty"):
        AppPassword("me@gmail.com", bad)
    with pytest.raises(ConfigurationError, match="non-empty"):
        OAuth2Token("me@gmail.com", bad)


@pytest.mark.parametrize("user", ["", None, "no-at-sign", "me@gmail.com\r\nX: y"])
def test_a_user_that_is_not_a_mailbox_is_a_configuration_error(user: Any) -> None:
    with pytest.raises(ConfigurationError, match="mailbox address"):
        AppPassword(user, "abcdefghijklmnop")
    with pytest.raises(ConfigurationError, match="mailbox address"):
        OAuth2Token(user, "ya29.token")


def test_version() -> None:
    assert gmail_send.__version__
    assert asyncio.iscoroutinefunction(gmail_send.send)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("abcd efgh ijkl mnop", "abcdefghijklmnop"),
        ("  abcdefghijklmnop\n", "abcdefghijklmnop"),
        ("correct horse battery", "correct horse battery"),
    ],
)
def test_app_password_spaces(given: str, kept: str) -> None:
    assert AppPassword("me@gmail.com", given).password == kept
