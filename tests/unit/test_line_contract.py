"""One contract, every line: the same scenarios over the real line engine on a fake Asterisk
and over the simulator's virtual line (tests/unit/line_drivers.py).

A flow behaves the same in `ivr simulate` and in a call only if both lines follow the same
rules for barge-in, type-ahead, timeouts, the habit terminator and secrets; each scenario here
states what the caller hears and which key the dialogue reads next.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.media.entry import EntryRules, read_entry
from tests.unit.line_drivers import (
    PROMPT_SECONDS,
    LineUnderTest,
    SimulatorLine,
    ari_line,
    contract_prompts,
)

EARLY = PROMPT_SECONDS / 4
"""A key pressed this far into the first prompt cuts it (with barge-in)."""


@pytest.fixture(params=["ari", "simulator"])
async def line(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LineUnderTest]:
    prompts = contract_prompts(tmp_path / "prompts")
    if request.param == "simulator":
        yield SimulatorLine(prompts)
        return
    async with ari_line(prompts) as real:
        yield real


async def test_prompts_play_whole_and_a_silent_caller_reads_nothing(
        line: LineUnderTest) -> None:
    await line.play(["first", "second"], barge_in=True)
    assert await line.read_digit(0.2) is None
    assert line.heard() == [("first", "whole"), ("second", "whole")]
    assert line.keys_read() == []


async def test_a_key_cuts_a_barge_in_prompt_and_is_read_next(line: LineUnderTest) -> None:
    await line.press("5", at=EARLY)
    await line.play(["first", "second"], barge_in=True)
    assert await line.read_digit(1.0) == "5"
    assert line.heard() == [("first", "cut")], "the rest of the list is not played"
    assert line.keys_read() == ["5"]


async def test_a_key_typed_ahead_skips_the_prompt(line: LineUnderTest) -> None:
    await line.press("7", at=0.0)
    await line.settle()
    await line.play(["first"], barge_in=True)
    assert line.heard() == [("first", "skipped")]
    assert await line.read_digit(1.0) == "7"


async def test_without_barge_in_every_prompt_plays_and_the_key_waits(
        line: LineUnderTest) -> None:
    await line.press("3", at=EARLY)
    await line.play(["first", "second"], barge_in=False)
    assert line.heard() == [("first", "whole"), ("second", "whole")]
    assert await line.read_digit(1.0) == "3"


async def test_keys_are_read_in_the_order_pressed(line: LineUnderTest) -> None:
    for i, key in enumerate("123"):
        await line.press(key, at=0.05 + i * 0.1)
    assert [await line.read_digit(1.0) for _ in range(3)] == ["1", "2", "3"]


async def test_a_secure_key_is_traced_masked(line: LineUnderTest) -> None:
    await line.press("9", at=0.05)
    assert await line.read_digit(1.0, secure=True) == "9"
    assert line.keys_read() == ["***"]


async def test_a_habit_terminator_already_waiting_is_forgiven(line: LineUnderTest) -> None:
    await line.press("#", at=0.0)
    await line.settle()
    line.forgive("#", 0.5)
    assert await line.read_digit(0.3) is None
    assert line.forgiven() == ["#"]


async def test_a_habit_terminator_coming_soon_is_forgiven(line: LineUnderTest) -> None:
    line.forgive("#", 0.5)
    await line.press("#", at=0.1)
    assert await line.read_digit(0.4) is None
    assert line.forgiven() == ["#"]


async def test_forgiving_never_drops_another_key(line: LineUnderTest) -> None:
    line.forgive("#", 0.5)
    await line.press("4", at=0.1)
    assert await line.read_digit(1.0) == "4"
    assert line.forgiven() == []


async def test_an_entry_ends_at_its_terminator(line: LineUnderTest) -> None:
    for i, key in enumerate("123#"):
        await line.press(key, at=0.05 + i * 0.1)
    entry = await read_entry(line, EntryRules(max_length=6, first_timeout=1.0,
                                              inter_digit=0.5))
    assert (entry.digits, entry.ended) == ("123", "terminator")


async def test_a_full_entry_ends_at_once_and_forgives_the_habit_terminator(
        line: LineUnderTest) -> None:
    for i, key in enumerate("1234#"):
        await line.press(key, at=0.05 + i * 0.1)
    entry = await read_entry(line, EntryRules(max_length=4, first_timeout=1.0,
                                              inter_digit=0.5))
    assert (entry.digits, entry.ended) == ("1234", "max_length")
    assert await line.read_digit(0.6) is None, "the # must not answer the next question"
    assert line.forgiven() == ["#"]


async def test_an_entry_ends_when_the_caller_pauses(line: LineUnderTest) -> None:
    await line.press("1", at=0.05)
    await line.press("2", at=0.15)
    entry = await read_entry(line, EntryRules(max_length=6, first_timeout=1.0,
                                              inter_digit=0.3))
    assert (entry.digits, entry.ended) == ("12", "timeout")


async def test_an_overflowing_entry_comes_back_too_long(line: LineUnderTest) -> None:
    for i, key in enumerate("12345#"):
        await line.press(key, at=0.05 + i * 0.1)
    entry = await read_entry(line, EntryRules(max_length=3, first_timeout=1.0,
                                              inter_digit=0.5, overflow=True))
    assert (entry.digits, entry.ended, entry.too_long) == ("1234", "terminator", True)
    assert await line.read_digit(0.3) is None, "its # was the entry's own"


async def test_after_the_ivr_hangs_up_the_line_is_gone(line: LineUnderTest) -> None:
    await line.hangup()
    with pytest.raises(line.gone_errors):
        await line.play(["first"], barge_in=False)


async def test_no_input_waits_while_the_caller_is_still_talking(tmp_path: Path) -> None:
    """The real line: a caller who started talking before the no-input timer ran out gets
    what the ears heard, not no-input (an 8-digit account said slowly outlasts the timer,
    and under load the answer comes later still); a silent caller still times out."""
    async with ari_line(contract_prompts(tmp_path / "prompts")) as real:
        line = real.line
        assert await line.read_digit(0.1) is None, "nobody talking: no input"
        line.speech_started()
        loop = asyncio.get_running_loop()
        loop.call_later(0.4, line.heard, "5")
        started = loop.time()
        assert await line.read_digit(0.1) == "5"
        assert loop.time() - started >= 0.35, "waited for the ears past the 0.1 s timer"
        assert await line.read_digit(0.1) is None, "the speech was answered: silence again"
