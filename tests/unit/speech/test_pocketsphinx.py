"""pocketsphinx on real 8 kHz speech, through the streaming interface a call uses.

The spoken-digit recordings go in as RTP would bring them (20 ms frames of 8 kHz slin), are
resampled and decoded in an executor by `AsyncTurn`, and must come out as the grammar's value.
The clips were picked among those the engine hears with full confidence (bench/speech.py scores
all 2,000), so a failure here is a broken path, not a hard recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Iterator

import pytest

from ivr.media.audio import scale_pcm16
from ivr.media.speech import AsyncTurn, Engine, Grammar, Recognition, UnknownWordsError
from ivr.media.speech.pocketsphinx_engine import PocketsphinxEngine

from .clips import frames, on_the_line, read_clip


@pytest.fixture(scope="module")
def engine() -> Iterator[PocketsphinxEngine]:
    e = PocketsphinxEngine()
    yield e
    e.close()


async def _recognize(engine: Engine, grammar: Grammar, pcm: bytes) -> Recognition:
    turn = await AsyncTurn.start(engine, grammar)
    for frame in frames(pcm):
        turn.feed(frame)
    return await turn.finish()


@pytest.mark.parametrize("clip,digit", [
    ("0_jackson_0", "0"), ("1_jackson_1", "1"), ("2_jackson_2", "2"), ("3_lucas_0", "3"),
    ("4_jackson_1", "4"), ("9_lucas_2", "9"),
])
async def test_a_spoken_digit(engine: PocketsphinxEngine, clip: str, digit: str) -> None:
    result = await _recognize(engine, Grammar.digit_string(1, 1), on_the_line(read_clip(clip)))
    assert (result.value, result.engine) == (digit, "pocketsphinx")
    assert 0.9 <= result.confidence <= 1.0 and result.accepted(0.9)
    assert result.audio_s == pytest.approx(0.6 + len(read_clip(clip)) / 16000, abs=0.02)
    assert [w.text for w in result.words] == result.text.split()


async def test_a_quiet_caller_is_brought_to_the_expected_level(
        engine: PocketsphinxEngine) -> None:
    quiet = scale_pcm16(on_the_line(read_clip("1_jackson_1")), -18)  # heard as 4 without
    result = await _recognize(engine, Grammar.digit_string(1, 1), quiet)
    assert result.value == "1" and result.confidence >= 0.9


async def test_a_number_said_digit_by_digit(engine: PocketsphinxEngine) -> None:
    said = on_the_line(*(read_clip(f"{d}_jackson_0") for d in (1, 2, 3, 4)))
    result = await _recognize(engine, Grammar.digit_string(4, 4, name="pin"), said)
    assert result.text == "one two three four"
    assert result.value == "1234"
    starts = [w.start_s for w in result.words]
    assert starts == sorted(starts) and starts[0] > 0.25
    said = on_the_line(*(read_clip(f"{d}_lucas_0") for d in (4, 0, 7, 9, 5, 1, 2, 8)))
    result = await _recognize(engine, Grammar.digit_string(8, 8, name="account", oh=False), said)
    assert result.value == "40795128"


async def test_a_menu_of_phrases(engine: PocketsphinxEngine) -> None:
    menu = Grammar.menu({"one": "balance", "two": "hours", "three": "agent",
                         "account balance": "balance"}, name="main")
    result = await _recognize(engine, menu, on_the_line(read_clip("3_lucas_1")))
    assert (result.text, result.value) == ("three", "agent")
    result = await _recognize(engine, menu, on_the_line(read_clip("1_jackson_0")))
    assert result.value == "balance"


def test_unknown_words_refused_before_a_turn(engine: PocketsphinxEngine) -> None:
    menu = Grammar.menu({"balance": "1", "zorblaxian hours": "2"}, name="main")
    with pytest.raises(UnknownWordsError, match="pocketsphinx has no pronunciation for "
                                                "'zorblaxian'"):
        engine.new_turn(menu)
    engine.check(Grammar.menu({"o'clock": "1", "x-ray": "2", "representative": "3"}))
    engine.new_turn(Grammar.menu({"o'clock": "1", "x-ray": "2"})).close()  # JSGF accepted


def test_silence_is_no_answer(engine: PocketsphinxEngine) -> None:
    turn = engine.new_turn(Grammar.digit_string(1, 1))
    turn.accept(b"\x00\x00" * 16000)
    result = turn.result()
    assert result.value is None and result.confidence == 0.0 and not result.accepted(0.0)


async def test_decoders_are_reused_and_abandoned_turns_free_theirs(
        engine: PocketsphinxEngine) -> None:
    engine.close()
    turn = await AsyncTurn.start(engine, Grammar.digit_string(1, 1))
    turn.feed(read_clip("5_lucas_0"))
    await turn.aclose()  # the caller hung up mid-answer
    assert len(engine._idle) == 1
    decoder = engine._idle[0]
    result = await _recognize(engine, Grammar.digit_string(1, 1), on_the_line(
        read_clip("9_jackson_0")))
    assert result.value == "9" and engine._idle == [decoder]


class _Ticker:
    """Asks for the event loop every 5 ms and records how long each wait really took."""

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            self.gaps.append(now - last)
            last = now

    async def stop(self) -> float:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        return max(self.gaps)


async def test_streaming_decoding_does_not_block_the_event_loop(
        engine: PocketsphinxEngine) -> None:
    """Nine seconds of speech fed as fast as the loop can (the worst case for the loop)."""
    said = on_the_line(*(read_clip(f"{d}_lucas_0") for d in range(10)))
    grammar = Grammar.digit_string(10, 10, oh=False)
    turn = await AsyncTurn.start(engine, grammar)  # may make a decoder: see prewarm()
    ticker = _Ticker()
    started = time.process_time()
    for frame in frames(said):
        turn.feed(frame)
        await asyncio.sleep(0)
    await turn.settle()
    cpu = time.process_time() - started
    stalled = await ticker.stop()
    result = await turn.finish()
    assert result.value is not None and len(result.value) == 10
    assert cpu > 0.12  # this decoding on the loop would have stalled it as long
    assert stalled < 0.05, f"the loop stalled {stalled * 1000:.0f} ms"


async def test_worker_processes_keep_the_loop_free_even_at_the_end() -> None:
    """The end of a long, open-length digit string builds a big lattice (~1 s here): in a
    worker process the loop does not notice."""
    from ivr.media.speech.worker import ProcessEngine

    workers = ProcessEngine(functools.partial(PocketsphinxEngine), processes=1)
    try:
        said = on_the_line(*(read_clip(f"{d % 10}_jackson_0") for d in range(1, 11)))
        ticker = _Ticker()
        started = time.perf_counter()
        result = await _recognize(workers, Grammar.digit_string(1, 10), said)
        elapsed = time.perf_counter() - started
        stalled = await ticker.stop()
        assert result.value is not None and result.value.startswith("12345")
        assert result.finish_s > 0.2 and elapsed > 0.3
        assert stalled < 0.05, f"the loop stalled {stalled * 1000:.0f} ms"
        with pytest.raises(UnknownWordsError):  # errors cross the process boundary
            workers.new_turn(Grammar.menu({"zorblaxian": "1"}))
    finally:
        workers.close()
