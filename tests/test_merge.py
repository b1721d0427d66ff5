"""gmail_send.merge: rows from CSV and JSON Lines, the resume journal, and send_rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gmail_send import ConfigurationError, MessageError
from gmail_send.merge import (
    ResumeJournal,
    check_rows,
    read_address_lines,
    read_merge_file,
    send_rows,
)
from gmail_send.testing import LocalGmail

from .local_helpers import ACCOUNT, sender_for


def test_csv_rows_take_the_address_column_and_keep_the_rest_as_context(tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_bytes(
        '\ufeffName,E-Mail,City\nAda,ada@example.com,"London, UK"\n\n花子,hanako@example.jp\n'
        'Ada,ada@example.com,"London, UK"\n'.encode()
    )
    rows = read_merge_file(people)
    assert [(r.number, r.to) for r in rows] == [
        (1, "ada@example.com"),
        (3, "hanako@example.jp"),
        (4, "ada@example.com"),
    ]
    assert rows[0].context == {"Name": "Ada", "City": "London, UK"}
    assert rows[1].context == {"Name": "花子", "City": ""}
    assert rows[0].key != rows[2].key and rows[2].key.startswith(rows[0].key)  # a repeat
    assert read_merge_file(people)[1].key == rows[1].key  # keys are stable across reads


def test_json_lines_rows_and_errors(tmp_path: Path) -> None:
    people = tmp_path / "people.jsonl"
    people.write_text(
        '{"to": "a@example.com", "order": {"id": 7, "items": ["tea"]}}\n\n'
        '{"to": "b@example.com", "order": null}\n',
        encoding="utf-8",
    )
    first, second = read_merge_file(people)
    assert first.context == {"order": {"id": 7, "items": ["tea"]}}
    assert (second.number, second.to) == (3, "b@example.com")
    people.write_text('{"to": "a@example.com"}\n[1]\n', encoding="utf-8")
    with pytest.raises(MessageError, match="line 2 is not a JSON object"):
        read_merge_file(people)
    people.write_text("[" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(MessageError, match="line 1 is not JSON"):
        read_merge_file(people)
    other = tmp_path / "people.csv"
    other.write_text("name,phone\nAda,1\n", encoding="utf-8")
    with pytest.raises(MessageError, match="no address column") as caught:
        read_merge_file(other)
    assert caught.value.hint == "name it with --to-column"
    assert read_merge_file(other, to_column="phone")[0].to == "1"


def test_address_lines_skip_comments() -> None:
    rows = read_address_lines(["# list", "", " a@example.com ", "B <b@example.com>"])
    assert [(r.number, r.to, dict(r.context)) for r in rows] == [
        (3, "a@example.com", {}),
        (4, "B <b@example.com>", {}),
    ]


def test_the_journal_drops_a_line_cut_short_and_refuses_another_template(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    journal = ResumeJournal.open(path, template="welcome")
    journal.record("k1", "sending", message_id="<a@example.com>")
    journal.record("k1", "sent")
    with path.open("a", encoding="utf-8") as file:
        file.write('{"row": "k2", "state": "sen')  # the crash came mid-write
    again = ResumeJournal.open(path, template="welcome")
    assert again.campaign == journal.campaign
    assert again.state("k1") == {"row": "k1", "state": "sent", "message_id": "<a@example.com>"}
    assert again.state("k2") is None
    assert path.read_text(encoding="utf-8").endswith("}\n")
    assert again.message_id("k1", "gmail.com") == "<a@example.com>"
    made = again.message_id("k2", "gmail.com")
    assert made == again.message_id("k2", "gmail.com") and made.endswith("@gmail.com>")
    with pytest.raises(ConfigurationError, match="template 'welcome', not 'other'"):
        ResumeJournal.open(path, template="other")
    stranger = tmp_path / "notes.txt"
    stranger.write_text("hello\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="not a gmail-send merge journal"):
        ResumeJournal.open(stranger, template=None)


async def test_an_unknown_outcome_is_recorded_and_never_resent(
    gmail: LocalGmail, tmp_path: Path
) -> None:
    rows = read_address_lines(["a@example.com", "b@example.com", "c@example.com"])
    path = tmp_path / "journal"
    fields = {"subject": "Hi", "text": "Hello"}
    gmail.drop_connection("data_end_stored")  # the first message: stored, then cut
    async with sender_for(gmail) as sender:
        journal = ResumeJournal.open(path, template=None)
        seen = []
        outcomes = await send_rows(
            sender,
            rows,
            fields,
            journal=journal,
            concurrency=1,
            on_outcome=lambda o: seen.append(o.status),
        )
    assert [o.status for o in outcomes] == ["unknown", "sent", "sent"] == seen
    assert outcomes[0].message_id == gmail.messages[0].parsed()["Message-ID"]
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["state"] for r in records[1:3]] == ["sending", "unknown"]
    async with sender_for(gmail) as sender:
        again = await send_rows(
            sender, rows, fields, journal=ResumeJournal.open(path, template=None)
        )
    assert [(o.status, o.earlier) for o in again] == [
        ("unknown", True),
        ("already_sent", True),
        ("already_sent", True),
    ]
    assert [m.rcpt_tos for m in gmail.messages] == [(r.to,) for r in rows]


def test_check_rows_renders_without_connecting(tmp_path: Path) -> None:
    rows = read_address_lines(["a@example.com", "bad"])
    outcomes = check_rows(rows, {"subject": "s", "text": "t"}, account=ACCOUNT)
    assert [o.status for o in outcomes] == ["valid", "failed"]
    assert isinstance(outcomes[1].error, MessageError)
