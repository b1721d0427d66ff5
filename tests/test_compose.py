"""compose_message: MIME structure, envelope, headers, attachments and limits, read back with the
`email` package."""

from __future__ import annotations

import email.utils
import io
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gmail_send.errors import (
    InvalidAddressError,
    MessageError,
    MessageTooLargeError,
    NoRecipientsError,
    TooManyRecipientsError,
)
from gmail_send.message import (
    MAX_MESSAGE_SIZE,
    MAX_RECIPIENTS,
    Attachment,
    OutgoingMessage,
    compose_message,
)

from .compose_helpers import (
    assert_wire_format,
    children,
    header_section,
    parse,
    parse_utf8,
    raw_header,
    text_of,
)

ACCOUNT = "me@gmail.com"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def compose(**kwargs: object) -> OutgoingMessage:
    kwargs.setdefault("account", ACCOUNT)
    kwargs.setdefault("to", "you@example.com")
    outgoing = compose_message(**kwargs)  # type: ignore[arg-type]
    assert_wire_format(outgoing.data)
    return outgoing


def test_text_only_is_text_plain() -> None:
    message = parse(compose(subject="Hello", text="Hi there.\n").data)
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message["Content-Transfer-Encoding"] == "7bit"
    assert text_of(message) == "Hi there.\n"
    assert message["MIME-Version"] == "1.0"


def test_html_only_is_text_html() -> None:
    message = parse(compose(html="<p>Hi</p>").data)
    assert message.get_content_type() == "text/html"
    assert text_of(message) == "<p>Hi</p>\n"


def test_text_and_html_make_alternative_text_first() -> None:
    message = parse(compose(text="plain", html="<b>rich</b>").data)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]


def test_no_body_sends_an_empty_text_part_and_an_empty_subject() -> None:
    outgoing = compose()
    message = parse(outgoing.data)
    assert message.get_content_type() == "text/plain"
    assert message.get_content().strip() == ""
    assert message["Subject"] == ""  # present, so filters do not flag a missing Subject


def test_full_structure_with_inline_image_and_attachment() -> None:
    outgoing = compose(
        subject="Report",
        text="See the report.",
        html='<p>Logo: <img src="cid:logo@example.com"></p>',
        attachments=[
            Attachment(b"%PDF-1.4 report", "report.pdf"),
            Attachment(PNG, "logo.png", inline=True, content_id="logo@example.com"),
        ],
    )
    message = parse(outgoing.data)
    assert message.get_content_type() == "multipart/mixed"
    body, pdf = children(message)
    assert body.get_content_type() == "multipart/alternative"
    plain, related = children(body)
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html, image = children(related)
    assert html.get_content_type() == "text/html"
    assert "cid:logo@example.com" in html.get_content()
    assert image.get_content_type() == "image/png"
    assert image["Content-ID"] == "<logo@example.com>"
    assert image.get_content_disposition() == "inline"
    assert image.get_filename() == "logo.png"
    assert image.get_content() == PNG
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_content_disposition() == "attachment"
    assert pdf.get_filename() == "report.pdf"
    assert pdf.get_content() == b"%PDF-1.4 report"
    # The body finder of a mail program sees the right parts.
    assert message.get_body(("html",)) is not None
    assert [a.get_filename() for a in message.iter_attachments()] == ["report.pdf"]


def test_angle_brackets_around_content_id_are_accepted() -> None:
    outgoing = compose(
        html='<img src="cid:chart">',
        attachments=[Attachment(PNG, "chart.png", inline=True, content_id="<chart>")],
    )
    image = list(parse(outgoing.data).walk())[-1]
    assert image["Content-ID"] == "<chart>"


def test_inline_image_without_html_is_an_inline_part_of_mixed() -> None:
    outgoing = compose(
        text="no html", attachments=[Attachment(PNG, "a.png", inline=True, content_id="a")]
    )
    message = parse(outgoing.data)
    assert message.get_content_type() == "multipart/mixed"
    image = children(message)[1]
    assert image.get_content_disposition() == "inline"
    assert image["Content-ID"] == "<a>"


