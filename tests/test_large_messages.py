"""Large attachments: written once into the wire bytes, exactly as the stdlib would encode them."""

from __future__ import annotations

import base64
import os
import tracemalloc
from email.message import EmailMessage

import pytest

from gmail_send.message import Attachment, compose_message, prepare_message
from gmail_send.message._splice import SPLICE_AT

ACCOUNT = "me@gmail.com"


def _base64_body(data: bytes, filename: str, wire: bytes) -> bytes:
    """The encoded body of the attachment part `filename` in `wire`."""
    start = wire.index(f'filename="{filename}"'.encode())
    start = wire.index(b"\r\n\r\n", start) + 4
    end = wire.index(b"\r\n--", start)
    return wire[start:end]


@pytest.mark.parametrize("size", [SPLICE_AT, SPLICE_AT + 1, 57 * 2000, 57 * 2000 + 56, 3_000_001])
def test_a_large_attachment_is_encoded_as_the_stdlib_does(size: int) -> None:
    data = os.urandom(size)
    outgoing = compose_message(
        account=ACCOUNT,
        to="you@example.com",
        subject="big",
        text="see attached",
        attachments=[Attachment(data, "big.bin"), Attachment(b"small", "small.txt")],
    )
    expected = base64.encodebytes(data).replace(b"\n", b"\r\n")  # what set_content writes
    assert _base64_body(data, "big.bin", outgoing.data) == expected
    assert b"gmail-send-splice" not in outgoing.data
    [big, small] = outgoing.message.iter_attachments()
    assert isinstance(big, EmailMessage) and isinstance(small, EmailMessage)
    assert big.get_content() == data
    assert small.get_content() == "small"  # text/plain, by its name


def test_composing_keeps_one_copy_of_a_large_attachment() -> None:
    data = os.urandom(4_000_000)
    tracemalloc.start()
    try:
        outgoing = compose_message(
            account=ACCOUNT,
            to="you@example.com",
            subject="big",
            attachments=[Attachment(data, "big.bin")],
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The caller's bytes were there before; what composing adds is the wire form, once.
    assert peak < 1.3 * len(outgoing.data)


def test_a_ready_message_with_a_large_attachment_goes_out_as_serialized() -> None:
    data = os.urandom(1_000_000)
    message = EmailMessage()
    message["From"] = ACCOUNT
    message["To"] = "you@example.com"
    message["Bcc"] = "hidden@example.com"
    message["Subject"] = "big"
    message.set_content("see attached")
    message.add_attachment(data, maintype="application", subtype="octet-stream", filename="b.bin")
    before = message.as_bytes()
    outgoing = prepare_message(message, account=ACCOUNT)
    assert message.as_bytes() == before  # the caller's object is untouched
    assert outgoing.recipients == ("you@example.com", "hidden@example.com")
    head = outgoing.data[: outgoing.data.index(b"\r\n\r\n") + 2]
    assert b"Bcc" not in head and b"hidden@" not in outgoing.data
    assert b"\r\nMessage-ID: <" in head and b"\r\nDate: " in head
    [attachment] = outgoing.message.iter_attachments()
    assert isinstance(attachment, EmailMessage)
    assert attachment.get_content() == data


def test_preparing_keeps_one_copy_of_a_large_attachment() -> None:
    message = EmailMessage()
    message["From"] = ACCOUNT
    message["To"] = "you@example.com"
    message.set_content("see attached")
    message.add_attachment(
        os.urandom(4_000_000), maintype="application", subtype="pdf", filename="b.pdf"
    )
    tracemalloc.start()
    try:
        outgoing = prepare_message(message, account=ACCOUNT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The caller's message (its base64 text included) was there before; the copy shares it.
    assert peak < 1.3 * len(outgoing.data)
    assert outgoing.data.count(b"\r\n") == outgoing.data.count(b"\n")
    [attachment] = outgoing.message.iter_attachments()
    assert attachment.get_content() == message.get_payload()[1].get_content()  # type: ignore[index]


def test_a_large_payload_goes_out_as_the_stdlib_flattens_it() -> None:
    from email.message import Message

    lines = [f"line {n} of a long text" for n in range(20_000)]
    text = "\r\n".join(lines[:5000]) + "\r" + "\n".join(lines[5000:15000]) + "\r\n"
    text += "\r".join(lines[15000:]) + "\n\r"
    message = Message()
    message["From"] = ACCOUNT
    message["To"] = "you@example.com"
    message["Date"] = "Fri, 02 Jan 2026 03:04:05 +0000"
    message["Message-ID"] = "<big-text@example.com>"
    message.set_payload(text)
    outgoing = prepare_message(message, account=ACCOUNT)
    expected = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    assert outgoing.data == expected + (b"" if expected.endswith(b"\r\n") else b"\r\n")
