"""Bad input to compose_message: each refused with its typed error, before any connection."""

from __future__ import annotations

import io
import re
import zipfile
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any

import pytest

from gmail_send.errors import (
    BlockedAttachmentError,
    HeaderInjectionError,
    InvalidAddressError,
    MessageError,
)
from gmail_send.message import BLOCKED_EXTENSIONS, Attachment, compose_message, prepare_message

ACCOUNT = "me@gmail.com"
GOOD: dict[str, Any] = {"account": ACCOUNT, "to": "you@example.com", "subject": "s", "text": "t"}
GMAIL_LIST = (
    ".ade .adp .apk .appx .appxbundle .bat .cab .chm .cmd .com .cpl .diagcab .diagcfg .diagpkg "
    ".dll .dmg .ex .ex_ .exe .hta .img .ins .iso .isp .jar .jnlp .js .jse .lib .lnk .mde .mjs "
    ".msc .msi .msix .msixbundle .msp .mst .nsh .pif .ps1 .scr .sct .shb .sys .vb .vbe .vbs "
    ".vhd .vxd .wsc .wsf .wsh .xll"
)


def compose(**overrides: Any) -> Any:
    return compose_message(**{**GOOD, **overrides})


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


BREAKS = ["\r\n", "\n", "\r", "\x00"]
INJECTION_VECTORS: list[tuple[str, Any]] = [
    ("subject", lambda b: {"subject": f"hi{b}Bcc: victim@example.com"}),
    ("to", lambda b: {"to": f"you@example.com{b}Bcc: victim@example.com"}),
    ("to-list", lambda b: {"to": ["ok@example.com", f"a@example.com{b}X: y"]}),
    ("cc", lambda b: {"cc": f"a@example.com{b}Bcc: victim@example.com"}),
    ("bcc", lambda b: {"bcc": f"a@example.com{b}X: y"}),
    ("reply_to", lambda b: {"reply_to": f"a@example.com{b}X: y"}),
    ("from_", lambda b: {"from_": f"me@gmail.com{b}X: y"}),
    ("display-name", lambda b: {"to": f"Evil{b}Bcc: victim@example.com <you@example.com>"}),
    ("from-display-name", lambda b: {"from_": f"Evil{b}Bcc: v@example.com <me@gmail.com>"}),
    ("header-value", lambda b: {"headers": {"X-Order": f"42{b}Bcc: victim@example.com"}}),
    ("header-name", lambda b: {"headers": {f"X-Order{b}Bcc": "victim@example.com"}}),
    ("filename", lambda b: {"attachments": [Attachment(b"x", f"a.txt{b}X: y")]}),
    ("filename-trailing", lambda b: {"attachments": [Attachment(b"x", f"a.txt{b}")]}),
    ("content-id", lambda b: {"attachments": [Attachment(b"x", "a.png", content_id=f"a{b}X")]}),
    ("content-type", lambda b: {"attachments": [Attachment(b"x", "a", content_type=f"a/b{b}X")]}),
    ("message-id", lambda b: {"message_id": f"<a@b>{b}Bcc: victim@example.com"}),
    ("account", lambda b: {"account": f"me@gmail.com{b}X: y"}),
]


@pytest.mark.parametrize("line_break", BREAKS, ids=["crlf", "lf", "cr", "nul"])
@pytest.mark.parametrize(
    "vector", [v[1] for v in INJECTION_VECTORS], ids=[v[0] for v in INJECTION_VECTORS]
)
def test_header_injection_is_refused(vector: Any, line_break: str) -> None:
    with pytest.raises(HeaderInjectionError) as caught:
        compose(**vector(line_break))
    assert isinstance(caught.value, ValueError)
    assert caught.value.hint


def test_encoded_word_that_decodes_to_a_line_break_is_refused() -> None:
    # email.utils.formataddr output is decoded; a CR LF hidden in it must not get through.
    with pytest.raises(HeaderInjectionError):
        compose(to="=?utf-8?b?RXZpbA0KQmNjOiB2QGV4YW1wbGUuY29t?= <you@example.com>")


