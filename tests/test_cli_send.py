"""`gmail-send send`: exit codes, bodies and attachments, and the recipients file.

Runs the real command line against the local Gmail (in a worker thread, or as a subprocess);
faults are the server's own injected replies.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from gmail_send.auth._xoauth2 import build_xoauth2
from gmail_send.cli._send import ExitCode, read_recipients
from gmail_send.testing import LocalGmail, LocalTokenEndpoint, TestCertificates

from .cli_helpers import app_password_env, run_main, server_flags
from .local_helpers import ACCOUNT, APP_PASSWORD

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def ca_file(certificates: TestCertificates, tmp_path: Path) -> Path:
    return certificates.ca_pem_path(tmp_path)


async def test_send_prints_message_id(
    gmail: LocalGmail, ca_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = tmp_path / "body.html"
    html.write_text("<p>Hello <b>there</b></p>", encoding="utf-8")
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4 test")
    run = await run_main(
        capsys,
        "send",
        *server_flags(gmail, ca_file),
        "--to",
        "you@example.com",
        "--cc",
        "boss@example.com",
        "--bcc",
        "audit@example.com",
        "--subject",
        "Report",
        "--text",
        "Hello there",
        "--html-file",
        str(html),
        "--attach",
        str(report),
        env=app_password_env(),
    )
    assert run.code == ExitCode.OK, run.err
    [message] = gmail.messages
    parsed = message.parsed()
    assert run.out.strip() == parsed["Message-ID"]
    assert set(message.rcpt_tos) == {"you@example.com", "boss@example.com", "audit@example.com"}
    assert "Bcc" not in parsed
    assert [p.get_filename() for p in parsed.walk() if p.get_filename()] == ["report.pdf"]
    assert APP_PASSWORD not in run.out + run.err


async def test_send_as_subprocess_reads_stdin(gmail: LocalGmail, ca_file: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GMAIL_SEND_")}
    env.update(app_password_env())
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gmail_send",
        "send",
        *server_flags(gmail, ca_file),
        "--to",
        "you@example.com",
        "--subject",
        "from stdin",
        "--text-file",
        "-",
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate("ご注文の本文\n".encode()), 120)
    assert process.returncode == 0, err.decode()
    parsed = gmail.messages[0].parsed()
    assert out.decode().strip() == parsed["Message-ID"]
    body = parsed.get_body(("plain",))
    assert body is not None and "ご注文の本文" in body.get_content()


async def test_verbose_oauth2_subprocess_logs_no_third_party_debug_and_no_secret(
    gmail: LocalGmail, ca_file: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GMAIL_SEND_")}
    async with LocalTokenEndpoint(gmail=gmail, signed_in_user=ACCOUNT) as endpoint:
        token_file = tmp_path / "token.json"
        info = endpoint.issue_token_file(token_file, ACCOUNT)
        env["GMAIL_SEND_TOKEN_FILE"] = str(token_file)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gmail_send",
            "-v",
            "send",
            *server_flags(gmail, ca_file),
            "--to",
            "you@example.com",
            "--subject",
            "verbose",
            "--text",
            "t",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out_bytes, err_bytes = await asyncio.wait_for(process.communicate(), 120)
        issued = [token.access_token for token in endpoint.book.issued]
    out, err = out_bytes.decode(), err_bytes.decode()
    assert process.returncode == 0, err
    assert out.strip() == gmail.messages[0].parsed()["Message-ID"]
    debug = [line for line in err.splitlines() if line.startswith("DEBUG ")]
    assert debug, "-v logs gmail_send at DEBUG"
    assert all(line.split()[1].startswith("gmail_send") for line in debug), debug
    assert issued, "the token was refreshed through the local endpoint"
    secrets = [*issued, info["refresh_token"], info["client_secret"]]
    secrets += [build_xoauth2(ACCOUNT, token) for token in issued]
    for secret in secrets:
        assert secret not in out and secret not in err
    assert "auth=Bearer" not in err


@pytest.mark.parametrize(
    ("stage", "reply", "code"),
    [
        ("auth", (535, "5.7.8 Username and Password not accepted. BadCredentials"), ExitCode.AUTH),
        (
            "auth",
            (454, "4.7.0 Too many login attempts, please try again later."),
            ExitCode.TEMPORARY,
        ),
        (
            "rcpt",
            (550, "5.1.1 The email account that you tried to reach does not exist."),
            ExitCode.PERMANENT,
        ),
        (
            "data_end",
            (
                552,
                "5.7.0 This message was blocked because its content presents a "
                "potential security issue.",
            ),
            ExitCode.PERMANENT,
        ),
    ],
)
async def test_exit_codes_for_server_replies(
    gmail: LocalGmail,
    ca_file: Path,
    capsys: pytest.CaptureFixture[str],
    stage: str,
    reply: tuple[int, str],
    code: ExitCode,
) -> None:
    gmail.inject(stage, reply)  # type: ignore[arg-type]
    run = await run_main(
        capsys,
        "send",
        *server_flags(gmail, ca_file),
        "--to",
        "you@example.com",
        "--subject",
        "s",
        "--text",
        "t",
        env=app_password_env(),
    )
    assert run.code == code, run.err
    assert run.out == ""
    assert str(reply[0]) in run.err
    assert "Traceback" not in run.err


async def test_exit_code_for_bad_input(
    gmail: LocalGmail, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await run_main(
        capsys,
        "send",
        *server_flags(gmail, ca_file),
        "--to",
        "not an address",
        "--subject",
        "s",
        "--text",
        "t",
        env=app_password_env(),
    )
    assert run.code == ExitCode.BAD_INPUT
    assert gmail.sessions == []  # refused before connecting


async def test_exit_code_for_missing_configuration(
    gmail: LocalGmail, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await run_main(
        capsys,
        "send",
        *server_flags(gmail, ca_file),
        "--to",
        "you@example.com",
        "--subject",
        "s",
        "--text",
        "t",
        env={},
    )
    assert run.code == ExitCode.CONFIG
    assert "GMAIL_SEND_TOKEN_FILE" in run.err


async def test_exit_code_for_unknown_outcome(
    gmail: LocalGmail, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gmail.drop_connection("data_end_stored")
    run = await run_main(
        capsys,
        "send",
        *server_flags(gmail, ca_file),
        "--to",
        "you@example.com",
        "--subject",
        "s",
        "--text",
        "t",
        env=app_password_env(),
    )
    assert run.code == ExitCode.UNKNOWN_OUTCOME
    assert f"Message-ID: {gmail.messages[0].parsed()['Message-ID']}" in run.err


async def test_partly_refused_recipients_exit_permanent_after_sending(
    gmail: LocalGmail, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gmail.inject(
        "rcpt",
        (550, "5.1.1 The email account that you tried to reach does not exist."),
        recipient="gone@example.com",
    )
    run = await run_main(
        capsys,
        "send",
        *server_flags(gmail, ca_file),
        "--to",
        "you@example.com",
        "--to",
        "gone@example.com",
        "--subject",
        "s",
        "--text",
        "t",
        env=app_password_env(),
    )
    assert run.code == ExitCode.PERMANENT
    assert run.out.strip() == gmail.messages[0].parsed()["Message-ID"]
    assert "refused gone@example.com: 550 5.1.1" in run.err


async def test_recipients_file_one_failure_does_not_stop_the_rest(
    gmail: LocalGmail, ca_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipients = tmp_path / "recipients.txt"
    recipients.write_text(
        "# customers\nann@example.com\n\nBob <gone@example.com>\ncarol@example.com\n",
        encoding="utf-8",
    )
    gmail.inject(
        "rcpt",
        (550, "5.1.1 The email account that you tried to reach does not exist."),
        recipient="gone@example.com",
    )
    run = await run_main(
        capsys,
        "send",
        *server_flags(gmail, ca_file),
        "--to-file",
        str(recipients),
        "--subject",
        "News",
        "--text",
        "Hello",
        env=app_password_env(),
    )
    assert run.code == ExitCode.PERMANENT
    lines = run.out.splitlines()
    assert lines[0].startswith("[1/3] ann@example.com: sent <")
    assert lines[1].startswith("[2/3] Bob <gone@example.com>: FAILED: ")
    assert "550 5.1.1" in lines[1]
    assert any(line.startswith("[3/3] carol@example.com: sent <") for line in lines)
    assert lines[-1] == "summary: 2 sent, 1 failed (of 3)"
    assert [m.rcpt_tos for m in gmail.messages] == [("ann@example.com",), ("carol@example.com",)]
    assert len(gmail.sessions) == 1  # one session for the whole file


async def test_recipients_file_mixed_failures_exit_1(
    gmail: LocalGmail, ca_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipients = tmp_path / "recipients.txt"
    recipients.write_text("bad address\ngone@example.com\nok@example.com\n", encoding="utf-8")
    gmail.inject(
        "rcpt",
        (550, "5.1.1 The email account that you tried to reach does not exist."),
        recipient="gone@example.com",
    )
    run = await run_main(
        capsys,
        "send",
        *server_flags(gmail, ca_file),
        "--to-file",
        str(recipients),
        "--subject",
        "s",
        "--text",
        "t",
        env=app_password_env(),
    )
    assert run.code == ExitCode.FAILED
    assert run.out.splitlines()[-1] == "summary: 1 sent, 2 failed (of 3)"
    [bad] = [line for line in run.out.splitlines() if line.startswith("[1/3]")]
    assert "'bad address' is not a valid e-mail address: there is no '@'" in bad
    # The hint fits a line that is not an address, not a display name split at a comma.
    assert "name@example.com or Name <name@example.com>" in run.out
    assert "holds a comma" not in run.out


async def test_recipients_file_stops_when_sign_in_fails(
    gmail: LocalGmail, ca_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipients = tmp_path / "recipients.txt"
    recipients.write_text("a@example.com\nb@example.com\nc@example.com\n", encoding="utf-8")
    run = await run_main(
        capsys,
        "send",
        *server_flags(gmail, ca_file),
        "--to-file",
        str(recipients),
        "--subject",
        "s",
        "--text",
        "t",
        env=app_password_env("wxyzwxyzwxyzwxyz"),
    )
    assert run.code == ExitCode.AUTH
    assert "stopping: the 2 remaining message(s) would fail the same way" in run.out
    assert run.out.splitlines()[-1] == "summary: 0 sent, 1 failed, 2 not attempted (of 3)"
    assert len(gmail.auth_attempts) == 1  # no login storm


async def test_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run = await run_main(capsys, "send", "--subject", "s", "--text", "t", env={})
    assert run.code == ExitCode.USAGE
    assert "no recipient" in run.err
    listing = tmp_path / "r.txt"
    listing.write_text("a@example.com\n")
    run = await run_main(
        capsys,
        "send",
        "--subject",
        "s",
        "--text",
        "t",
        "--to",
        "b@example.com",
        "--to-file",
        str(listing),
        env={},
    )
    assert run.code == ExitCode.USAGE


async def test_unreadable_attachment_is_bad_input(
    gmail: LocalGmail, ca_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await run_main(
        capsys,
        "send",
        *server_flags(gmail, ca_file),
        "--to",
        "you@example.com",
        "--subject",
        "s",
        "--text",
        "t",
        "--attach",
        str(tmp_path / "missing.pdf"),
        env=app_password_env(),
    )
    assert run.code == ExitCode.BAD_INPUT
    assert "missing.pdf" in run.err


@pytest.mark.parametrize("missing", ["--attach", "--text-file", "--html-file"])
async def test_recipients_file_with_a_missing_input_file_sends_nothing(
    gmail: LocalGmail,
    ca_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    missing: str,
) -> None:
    recipients = tmp_path / "recipients.txt"
    recipients.write_text("a@example.com\nb@example.com\nc@example.com\n", encoding="utf-8")
    body = ["--text", "t"] if missing != "--text-file" else []
    run = await run_main(
        capsys,
        "send",
        *server_flags(gmail, ca_file),
        "--to-file",
        str(recipients),
        "--subject",
        "s",
        *body,
        missing,
        str(tmp_path / "missing.file"),
        env=app_password_env(),
    )
    assert run.code == ExitCode.BAD_INPUT
    assert run.out == ""  # no per-line failures, no summary
    assert run.err.count("missing.file") == 1
    assert "Traceback" not in run.err
    assert gmail.sessions == []  # checked before connecting


async def test_recipients_file_prints_the_message_id_of_an_unknown_outcome(
    gmail: LocalGmail, ca_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipients = tmp_path / "recipients.txt"
    recipients.write_text("a@example.com\nb@example.com\n", encoding="utf-8")
    gmail.drop_connection("data_end_stored")
    run = await run_main(
        capsys,
        "send",
        *server_flags(gmail, ca_file),
        "--to-file",
        str(recipients),
        "--subject",
        "s",
        "--text",
        "t",
        env=app_password_env(),
    )
    assert run.code == ExitCode.UNKNOWN_OUTCOME, run.out + run.err
    first = gmail.messages[0].parsed()["Message-ID"]
    assert run.out.splitlines()[0].startswith("[1/2] a@example.com: FAILED: ")
    assert f"  Message-ID: {first}" in run.out.splitlines()


async def test_credential_flag_replaces_the_environment_credentials(
    gmail: LocalGmail, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        "GMAIL_SEND_USER": ACCOUNT,
        "GMAIL_SEND_ACCESS_TOKEN": "ya29.stale-env-token",
        "GMAIL_SEND_RELAY_BY_IP": "1",
    }
    run = await run_main(
        capsys,
        "send",
        *server_flags(gmail, ca_file),
        "--app-password",
        APP_PASSWORD,
        "--to",
        "you@example.com",
        "--subject",
        "s",
        "--text",
        "t",
        env=env,
    )
    assert run.code == ExitCode.OK, run.err
    assert [(a.mechanism, a.success) for a in gmail.auth_attempts] == [("PLAIN", True)]
    assert APP_PASSWORD not in run.out + run.err


def test_read_recipients_skips_blanks_and_comments() -> None:
    assert read_recipients(["# x", "", "  a@example.com ", "B <b@example.com>"]) == [
        "a@example.com",
        "B <b@example.com>",
    ]


def test_account_constant_is_the_local_one() -> None:
    assert ACCOUNT == "me@gmail.com"