def test_attachment_sources(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"from a path\n")
    other = tmp_path / "data.csv"
    other.write_bytes(b"a,b\n")
    outgoing = compose(
        text="files",
        attachments=[
            path,
            str(other),
            Attachment(io.BytesIO(b"from a file object"), "stream.bin"),
            Attachment(bytearray(b"from a bytearray"), "array.bin"),
            Attachment(memoryview(b"from a memoryview"), "view.bin"),
            Attachment.from_path(path, filename="renamed.txt"),
        ],
    )
    attachments = {a.get_filename(): a for a in parse(outgoing.data).iter_attachments()}
    assert attachments["notes.txt"].get_content() == "from a path\n"
    assert attachments["notes.txt"].get_content_type() == "text/plain"
    assert attachments["data.csv"].get_content_type() == "text/csv"
    assert attachments["stream.bin"].get_content() == b"from a file object"
    assert attachments["array.bin"].get_content() == b"from a bytearray"
    assert attachments["view.bin"].get_content() == b"from a memoryview"
    assert attachments["renamed.txt"].get_content() == "from a path\n"


def test_binary_attachment_bytes_are_exact() -> None:
    data = bytes(range(256)) * 100 + b"\r\n.\r\n\x00"
    outgoing = compose(attachments=[Attachment(data, "blob.dat")])
    (attachment,) = parse(outgoing.data).iter_attachments()
    assert attachment.get_content() == data


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("report.pdf", "application/pdf"),
        ("photo.JPG", "image/jpeg"),
        ("no-extension", "application/octet-stream"),
        ("weird.unknownext", "application/octet-stream"),
        ("archive.tar.gz", "application/gzip"),
    ],
)
def test_content_type_is_guessed_from_the_filename(filename: str, content_type: str) -> None:
    outgoing = compose(attachments=[Attachment(b"x", filename)])
    (attachment,) = parse(outgoing.data).iter_attachments()
    assert attachment.get_content_type() == content_type


def test_explicit_content_type_with_parameters() -> None:
    outgoing = compose(
        attachments=[Attachment(b"a;b\n", "x.dat", content_type="text/csv; charset=utf-8")]
    )
    (attachment,) = parse(outgoing.data).iter_attachments()
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_param("charset") == "utf-8"


def test_eml_attachment_is_embedded_as_message_rfc822() -> None:
    inner = b"From: a@example.com\r\nSubject: inner\r\n\r\nhello\r\n"
    outgoing = compose(attachments=[Attachment(inner, "forwarded.eml")])
    (attachment,) = parse(outgoing.data).iter_attachments()
    assert attachment.get_content_type() == "message/rfc822"
    assert attachment.get_content()["Subject"] == "inner"


def test_eml_attachment_with_8bit_content_is_sent_as_octet_stream() -> None:
    inner = "From: a@example.com\r\nSubject: x\r\n\r\nこんにちは\r\n".encode()
    outgoing = compose(attachments=[Attachment(inner, "forwarded.eml")])
    (attachment,) = parse(outgoing.data).iter_attachments()
    assert attachment.get_content_type() == "application/octet-stream"
    assert attachment.get_content() == inner
    assert outgoing.data.isascii()


def test_missing_file_fails_with_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "invoice.pdf"
    with pytest.raises(MessageError, match=r"invoice\.pdf") as caught:
        compose(attachments=[missing])
    assert "not found" in str(caught.value)


def test_directory_as_attachment_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MessageError, match="cannot be read"):
        compose(attachments=[tmp_path])


def test_reprs_do_not_dump_bytes() -> None:
    attachment = Attachment(b"secret-ish content" * 1000, "a.bin", content_type="x/y")
    text = repr(attachment)
    assert "secret-ish" not in text
    assert "18,000 bytes" in text
    assert "a.bin" in text
    assert "BytesIO" in repr(Attachment(io.BytesIO(b"abc"), "s.bin"))
    outgoing = compose(text="body text")
    assert "body text" not in repr(outgoing)
    assert outgoing.message_id in repr(outgoing)