@pytest.mark.parametrize("name", ["X Order", "X:Order", "Ärger", "", "X-Ünicode"])
def test_invalid_header_field_names(name: str) -> None:
    with pytest.raises(HeaderInjectionError, match="field name"):
        compose(headers={name: "1"})


@pytest.mark.parametrize(
    "address",
    [
        "a@",
        "@b.example",
        "a b@c.example",
        "plainaddress",
        "a@b@c.example",
        "a..b@example.com",
        ".a@example.com",
        "a.@example.com",
        "a@example..com",
        "a@example.com.",
        "a@-example.com",
        "a@exa_mple.com",
        "a@[192.0.2.1]",
        "<@route.example:a@example.com>",
        "Name <a@example.com",
        "Name a@example.com>",
        "Name <a@example.com> trailing",
        "<a@example.com> <b@example.com>",
        '"unterminated@example.com',
        "Re: x <a@example.com>",
        "x" * 65 + "@example.com",
        "a@" + ".".join(["label"] * 50) + ".com",
        "yamada＠example.jp",
        "a\u3000b@example.jp",
    ],
)
@pytest.mark.parametrize("field", ["to", "cc", "bcc", "reply_to", "from_", "to-list"])
def test_invalid_addresses(address: str, field: str) -> None:
    overrides = {"to": [address]} if field == "to-list" else {field: address}
    with pytest.raises(InvalidAddressError) as caught:
        compose(**overrides)
    assert repr(address)[1:21] in str(caught.value)  # named (repr shows invisible characters)
    assert caught.value.hint


def test_list_item_must_be_one_mailbox() -> None:
    with pytest.raises(InvalidAddressError, match="one address"):
        compose(to=["a@example.com, b@example.com"])
    with pytest.raises(InvalidAddressError, match="one address"):
        compose(from_="a@example.com, b@example.com")


def test_unquoted_comma_in_a_display_name_is_explained() -> None:
    with pytest.raises(InvalidAddressError) as caught:
        compose(to="Doe, John <john@example.com>")
    assert '"Doe, John"' in (caught.value.hint or "")


def test_full_width_at_sign_is_explained() -> None:
    with pytest.raises(InvalidAddressError) as caught:
        compose(to="yamada＠example.jp")
    assert "full-width" in (caught.value.hint or "")


def test_semicolon_separated_list_is_explained() -> None:
    with pytest.raises(InvalidAddressError, match="','"):
        compose(to="a@example.com; b@example.com")


@pytest.mark.parametrize("value", [42, b"a@example.com", [42]])
def test_address_of_the_wrong_type(value: Any) -> None:
    with pytest.raises(MessageError):
        compose(to=value)


def test_blocked_list_is_gmails() -> None:
    assert set(GMAIL_LIST.split()) == BLOCKED_EXTENSIONS


@pytest.mark.parametrize("extension", sorted(BLOCKED_EXTENSIONS))
def test_blocked_extensions(extension: str) -> None:
    with pytest.raises(BlockedAttachmentError, match=re.escape(f"file{extension}")):
        compose(attachments=[Attachment(b"x", f"file{extension}")])


@pytest.mark.parametrize(
    "filename",
    ["SETUP.EXE", "setup.Exe", "setup.exe.", "setup.exe ", "setup.exe. . ", "dir/run.bat"],
)
def test_blocked_extension_variants(filename: str) -> None:
    with pytest.raises(BlockedAttachmentError) as caught:
        compose(attachments=[Attachment(b"x", filename)])
    assert "link" in (caught.value.hint or "")


def test_blocked_file_given_as_a_path(tmp_path: Path) -> None:
    script = tmp_path / "install.ps1"
    script.write_text("Write-Host hi")
    with pytest.raises(BlockedAttachmentError, match=r"install\.ps1"):
        compose(attachments=[script])


