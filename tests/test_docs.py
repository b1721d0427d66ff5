"""The documentation states what the code does."""

from __future__ import annotations

from pathlib import Path

from gmail_send.smtp._replies import markdown_table

ROOT = Path(__file__).resolve().parent.parent


def test_reply_table_in_docs_is_current() -> None:
    page = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    start = "<!-- reply-table:start -->\n"
    table = page[page.index(start) + len(start) : page.index("<!-- reply-table:end -->")]
    assert table == markdown_table(), (
        "docs/errors.md is out of date: replace the block between the reply-table markers "
        "with the output of markdown_table() in gmail_send/smtp/_replies.py"
    )


def test_readme_commands_match_ci() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = next(line for line in readme.splitlines() if "[test]" in line)
    demo_command = next(line for line in readme.splitlines() if "gmail_send demo" in line)
    assert test_command in ci.splitlines()
    assert "[testing]" in demo_command
    assert "python -m gmail_send demo" in ci