def test_envelope_bare_addresses_dedup_and_bcc() -> None:
    outgoing = compose(
        from_="Shop <shop@example.com>",
        to=["Alice <alice@example.com>", "bob@example.com"],
        cc="Carol <carol@example.com>, ALICE@example.com",
        bcc=["Hidden Person <hidden@example.com>", "Bob@Example.com"],
    )
    assert outgoing.sender == "shop@example.com"
    assert outgoing.recipients == (
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
        "hidden@example.com",
    )
    assert b"hidden" not in outgoing.data.lower()
    assert b"bcc" not in header_section(outgoing.data).lower()
    assert "Bcc" not in outgoing.message
    message = parse(outgoing.data)
    assert [a.addr_spec for a in message["To"].addresses] == [
        "alice@example.com",
        "bob@example.com",
    ]
    assert message["To"].addresses[0].display_name == "Alice"
    assert [a.addr_spec for a in message["Cc"].addresses] == [
        "carol@example.com",
        "ALICE@example.com",
    ]
    assert message["From"].addresses[0].display_name == "Shop"
    assert not outgoing.smtputf8


def test_bcc_only_message_has_no_to_header() -> None:
    outgoing = compose_message(account=ACCOUNT, bcc="secret@example.com", text="x")
    assert outgoing.recipients == ("secret@example.com",)
    assert raw_header(outgoing.data, "To") is None
    assert b"secret@example.com" not in outgoing.data


def test_from_defaults_to_the_account_and_can_be_an_alias() -> None:
    assert parse(compose().data)["From"] == ACCOUNT
    assert compose().sender == ACCOUNT
    alias = compose(from_="shop@example.com")
    assert alias.sender == "shop@example.com"
    assert parse(alias.data)["From"] == "shop@example.com"


def test_relay_without_account_needs_from() -> None:
    outgoing = compose(account=None, from_="app@corp.example")
    assert outgoing.sender == "app@corp.example"
    with pytest.raises(InvalidAddressError, match="no sender"):
        compose(account=None)


def test_reply_to_header() -> None:
    outgoing = compose(reply_to=["Support <support@example.com>", "b@example.com"])
    message = parse(outgoing.data)
    assert [a.addr_spec for a in message["Reply-To"].addresses] == [
        "support@example.com",
        "b@example.com",
    ]
    assert "support@example.com" not in outgoing.recipients


def test_message_id_uses_the_sender_domain() -> None:
    outgoing = compose(from_="shop@store.example")
    assert outgoing.message_id.startswith("<")
    assert outgoing.message_id.endswith("@store.example>")
    assert parse(outgoing.data)["Message-ID"] == outgoing.message_id
    assert compose().message_id.endswith("@gmail.com>")
    assert compose().message_id != compose().message_id


def test_message_id_of_an_internationalized_domain_is_ascii() -> None:
    outgoing = compose(from_="info@例え.jp")
    assert outgoing.message_id.endswith("@xn--r8jz45g.jp>")


def test_given_message_id_is_used_with_angle_brackets() -> None:
    assert compose(message_id="<order-42@shop.example>").message_id == "<order-42@shop.example>"
    assert compose(message_id="order-42@shop.example").message_id == "<order-42@shop.example>"
    for bad in ("no-at-sign", "<a b@c>", "<x@y>>", "<日本@example.com>"):
        with pytest.raises(MessageError, match="message_id"):
            compose(message_id=bad)


def test_date_defaults_to_now_with_a_time_zone() -> None:
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    date = parse(compose().data)["Date"].datetime
    assert date.tzinfo is not None
    assert before <= date <= datetime.now(timezone.utc) + timedelta(seconds=5)


def test_given_date_is_used() -> None:
    tokyo = timezone(timedelta(hours=9))
    given = datetime(2024, 4, 1, 9, 30, tzinfo=tokyo)
    outgoing = compose(date=given)
    assert raw_header(outgoing.data, "Date") == "Mon, 01 Apr 2024 09:30:00 +0900"
    naive = datetime(2024, 4, 1, 9, 30)
    parsed = parse(compose(date=naive).data)["Date"].datetime
    assert parsed == naive.astimezone()


def test_extra_headers() -> None:
    references = " ".join(f"<id-{n}@example.com>" for n in range(40))
    outgoing = compose(
        headers={
            "X-Order": "42",
            "List-Unsubscribe": "<mailto:unsub@example.com?subject=unsubscribe>",
            "References": references,
            "X-Note": "ご注文ありがとうございます",
        }
    )
    message = parse(outgoing.data)
    assert message["X-Order"] == "42"
    assert message["List-Unsubscribe"] == "<mailto:unsub@example.com?subject=unsubscribe>"
    assert message["References"] == references
    assert message["X-Note"] == "ご注文ありがとうございます"
    assert raw_header(outgoing.data, "X-Order") == "42"
    assert outgoing.data.isascii()


