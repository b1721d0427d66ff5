"""The Django e-mail backend with real Django, sending to the local Gmail over TLS."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django
import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from gmail_send import AppPassword, AuthenticationError, ConfigurationError, InvalidAddressError
from gmail_send.testing import LocalGmailThread, LocalTokenEndpoint, Outbox, TestCertificates

BACKEND = "gmail_send.contrib.django.EmailBackend"


@pytest.fixture(scope="module", autouse=True)
def django_settings() -> None:
    if not settings.configured:
        settings.configure(EMAIL_BACKEND=BACKEND, DEFAULT_FROM_EMAIL="me@gmail.com")
        django.setup()


@pytest.fixture
def local(certificates: TestCertificates) -> Iterator[LocalGmailThread]:
    with LocalGmailThread(certificates=certificates) as server:
        yield server


def test_send_mail_from_the_gmail_send_setting(local: LocalGmailThread) -> None:
    with override_settings(GMAIL_SEND=local.settings()):
        count = mail.send_mail(
            "Django says hello / こんにちは",
            "Plain text body.",
            "Me <me@gmail.com>",
            ["you@example.com"],
            html_message="<p>HTML body.</p>",
        )
    assert count == 1
    [received] = local.messages
    assert received.mail_from == "me@gmail.com"
    assert received.rcpt_tos == ("you@example.com",)
    parsed = received.parsed()
    assert parsed["Subject"] == "Django says hello / こんにちは"
    html = parsed.get_body(preferencelist=("html",))
    assert html is not None and "HTML body." in html.get_content()


def test_multi_alternatives_with_bcc_and_attachment_in_one_session(
    local: LocalGmailThread,
) -> None:
    messages = []
    for n in range(2):
        message = mail.EmailMultiAlternatives(
            subject=f"report {n}",
            body="see attached",
            from_email="me@gmail.com",
            to=["you@example.com"],
            bcc=["audit@example.com"],
        )
        message.attach_alternative("<b>see attached</b>", "text/html")
        message.attach("report.csv", "a,b\n1,2\n", "text/csv")
        messages.append(message)
    with override_settings(GMAIL_SEND=local.settings()):
        connection = mail.get_connection()
        assert connection.send_messages(messages) == 2
    assert [m.rcpt_tos for m in local.messages] == [("you@example.com", "audit@example.com")] * 2
    assert len(local.server.sessions) == 1
    parsed = local.messages[0].parsed()
    assert parsed["Bcc"] is None
    assert [part.get_filename() for part in parsed.iter_attachments()] == ["report.csv"]


def test_configured_from_the_environment(
    local: LocalGmailThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in local.environ().items():
        monkeypatch.setenv(name, value)
    assert mail.send_mail("from env", "body", None, ["you@example.com"]) == 1
    assert local.messages[0].session_user == local.account


def test_auth_user_and_password_mean_an_app_password(
    local: LocalGmailThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in local.environ().items():
        if name not in ("GMAIL_SEND_USER", "GMAIL_SEND_APP_PASSWORD"):
            monkeypatch.setenv(name, value)
    with override_settings(
        GMAIL_SEND={
            "host": local.host,
            "port": local.port,
            "tls_context": local.server.client_tls_context(),
        }
    ):
        with pytest.raises(AuthenticationError):
            mail.send_mail(
                "x",
                "body",
                None,
                ["you@example.com"],
                auth_user=local.account,
                auth_password="wrong password!!",
            )
        assert (
            mail.send_mail(
                "x",
                "body",
                None,
                ["you@example.com"],
                auth_user=local.account,
                auth_password=local.app_password,
            )
            == 1
        )
    assert len(local.messages) == 1


def test_fail_silently(local: LocalGmailThread, monkeypatch: pytest.MonkeyPatch) -> None:
    options = dict(local.settings())
    options["credentials"] = AppPassword(local.account, "wrong password!!")
    with override_settings(GMAIL_SEND=options):
        assert mail.send_mail("x", "body", None, ["you@example.com"], fail_silently=True) == 0
    for name in list(os.environ):
        if name.startswith("GMAIL_SEND_"):
            monkeypatch.delenv(name)
    with pytest.raises(ConfigurationError, match="no credentials"):
        mail.send_mail("x", "body", None, ["you@example.com"])
    assert mail.send_mail("x", "body", None, ["you@example.com"], fail_silently=True) == 0
    assert local.messages == []


def test_unknown_option_is_refused() -> None:
    with pytest.raises(TypeError, match="unknown options: use_tls"):
        mail.get_connection(BACKEND, use_tls=True)


def test_outbox_as_the_sink() -> None:
    outbox = Outbox()
    credentials = AppPassword("me@gmail.com", "unused")
    with override_settings(GMAIL_SEND={"credentials": credentials, "sink": outbox}):
        mail.send_mail("to the outbox", "body", None, ["you@example.com"], html_message="<i>b</i>")
    sent = outbox.assert_sent(to="you@example.com", subject="to the outbox", count=1)
    assert sent.html == "<i>b</i>"


def test_unknown_gmail_send_key_is_refused() -> None:
    with (
        override_settings(GMAIL_SEND={"credentials": None, "use_ssl": True}),
        pytest.raises(ConfigurationError, match="unknown keys: use_ssl"),
    ):
        mail.send_mail("x", "body", None, ["you@example.com"])


def test_oauth2_from_the_environment_refreshes_once(
    local: LocalGmailThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with LocalTokenEndpoint(gmail=local.server, exclusive=True) as endpoint:
        token_file = tmp_path / "token.json"
        endpoint.issue_token_file(token_file, local.account, access_token_lifetime=-60)
        for name, value in local.environ().items():
            if name != "GMAIL_SEND_APP_PASSWORD":
                monkeypatch.setenv(name, value)
        monkeypatch.setenv("GMAIL_SEND_TOKEN_FILE", str(token_file))
        for n in range(3):  # a connection (and a backend) each
            assert mail.send_mail(f"oauth2 {n}", "body", None, ["you@example.com"]) == 1
        assert endpoint.refresh_count == 1
    assert [m.session_user for m in local.messages] == [local.account] * 3
    assert [a.mechanism for a in local.server.auth_attempts] == ["XOAUTH2"] * 3


def test_djangos_own_email_host_user_and_password(local: LocalGmailThread) -> None:
    connection_only = {k: v for k, v in local.settings().items() if k != "credentials"}
    with override_settings(
        GMAIL_SEND=connection_only,
        EMAIL_HOST_USER=local.account,
        EMAIL_HOST_PASSWORD=local.app_password,
    ):
        assert mail.send_mail("s", "body", None, ["you@example.com"]) == 1
    assert local.server.sessions[0].auth_mechanism == "PLAIN"


def test_djangos_email_host_port_and_tls_settings_are_honoured(local: LocalGmailThread) -> None:
    with override_settings(
        GMAIL_SEND={"ca_file": local.ca_file},
        EMAIL_HOST=local.host,
        EMAIL_PORT=local.port,
        EMAIL_USE_TLS=True,
        EMAIL_TIMEOUT=10,
        EMAIL_HOST_USER=local.account,
        EMAIL_HOST_PASSWORD=local.app_password,
    ):
        assert mail.send_mail("from EMAIL_*", "body", None, ["you@example.com"]) == 1
    assert [m.parsed()["Subject"] for m in local.messages] == ["from EMAIL_*"]
    assert local.server.sessions[0].tls


@pytest.mark.parametrize(
    ("tls", "ssl", "words"),
    [(False, False, "never sends credentials unencrypted"), (True, True, "both True")],
)
def test_djangos_tls_settings_that_cannot_apply_are_improperly_configured(
    local: LocalGmailThread, tls: bool, ssl: bool, words: str
) -> None:
    with (
        override_settings(
            GMAIL_SEND={"ca_file": local.ca_file},
            EMAIL_HOST=local.host,
            EMAIL_PORT=local.port,
            EMAIL_USE_TLS=tls,
            EMAIL_USE_SSL=ssl,
            EMAIL_HOST_USER=local.account,
            EMAIL_HOST_PASSWORD=local.app_password,
        ),
        pytest.raises(ImproperlyConfigured, match=words),
    ):
        mail.send_mail("s", "body", None, ["you@example.com"])
    assert local.messages == []


def test_an_invalid_address_is_named_as_given(local: LocalGmailThread) -> None:
    with (
        override_settings(GMAIL_SEND=local.settings()),
        pytest.raises(InvalidAddressError, match="'bad address'"),
    ):
        mail.send_mail("s", "body", None, ["bad address"])


def test_the_memory_sink_from_the_environment_needs_no_credentials(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name in [k for k in os.environ if k.startswith("GMAIL_SEND_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GMAIL_SEND_SINK", "memory")
    with caplog.at_level("INFO", logger="gmail_send.sink"):
        assert mail.send_mail("Dev mode", "Nothing is sent.", "me@gmail.com", ["a@example.com"])
    [record] = [r for r in caplog.records if r.name == "gmail_send.sink"]
    assert record.getMessage() == (
        "message kept in memory, not sent: subject 'Dev mode' to a@example.com"
    )


def test_each_message_keeps_its_send_result(local: LocalGmailThread) -> None:
    messages = [
        mail.EmailMessage(f"receipt {n}", "body", "me@gmail.com", [f"c{n}@example.com"])
        for n in range(2)
    ]
    messages.append(mail.EmailMessage("nobody", "body", "me@gmail.com", []))
    with override_settings(GMAIL_SEND=local.settings()):
        assert mail.get_connection().send_messages(messages) == 2
    for message, received in zip(messages, local.messages, strict=False):
        result = message.gmail_send_result
        assert result.message_id == received.parsed()["Message-ID"]
        assert result.accepted == received.rcpt_tos
    assert messages[2].gmail_send_result is None  # no recipient: not sent


def test_a_message_not_sent_silently_has_no_result(local: LocalGmailThread) -> None:
    local.server.inject("mail", (550, "5.7.1 rejected for this test"))
    message = mail.EmailMessage("refused", "body", "me@gmail.com", ["you@example.com"])
    with override_settings(GMAIL_SEND=local.settings()):
        assert mail.get_connection(fail_silently=True).send_messages([message]) == 0
    assert message.gmail_send_result is None


def test_the_librarys_events_arrive_as_django_signals(local: LocalGmailThread) -> None:
    from gmail_send import MessageSent, RetryPolicy, SendEvent, SendRetried
    from gmail_send.contrib.django import message_sent, send_event, send_retried

    seen: list[tuple[str, SendEvent, str, bool]] = []
    own_hook: list[SendEvent] = []

    def receiver(signal_name: str) -> Any:
        def receive(sender: type, event: SendEvent, message: Any, **kwargs: Any) -> None:
            on_this_thread = threading.current_thread() is threading.main_thread()
            seen.append((signal_name, event, message.subject, on_this_thread))

        return receive

    handlers = {"any": receiver("any"), "sent": receiver("sent"), "retried": receiver("retried")}
    send_event.connect(handlers["any"])
    message_sent.connect(handlers["sent"])
    send_retried.connect(handlers["retried"])
    local.server.inject("mail", (451, "4.3.0 Mail server temporarily rejected message."))
    options = {**local.settings(), "retry": RetryPolicy(backoff=0.01), "on_event": own_hook.append}
    try:
        with override_settings(GMAIL_SEND=options):
            assert mail.send_mail("signalled", "body", "me@gmail.com", ["you@example.com"]) == 1
    finally:
        send_event.disconnect(handlers["any"])
        message_sent.disconnect(handlers["sent"])
        send_retried.disconnect(handlers["retried"])
    names = [(name, type(event)) for name, event, _, _ in seen]
    assert names == [
        ("any", SendRetried),
        ("retried", SendRetried),
        ("any", MessageSent),
        ("sent", MessageSent),
    ]
    assert all(subject == "signalled" and main for _, _, subject, main in seen)
    sent_event = seen[-1][1]
    assert isinstance(sent_event, MessageSent)
    assert sent_event.message_id == local.messages[0].parsed()["Message-ID"]
    assert [type(event) for event in own_hook] == [SendRetried, MessageSent]  # still called
