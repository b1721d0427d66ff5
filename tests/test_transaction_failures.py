"""Refusals during the mail transaction: typed errors, partial refusals, nothing lost."""

from __future__ import annotations

import pytest

from gmail_send import (
    PermanentError,
    QuotaExceededError,
    RecipientsRefusedError,
    UnknownOutcomeError,
)
from gmail_send.smtp._replies import find_rule, parse_reply
from gmail_send.testing import LocalGmail

from .local_helpers import sender_for


def rule(code: int, text: str):  # type: ignore[no-untyped-def]
    found = find_rule(parse_reply(code, text))
    assert found is not None
    return found


async def test_some_recipients_refused_are_reported(gmail: LocalGmail) -> None:
    gmail.inject("rcpt", rule(553, "5.1.2 x"), recipient="nobody@nowhere.invalid")
    async with sender_for(gmail) as sender:
        result = await sender.send(
            to=["ok@example.com", "nobody@nowhere.invalid"], subject="x", text="x"
        )
    assert result.accepted == ("ok@example.com",)
    assert list(result.refused) == ["nobody@nowhere.invalid"]
    assert result.refused["nobody@nowhere.invalid"].code == 553
    assert gmail.messages[0].rcpt_tos == ("ok@example.com",)


async def test_all_recipients_refused_raises(gmail: LocalGmail) -> None:
    gmail.inject("rcpt", rule(553, "5.1.3 x"), times=2)
    async with sender_for(gmail) as sender:
        with pytest.raises(RecipientsRefusedError) as caught:
            await sender.send(to=["a@example.com", "b@example.com"], subject="x", text="x")
        assert set(caught.value.refused) == {"a@example.com", "b@example.com"}
        # The session was reset and carries the next message.
        result = await sender.send(to="c@example.com", subject="after", text="x")
    assert result.accepted == ("c@example.com",)
    assert len(gmail.sessions) == 1


@pytest.mark.parametrize("stage", ["mail", "rcpt", "data_end"])
async def test_daily_limit_is_quota_error(gmail: LocalGmail, stage: str) -> None:
    gmail.inject(stage, rule(550, "5.4.5 x"))
    async with sender_for(gmail) as sender:
        with pytest.raises(QuotaExceededError) as caught:
            await sender.send(to="a@example.com", subject="x", text="x")
    assert caught.value.enhanced_code == "5.4.5"
    assert caught.value.hint and "24 hours" in caught.value.hint
    assert gmail.messages == []


async def test_blocked_content_at_data(gmail: LocalGmail) -> None:
    gmail.inject("data_end", rule(552, "5.7.0 x"))
    async with sender_for(gmail) as sender:
        with pytest.raises(PermanentError) as caught:
            await sender.send(to="a@example.com", subject="x", text="x")
    assert caught.value.hint and "link" in caught.value.hint


@pytest.mark.parametrize("stage", ["data_end", "data_end_stored"])
async def test_drop_after_body_is_unknown_outcome(gmail: LocalGmail, stage: str) -> None:
    gmail.drop_connection(stage)  # type: ignore[arg-type]
    async with sender_for(gmail) as sender:
        with pytest.raises(UnknownOutcomeError) as caught:
            await sender.send(
                to="a@example.com", subject="x", text="x", message_id="<fixed-1@gmail.com>"
            )
    assert caught.value.message_id == "<fixed-1@gmail.com>"
    # Not resent: the server holds the one copy it stored, or none.
    assert len(gmail.messages) == (1 if stage == "data_end_stored" else 0)


async def test_session_closed_while_idle_is_replaced(gmail: LocalGmail) -> None:
    async with sender_for(gmail) as sender:
        await sender.send(to="a@example.com", subject="1", text="x")
        await gmail.close_all()  # as Gmail does when a session expires: 421, then close
        await sender.send(to="a@example.com", subject="2", text="x")
    assert [m.parsed()["Subject"] for m in gmail.messages] == ["1", "2"]
    assert len(gmail.sessions) == 2