@pytest.mark.parametrize(
    "filename", ["report.pdf", "setup.exe.txt", "notes.js.md", "exe", "photo.jpeg", "archive.zip"]
)
def test_allowed_names(filename: str) -> None:
    compose(attachments=[Attachment(b"not really", filename)])


def test_blocked_file_inside_a_zip() -> None:
    archive = zip_bytes({"photos/holiday.jpg": b"jpeg", "photos/viewer.EXE": b"MZ"})
    with pytest.raises(BlockedAttachmentError, match=r"viewer\.EXE") as caught:
        compose(attachments=[Attachment(archive, "photos.zip")])
    assert "photos.zip" in str(caught.value)
    assert "archives" in (caught.value.hint or "")


def test_blocked_file_inside_a_nested_zip() -> None:
    inner = zip_bytes({"run.js": b"alert(1)"})
    outer = zip_bytes({"readme.txt": b"hi", "inner.zip": inner})
    with pytest.raises(BlockedAttachmentError, match=r"run\.js"):
        compose(attachments=[Attachment(outer, "bundle.zip")])


def test_zip_recognized_by_content_type() -> None:
    archive = zip_bytes({"macro.vbs": b"x"})
    with pytest.raises(BlockedAttachmentError, match=r"macro\.vbs"):
        compose(attachments=[Attachment(archive, "download", content_type="application/zip")])


def test_clean_zip_and_corrupt_zip_are_accepted() -> None:
    clean = zip_bytes({"a.txt": b"a", "b/c.pdf": b"c"})
    corrupt = b"PK\x03\x04 this is not really a zip"
    outgoing = compose(
        attachments=[Attachment(clean, "clean.zip"), Attachment(corrupt, "corrupt.zip")]
    )
    assert len(outgoing.data) > len(clean)


def test_zip_read_from_a_path(tmp_path: Path) -> None:
    archive = tmp_path / "photos.zip"
    archive.write_bytes(zip_bytes({"holiday.jpg": b"jpeg", "viewer.exe": b"MZ"}))
    with pytest.raises(BlockedAttachmentError, match=r"viewer\.exe"):
        compose(attachments=[archive])


@pytest.mark.parametrize(
    "data",
    ["text, not bytes", 42, None, ["list"]],
)
def test_attachment_data_must_be_bytes_or_a_binary_file(data: Any) -> None:
    with pytest.raises(MessageError, match=r"a\.bin"):
        compose(attachments=[Attachment(data, "a.bin")])


def test_text_mode_file_object_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("hello")
    with path.open("r") as handle, pytest.raises(MessageError) as caught:
        compose(attachments=[Attachment(handle, "a.txt")])  # type: ignore[arg-type]
    assert "'rb'" in (caught.value.hint or "")


def test_closed_file_object_is_refused(tmp_path: Path) -> None:
    handle = io.BytesIO(b"x")
    handle.close()
    with pytest.raises(MessageError, match="could not be read"):
        compose(attachments=[Attachment(handle, "a.bin")])


@pytest.mark.parametrize("item", [42, b"raw bytes", None])
def test_attachment_items_of_the_wrong_type(item: Any) -> None:
    with pytest.raises(MessageError):
        compose(attachments=[item])


def test_attachments_must_be_a_list() -> None:
    with pytest.raises(MessageError, match="list"):
        compose(attachments=Attachment(b"x", "a.txt"))
    with pytest.raises(MessageError, match="list"):
        compose(attachments="report.pdf")


@pytest.mark.parametrize("filename", ["", "   "])
def test_attachment_needs_a_filename(filename: str) -> None:
    with pytest.raises(MessageError, match="filename"):
        compose(attachments=[Attachment(b"x", filename)])


