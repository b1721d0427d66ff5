"""prepare_message: ready messages (legacy Message, email.mime, EmailMessage) are copied, never
modified, validated like composed ones, and get their envelope from their headers."""

from __future__ import annotations

import email
import email.charset
import email.policy
import io
import zipfile
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

import pytest

from gmail_send.errors import (
    BlockedAttachmentError,
    HeaderInjectionError,
    InvalidAddressError,
    MessageError,
    NoRecipientsError,
    TooManyRecipientsError,
)
from gmail_send.message import OutgoingMessage, prepare_message

from .compose_helpers import assert_wire_format, header_section, parse, raw_header, text_of

ACCOUNT = "me@gmail.com"


def prepare(message: Message, **kwargs: Any) -> OutgoingMessage:
    kwargs.setdefault("account", ACCOUNT)
    outgoing = prepare_message(message, **kwargs)
    assert_wire_format(outgoing.data)
    assert b"\r\nbcc:" not in header_section(outgoing.data).lower()
    return outgoing


def snapshot(message: Message) -> tuple[list[Any], list[int], Any]:
    """The header list, the identity of each header object, and the payload object."""
    items = list(message.raw_items())
    return items, [id(value) for _, value in items], message.get_payload()


def legacy_message() -> Message:
    message = Message()
    message["From"] = "Shop <shop@example.com>"
    message["To"] = "Alice <alice@example.com>, bob@example.com"
    message["Cc"] = "carol@example.com"
    message["Bcc"] = "Hidden <hidden@example.com>, ALICE@example.com"
    message["Subject"] = "Order 42"
    message.set_payload("Thank you.\n")
    return message


def test_legacy_message_is_copied_and_never_modified() -> None:
    message = legacy_message()
    before_bytes = message.as_bytes()
    before = snapshot(message)
    outgoing = prepare(message)
    assert message.as_bytes() == before_bytes
    items, ids, payload = snapshot(message)
    assert items == before[0]
    assert ids == before[1]
    assert payload is before[2]
    assert "Bcc" in message  # still there in the caller's object
    assert "Message-ID" not in message
    assert "Date" not in message
    assert outgoing.message is not message


def test_envelope_from_headers() -> None:
    outgoing = prepare(legacy_message())
    assert outgoing.sender == "shop@example.com"
    assert outgoing.recipients == (
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
        "hidden@example.com",
    )
    assert b"hidden" not in outgoing.data.lower()
    parsed = parse(outgoing.data)
    assert parsed["Subject"] == "Order 42"
    assert parsed["Message-ID"] == outgoing.message_id
    assert outgoing.message_id.endswith("@example.com>")
    assert parsed["Date"].datetime.tzinfo is not None
    assert text_of(parsed) == "Thank you.\n"


def test_sender_header_wins_over_from() -> None:
    message = legacy_message()
    message["Sender"] = "Robot <robot@example.com>"
    assert prepare(message).sender == "robot@example.com"


def test_overrides() -> None:
    outgoing = prepare(
        legacy_message(), sender="Bounce <bounce@example.com>", recipients=["only@example.com"]
    )
    assert outgoing.sender == "bounce@example.com"
    assert outgoing.recipients == ("only@example.com",)
    assert b"hidden@example.com" not in outgoing.data
    listed = prepare(legacy_message(), recipients="x@example.com, Y <y@example.com>")
    assert listed.recipients == ("x@example.com", "y@example.com")


def test_account_is_the_sender_of_last_resort_and_becomes_from() -> None:
    message = Message()
    message["To"] = "a@example.com"
    message.set_payload("x")
    outgoing = prepare(message)
    assert outgoing.sender == ACCOUNT
    assert parse(outgoing.data)["From"] == ACCOUNT
    assert "From" not in message
    with pytest.raises(InvalidAddressError, match="no sender"):
        prepare(message, account=None)


def test_existing_message_id_and_date_are_kept() -> None:
    message = legacy_message()
    message["Message-ID"] = "<keep-me@example.com>"
    message["Date"] = "Mon, 01 Apr 2024 09:30:00 +0900"
    outgoing = prepare(message)
    assert outgoing.message_id == "<keep-me@example.com>"
    assert raw_header(outgoing.data, "Date") == "Mon, 01 Apr 2024 09:30:00 +0900"


