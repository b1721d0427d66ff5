"""Japanese text in both encodings: UTF-8 (default) and ISO-2022-JP for older Japanese systems.

Everything is read back from `OutgoingMessage.data` with the `email` package.
"""

from __future__ import annotations

import base64
import re

import pytest

from gmail_send.errors import MessageError
from gmail_send.message import Attachment, OutgoingMessage, compose_message

from .compose_helpers import (
    assert_wire_format,
    children,
    display_names,
    header_section,
    parse,
    raw_header,
    text_of,
)

SUBJECT = "【重要】納品書のご送付について（第42号）"
NAME = "山田 太郎"
BODY = "山田様\n\nいつもお世話になっております。\n納品書をお送りいたします。\n"
HTML = "<p>いつもお世話になっております。</p>"
FILENAME = "納品書.pdf"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
ENCODED_FILENAME = "filename*=utf-8''%E7%B4%8D%E5%93%81%E6%9B%B8.pdf"


def compose_japanese(encoding: str, **overrides: object) -> OutgoingMessage:
    arguments: dict[str, object] = {
        "account": "me@gmail.com",
        "from_": "株式会社サンプル 営業部 <sales@example.co.jp>",
        "to": f"{NAME} <yamada@example.jp>",
        "subject": SUBJECT,
        "text": BODY,
        "attachments": [Attachment(PDF, FILENAME)],
        "encoding": encoding,
    }
    arguments.update(overrides)
    outgoing = compose_message(**arguments)  # type: ignore[arg-type]
    assert_wire_format(outgoing.data)
    return outgoing


@pytest.mark.parametrize("encoding", ["utf-8", "iso-2022-jp"])
def test_round_trip(encoding: str) -> None:
    outgoing = compose_japanese(encoding)
    assert outgoing.data.isascii()
    assert not outgoing.smtputf8
    message = parse(outgoing.data)
    assert message["Subject"] == SUBJECT
    assert message["To"].addresses[0].display_name == NAME
    assert message["To"].addresses[0].addr_spec == "yamada@example.jp"
    assert display_names(outgoing.data, "From") == ["株式会社サンプル 営業部"]
    body = message.get_body(("plain",))
    assert body is not None
    assert body.get_content_charset() == encoding
    assert text_of(body) == BODY
    (attachment,) = message.iter_attachments()
    assert attachment.get_filename() == FILENAME
    assert attachment.get_content() == PDF
    assert ENCODED_FILENAME in outgoing.data.decode("ascii")


def test_utf8_uses_utf8_encoded_words() -> None:
    outgoing = compose_japanese("utf-8")
    subject = raw_header(outgoing.data, "Subject")
    assert subject is not None
    assert subject.startswith("=?utf-8?b?")
    assert b"iso-2022-jp" not in outgoing.data


def test_iso_2022_jp_raw_bytes() -> None:
    outgoing = compose_japanese("iso-2022-jp", html=HTML)
    data = outgoing.data
    assert all(byte < 0x80 for byte in data)  # no raw 8-bit bytes anywhere
    head = header_section(data).decode("ascii")
    subject = raw_header(data, "Subject")
    to = raw_header(data, "To")
    assert subject is not None
    assert to is not None
    assert re.fullmatch(r"(=\?iso-2022-jp\?b\?[A-Za-z0-9+/=]+\?=\s*)+", subject)
    assert to.startswith("=?iso-2022-jp?b?")
    assert "utf-8?b" not in head
    message = parse(data)
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None
    assert html is not None
    for part, text in ((plain, BODY), (html, HTML + "\n")):
        assert part["Content-Type"] == 'text/plain; charset="iso-2022-jp"'.replace(
            "plain", part.get_content_subtype()
        )
        assert part["Content-Transfer-Encoding"] == "7bit"
        assert text_of(part) == text
    # The body bytes on the wire are exactly the ISO-2022-JP encoding of each line.
    for line in BODY.splitlines():
        assert line.encode("iso-2022-jp") in data


def test_iso_2022_jp_encoded_words_are_self_contained() -> None:
    """Each encoded word starts and ends in ASCII mode (RFC 1468), however long the text."""
    subject = "お見積もりのお願いとご注文内容の確認について" * 4
    outgoing = compose_japanese("iso-2022-jp", subject=subject)
    raw = raw_header(outgoing.data, "Subject")
    assert raw is not None
    words = re.findall(r"=\?iso-2022-jp\?b\?([A-Za-z0-9+/=]+)\?=", raw)
    assert len(words) > 3
    for word in words:
        decoded = base64.b64decode(word)
        assert decoded.startswith(b"\x1b$B")
        assert decoded.endswith(b"\x1b(B")
        decoded.decode("iso-2022-jp")
    subject_lines = re.search(rb"Subject: .*?\r\n(?! )", outgoing.data, re.DOTALL)
    assert subject_lines is not None
    for line in subject_lines.group(0).split(b"\r\n"):
        assert len(line) <= 76  # RFC 2047: lines holding encoded words
    assert parse(outgoing.data)["Subject"] == subject


