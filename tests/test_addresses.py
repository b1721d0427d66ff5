"""The strict address parser behind compose_message and prepare_message."""

from __future__ import annotations

from email.utils import formataddr

import pytest

from gmail_send.errors import HeaderInjectionError, InvalidAddressError
from gmail_send.message._addresses import (
    Mailbox,
    dedupe_addresses,
    parse_address_list,
    parse_addresses,
    parse_mailbox,
)


@pytest.mark.parametrize(
    ("text", "display_name", "addr_spec"),
    [
        ("a@example.com", "", "a@example.com"),
        ("  a@example.com  ", "", "a@example.com"),
        ("<a@example.com>", "", "a@example.com"),
        ("Alice <alice@example.com>", "Alice", "alice@example.com"),
        ("Alice<alice@example.com>", "Alice", "alice@example.com"),
        ('"Doe, John" <john@example.com>', "Doe, John", "john@example.com"),
        ('"a \\"quoted\\" name" <q@example.com>', 'a "quoted" name', "q@example.com"),
        ("John Q. Public <jqp@example.com>", "John Q. Public", "jqp@example.com"),
        ("Sales (Tokyo) <sales@example.jp>", "Sales (Tokyo)", "sales@example.jp"),
        ("  lots   of\tspace  <s@example.com>", "lots of space", "s@example.com"),
        ("a@example.com (a comment)", "", "a@example.com"),
        ("first.last+tag@sub.example.co.jp", "", "first.last+tag@sub.example.co.jp"),
        ('"john doe"@example.com', "", '"john doe"@example.com'),
        ('"john"@example.com', "", "john@example.com"),
        ("山田 太郎 <taro@example.jp>", "山田 太郎", "taro@example.jp"),
        ("山田\u3000太郎 <taro@example.jp>", "山田\u3000太郎", "taro@example.jp"),
        ("Jürgen <jürgen@bücher.example>", "Jürgen", "jürgen@bücher.example"),
        ("info@例え.jp", "", "info@例え.jp"),
        ("user@xn--r8jz45g.jp", "", "user@xn--r8jz45g.jp"),
        ("a@localhost", "", "a@localhost"),
        ("x@1.example", "", "x@1.example"),
    ],
)
def test_valid_mailboxes(text: str, display_name: str, addr_spec: str) -> None:
    mailbox = parse_mailbox(text, what="to")
    assert mailbox.display_name == display_name
    assert mailbox.addr_spec == addr_spec


@pytest.mark.parametrize(
    "name", ["山田 太郎", 'Doe, "Jr." <x>', "Ölaf Müller", "plain", "=?not an encoded word?="]
)
def test_formataddr_output_is_understood(name: str) -> None:
    mailbox = parse_mailbox(formataddr((name, "a@example.com")), what="to")
    assert mailbox.display_name == name
    assert mailbox.addr_spec == "a@example.com"


def test_quoted_encoded_word_is_taken_literally() -> None:
    text = '"=?utf-8?b?5bGx55Sw?=" <a@example.com>'
    assert parse_mailbox(text, what="to").display_name == "=?utf-8?b?5bGx55Sw?="


def test_encoded_words_are_decoded_and_joined() -> None:
    text = "=?utf-8?b?5bGx55Sw?= =?iso-2022-jp?b?GyRCQkBPOhsoQg==?= <a@example.jp>"
    assert parse_mailbox(text, what="to").display_name == "山田太郎"
    q_encoded = "=?utf-8?q?J=C3=BCrgen_M?= <j@example.de>"
    assert parse_mailbox(q_encoded, what="to").display_name == "Jürgen M"


def test_broken_encoded_word_stays_literal() -> None:
    text = "=?no-such-charset?b?eA==?= <a@example.com>"
    assert parse_mailbox(text, what="to").display_name == "=?no-such-charset?b?eA==?="


def test_encoded_word_hiding_a_line_break_is_refused() -> None:
    with pytest.raises(HeaderInjectionError):
        parse_mailbox("=?utf-8?q?a=0D=0AX=3A_y?= <a@example.com>", what="to")


def test_address_lists() -> None:
    mailboxes = parse_address_list(
        '"Doe, John" <john@example.com>, bob@example.com,, carol@example.com,', what="to"
    )
    assert [m.addr_spec for m in mailboxes] == [
        "john@example.com",
        "bob@example.com",
        "carol@example.com",
    ]
    assert parse_address_list("", what="to") == []
    assert parse_address_list("  ,  ", what="to") == []


def test_groups_only_where_allowed() -> None:
    text = "Team: a@example.com, b@example.com;, c@example.com"
    with pytest.raises(InvalidAddressError, match="group"):
        parse_address_list(text, what="to")
    mailboxes = parse_address_list(text, what="To", allow_groups=True)
    assert [m.addr_spec for m in mailboxes] == ["a@example.com", "b@example.com", "c@example.com"]
    assert parse_address_list("undisclosed-recipients:;", what="To", allow_groups=True) == []
    with pytest.raises(InvalidAddressError, match="nested"):
        parse_address_list("A: B: a@example.com;;", what="To", allow_groups=True)


def test_parse_addresses_forms() -> None:
    assert parse_addresses(None, what="to") == []
    assert [m.addr_spec for m in parse_addresses("a@x.example, b@y.example", what="to")] == [
        "a@x.example",
        "b@y.example",
    ]
    assert [m.addr_spec for m in parse_addresses(("a@x.example",), what="to")] == ["a@x.example"]
    with pytest.raises(InvalidAddressError):
        parse_addresses(["a@x.example, b@y.example"], what="to")
    with pytest.raises(InvalidAddressError, match="empty"):
        parse_addresses([""], what="to")


def test_quoted_local_part_is_quoted_on_the_envelope() -> None:
    mailbox = Mailbox("", 'odd "local" part', "example.com")
    assert mailbox.addr_spec == '"odd \\"local\\" part"@example.com'


def test_length_limits() -> None:
    parse_mailbox("x" * 64 + "@example.com", what="to")
    with pytest.raises(InvalidAddressError, match="64"):
        parse_mailbox("x" * 65 + "@example.com", what="to")
    long_domain = ".".join(["a" * 60] * 5) + ".com"
    with pytest.raises(InvalidAddressError, match="253"):
        parse_mailbox(f"x@{long_domain}", what="to")
    with pytest.raises(InvalidAddressError, match="label"):
        parse_mailbox("x@" + "a" * 64 + ".com", what="to")


def test_the_field_is_named_in_errors() -> None:
    with pytest.raises(InvalidAddressError, match=r"^reply_to: 'nope'"):
        parse_mailbox("nope", what="reply_to")


def test_dedupe_is_case_insensitive_and_keeps_order() -> None:
    assert dedupe_addresses(["B@x.example", "a@x.example", "b@X.EXAMPLE", "c@x.example"]) == [
        "B@x.example",
        "a@x.example",
        "c@x.example",
    ]


def test_the_comma_hint_is_given_only_where_a_comma_split_a_name() -> None:
    with pytest.raises(InvalidAddressError) as caught:
        parse_address_list("Doe, John <john@example.com>", what="to")
    assert caught.value.hint is not None and "holds a comma" in caught.value.hint
    with pytest.raises(InvalidAddressError) as caught:
        parse_address_list("not an address", what="to")
    assert caught.value.hint is not None and "holds a comma" not in caught.value.hint