@pytest.mark.parametrize(
    "content_type", ["pdf", "application/", "/pdf", "a b/c", "multipart/mixed", "text/csv; x"]
)
def test_malformed_content_types(content_type: str) -> None:
    with pytest.raises(MessageError, match="content_type"):
        compose(attachments=[Attachment(b"x", "a.bin", content_type=content_type)])


@pytest.mark.parametrize("content_id", ["has space", "ロゴ", "a<b", ""])
def test_malformed_content_ids(content_id: str) -> None:
    with pytest.raises(MessageError, match="content_id"):
        compose(
            html="<img>",
            attachments=[Attachment(b"x", "a.png", inline=True, content_id=content_id)],
        )


@pytest.mark.parametrize(
    ("field", "value"), [("subject", None), ("subject", 1), ("text", b"bytes"), ("html", 3)]
)
def test_body_and_subject_types(field: str, value: Any) -> None:
    with pytest.raises(MessageError, match=field):
        compose(**{field: value})


def test_headers_must_be_a_mapping_of_strings() -> None:
    with pytest.raises(MessageError, match="mapping"):
        compose(headers=[("X-A", "1")])
    with pytest.raises(MessageError, match="strings"):
        compose(headers={"X-A": 1})


def test_date_must_be_a_datetime() -> None:
    with pytest.raises(MessageError, match="datetime"):
        compose(date="2024-01-01")


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Note": "=?utf-8?b?DQpCY2M6IGV2aWxAeA==?="},
        {"X-Note": "=?UTF-8?Q?hello=0D=0ABcc:_evil@x?="},
        {"List-Unsubscribe": "<https://x.example/u>, =?utf-8?q?=0ABcc:_evil@x?="},
        {"X-Note": "=?iso-8859-1?b?AA==?="},
    ],
)
def test_encoded_words_that_decode_to_a_line_break_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(HeaderInjectionError, match="encoded word"):
        compose(headers=headers)


def test_encoded_words_in_a_ready_message_are_checked_too() -> None:
    legacy = Message()  # the legacy API keeps header values as the raw strings given
    legacy["From"] = "me@gmail.com"
    legacy["To"] = "you@example.com"
    legacy["X-Note"] = "=?utf-8?b?DQpCY2M6IGV2aWxAeA==?="
    legacy.set_payload("hi")
    with pytest.raises(HeaderInjectionError, match="encoded word"):
        prepare_message(legacy, account="me@gmail.com")
    modern = EmailMessage()  # decodes on assignment: the line break is seen as such
    modern["From"] = "me@gmail.com"
    modern["To"] = "you@example.com"
    modern["X-Note"] = "=?utf-8?b?DQpCY2M6IGV2aWxAeA==?="
    with pytest.raises(HeaderInjectionError):
        prepare_message(modern, account="me@gmail.com")


def test_harmless_encoded_words_pass() -> None:
    outgoing = compose(headers={"X-Note": "=?utf-8?b?aGVsbG8gd29ybGQ=?="})
    assert b"X-Note: =?utf-8?b?aGVsbG8gd29ybGQ=?=" in outgoing.data


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: Attachment(b"x", "a.txt", content_type=5), "content_type must be a string"),
        (lambda: Attachment(b"x", "a.txt", content_id=5), "content_id must be a string"),
        (lambda: Attachment(b"x", "a.txt", inline="yes"), "inline must be True or False"),
        (lambda: Attachment(5, "a.txt"), "data must be bytes or a binary file object"),
        (lambda: Attachment(b"x", None), "filename must be a string"),
        (lambda: compose(message_id=5), "message_id must be a string"),
        (lambda: compose(attachments=None), "attachments must be a list"),
        (lambda: compose(attachments=5), "attachments must be a list"),
    ],
)
def test_wrong_types_in_message_fields_are_message_errors(make: Any, words: str) -> None:
    """The rule: a wrong type or value in a message field is a MessageError (a ValueError)."""
    with pytest.raises(MessageError, match=words):
        make()