def test_resent_block_is_used_for_the_envelope() -> None:
    message = legacy_message()
    message["Resent-Date"] = "Mon, 01 Apr 2024 09:30:00 +0900"
    message["Resent-From"] = "forwarder@example.com"
    message["Resent-To"] = "new@example.com"
    message["Resent-Bcc"] = "quiet@example.com"
    outgoing = prepare(message)
    assert outgoing.sender == "forwarder@example.com"
    assert outgoing.recipients == ("new@example.com", "quiet@example.com")
    assert b"quiet@example.com" not in outgoing.data
    assert b"alice@example.com" in outgoing.data  # the original To header stays
    message["Resent-Date"] = "Tue, 02 Apr 2024 09:30:00 +0900"
    with pytest.raises(MessageError, match="more than one Resent-"):
        prepare(message)


def test_email_mime_objects_are_not_modified() -> None:
    message = MIMEMultipart()
    message["From"] = "me@gmail.com"
    message["To"] = "x@example.com"
    message["Subject"] = Header("請求書", "utf-8")  # type: ignore[assignment]
    message.attach(MIMEText("本文です", "plain", "utf-8"))
    message.attach(MIMEApplication(b"%PDF", Name="invoice.pdf"))
    assert message.get_boundary() is None
    before = snapshot(message)
    outgoing = prepare(message)
    # Flattening would have set a boundary on the caller's object: it was done on a copy.
    assert message.get_boundary() is None
    assert snapshot(message)[1] == before[1]
    parsed = parse(outgoing.data)
    assert parsed["Subject"] == "請求書"
    plain, pdf = parsed.iter_parts()
    assert text_of(plain) == "本文です"
    assert pdf.get_content() == b"%PDF"


def test_email_message_is_copied() -> None:
    message = EmailMessage()
    message["From"] = "Me <me@gmail.com>"
    message["To"] = "a@example.com"
    message["Bcc"] = "b@example.com"
    message["Subject"] = "日本語の件名"
    message.set_content("本文")
    message.add_attachment(b"data", maintype="application", subtype="pdf", filename="納品書.pdf")
    before_bytes = message.as_bytes()
    before = snapshot(message)
    outgoing = prepare(message)
    assert message.as_bytes() == before_bytes
    assert snapshot(message)[1] == before[1]
    assert message["Bcc"] == "b@example.com"
    assert outgoing.recipients == ("a@example.com", "b@example.com")
    parsed = parse(outgoing.data)
    assert parsed["Subject"] == "日本語の件名"
    (attachment,) = parsed.iter_attachments()
    assert attachment.get_filename() == "納品書.pdf"


def test_eight_bit_bodies_are_reencoded() -> None:
    # Django sends UTF-8 bodies as 8bit; the copy is made 7-bit so no 8BITMIME is needed.
    charset = email.charset.Charset("utf-8")
    charset.body_encoding = None  # type: ignore[assignment]
    message = MIMEText("こんにちは、世界。\n" * 3, "plain", charset)  # type: ignore[arg-type]
    message["From"] = "me@gmail.com"
    message["To"] = "a@example.com"
    assert message["Content-Transfer-Encoding"] == "8bit"
    outgoing = prepare(message)
    assert outgoing.data.isascii()
    assert not outgoing.smtputf8
    parsed = parse(outgoing.data)
    assert parsed["Content-Transfer-Encoding"] == "base64"
    assert text_of(parsed) == "こんにちは、世界。\n" * 3
    assert message["Content-Transfer-Encoding"] == "8bit"


def test_over_long_lines_are_reencoded() -> None:
    message = EmailMessage()
    message["From"] = "me@gmail.com"
    message["To"] = "a@example.com"
    message.set_content("x" * 5000 + "\n", cte="7bit")
    outgoing = prepare(message)
    parsed = parse(outgoing.data)
    assert parsed["Content-Transfer-Encoding"] == "base64"
    assert text_of(parsed) == "x" * 5000 + "\n"


