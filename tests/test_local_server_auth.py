"""Logins on the local Gmail: TLS first, app passwords, XOAUTH2 and its 334 challenge, no leaks.

Raw aiosmtplib commands over real STARTTLS / implicit TLS against the trustme CA.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import AsyncIterator

import aiosmtplib
import pytest

from gmail_send.auth._xoauth2 import MAIL_SCOPE, build_xoauth2, parse_xoauth2_challenge
from gmail_send.testing import (
    LocalAccount,
    LocalGmail,
    TestCertificates,
    TokenVerdict,
)

APP_PASSWORD = "abcd efgh ijkl mnop"
NORMAL_PASSWORD = "normal-pass-1234"
TOKEN = "ya29.a0-local-test-token-0123456789"
ME = LocalAccount(
    "me@gmail.com", app_password=APP_PASSWORD, password=NORMAL_PASSWORD, aliases=("a@example.com",)
)
BAD_CREDENTIALS = (
    "5.7.8 Username and Password not accepted. For more information, go to\n"
    "5.7.8  https://support.google.com/mail/?p=BadCredentials - gsmtp"
)


@pytest.fixture
async def gmail(certificates: TestCertificates) -> AsyncIterator[LocalGmail]:
    async with LocalGmail(accounts=[ME], certificates=certificates) as server:
        server.add_access_token("me@gmail.com", TOKEN)
        yield server


async def connected(server: LocalGmail, *, tls: bool = True) -> aiosmtplib.SMTP:
    smtp = aiosmtplib.SMTP(
        hostname=server.host,
        port=server.port,
        tls_context=server.client_tls_context(),
        start_tls=tls and server.security == "starttls",
        use_tls=server.security == "tls",
        timeout=10,
    )
    await smtp.connect()
    await smtp.ehlo()
    return smtp


def b64(data: str | bytes) -> bytes:
    return base64.b64encode(data.encode() if isinstance(data, str) else data)


def plain_blob(user: str, password: str) -> bytes:
    return b64(f"\0{user}\0{password}")


async def test_auth_before_starttls_is_refused(gmail: LocalGmail) -> None:
    smtp = await connected(gmail, tls=False)
    reply = await smtp.execute_command(b"AUTH", b"PLAIN", plain_blob("me@gmail.com", APP_PASSWORD))
    assert (reply.code, reply.message) == (
        530,
        "5.7.0 Must issue a STARTTLS command first. - gsmtp",
    )
    mail = await smtp.execute_command(b"MAIL", b"FROM:<me@gmail.com>")
    assert (mail.code, mail.message) == (530, "5.7.0 Must issue a STARTTLS command first. - gsmtp")
    assert gmail.auth_attempts == []
    assert gmail.sessions[0].commands[1] == "AUTH PLAIN ***"
    smtp.close()


async def test_auth_on_a_plaintext_only_server_is_refused(certificates: TestCertificates) -> None:
    async with LocalGmail(security="none", accounts=[ME], certificates=certificates) as server:
        smtp = await connected(server, tls=False)
        reply = await smtp.execute_command(b"AUTH", b"LOGIN")
        assert reply.code == 530
        mail = await smtp.execute_command(b"MAIL", b"FROM:<me@gmail.com>")
        assert (mail.code, mail.message) == (530, "5.7.0 Authentication Required. - gsmtp")
        smtp.close()


async def test_mail_before_auth_needs_authentication(gmail: LocalGmail) -> None:
    smtp = await connected(gmail)
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
        await smtp.mail("me@gmail.com")
    assert (refused.value.code, refused.value.message) == (
        530,
        "5.7.0 Authentication Required. - gsmtp",
    )
    await smtp.quit()


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
@pytest.mark.parametrize("password", [APP_PASSWORD, APP_PASSWORD.replace(" ", "")])
async def test_app_password_is_accepted(gmail: LocalGmail, mechanism: str, password: str) -> None:
    smtp = await connected(gmail)
    login = smtp.auth_login if mechanism == "LOGIN" else smtp.auth_plain
    reply = await login("me@gmail.com", password)
    assert (reply.code, reply.message) == (235, "2.7.0 Accepted")
    assert gmail.auth_attempts == [(mechanism, "me@gmail.com", True)]
    assert gmail.sessions[0].authenticated
    await smtp.quit()


async def test_login_challenges_are_gmails(gmail: LocalGmail) -> None:
    smtp = await connected(gmail)
    username = await smtp.execute_command(b"AUTH", b"LOGIN")
    assert (username.code, base64.b64decode(username.message)) == (334, b"Username:")
    password = await smtp.execute_command(b64("me@gmail.com"))
    assert (password.code, base64.b64decode(password.message)) == (334, b"Password:")
    done = await smtp.execute_command(b64(APP_PASSWORD))
    assert done.code == 235
    await smtp.quit()


async def test_normal_password_needs_an_app_password(gmail: LocalGmail) -> None:
    smtp = await connected(gmail)
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
        await smtp.auth_plain("me@gmail.com", NORMAL_PASSWORD)
    assert refused.value.code == 534
    assert refused.value.message == "5.7.9 Application-specific password required. - gsmtp"
    assert gmail.auth_attempts == [("PLAIN", "me@gmail.com", False)]
    assert gmail.sessions[0].auth_reason == "normal-password"
    await smtp.quit()


@pytest.mark.parametrize(
    ("user", "password", "reason"),
    [
        ("me@gmail.com", "wrong", "wrong-password"),
        ("nobody@gmail.com", APP_PASSWORD, "unknown-user"),
    ],
)
async def test_wrong_credentials_get_the_two_line_535(
    gmail: LocalGmail, user: str, password: str, reason: str
) -> None:
    smtp = await connected(gmail)
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
        await smtp.auth_login(user, password)
    assert (refused.value.code, refused.value.message) == (535, BAD_CREDENTIALS)
    assert gmail.sessions[0].auth_reason == reason
    assert not gmail.sessions[0].authenticated
    await smtp.quit()


async def test_xoauth2_one_line_success(gmail: LocalGmail) -> None:
    smtp = await connected(gmail)
    reply = await smtp.execute_command(
        b"AUTH", b"XOAUTH2", build_xoauth2("me@gmail.com", TOKEN).encode()
    )
    assert (reply.code, reply.message) == (235, "2.7.0 Accepted")
    await smtp.mail("me@gmail.com")
    assert gmail.auth_attempts == [("XOAUTH2", "me@gmail.com", True)]
    await smtp.quit()


async def test_xoauth2_two_step_and_aiosmtplib_helper(gmail: LocalGmail) -> None:
    smtp = await connected(gmail)
    prompt = await smtp.execute_command(b"AUTH", b"XOAUTH2")
    assert (prompt.code, prompt.message) == (334, "")
    reply = await smtp.execute_command(build_xoauth2("me@gmail.com", TOKEN).encode())
    assert reply.code == 235
    await smtp.quit()
    other = await connected(gmail)
    assert (await other.auth_xoauth2("me@gmail.com", TOKEN)).code == 235
    await other.quit()


async def _refused_challenge(smtp: aiosmtplib.SMTP, user: str, token: str) -> dict[str, str]:
    first = await smtp.execute_command(b"AUTH", b"XOAUTH2", build_xoauth2(user, token).encode())
    assert first.code == 334
    challenge = json.loads(base64.b64decode(first.message))
    final = await smtp.execute_command(b"")
    assert (final.code, final.message) == (535, BAD_CREDENTIALS)
    return dict(challenge)


@pytest.mark.parametrize(
    ("setup", "user", "status", "reason"),
    [
        ("none", "me@gmail.com", "400", "unknown-token"),
        ("scope", "me@gmail.com", "400", "wrong-scope"),
        ("expired", "me@gmail.com", "401", "expired"),
        ("revoked", "me@gmail.com", "401", "revoked"),
        ("other-user", "me@gmail.com", "400", "wrong-user"),
    ],
)
async def test_xoauth2_failure_exchange(
    gmail: LocalGmail, setup: str, user: str, status: str, reason: str
) -> None:
    token = f"ya29.{setup}-token"
    if setup == "scope":
        gmail.add_access_token(user, token, scope="https://www.googleapis.com/auth/gmail.send")
    elif setup == "expired":
        gmail.add_access_token(user, token, expires_at=time.time() - 1)
    elif setup == "revoked":
        gmail.add_access_token(user, token)
        gmail.revoke_access_token(token)
    elif setup == "other-user":
        gmail.add_access_token("someone@gmail.com", token)
    smtp = await connected(gmail)
    challenge = await _refused_challenge(smtp, user, token)
    assert challenge == {"status": status, "schemes": "Bearer", "scope": MAIL_SCOPE}
    assert gmail.auth_attempts == [("XOAUTH2", user, False)]
    assert gmail.sessions[0].auth_reason == reason
    # the client library's parser reads the same JSON
    first_line = base64.b64encode(json.dumps(challenge).encode()).decode()
    assert parse_xoauth2_challenge(first_line).status == status
    await smtp.quit()


async def test_xoauth2_refusal_ignores_what_the_client_answers(gmail: LocalGmail) -> None:
    smtp = await connected(gmail)
    first = await smtp.execute_command(
        b"AUTH", b"XOAUTH2", build_xoauth2("me@gmail.com", "ya29.unknown").encode()
    )
    assert first.code == 334
    final = await smtp.execute_command(b"*")
    assert final.code == 535
    await smtp.quit()


async def test_xoauth2_aiosmtplib_helper_sees_the_final_535(gmail: LocalGmail) -> None:
    smtp = await connected(gmail)
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
        await smtp.auth_xoauth2("me@gmail.com", "ya29.unknown")
    assert refused.value.code == 535
    await smtp.quit()


async def test_malformed_xoauth2_strings(gmail: LocalGmail) -> None:
    smtp = await connected(gmail)
    not_base64 = await smtp.execute_command(b"AUTH", b"XOAUTH2", b"%%%")
    assert not_base64.code == 501
    first = await smtp.execute_command(b"AUTH", b"XOAUTH2", b64("user=me@gmail.com\x01\x01"))
    assert first.code == 334
    assert json.loads(base64.b64decode(first.message))["status"] == "400"
    assert (await smtp.execute_command(b"")).code == 535
    assert gmail.sessions[0].auth_reason == "malformed"
    await smtp.quit()


async def test_token_validator_hook_decides_first(gmail: LocalGmail) -> None:
    seen: list[tuple[str, str]] = []

    async def validator(user: str, token: str) -> TokenVerdict | None:
        seen.append((user, token))
        if token == "ya29.from-endpoint":
            return TokenVerdict.accept()
        if token == "ya29.expired-at-endpoint":
            return TokenVerdict.reject("401", "expired")
        return None  # let the server's own token list decide

    gmail.token_validator = validator
    for token, code in [("ya29.from-endpoint", 235), (TOKEN, 235), ("ya29.nope", 334)]:
        smtp = await connected(gmail)
        reply = await smtp.execute_command(
            b"AUTH", b"XOAUTH2", build_xoauth2("me@gmail.com", token).encode()
        )
        assert reply.code == code
        smtp.close()
    smtp = await connected(gmail)
    assert (await _refused_challenge(smtp, "me@gmail.com", "ya29.expired-at-endpoint"))[
        "status"
    ] == "401"
    smtp.close()
    assert [token for _, token in seen][:3] == ["ya29.from-endpoint", TOKEN, "ya29.nope"]
    gmail.token_validator = lambda user, token: None
    assert gmail.token_validator is not None


async def test_auth_over_implicit_tls(certificates: TestCertificates) -> None:
    async with LocalGmail(security="tls", accounts=[ME], certificates=certificates) as server:
        server.add_access_token("me@gmail.com", TOKEN)
        smtp = await connected(server)
        assert smtp.supports_extension("auth")
        assert (await smtp.auth_xoauth2("me@gmail.com", TOKEN)).code == 235
        await smtp.quit()


async def test_unimplemented_mechanisms_answer_504(gmail: LocalGmail) -> None:
    smtp = await connected(gmail)
    reply = await smtp.execute_command(b"AUTH", b"OAUTHBEARER", b64("n,a=me@gmail.com,\x01"))
    assert reply.code == 504
    await smtp.quit()


async def test_second_login_on_a_session_is_refused(gmail: LocalGmail) -> None:
    smtp = await connected(gmail)
    await smtp.auth_plain("me@gmail.com", APP_PASSWORD)
    again = await smtp.execute_command(b"AUTH", b"PLAIN", plain_blob("me@gmail.com", APP_PASSWORD))
    assert again.code == 503
    assert gmail.auth_attempts == [("PLAIN", "me@gmail.com", True)]
    assert gmail.sessions[0].authenticated
    await smtp.quit()


async def test_no_secret_reaches_any_log_record_or_record(
    gmail: LocalGmail, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = [APP_PASSWORD, APP_PASSWORD.replace(" ", ""), NORMAL_PASSWORD, TOKEN, "wrong-pass-x"]
    forms = set(secrets)
    for secret in secrets:
        forms.add(b64(secret).decode())
        forms.add(plain_blob("me@gmail.com", secret).decode())
        forms.add(build_xoauth2("me@gmail.com", secret))
    forms.add(f"user=me@gmail.com\x01auth=Bearer {TOKEN}")

    async def session(*steps: tuple[bytes, ...]) -> None:
        smtp = await connected(gmail)
        for step in steps:
            await smtp.execute_command(*step)
        smtp.close()

    xoauth2 = build_xoauth2("me@gmail.com", TOKEN).encode()
    await session((b"AUTH", b"PLAIN", plain_blob("me@gmail.com", APP_PASSWORD)))
    await session((b"AUTH", b"PLAIN", plain_blob("me@gmail.com", "wrong-pass-x")))
    await session((b"AUTH", b"PLAIN", plain_blob("me@gmail.com", NORMAL_PASSWORD)))
    await session((b"AUTH", b"PLAIN"), (plain_blob("me@gmail.com", APP_PASSWORD),))
    await session((b"AUTH", b"LOGIN", b64("me@gmail.com")), (b64(APP_PASSWORD),))
    await session((b"AUTH", b"LOGIN"), (b64("me@gmail.com"),), (b"wrong-pass-x",))
    await session((b"AUTH", b"LOGIN"), (b64("me@gmail.com"),), (NORMAL_PASSWORD.encode(),))
    await session((b"AUTH", b"XOAUTH2", xoauth2))
    await session((b"AUTH", b"XOAUTH2"), (xoauth2,))
    await session(
        (b"AUTH", b"XOAUTH2", build_xoauth2("me@gmail.com", "wrong-pass-x").encode()), (b"",)
    )
    plain = await connected(gmail, tls=False)  # AUTH on the plaintext part of a session
    await plain.execute_command(b"AUTH", b"PLAIN", plain_blob("me@gmail.com", APP_PASSWORD))
    await plain.execute_command(b"AUTH", b"XOAUTH2", xoauth2)
    plain.close()
    for _ in range(500):  # let the server log the closes
        if gmail.open_sessions == 0:
            break
        await asyncio.sleep(0.01)

    assert any(r.name == "mail.log" for r in caplog.records), "aiosmtpd logged nothing"
    assert any("can't decode base64" in r.getMessage() for r in caplog.records)
    texts = [caplog.text]
    texts += [f"{r.getMessage()} {r.msg!r} {r.args!r}" for r in caplog.records]
    texts += [repr(gmail), repr(gmail.sessions), repr(gmail.auth_attempts), repr(ME)]
    texts += [repr(gmail.pending_faults), repr(gmail.accounts)]
    for text in texts:
        for form in forms:
            assert form not in text
    assert len(gmail.auth_attempts) == 10
