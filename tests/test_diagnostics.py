"""The doctor as a library: `run_doctor` returns structured results and prints nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from gmail_send.auth import AppPassword, Fallback, OAuth2Credentials, OAuth2Token
from gmail_send.auth._credentials import app_password_problem
from gmail_send.doctor import CheckResult, Target, run_doctor
from gmail_send.testing import LocalGmail, LocalTokenEndpoint

from .local_helpers import ACCOUNT, APP_PASSWORD


def target(gmail: LocalGmail, **changes: Any) -> Target:
    options: dict[str, Any] = {
        "host": gmail.host,
        "port": gmail.port,
        "security": gmail.security,
        "tls_context": gmail.client_tls_context(),
        "timeout": 30.0,
        "imap_host": gmail.host,
        "imap_port": gmail.imap_port,
    }
    options.update(changes)
    return Target(**options)


async def test_report_is_structured_and_nothing_is_printed(
    gmail: LocalGmail, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[CheckResult] = []
    report = await run_doctor(
        target(gmail), AppPassword(ACCOUNT, APP_PASSWORD), on_check=seen.append
    )
    assert capsys.readouterr() == ("", "")
    assert report.ok
    assert [c.name for c in report.checks] == [
        "dns",
        "tcp",
        "tls",
        "ehlo",
        "credentials",
        "authentication",
        "sent-lookup",
    ]
    assert list(report.checks) == seen  # reported as each check finished, in order
    assert report.check("authentication").details["auth_method"] == "plain"
    assert report.check("sent-lookup").details == {
        "mailbox": "[Gmail]/Sent Mail",
        "gmail_search": True,
    }
    assert json.loads(json.dumps(report.to_dict()))["ok"] is True
    assert gmail.messages == []


async def test_fallback_signing_in_with_the_app_password_is_reported(
    gmail: LocalGmail,
) -> None:
    async with LocalTokenEndpoint(gmail=gmail, signed_in_user=ACCOUNT) as endpoint:
        info = endpoint.token_info(ACCOUNT)
        endpoint.revoke(info["refresh_token"])
        credentials = Fallback(
            OAuth2Credentials.from_info(info), AppPassword(ACCOUNT, APP_PASSWORD)
        )
        report = await run_doctor(target(gmail), credentials)
    token = report.check("credentials")
    assert token.failed
    assert "invalid_grant" in token.finding or "revoked" in (token.fix or "")
    auth = report.check("authentication")
    assert auth.failed  # mail would flow, but OAuth2 needs fixing
    assert "the app password fallback worked, OAuth2 did not" in auth.finding
    assert auth.details["auth_method"] == "plain"
    assert not report.ok


async def test_fallback_with_a_fixed_token_that_works_passes(gmail: LocalGmail) -> None:
    gmail.add_access_token(ACCOUNT, "ya29.fixed-access-token")
    credentials = Fallback(
        OAuth2Token(ACCOUNT, "ya29.fixed-access-token"), AppPassword(ACCOUNT, APP_PASSWORD)
    )
    report = await run_doctor(target(gmail), credentials)
    token = report.check("credentials")
    assert token.status == "passed", token.finding  # a skipped token check is no failure
    assert "a fixed access token" in token.finding
    assert report.check("authentication").details["auth_method"] == "xoauth2"
    assert report.ok


async def test_missing_starttls_is_a_tls_failure(start_gmail: Callable[..., Any]) -> None:
    plain: LocalGmail = await start_gmail(security="none")
    report = await run_doctor(
        target(plain, security="starttls", tls_context=None), AppPassword(ACCOUNT, APP_PASSWORD)
    )
    tls = report.check("tls")
    assert tls.failed and "did not offer STARTTLS" in tls.finding
    assert "removed STARTTLS" in (tls.fix or "")
    assert report.check("ehlo").status == "skipped"
    assert report.check("authentication").status == "skipped"


async def test_implicit_tls_against_a_starttls_port(gmail: LocalGmail) -> None:
    report = await run_doctor(target(gmail, security="tls"), AppPassword(ACCOUNT, APP_PASSWORD))
    tls = report.check("tls")
    assert tls.failed
    assert "use --security starttls" in (tls.fix or "")


async def test_starttls_against_an_implicit_tls_port(start_gmail: Callable[..., Any]) -> None:
    implicit: LocalGmail = await start_gmail(security="tls")
    report = await run_doctor(
        target(implicit, security="starttls", timeout=2.0), AppPassword(ACCOUNT, APP_PASSWORD)
    )
    tls = report.check("tls")
    assert tls.failed and "sent no SMTP greeting" in tls.finding
    assert "--security tls" in (tls.fix or "")


def test_app_password_shape() -> None:
    assert app_password_problem("abcd efgh ijkl mnop") is None
    assert app_password_problem("abcdefghijklmnop") is None
    problem = app_password_problem("hunter2")
    assert problem is not None and "hunter2" not in problem
