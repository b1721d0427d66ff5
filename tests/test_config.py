"""from_env(): every supported combination of GMAIL_SEND_* variables, and the errors."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest

from gmail_send import (
    AppPassword,
    ConfigurationError,
    Fallback,
    GmailSender,
    OAuth2Credentials,
    OAuth2Token,
    PoolOptions,
    ServiceAccount,
)
from gmail_send.config import ENV_VARIABLES, from_env
from gmail_send.testing import LocalGmail, LocalTokenEndpoint, TestCertificates

from .local_helpers import ACCOUNT, APP_PASSWORD

TOKEN_INFO = {
    "refresh_token": "1//refresh-secret",
    "client_id": "cid.apps.googleusercontent.com",
    "client_secret": "client-secret-value",
    "token_uri": "http://127.0.0.1:9/token",
    "account": ACCOUNT,
}


def test_app_password() -> None:
    settings = from_env({"GMAIL_SEND_USER": ACCOUNT, "GMAIL_SEND_APP_PASSWORD": APP_PASSWORD})
    assert isinstance(settings.credentials, AppPassword)
    assert (settings.host, settings.resolved_port, settings.security) == (
        "smtp.gmail.com",
        587,
        "starttls",
    )
    # As a mapping: the credentials and what differs from GmailSender's defaults.
    assert dict(settings).keys() == {"credentials"}
    GmailSender(**settings)  # the intended use
    GmailSender(**settings, pool=PoolOptions(max_messages_per_connection=5))


def test_token_file(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    path.write_text(json.dumps(TOKEN_INFO))
    path.chmod(0o600)
    settings = from_env({"GMAIL_SEND_TOKEN_FILE": str(path)})
    assert isinstance(settings.credentials, OAuth2Credentials)
    assert settings.account == ACCOUNT
    assert settings.token_file == path
    assert settings.credentials.token_uri == "http://127.0.0.1:9/token"


def test_token_json_with_client_from_variables_and_token_uri() -> None:
    info = {k: v for k, v in TOKEN_INFO.items() if k not in ("client_id", "client_secret")}
    settings = from_env(
        {
            "GMAIL_SEND_TOKEN_JSON": json.dumps(info),
            "GMAIL_SEND_CLIENT_ID": "cid",
            "GMAIL_SEND_CLIENT_SECRET": "cs",
            "GMAIL_SEND_TOKEN_URI": "http://127.0.0.1:8/token",
        }
    )
    assert isinstance(settings.credentials, OAuth2Credentials)
    assert settings.credentials.token_uri == "http://127.0.0.1:8/token"


def test_refresh_token_variables() -> None:
    settings = from_env(
        {
            "GMAIL_SEND_USER": ACCOUNT,
            "GMAIL_SEND_REFRESH_TOKEN": "1//r",
            "GMAIL_SEND_CLIENT_ID": "cid",
            "GMAIL_SEND_CLIENT_SECRET": "cs",
        }
    )
    assert isinstance(settings.credentials, OAuth2Credentials)
    assert settings.credentials.user == ACCOUNT


def test_access_token() -> None:
    settings = from_env({"GMAIL_SEND_USER": ACCOUNT, "GMAIL_SEND_ACCESS_TOKEN": "ya29.x"})
    assert isinstance(settings.credentials, OAuth2Token)


def test_service_account(certificates: TestCertificates, tmp_path: Path) -> None:
    with LocalTokenEndpoint(certificates=certificates) as endpoint:
        key_file = tmp_path / "sa.json"
        key_file.write_text(json.dumps(endpoint.add_service_account(subjects=["user@example.com"])))
    settings = from_env(
        {"GMAIL_SEND_SERVICE_ACCOUNT_FILE": str(key_file), "GMAIL_SEND_SUBJECT": "user@example.com"}
    )
    assert isinstance(settings.credentials, ServiceAccount)
    assert settings.account == "user@example.com"


def test_oauth_and_app_password_make_a_fallback() -> None:
    settings = from_env(
        {
            "GMAIL_SEND_TOKEN_JSON": json.dumps(TOKEN_INFO),
            "GMAIL_SEND_APP_PASSWORD": "abcd efgh ijkl mnop",
        }
    )
    assert isinstance(settings.credentials, Fallback)
    assert settings.credentials.app_password.user == ACCOUNT


def test_connection_settings_and_overrides(certificates: TestCertificates, tmp_path: Path) -> None:
    ca = certificates.ca_pem_path(tmp_path)
    env = {
        "GMAIL_SEND_USER": ACCOUNT,
        "GMAIL_SEND_APP_PASSWORD": APP_PASSWORD,
        "GMAIL_SEND_SECURITY": "tls",
        "GMAIL_SEND_CA_FILE": str(ca),
        "GMAIL_SEND_TIMEOUT": "5",
        "GMAIL_SEND_HOST": "127.0.0.1",
    }
    settings = from_env(env)
    assert (settings.resolved_port, settings.security, settings.timeout) == (465, "tls", 5.0)
    assert settings.ca_file == str(ca)
    assert isinstance(settings.client_tls_context, ssl.SSLContext)
    assert from_env(env, port=2465, security="starttls").port == 2465


def test_a_misspelt_variable_is_named_with_the_right_one(caplog: pytest.LogCaptureFixture) -> None:
    env = {"GMAIL_SEND_USER": ACCOUNT, "GMAIL_SEND_APP_PASWORD": APP_PASSWORD}
    with pytest.raises(ConfigurationError) as caught:
        from_env(env)
    assert "GMAIL_SEND_APP_PASWORD is not a gmail_send variable; did you mean " in str(caught.value)
    assert "GMAIL_SEND_APP_PASSWORD?" in str(caught.value)
    # With the configuration otherwise complete, a warning instead of a refusal.
    env = {"GMAIL_SEND_USER": ACCOUNT, "GMAIL_SEND_APP_PASSWORD": APP_PASSWORD}
    with caplog.at_level("WARNING", logger="gmail_send.config"):
        from_env({**env, "GMAIL_SEND_POR": "465"})
    [record] = [r for r in caplog.records if getattr(r, "event", None) == "unknown_variable"]
    assert "GMAIL_SEND_POR is not a gmail_send variable; did you mean GMAIL_SEND_PORT?" in (
        record.getMessage()
    )


def test_ca_file_and_tls_context_together_are_refused(
    certificates: TestCertificates, tmp_path: Path
) -> None:
    ca = certificates.ca_pem_path(tmp_path)
    with pytest.raises(ConfigurationError, match="both ca_file and tls_context"):
        GmailSender(None, security="none", ca_file=ca, tls_context=ssl.create_default_context())
    with pytest.raises(ConfigurationError, match="cannot be used"):
        GmailSender(AppPassword(ACCOUNT, APP_PASSWORD), ca_file=tmp_path / "missing.pem")


def test_service_account_json(certificates: TestCertificates) -> None:
    with LocalTokenEndpoint(certificates=certificates) as endpoint:
        key = endpoint.add_service_account(subjects=["user@example.com"])
    settings = from_env(
        {"GMAIL_SEND_SERVICE_ACCOUNT_JSON": json.dumps(key), "GMAIL_SEND_USER": "user@example.com"}
    )
    assert isinstance(settings.credentials, ServiceAccount)
    assert settings.account == "user@example.com"
    assert dict(settings.describe())["service_account_json"].endswith("(set)")


def test_relay_by_ip_over_starttls() -> None:
    settings = from_env({"GMAIL_SEND_HOST": "smtp-relay.gmail.com", "GMAIL_SEND_RELAY_BY_IP": "on"})
    assert settings.credentials is None
    assert (settings.resolved_port, settings.security) == (587, "starttls")


def test_relay_by_ip() -> None:
    settings = from_env(
        {
            "GMAIL_SEND_HOST": "smtp-relay.gmail.com",
            "GMAIL_SEND_RELAY_BY_IP": "1",
            "GMAIL_SEND_SECURITY": "none",
        }
    )
    assert settings.credentials is None
    assert settings.resolved_port == 25


def test_describe_names_sources_without_secrets() -> None:
    settings = from_env({"GMAIL_SEND_USER": ACCOUNT, "GMAIL_SEND_APP_PASSWORD": APP_PASSWORD})
    described = dict(settings.describe())
    assert described["user"] == f"GMAIL_SEND_USER={ACCOUNT}"
    assert described["app_password"] == "GMAIL_SEND_APP_PASSWORD (set)"
    assert APP_PASSWORD not in repr(settings)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ["no credentials", "GMAIL_SEND_TOKEN_FILE"]),
        ({"GMAIL_SEND_APP_PASSWORD": APP_PASSWORD}, ["needs GMAIL_SEND_USER"]),
        (
            {"GMAIL_SEND_REFRESH_TOKEN": "r"},
            ["GMAIL_SEND_USER", "GMAIL_SEND_CLIENT_ID", "GMAIL_SEND_CLIENT_SECRET"],
        ),
        (
            {
                "GMAIL_SEND_USER": ACCOUNT,
                "GMAIL_SEND_ACCESS_TOKEN": "t",
                "GMAIL_SEND_TOKEN_JSON": "{}",
            },
            ["more than one OAuth2 source"],
        ),
        ({"GMAIL_SEND_TOKEN_JSON": "{not json"}, ["not valid JSON"]),
        ({"GMAIL_SEND_TOKEN_FILE": "/nonexistent/token.json"}, ["token.json"]),
        (
            {
                "GMAIL_SEND_USER": ACCOUNT,
                "GMAIL_SEND_APP_PASSWORD": APP_PASSWORD,
                "GMAIL_SEND_SECURITY": "none",
            },
            ["never sent unencrypted"],
        ),
        (
            {
                "GMAIL_SEND_USER": ACCOUNT,
                "GMAIL_SEND_APP_PASSWORD": APP_PASSWORD,
                "GMAIL_SEND_RELAY_BY_IP": "1",
                "GMAIL_SEND_HOST": "smtp-relay.gmail.com",
            },
            ["choose one"],
        ),
        ({"GMAIL_SEND_RELAY_BY_IP": "1"}, ["smtp-relay.gmail.com"]),
        (
            {
                "GMAIL_SEND_USER": ACCOUNT,
                "GMAIL_SEND_APP_PASSWORD": APP_PASSWORD,
                "GMAIL_SEND_PORT": "seven",
                "GMAIL_SEND_SECURITY": "ssl",
            },
            ["GMAIL_SEND_PORT must be a number", "GMAIL_SEND_SECURITY must be"],
        ),
        (
            {
                "GMAIL_SEND_USER": ACCOUNT,
                "GMAIL_SEND_APP_PASSWORD": APP_PASSWORD,
                "GMAIL_SEND_CA_FILE": "/nonexistent/ca.pem",
            },
            ["GMAIL_SEND_CA_FILE"],
        ),
        (
            {
                "GMAIL_SEND_USER": ACCOUNT,
                "GMAIL_SEND_APP_PASSWORD": APP_PASSWORD,
                "GMAIL_SEND_CLIENT_ID": "cid",
            },
            ["GMAIL_SEND_CLIENT_ID is set but used only"],
        ),
        (
            {
                "GMAIL_SEND_USER": ACCOUNT,
                "GMAIL_SEND_APP_PASSWORD": APP_PASSWORD,
                "GMAIL_SEND_SUBJECT": "x@example.com",
            },
            ["GMAIL_SEND_SUBJECT is set but"],
        ),
        (
            {"GMAIL_SEND_HOST": "smtp-relay.gmail.com", "GMAIL_SEND_RELAY_BY_IP": "maybe"},
            ["GMAIL_SEND_RELAY_BY_IP must be 1 or 0"],
        ),
        (
            {
                "GMAIL_SEND_USER": ACCOUNT,
                "GMAIL_SEND_APP_PASSWORD": APP_PASSWORD,
                "GMAIL_SEND_PORT": "465",
            },
            ["does not fit GMAIL_SEND_SECURITY=starttls"],
        ),
    ],
)
def test_incomplete_or_contradictory(env: dict[str, str], expected: list[str]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        from_env(env)
    for words in expected:
        assert words in str(caught.value)
    assert APP_PASSWORD not in str(caught.value)


def test_unknown_override_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="colour"):
        from_env({}, colour="blue")


def test_docs_list_every_variable() -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text()
    for name in ENV_VARIABLES:
        assert f"`GMAIL_SEND_{name}`" in page


async def test_from_env_sends_through_local_gmail(gmail: LocalGmail, tmp_path: Path) -> None:
    ca = gmail.certificates.ca_pem_path(tmp_path)
    settings = from_env(
        {
            "GMAIL_SEND_USER": ACCOUNT,
            "GMAIL_SEND_APP_PASSWORD": APP_PASSWORD,
            "GMAIL_SEND_HOST": gmail.host,
            "GMAIL_SEND_PORT": str(gmail.port),
            "GMAIL_SEND_CA_FILE": str(ca),
        }
    )
    async with GmailSender(**settings) as sender:
        result = await sender.send(to="you@example.com", subject="env", text="x")
    assert result.auth_method == "plain"