@pytest.mark.parametrize(
    "name",
    [
        "Content-Type",
        "content-type",
        "MIME-Version",
        "Content-Transfer-Encoding",
        "Content-Disposition",
        "Bcc",
        "BCC",
        "From",
        "To",
        "Cc",
        "Reply-To",
        "Subject",
        "Message-ID",
        "Date",
    ],
)
def test_extra_headers_cannot_override_owned_ones(name: str) -> None:
    with pytest.raises(MessageError, match=name):
        compose(headers={name: "x"})


def test_extra_header_without_spaces_too_long_for_a_line() -> None:
    with pytest.raises(MessageError, match="too long"):
        compose(headers={"X-Token": "a" * 1000})


def test_comma_separated_string_and_sequence_forms() -> None:
    one = compose(to="a@example.com, B <b@example.com>")
    two = compose(to=["a@example.com", "B <b@example.com>"])
    assert one.recipients == two.recipients == ("a@example.com", "b@example.com")
    tuple_form = compose(to=("a@example.com",))
    assert tuple_form.recipients == ("a@example.com",)


def test_bodies_are_seven_bit_with_suitable_encodings() -> None:
    long_ascii = "word " * 100
    outgoing = compose(text=long_ascii, html="<p>naïve café</p>")
    message = parse(outgoing.data)
    plain, html = children(message)
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"
    assert text_of(plain) == long_ascii + "\n"
    assert html["Content-Transfer-Encoding"] in ("quoted-printable", "base64")
    assert text_of(html) == "<p>naïve café</p>\n"
    assert outgoing.data.isascii()
    assert max(len(line) for line in outgoing.data.split(b"\r\n")) <= 78


def test_nul_in_a_body_is_base64() -> None:
    outgoing = compose(text="a\x00b")
    message = parse(outgoing.data)
    assert message["Content-Transfer-Encoding"] == "base64"
    assert text_of(message) == "a\x00b\n"


def test_line_endings_in_the_body_become_crlf() -> None:
    outgoing = compose(text="one\ntwo\r\nthree\rfour\n.\n")
    assert b"one\r\ntwo\r\nthree\r\nfour\r\n.\r\n" in outgoing.data
    assert text_of(parse(outgoing.data)) == "one\ntwo\nthree\nfour\n.\n"


def test_non_ascii_local_part_needs_smtputf8() -> None:
    outgoing = compose(to="Jürgen <jürgen@example.de>", from_="ventas@example.es")
    assert outgoing.smtputf8
    assert outgoing.recipients == ("jürgen@example.de",)
    assert "jürgen@example.de".encode() in outgoing.data
    message = parse_utf8(outgoing.data)
    assert message["To"].addresses[0].addr_spec == "jürgen@example.de"
    assert message["To"].addresses[0].display_name == "Jürgen"


def test_internationalized_domain_is_kept_and_needs_smtputf8() -> None:
    outgoing = compose(to="info@bücher.example")
    assert outgoing.smtputf8
    assert outgoing.recipients == ("info@bücher.example",)


def test_ascii_message_does_not_need_smtputf8() -> None:
    outgoing = compose(subject="日本語", text="日本語", to="山田 <yamada@example.jp>")
    assert not outgoing.smtputf8
    assert outgoing.data.isascii()


def test_recipient_limit() -> None:
    hundred = [f"r{n}@example.com" for n in range(MAX_RECIPIENTS)]
    assert len(compose(to=hundred).recipients) == MAX_RECIPIENTS
    # A repeat (in any case) is one envelope recipient.
    assert len(compose(to=hundred, cc="R0@EXAMPLE.COM").recipients) == MAX_RECIPIENTS
    with pytest.raises(TooManyRecipientsError, match="101") as caught:
        compose(to=hundred, bcc="one-more@example.com")
    assert "split" in (caught.value.hint or "")


def test_no_recipient() -> None:
    with pytest.raises(NoRecipientsError):
        compose_message(account=ACCOUNT, reply_to="a@example.com")
    with pytest.raises(NoRecipientsError):
        compose_message(account=ACCOUNT, to=[], cc="", bcc=None)


