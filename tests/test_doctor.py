"""`gmail-send doctor` against the local Gmail, a local token endpoint and a local DNS server.

Each test runs the real command line (`main(argv)` in a worker thread, or a subprocess) and
reads what it printed; nothing in the library is replaced.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gmail_send.auth._scopes import SEND_SCOPE
from gmail_send.doctor import Target
from gmail_send.doctor._dns_checks import parse_nameserver
from gmail_send.doctor._net_checks import check_ports
from gmail_send.testing import LocalAccount, LocalGmail, LocalTokenEndpoint, TestCertificates

from .cli_helpers import (
    app_password_env,
    blackholed_port,
    closed_port,
    run_main,
    server_flags,
)
from .local_dns import LocalDNS
from .local_helpers import ACCOUNT, APP_PASSWORD, NORMAL_PASSWORD

ROOT = Path(__file__).resolve().parent.parent
GOOD_DOMAIN = {
    "example.com": ["v=spf1 include:_spf.google.com ~all"],
    "google._domainkey.example.com": ["v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A"],
    "_dmarc.example.com": ["v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"],
}


@pytest.fixture
def ca_file(certificates: TestCertificates, tmp_path: Path) -> Path:
    return certificates.ca_pem_path(tmp_path)


def lines_of(out: str) -> dict[str, str]:
    """The printed block of each check, keyed by its title's start."""
    blocks: dict[str, str] = {}
    current = ""
    for line in out.splitlines():
        if line.startswith(("PASSED", "FAILED", "SKIPPED")):
            current = line.split(None, 1)[1]
            blocks[current] = line
        elif line.startswith(" ") and current:
            blocks[current] += "\n" + line
    return blocks


def block(out: str, title_start: str) -> str:
    return next(text for title, text in lines_of(out).items() if title.startswith(title_start))