def test_raw_utf8_headers_need_smtputf8() -> None:
    raw = "From: me@gmail.com\r\nTo: a@example.com\r\nSubject: 生の UTF-8\r\n\r\nbody\r\n"
    message = email.message_from_bytes(raw.encode(), policy=email.policy.default)
    outgoing = prepare(message)
    # Python's email package keeps such a header raw on some versions and re-encodes it as
    # RFC 2047 on others (3.13); either way the flag must match the bytes and nothing is lost.
    assert outgoing.smtputf8 == (not outgoing.data.isascii())
    assert parse(outgoing.data)["Subject"] == "生の UTF-8"


def test_utf8_address_in_headers() -> None:
    raw = "From: me@gmail.com\r\nTo: Jürgen <jürgen@example.de>\r\n\r\nbody\r\n"
    message = email.message_from_bytes(raw.encode(), policy=email.policy.default)
    outgoing = prepare(message)
    assert outgoing.recipients == ("jürgen@example.de",)
    assert outgoing.smtputf8


def test_groups_are_flattened_and_empty_groups_allowed() -> None:
    message = Message()
    message["From"] = "me@gmail.com"
    message["To"] = "undisclosed-recipients:;"
    message["Cc"] = "Team: a@example.com, B <b@example.com>;"
    message["Bcc"] = "c@example.com"
    outgoing = prepare(message)
    assert outgoing.recipients == ("a@example.com", "b@example.com", "c@example.com")


def test_folded_legacy_headers_are_accepted() -> None:
    raw = (
        b"From: me@gmail.com\r\nTo: a@example.com,\r\n b@example.com\r\n"
        b"Subject: a folded\r\n\tsubject\r\n\r\nbody\r\n"
    )
    message = email.message_from_bytes(raw)  # compat32 keeps the folding in the values
    outgoing = prepare(message)
    assert outgoing.recipients == ("a@example.com", "b@example.com")
    assert parse(outgoing.data)["Subject"] == "a folded\tsubject"


@pytest.mark.parametrize(
    "value",
    ["a\r\nBcc: evil@example.com", "a\nBcc: evil@example.com", "a\rX: y", "a\r\n\r\nbody", "a\n"],
)
def test_legacy_header_with_line_break_is_refused(value: str) -> None:
    message = legacy_message()
    message["X-Custom"] = value
    with pytest.raises(HeaderInjectionError):
        prepare(message)


@pytest.mark.parametrize("value", ["a\x00b", "a\x0bBcc: evil@example.com", "a\x0cX: y", "a\u2028b"])
def test_other_line_boundaries_and_nul_are_refused(value: str) -> None:
    message = legacy_message()
    message["Subject"] = value
    with pytest.raises(HeaderInjectionError):
        prepare(message)


def test_encoded_word_that_decodes_to_a_line_break_is_refused() -> None:
    # Some Python versions write the decoded CR LF of this subject back out as a raw line break.
    message = EmailMessage()
    message["From"] = "me@gmail.com"
    message["To"] = "a@example.com"
    message["Subject"] = "=?utf-8?b?aGkNCkJjYzogZXZpbEBleGFtcGxlLmNvbQ==?="
    message.set_content("x")
    with pytest.raises(HeaderInjectionError):
        prepare(message)


def test_header_object_with_a_line_break_is_refused() -> None:
    message = legacy_message()
    message["X-Note"] = Header("a\r\nBcc: evil@example.com")  # type: ignore[assignment]
    with pytest.raises(HeaderInjectionError):
        prepare(message)


def test_injection_in_a_subpart_header_is_refused() -> None:
    message = MIMEMultipart()
    message["From"] = "me@gmail.com"
    message["To"] = "a@example.com"
    part = MIMEText("x")
    part["X-Part"] = "a\r\nContent-Type: text/html"
    message.attach(part)
    with pytest.raises(HeaderInjectionError):
        prepare(message)


@pytest.mark.parametrize("name", ["Bad Name", "X\r\nBcc", "Ünicode"])
def test_invalid_header_names_are_refused(name: str) -> None:
    message = legacy_message()
    message[name] = "x"
    with pytest.raises(HeaderInjectionError):
        prepare(message)