def test_oversize_is_measured_on_the_encoded_bytes() -> None:
    # The raw size passes the cheap estimate; the encoded message is a little over the limit.
    raw = (MAX_MESSAGE_SIZE - 60) // 78 * 57
    with pytest.raises(MessageTooLargeError) as caught:
        compose(attachments=[Attachment(bytes(raw), "big.bin")])
    error = caught.value
    assert error.limit == MAX_MESSAGE_SIZE
    assert MAX_MESSAGE_SIZE < error.size < MAX_MESSAGE_SIZE + 2_000
    assert "25 MB" in (error.hint or "")


def test_oversize_file_is_refused_before_reading(tmp_path: Path) -> None:
    sparse = tmp_path / "huge.iso.bin"
    with sparse.open("wb") as handle:
        handle.truncate(40_000_000)  # sparse: nothing is written or read
    with pytest.raises(MessageTooLargeError) as caught:
        compose(attachments=[sparse])
    assert caught.value.size > MAX_MESSAGE_SIZE
    assert "huge.iso.bin" in str(caught.value)


def test_several_attachments_add_up() -> None:
    part = bytes(10_000_000)
    with pytest.raises(MessageTooLargeError):
        compose(attachments=[Attachment(part, f"{n}.bin") for n in range(3)])


def test_compose_touches_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("compose used the network")

    monkeypatch.setattr(socket, "getfqdn", refuse)
    monkeypatch.setattr(socket, "gethostname", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    outgoing = compose(text="x", to="山田 <yamada@例え.jp>")
    assert outgoing.message_id


def test_email_utils_parses_the_date_header() -> None:
    raw = raw_header(compose().data, "Date")
    assert raw is not None
    assert email.utils.parsedate_to_datetime(raw).tzinfo is not None


def test_os_pathlike_that_is_not_a_path(tmp_path: Path) -> None:
    class Location(os.PathLike[str]):
        def __init__(self, path: str) -> None:
            self.path = path

        def __fspath__(self) -> str:
            return self.path

    target = tmp_path / "x.txt"
    target.write_text("hello")
    outgoing = compose(attachments=[Location(str(target))])
    (attachment,) = parse(outgoing.data).iter_attachments()
    assert attachment.get_filename() == "x.txt"


def test_a_reply_gets_in_reply_to_and_references() -> None:
    outgoing = compose(
        in_reply_to="first@gmail.com",
        references=["<zero@gmail.com>", "first@gmail.com"],
        thread_id="18c0ffee0123abcd",
    )
    assert raw_header(outgoing.data, "In-Reply-To") == "<first@gmail.com>"
    assert raw_header(outgoing.data, "References") == "<zero@gmail.com> <first@gmail.com>"
    assert outgoing.thread_id == "18c0ffee0123abcd"
    assert b"18c0ffee" not in outgoing.data  # the thread is the API's business, not a header
    spaced = compose(references="<a@x.example>  <b@x.example>")
    assert raw_header(spaced.data, "References") == "<a@x.example> <b@x.example>"


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"in_reply_to": "not an id"}, "not a valid Message-ID"),
        ({"references": ["<ok@x.example>", "bad id"]}, "not a valid Message-ID"),
        ({"references": 42}, "references must be"),
        ({"thread_id": "no spaces please"}, "not a Gmail thread id"),
        ({"thread_id": 42}, "thread_id must be a string"),
        (
            {"in_reply_to": "<a@x.example>", "headers": {"In-Reply-To": "<a@x.example>"}},
            "both as in_reply_to",
        ),
        (
            {"references": "<a@x.example>", "headers": {"references": "<a@x.example>"}},
            "both as references",
        ),
    ],
)
def test_reply_fields_are_checked(fields: dict[str, object], match: str) -> None:
    with pytest.raises(MessageError, match=match):
        compose(**fields)  # type: ignore[arg-type]


def test_bcc_is_kept_beside_the_bytes_never_in_them() -> None:
    outgoing = compose(to="a@example.com", cc="b@example.com", bcc="c@example.com, A@example.com")
    assert outgoing.recipients == ("a@example.com", "b@example.com", "c@example.com")
    assert outgoing.bcc == ("c@example.com",)  # a@ is in To already: no blind copy needed
    assert b"c@example.com" not in outgoing.data
    assert outgoing.envelope_from_headers
