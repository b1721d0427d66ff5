"""One rule for options: the same keywords, types and defaults for every send function."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from pathlib import Path

import pytest

from gmail_send import (
    AppPassword,
    ConfigurationError,
    GmailSender,
    MessageFields,
    PoolOptions,
    RetryPolicy,
    SenderOptions,
    SendingLimits,
    Settings,
    SyncGmailSender,
    from_env,
    send,
    send_sync,
    workspace_relay,
)
from gmail_send.config import ENV_VARIABLES
from gmail_send.message import compose_message

from .local_helpers import ACCOUNT, APP_PASSWORD

ENVIRON = {"GMAIL_SEND_USER": ACCOUNT, "GMAIL_SEND_APP_PASSWORD": APP_PASSWORD}
OBJECTS = {"tls_context", "sink", "on_event", "retry", "pool", "limits", "quotas", "random"}
"""Options and group fields that are objects: they have no environment variable."""


def test_every_option_has_one_settings_field_of_the_same_type() -> None:
    fields = {f.name: f.type for f in dataclasses.fields(Settings)}
    for name, annotation in SenderOptions.__annotations__.items():
        assert name in fields, f"Settings lacks the option {name}"
        assert str(fields[name]).replace("'", "") == _text(annotation), name


def test_every_message_field_is_a_compose_message_keyword_of_the_same_type() -> None:
    parameters = inspect.signature(compose_message).parameters
    assert set(parameters) - {"account", "templates"} == set(MessageFields.__annotations__)
    for name, annotation in MessageFields.__annotations__.items():
        declared = _text(annotation)
        assert _text(parameters[name].annotation) == declared, name


@pytest.mark.parametrize(
    ("function", "declared"),
    [
        (GmailSender.__init__, "Unpack[SenderOptions]"),
        (SyncGmailSender.__init__, "Unpack[SenderOptions]"),
        (workspace_relay, "Unpack[SenderOptions]"),
        (send, "Unpack[SendArguments]"),
        (send_sync, "Unpack[SendArguments]"),
        (GmailSender.send, "Unpack[MessageFields]"),
        (SyncGmailSender.send, "Unpack[MessageFields]"),
    ],
)
def test_send_functions_take_the_declared_keyword_sets(function: object, declared: str) -> None:
    keywords = [
        p
        for p in inspect.signature(function).parameters.values()  # type: ignore[arg-type]
        if p.kind is inspect.Parameter.VAR_KEYWORD
    ]
    assert [str(p.annotation) for p in keywords] == [declared]


def test_an_unknown_option_is_named_with_the_nearest_one() -> None:
    with pytest.raises(TypeError, match=r"'retires'; did you mean 'retry'"):
        GmailSender(AppPassword(ACCOUNT, APP_PASSWORD), retires=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="'idle_timeout'"):
        GmailSender(AppPassword(ACCOUNT, APP_PASSWORD), idle_timeout=3)  # type: ignore[call-arg]


def test_option_groups_validate_themselves() -> None:
    with pytest.raises(ConfigurationError, match="max_messages_per_connection"):
        PoolOptions(max_messages_per_connection=0)
    with pytest.raises(ConfigurationError, match="daily_limit"):
        SendingLimits(daily_limit=0)
    with pytest.raises(ConfigurationError, match="deadline"):
        RetryPolicy(deadline=0)
    with pytest.raises(ConfigurationError, match="pool must be a PoolOptions"):
        GmailSender(AppPassword(ACCOUNT, APP_PASSWORD), pool={"pipelining": False})  # type: ignore[typeddict-item]


def test_every_plain_option_and_group_field_has_a_variable() -> None:
    wanted = {name.upper() for name in SenderOptions.__annotations__ if name not in OBJECTS}
    for group in (RetryPolicy, PoolOptions, SendingLimits):
        wanted |= {f.name.upper() for f in dataclasses.fields(group) if f.name not in OBJECTS}
    assert wanted <= set(ENV_VARIABLES), wanted - set(ENV_VARIABLES)


def test_groups_come_from_their_fields_variables() -> None:
    settings = from_env(
        {
            **ENVIRON,
            "GMAIL_SEND_RETRIES": "5",
            "GMAIL_SEND_DEADLINE": "30",
            "GMAIL_SEND_IDLE_TIMEOUT": "none",
            "GMAIL_SEND_PIPELINING": "0",
            "GMAIL_SEND_DAILY_LIMIT": "none",
            "GMAIL_SEND_RATE_LIMIT": "2.5",
            "GMAIL_SEND_MAX_CONNECTIONS": "7",
        }
    )
    assert settings.retry == RetryPolicy(retries=5, deadline=30.0)
    assert settings.pool == PoolOptions(idle_timeout=None, pipelining=False)
    assert settings.limits == SendingLimits(daily_limit=None, rate_limit=2.5)
    assert settings.max_connections == 7
    assert set(settings) == {"credentials", "max_connections", "retry", "pool", "limits"}
    sender = GmailSender(**settings)
    assert sender.settings.retry.retries == 5
    assert sender.daily_limit is None


def test_bad_group_variables_are_all_named() -> None:
    with pytest.raises(ConfigurationError) as caught:
        from_env({**ENVIRON, "GMAIL_SEND_RETRIES": "many", "GMAIL_SEND_QUOTA_PAUSE": "-1"})
    assert "GMAIL_SEND_RETRIES cannot be read: 'many'" in caught.value.message
    assert "quota_pause must be positive" in caught.value.message


def test_an_option_object_wins_and_a_clash_is_named() -> None:
    settings = from_env(ENVIRON, retry=RetryPolicy(retries=0))
    assert settings.retry.retries == 0
    with pytest.raises(ConfigurationError, match="GMAIL_SEND_RETRIES is set and retry= is given"):
        from_env({**ENVIRON, "GMAIL_SEND_RETRIES": "2"}, retry=RetryPolicy())


def test_the_relay_defaults_and_takes_the_same_options() -> None:
    relay = workspace_relay(AppPassword("app@example.com", APP_PASSWORD))
    assert (relay.host, relay.daily_limit) == ("smtp-relay.gmail.com", 10_000)
    relay = workspace_relay(None, pool=PoolOptions(local_hostname="mx.example.com"))
    assert relay.settings.pool.local_hostname == "mx.example.com"


def test_the_typed_usage_file_is_checked_by_mypy_in_ci() -> None:
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert "tests/typing_usage.py" in ci


def _text(annotation: object) -> str:
    if isinstance(annotation, typing.ForwardRef):
        return annotation.__forward_arg__
    return str(annotation).replace("typing.", "")
