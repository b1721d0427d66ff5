"""Property tests: arbitrary text survives composition exactly; any line break in a header is
refused; every message obeys the wire rules."""

from __future__ import annotations

import re
from typing import Literal

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gmail_send.errors import HeaderInjectionError
from gmail_send.message import Attachment, compose_message
from gmail_send.message._attachments import blocked_extension

from .compose_helpers import assert_wire_format, display_names, parse, text_of

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _iso_2022_jp_characters() -> list[str]:
    characters = []
    for code in range(0x20, 0x10000):
        character = chr(code)
        if 0xD800 <= code < 0xE000:
            continue
        try:
            character.encode("iso-2022-jp")
        except UnicodeEncodeError:
            continue
        characters.append(character)
    return characters


NO_SURROGATES: list[Literal["Cs", "Cc"]] = ["Cs"]
NO_CONTROLS: list[Literal["Cs", "Cc"]] = ["Cs", "Cc"]
# Every character except surrogates and the three that forge lines (CR, LF, NUL).
ANY_TEXT = st.text(
    st.characters(blacklist_categories=NO_SURROGATES, blacklist_characters="\r\n\x00"), max_size=150
)
# Printable: no control characters either (display names are for people to read).
PRINTABLE = st.text(st.characters(blacklist_categories=NO_CONTROLS), max_size=100)
JIS_TEXT = st.text(st.sampled_from(_iso_2022_jp_characters()), max_size=100)
BREAKS = st.sampled_from(["\r", "\n", "\r\n", "\x00"])


def quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def normalized(name: str) -> str:
    """Display names count a run of whitespace starting with a space or tab as one space and
    drop spaces at either end (as the stdlib's parser reads them)."""
    return re.sub(r"[ \t]\s*", " ", name).strip(" ")


@SETTINGS
@given(subject=ANY_TEXT, name=PRINTABLE)
def test_utf8_subject_and_display_name_round_trip(subject: str, name: str) -> None:
    outgoing = compose_message(
        account="me@example.com",
        to=f"{quoted(name)} <you@example.com>",
        subject=subject,
        text="x",
    )
    assert_wire_format(outgoing.data)
    assert outgoing.data.isascii()
    assert parse(outgoing.data)["Subject"] == subject
    assert display_names(outgoing.data, "To") == [normalized(name)]


@SETTINGS
@given(subject=JIS_TEXT, name=JIS_TEXT, body=JIS_TEXT)
def test_iso_2022_jp_round_trip(subject: str, name: str, body: str) -> None:
    outgoing = compose_message(
        account="me@example.com",
        to=f"{quoted(name)} <you@example.com>",
        subject=subject,
        text=body,
        encoding="iso-2022-jp",
    )
    assert_wire_format(outgoing.data)
    assert outgoing.data.isascii()
    message = parse(outgoing.data)
    assert message["Subject"] == subject
    assert display_names(outgoing.data, "To") == [normalized(name)]
    assert text_of(message) == body + "\n"


@SETTINGS
@given(body=st.text(st.characters(blacklist_categories=NO_SURROGATES), max_size=500))
def test_utf8_body_round_trips_up_to_line_endings(body: str) -> None:
    outgoing = compose_message(account="me@example.com", to="you@example.com", text=body)
    assert_wire_format(outgoing.data)
    assert outgoing.data.isascii()
    expected = re.sub(r"\r\n|\r", "\n", body)
    if not expected.endswith("\n"):
        expected += "\n"
    assert text_of(parse(outgoing.data)) == expected


@SETTINGS
@given(filename=ANY_TEXT.filter(lambda n: n.strip() == n and n != ""))
def test_attachment_filename_round_trips(filename: str) -> None:
    assume(blocked_extension(filename) is None)
    # Python's get_filename() strips one pair of enclosing quotes or angle brackets from any
    # name (its email.utils.unquote), so '"x"' or '<x>' cannot round-trip through the reader.
    assume(not (len(filename) >= 2 and filename[0] == filename[-1] == '"'))
    assume(not (len(filename) >= 2 and filename[0] == "<" and filename[-1] == ">"))
    outgoing = compose_message(
        account="me@example.com",
        to="you@example.com",
        attachments=[Attachment(b"data", filename, content_type="application/octet-stream")],
    )
    assert_wire_format(outgoing.data)
    (attachment,) = parse(outgoing.data).iter_attachments()
    assert attachment.get_filename() == filename
    assert attachment.get_content() == b"data"


@SETTINGS
@given(
    before=ANY_TEXT,
    after=ANY_TEXT,
    line_break=BREAKS,
    field=st.sampled_from(["subject", "to", "cc", "bcc", "reply_to", "from_", "name", "header"]),
)
def test_any_line_break_in_a_header_is_refused(
    before: str, after: str, line_break: str, field: str
) -> None:
    value = before + line_break + after
    arguments: dict[str, object] = {"account": "me@example.com", "to": "you@example.com"}
    if field == "subject":
        arguments["subject"] = value
    elif field == "name":
        arguments["to"] = f"{quoted(value)} <you@example.com>"
    elif field == "header":
        arguments["headers"] = {"X-Value": value}
    else:
        arguments[field] = f"a{value}@example.com"
    try:
        compose_message(**arguments)  # type: ignore[arg-type]
    except HeaderInjectionError:
        return
    raise AssertionError(f"{field}={value!r} was accepted")