def test_long_display_name_is_split_into_words_that_decode_together() -> None:
    name = "株式会社サンプル東京本社営業本部第一営業部長 山田太郎"
    for encoding in ("utf-8", "iso-2022-jp"):
        outgoing = compose_japanese(encoding, to=f"{name} <yamada@example.jp>")
        assert display_names(outgoing.data, "To") == [name]


def test_mixed_ascii_and_japanese_subject() -> None:
    subject = "Re: [受注#1234] 納品日 (3/15) の件  -- 確認済み "
    for encoding in ("utf-8", "iso-2022-jp"):
        assert parse(compose_japanese(encoding, subject=subject).data)["Subject"] == subject


def test_full_width_space_in_a_name_is_kept() -> None:
    name = "山田\u3000太郎"
    for encoding in ("utf-8", "iso-2022-jp"):
        outgoing = compose_japanese(encoding, to=f"{name} <yamada@example.jp>")
        assert parse(outgoing.data)["To"].addresses[0].display_name == name


def test_long_japanese_filename_uses_rfc2231_continuations() -> None:
    filename = "2024年度第1四半期売上報告書（東京本社・大阪支社・名古屋営業所）最終版.xlsx"
    outgoing = compose_japanese("iso-2022-jp", attachments=[Attachment(b"PK", filename)])
    text = outgoing.data.decode("ascii")
    assert "filename*0*=utf-8''" in text
    assert "filename*1*=" in text
    (attachment,) = parse(outgoing.data).iter_attachments()
    assert attachment.get_filename() == filename


def test_inline_image_with_iso_2022_jp_html() -> None:
    outgoing = compose_japanese(
        "iso-2022-jp",
        text=None,
        html='<p>ロゴ: <img src="cid:logo"></p>',
        attachments=[Attachment(b"\x89PNG", "ロゴ.png", inline=True, content_id="logo")],
    )
    message = parse(outgoing.data)
    assert message.get_content_type() == "multipart/related"
    html, image = children(message)
    assert html.get_content_charset() == "iso-2022-jp"
    assert text_of(html) == '<p>ロゴ: <img src="cid:logo"></p>\n'
    assert image.get_filename() == "ロゴ.png"


def test_iso_2022_jp_line_over_998_octets_falls_back_to_base64() -> None:
    long_line = "あ" * 600  # 1,200 octets in ISO-2022-JP
    outgoing = compose_japanese("iso-2022-jp", text=long_line)
    body = parse(outgoing.data).get_body(("plain",))
    assert body is not None
    assert body["Content-Transfer-Encoding"] == "base64"
    assert body.get_content_charset() == "iso-2022-jp"
    assert text_of(body) == long_line + "\n"


def test_utf8_body_is_not_8bit() -> None:
    outgoing = compose_japanese("utf-8", html=HTML)
    message = parse(outgoing.data)
    for part in message.walk():
        assert part["Content-Transfer-Encoding"] in (None, "7bit", "base64", "quoted-printable")


@pytest.mark.parametrize(
    ("character", "code"),
    [
        ("①", "U+2460"),  # circled digit: a vendor extension, not JIS X 0208
        ("ｱ", "U+FF71"),  # half-width katakana
        ("髙", "U+9AD9"),  # "hashigo-daka", not in JIS X 0208
        ("～", "U+FF5E"),  # full-width tilde (Windows' wave dash)
        ("😀", "U+1F600"),
    ],
)
@pytest.mark.parametrize("field", ["subject", "text", "html", "to", "from_", "header"])
def test_characters_iso_2022_jp_lacks_are_refused(character: str, code: str, field: str) -> None:
    value = f"ご注文{character}"
    overrides: dict[str, object] = {
        "subject": {"subject": value},
        "text": {"text": value},
        "html": {"html": value},
        "to": {"to": f"{value} <a@example.jp>"},
        "from_": {"from_": f"{value} <me@gmail.com>"},
        "header": {"headers": {"X-Note": value}},
    }[field]  # type: ignore[assignment]
    with pytest.raises(MessageError, match=re.escape(code)) as caught:
        compose_japanese("iso-2022-jp", **overrides)
    assert "ISO-2022-JP" in str(caught.value)
    assert 'encoding="utf-8"' in (caught.value.hint or "")
    # The same text is fine in UTF-8.
    assert compose_japanese("utf-8", **overrides).data.isascii()


def test_unknown_encoding_is_refused() -> None:
    with pytest.raises(MessageError, match="shift_jis"):
        compose_japanese("shift_jis")