def test_invalid_address_in_a_header() -> None:
    message = legacy_message()
    message.replace_header("To", "not an address")
    with pytest.raises(InvalidAddressError, match="not an address"):
        prepare(message)
    message.replace_header("To", "a@")
    with pytest.raises(InvalidAddressError):
        prepare(message)


def test_invalid_override_addresses() -> None:
    with pytest.raises(InvalidAddressError):
        prepare(legacy_message(), sender="not an address")
    with pytest.raises(InvalidAddressError):
        prepare(legacy_message(), recipients=["a@example.com", "b@"])


def test_no_recipients_and_too_many() -> None:
    message = Message()
    message["From"] = "me@gmail.com"
    message.set_payload("x")
    with pytest.raises(NoRecipientsError):
        prepare(message)
    message["To"] = ", ".join(f"r{n}@example.com" for n in range(101))
    with pytest.raises(TooManyRecipientsError):
        prepare(message)


def test_blocked_attachment_in_a_ready_message() -> None:
    message = legacy_message_with_attachment("setup.exe", b"MZ")
    with pytest.raises(BlockedAttachmentError, match=r"setup\.exe"):
        prepare(message)


def test_blocked_file_inside_a_zip_in_a_ready_message() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("run.bat", b"@echo off")
    message = legacy_message_with_attachment("tools.zip", buffer.getvalue())
    with pytest.raises(BlockedAttachmentError, match=r"run\.bat"):
        prepare(message)


def legacy_message_with_attachment(filename: str, data: bytes) -> MIMEMultipart:
    message = MIMEMultipart()
    message["From"] = "me@gmail.com"
    message["To"] = "a@example.com"
    message.attach(MIMEText("see attachment"))
    attachment = MIMEApplication(data)
    attachment.add_header("Content-Disposition", "attachment", filename=filename)
    message.attach(attachment)
    return message


def test_unserializable_message_is_a_message_error() -> None:
    message = Message()
    message["To"] = "a@example.com"
    message.set_payload("日本語 without a charset")
    with pytest.raises(MessageError, match="cannot be serialized"):
        prepare(message)


@pytest.mark.parametrize("value", ["From: a@b\r\n\r\nx", b"bytes", None, {"To": "a@b.c"}])
def test_only_message_objects_are_accepted(value: Any) -> None:
    with pytest.raises(MessageError, match=r"email\.message\.Message"):
        prepare_message(value, account=ACCOUNT)


def test_prepared_and_composed_messages_have_the_same_wire_rules() -> None:
    message = EmailMessage()
    message["From"] = "me@gmail.com"
    message["To"] = "a@example.com"
    message.set_content("line\n" * 10)
    outgoing = prepare(message)
    assert outgoing.data.endswith(b"\r\n")
    assert outgoing.message.policy.linesep == "\r\n"
    assert bytes(outgoing.message) == outgoing.data


def test_what_the_gmail_api_needs_beside_the_bytes() -> None:
    message = EmailMessage()
    message["To"] = "a@example.com"
    message["Cc"] = "b@example.com"
    message["Bcc"] = "c@example.com"
    message.set_content("x")
    plain = prepare(message, thread_id="18c0ffee")
    assert plain.bcc == ("c@example.com",) and plain.envelope_from_headers
    assert plain.thread_id == "18c0ffee"
    # An envelope that adds recipients: they are blind copies over the API too.
    wider = prepare(message, recipients=["a@example.com", "b@example.com", "z@example.com"])
    assert wider.bcc == ("z@example.com",) and wider.envelope_from_headers
    # An envelope that leaves out a To or Cc address cannot be said in headers.
    narrower = prepare(message, recipients=["a@example.com"])
    assert not narrower.envelope_from_headers
    with pytest.raises(MessageError, match="thread id"):
        prepare(message, thread_id="a b")


def test_a_resent_envelope_is_not_the_headers() -> None:
    message = EmailMessage()
    message["To"] = "a@example.com"
    message["Resent-Date"] = "Mon, 1 Jan 2024 00:00:00 +0000"
    message["Resent-To"] = "b@example.com"
    message.set_content("x")
    outgoing = prepare(message)
    assert outgoing.recipients == ("b@example.com",)
    assert not outgoing.envelope_from_headers