async def test_passing_run_with_domain_and_test_message(
    gmail: LocalGmail, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalDNS(GOOD_DOMAIN) as dns_server:
        run = await run_main(
            capsys,
            "doctor",
            *server_flags(gmail, ca_file),
            "--domain",
            "example.com",
            "--nameserver",
            dns_server.nameserver,
            "--send-test",
            "you@example.com",
            env=app_password_env(),
        )
    assert run.code == 0, run.out
    assert "12 passed, 0 failed, 0 skipped" in run.out
    assert block(run.out, "TLS and certificate").startswith("PASSED")
    assert "AUTH LOGIN PLAIN XOAUTH2" in block(run.out, "EHLO")
    assert f"signed in as {ACCOUNT} with PLAIN" in block(run.out, "authentication")
    assert "[Gmail]/Sent Mail" in block(run.out, "Sent Mail lookup")
    assert "includes _spf.google.com" in block(run.out, "SPF")
    assert "policy quarantine" in block(run.out, "DMARC")
    # Only the test message was sent; the sign-in check sent nothing.
    assert [m.rcpt_tos for m in gmail.messages] == [("you@example.com",)]
    assert {"example.com.", "google._domainkey.example.com.", "_dmarc.example.com."} <= set(
        dns_server.queries
    )


async def test_closed_port_is_named_blocked_with_the_alternative(
    start_gmail: Callable[..., Any], ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    implicit_tls: LocalGmail = await start_gmail(security="tls")
    blocked = closed_port()
    run = await run_main(
        capsys,
        "doctor",
        "--host",
        "127.0.0.1",
        "--port",
        str(blocked),
        "--ca-file",
        str(ca_file),
        "--other-port",
        str(implicit_tls.port),
        env=app_password_env(),
    )
    assert run.code == 1
    tcp = block(run.out, "TCP reachability")
    assert tcp.startswith("FAILED")
    assert f"port {blocked} is blocked or closed" in tcp
    assert f"port {implicit_tls.port} is reachable" in tcp
    assert (
        f"fix: use port {implicit_tls.port} instead: --port {implicit_tls.port} "
        "--security tls" in tcp
    )
    assert block(run.out, "TLS").startswith("SKIPPED")
    assert block(run.out, "authentication").startswith("SKIPPED")


async def test_port_that_drops_connections_is_named_blocked(
    start_gmail: Callable[..., Any], ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    implicit_tls: LocalGmail = await start_gmail(security="tls")
    with blackholed_port() as dropped:
        run = await run_main(
            capsys,
            "doctor",
            "--host",
            "127.0.0.1",
            "--port",
            str(dropped),
            "--timeout",
            "2",
            "--ca-file",
            str(ca_file),
            "--other-port",
            str(implicit_tls.port),
            env=app_password_env(),
        )
    tcp = block(run.out, "TCP reachability")
    assert f"port {dropped} is blocked: the connection timed out" in tcp
    assert "the ISP or the cloud provider" in tcp
    assert f"--port {implicit_tls.port} --security tls" in tcp
    assert run.code == 1


async def test_alternative_port_passes_end_to_end(
    start_gmail: Callable[..., Any], ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    implicit_tls: LocalGmail = await start_gmail(security="tls")
    run = await run_main(
        capsys, "doctor", *server_flags(implicit_tls, ca_file), env=app_password_env()
    )
    assert run.code == 0, run.out
    assert "TLSv1" in block(run.out, "TLS and certificate")


async def test_untrusted_certificate_suggests_interception(
    gmail: LocalGmail, capsys: pytest.CaptureFixture[str]
) -> None:
    # No --ca-file: the system's CAs do not trust the test CA, like an intercepting proxy's.
    run = await run_main(
        capsys,
        "doctor",
        "--host",
        gmail.host,
        "--port",
        str(gmail.port),
        env=app_password_env(),
    )
    assert run.code == 1
    tls = block(run.out, "TLS and certificate")
    assert tls.startswith("FAILED")
    assert "could not be verified" in tls
    assert "interception" in tls
    assert block(run.out, "EHLO").startswith("SKIPPED")
    assert block(run.out, "authentication").startswith("SKIPPED")
    assert gmail.auth_attempts == []


async def test_wrong_app_password_shows_535_and_hint(
    gmail: LocalGmail, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await run_main(
        capsys, "doctor", *server_flags(gmail, ca_file), env=app_password_env("wxyzwxyzwxyzwxyz")
    )
    assert run.code == 1
    assert block(run.out, "token refresh").startswith("PASSED")  # the shape is right
    auth = block(run.out, "authentication")
    assert auth.startswith("FAILED")
    assert "535 5.7.8" in auth
    assert "fix:" in auth and "app password" in auth
    assert "wxyz" not in run.out + run.err


async def test_app_password_given_on_the_command_line_is_never_printed(
    gmail: LocalGmail, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await run_main(
        capsys,
        "doctor",
        *server_flags(gmail, ca_file),
        "--user",
        ACCOUNT,
        "--app-password",
        "abcd efgh ijkl mnop",
        env={},
    )
    assert run.code == 0, run.out
    assert "--app-password (set)" in block(run.out, "configuration")
    assert "abcd" not in run.out + run.err


async def test_normal_password_shows_534_and_hint(
    gmail: LocalGmail, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await run_main(
        capsys, "doctor", *server_flags(gmail, ca_file), env=app_password_env(NORMAL_PASSWORD)
    )
    assert run.code == 1
    shape = block(run.out, "token refresh")
    assert shape.startswith("FAILED") and "16 lowercase letters" in shape
    auth = block(run.out, "authentication")
    assert "534 5.7.9" in auth
    assert "apppasswords" in auth
    assert NORMAL_PASSWORD not in run.out + run.err


async def test_oauth2_token_file_passes(
    gmail: LocalGmail, ca_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with LocalTokenEndpoint(gmail=gmail, signed_in_user=ACCOUNT) as endpoint:
        token_file = tmp_path / "token.json"
        info = endpoint.issue_token_file(token_file)
        run = await run_main(
            capsys,
            "doctor",
            *server_flags(gmail, ca_file),
            env={"GMAIL_SEND_TOKEN_FILE": str(token_file)},
        )
        assert endpoint.refresh_count == 1
    assert run.code == 0, run.out
    assert "issued a new access token" in block(run.out, "token refresh")
    assert "with XOAUTH2" in block(run.out, "authentication")
    assert info["refresh_token"] not in run.out


async def test_token_file_flag_replaces_an_app_password_in_the_environment(
    gmail: LocalGmail, ca_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with LocalTokenEndpoint(gmail=gmail, signed_in_user=ACCOUNT) as endpoint:
        token_file = tmp_path / "token.json"
        endpoint.issue_token_file(token_file, ACCOUNT)
        run = await run_main(
            capsys,
            "doctor",
            *server_flags(gmail, ca_file),
            "--token-file",
            str(token_file),
            env=app_password_env(),
        )
    assert run.code == 0, run.out
    token = block(run.out, "token refresh")
    assert "issued a new access token" in token
    assert "app password fallback" not in token  # the flag's token alone, no fallback from the env
    assert [a.mechanism for a in gmail.auth_attempts] == ["XOAUTH2"]


async def test_token_without_mail_scope(
    gmail: LocalGmail, ca_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with LocalTokenEndpoint(gmail=gmail, signed_in_user=ACCOUNT) as endpoint:
        token_file = tmp_path / "token.json"
        endpoint.issue_token_file(
            token_file, scopes=("https://www.googleapis.com/auth/gmail.send",)
        )
        run = await run_main(
            capsys,
            "doctor",
            *server_flags(gmail, ca_file),
            env={"GMAIL_SEND_TOKEN_FILE": str(token_file)},
        )
    assert run.code == 1
    token = block(run.out, "token refresh")
    assert token.startswith("PASSED")  # a gmail.send token is good, for the Gmail API
    assert "send through the Gmail API only" in token
    signin = block(run.out, "authentication")
    assert signin.startswith("FAILED")
    assert "not https://mail.google.com/, the only scope Gmail's SMTP accepts" in signin
    assert "transport='api'" in signin
    assert gmail.auth_attempts == []  # no login wasted on a token SMTP refuses


async def test_token_file_readable_by_others(
    gmail: LocalGmail, ca_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if os.name != "posix":
        pytest.skip("file modes are POSIX")
    async with LocalTokenEndpoint(gmail=gmail, signed_in_user=ACCOUNT) as endpoint:
        token_file = tmp_path / "token.json"
        endpoint.issue_token_file(token_file)
        token_file.chmod(0o644)
        run = await run_main(
            capsys,
            "doctor",
            *server_flags(gmail, ca_file),
            env={"GMAIL_SEND_TOKEN_FILE": str(token_file)},
        )
    assert run.code == 1
    config = block(run.out, "configuration")
    assert "readable by other users (mode 0644)" in config
    assert f"fix: chmod 600 {token_file}" in config
    assert block(run.out, "authentication").startswith("PASSED")


async def test_domain_without_spf_and_dmarc(
    gmail: LocalGmail, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = {
        "example.org": ["google-site-verification=abc"],
        "google._domainkey.example.org": ["v=DKIM1; k=rsa; p=MIIB"],
    }
    with LocalDNS(records) as dns_server:
        run = await run_main(
            capsys,
            "doctor",
            *server_flags(gmail, ca_file),
            "--domain",
            "example.org",
            "--nameserver",
            dns_server.nameserver,
            env=app_password_env(),
        )
    assert run.code == 1
    spf = block(run.out, "SPF")
    assert "example.org has no SPF record" in spf
    assert 'fix: publish a TXT record at example.org: "v=spf1 include:_spf.google.com ~all"' in spf
    assert block(run.out, "DKIM").startswith("PASSED")
    dmarc = block(run.out, "DMARC")
    assert "no DMARC record at _dmarc.example.org" in dmarc
    assert "v=DMARC1; p=none" in dmarc


async def test_spf_without_google_and_other_dkim_selector(
    gmail: LocalGmail, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = {"example.net": ["v=spf1 mx -all"], "_dmarc.example.net": ["v=DMARC1; p=reject"]}
    with LocalDNS(records) as dns_server:
        run = await run_main(
            capsys,
            "doctor",
            *server_flags(gmail, ca_file),
            "--domain",
            "example.net",
            "--dkim-selector",
            "s1",
            "--nameserver",
            dns_server.nameserver,
            env=app_password_env(),
        )
    assert "does not include _spf.google.com" in block(run.out, "SPF")
    dkim = block(run.out, "DKIM of example.net (selector s1)")
    assert "no DKIM key at s1._domainkey.example.net" in dkim
    assert block(run.out, "DMARC").startswith("PASSED")


async def test_unknown_domain_is_not_reported_as_missing_records(
    gmail: LocalGmail, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalDNS({}) as dns_server:
        run = await run_main(
            capsys,
            "doctor",
            *server_flags(gmail, ca_file),
            "--domain",
            "exampel.com",
            "--nameserver",
            dns_server.nameserver,
            env=app_password_env(),
        )
    assert "exampel.com does not exist in DNS (NXDOMAIN)" in block(run.out, "SPF")
    dkim, dmarc = block(run.out, "DKIM"), block(run.out, "DMARC")
    assert dkim.startswith("SKIPPED") and "does not exist in DNS" in dkim
    assert dmarc.startswith("SKIPPED") and "does not exist in DNS" in dmarc
    assert dns_server.queries == ["exampel.com."]  # nothing more asked under a missing domain


async def test_unreachable_nameserver_is_a_lookup_failure(
    gmail: LocalGmail, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalDNS({}) as dns_server:
        silent = dns_server.nameserver
    # Nothing answers there any more: each query times out (kept short with --timeout).
    run = await run_main(
        capsys,
        "doctor",
        *server_flags(gmail, ca_file),
        "--timeout",
        "1",
        "--domain",
        "example.com",
        "--nameserver",
        silent,
        env=app_password_env(),
    )
    spf = block(run.out, "SPF")
    assert spf.startswith("FAILED") and "could not look up TXT example.com" in spf
    assert "has no SPF record" not in run.out
    for title in ("DKIM", "DMARC"):
        assert block(run.out, title).startswith("SKIPPED")
        assert "the SPF lookup failed" in block(run.out, title)


async def test_json_report(
    gmail: LocalGmail, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalDNS({"example.org": []}) as dns_server:
        run = await run_main(
            capsys,
            "doctor",
            *server_flags(gmail, ca_file),
            "--json",
            "--domain",
            "example.org",
            "--nameserver",
            dns_server.nameserver,
            env=app_password_env(),
        )
    assert run.code == 1
    report = json.loads(run.out)
    statuses = {check["name"]: check["status"] for check in report["checks"]}
    assert report["ok"] is False
    assert statuses == {
        "configuration": "passed",
        "dns": "passed",
        "tcp": "passed",
        "tls": "passed",
        "ehlo": "passed",
        "credentials": "passed",
        "authentication": "passed",
        "sent-lookup": "passed",
        "spf": "failed",
        "dkim": "failed",
        "dmarc": "failed",
    }
    spf = next(check for check in report["checks"] if check["name"] == "spf")
    assert "_spf.google.com" in spf["fix"]


async def test_missing_configuration_still_checks_the_network(
    gmail: LocalGmail, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await run_main(capsys, "doctor", *server_flags(gmail, ca_file), env={})
    assert run.code == 1
    config = block(run.out, "configuration")
    assert config.startswith("FAILED") and "no credentials" in config
    assert block(run.out, "TLS and certificate").startswith("PASSED")
    assert block(run.out, "authentication").startswith("SKIPPED")


async def test_doctor_as_subprocess(gmail: LocalGmail, ca_file: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GMAIL_SEND_")}
    env.update(app_password_env())
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gmail_send",
        "doctor",
        *server_flags(gmail, ca_file),
        "--json",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    assert json.loads(out)["ok"] is True


async def test_workspace_relay_by_ip_address(
    start_gmail: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    relay: LocalGmail = await start_gmail(security="none", allow_relay_by_ip=True)
    run = await run_main(
        capsys,
        "doctor",
        "--host",
        relay.host,
        "--port",
        str(relay.port),
        "--security",
        "none",
        env={"GMAIL_SEND_RELAY_BY_IP": "1"},
    )
    assert run.code == 0, run.out
    assert "no credentials (relay by IP address)" in block(run.out, "configuration")
    assert block(run.out, "TLS and certificate").startswith("SKIPPED")
    assert "without signing in" in block(run.out, "authentication")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8.8.8.8", ("8.8.8.8", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("::1", ("::1", 53)),
        ("2001:4860:4860::8888", ("2001:4860:4860::8888", 53)),
        ("[::1]", ("::1", 53)),
        ("[::1]:5353", ("::1", 5353)),
    ],
)
def test_parse_nameserver(text: str, expected: tuple[str, int]) -> None:
    assert parse_nameserver(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "127.0.0.1:abc",
        "127.0.0.1:",
        "127.0.0.1:0",
        "127.0.0.1:70000",
        "dns.google",
        "dns.google:53",
        "[::1]:x",
        "[::1",
        "[127.0.0.1]:53",
        "::1:53:",
        "1.2.3.4:-1",
    ],
)
def test_parse_nameserver_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not"):
        parse_nameserver(text)


@pytest.mark.parametrize(
    "flags",
    [
        ["--nameserver", "127.0.0.1:abc"],
        ["--nameserver", "dns.google"],
        ["--port", "99999"],
        ["--port", "0"],
        ["--port", "smtp"],
        ["--other-port", "70000"],
    ],
)
async def test_bad_nameserver_or_port_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], flags: list[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        await run_main(capsys, "doctor", *flags, env=app_password_env())
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flags[0]}" in err
    assert "Traceback" not in err


async def test_plain_nameserver_address_is_accepted(
    gmail: LocalGmail, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "127.0.0.1" alone means port 53 (where nothing may answer): a finding, no crash.
    run = await run_main(
        capsys,
        "doctor",
        *server_flags(gmail, ca_file),
        "--timeout",
        "1",
        "--domain",
        "example.com",
        "--nameserver",
        "127.0.0.1",
        env=app_password_env(),
    )
    assert "Traceback" not in run.err
    assert block(run.out, "SPF").startswith(("FAILED", "PASSED"))


async def test_out_of_range_port_in_the_environment_is_no_crash(
    gmail: LocalGmail, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {**app_password_env(), "GMAIL_SEND_PORT": "99999", "GMAIL_SEND_HOST": gmail.host}
    run = await run_main(capsys, "doctor", "--timeout", "2", env=env)
    assert run.code == 1
    assert "GMAIL_SEND_PORT is out of range: 99999" in block(run.out, "configuration")
    assert run.out.splitlines()[0] == f"gmail-send doctor: {gmail.host}:587 (starttls)"
    assert "Traceback" not in run.err


async def test_port_probe_of_an_impossible_port_is_a_finding() -> None:
    target = Target("127.0.0.1", 99999, "starttls", None, 2.0)
    result = await check_ports(target, other_port=70000)
    assert result.failed
    assert "not a usable port" in result.finding


async def test_the_gmail_api_is_checked_and_a_test_sent_through_it(
    gmail: LocalGmail,
    start_api: Callable[..., Any],
    ca_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api = await start_api(gmail)
    async with LocalTokenEndpoint(gmail=gmail, signed_in_user=ACCOUNT) as endpoint:
        token_file = tmp_path / "token.json"
        endpoint.issue_token_file(token_file, scopes=(SEND_SCOPE,))
        run = await run_main(
            capsys,
            "doctor",
            "--transport",
            "api",
            "--api-url",
            api.url,
            "--ca-file",
            str(ca_file),
            "--send-test",
            "you@example.com",
            env={"GMAIL_SEND_TOKEN_FILE": str(token_file)},
        )
    assert run.code == 0, run.out
    assert run.out.splitlines()[0] == f"gmail-send doctor: the Gmail API at {api.url}"
    assert list(lines_of(run.out)) == [
        title
        for title in lines_of(run.out)
        if title.startswith(("configuration", "HTTPS", "token", "credentials", "test message"))
    ]  # no SMTP check ran
    assert block(run.out, "HTTPS to the Gmail API").startswith("PASSED")
    assert "sends over the Gmail API" in block(run.out, "credentials for transport api")
    assert "through the Gmail API, Gmail id" in block(run.out, "test message")
    assert [m.via for m in gmail.messages] == ["api"]
    assert gmail.sessions == []


async def test_the_api_refuses_app_passwords_and_a_blocked_443_is_found(
    ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await run_main(
        capsys,
        "doctor",
        "--transport",
        "api",
        "--api-url",
        f"https://127.0.0.1:{closed_port()}",
        "--ca-file",
        str(ca_file),
        "--send-test",
        "you@example.com",
        env=app_password_env(),
    )
    assert run.code == 1
    https = block(run.out, "HTTPS to the Gmail API")
    assert https.startswith("FAILED") and "refused" in https and "HTTPS_PROXY" in https
    configuration = block(run.out, "configuration")
    assert configuration.startswith("FAILED") and "takes no app password" in configuration
    assert block(run.out, "test message").startswith("SKIPPED")


async def test_auto_with_a_send_only_token_skips_the_smtp_sign_in(
    gmail: LocalGmail,
    start_api: Callable[..., Any],
    ca_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api = await start_api(gmail)
    async with LocalTokenEndpoint(gmail=gmail, signed_in_user=ACCOUNT) as endpoint:
        token_file = tmp_path / "token.json"
        endpoint.issue_token_file(token_file, scopes=(SEND_SCOPE,))
        run = await run_main(
            capsys,
            "doctor",
            *server_flags(gmail, ca_file),
            "--transport",
            "auto",
            "--api-url",
            api.url,
            "--send-test",
            "you@example.com",
            env={"GMAIL_SEND_TOKEN_FILE": str(token_file)},
        )
    assert run.code == 0, run.out
    assert block(run.out, "EHLO").startswith("PASSED")
    assert block(run.out, "HTTPS to the Gmail API").startswith("PASSED")
    assert "auto sends through the Gmail API" in block(run.out, "credentials for transport")
    assert "opens the Gmail API only" in block(run.out, "authentication")
    test = block(run.out, "test message")
    assert "through the Gmail API" in test and "gmail.send" in test
    assert gmail.auth_attempts == []


@pytest.mark.parametrize(
    ("fault", "reason", "fix"),
    [
        ("imap_disabled", "imap_disabled", "turn IMAP on"),
        ("refused", "sign_in", "app password"),
    ],
)
async def test_a_sent_mail_lookup_that_cannot_run_fails_with_its_fix(
    gmail: LocalGmail,
    ca_file: Path,
    capsys: pytest.CaptureFixture[str],
    fault: str,
    reason: str,
    fix: str,
) -> None:
    if fault == "imap_disabled":
        gmail.add_account(
            LocalAccount(
                ACCOUNT, app_password=APP_PASSWORD, password=NORMAL_PASSWORD, imap_enabled=False
            )
        )
    else:
        gmail.refuse_imap_sign_in()
    run = await run_main(
        capsys, "doctor", *server_flags(gmail, ca_file), "--json", env=app_password_env()
    )
    assert run.code == 1
    report = json.loads(run.out)
    lookup = next(check for check in report["checks"] if check["name"] == "sent-lookup")
    assert lookup["status"] == "failed" and lookup["details"]["reason"] == reason
    assert fix in lookup["fix"]
    assert APP_PASSWORD not in run.out
    statuses = {check["name"]: check["status"] for check in report["checks"]}
    assert statuses["authentication"] == "passed"  # SMTP still works: only the lookup fails
