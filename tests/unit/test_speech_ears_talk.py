"""Listening paths opened when the caller talks (SpeechEars `eager`, media/talk.py).

Beyond `eager` callers at once, a listening node costs one TALK_DETECT until Asterisk says the
caller talks: no snoop, no externalMedia channel, no bridge, no RTP. These tests drive the
fake Asterisk: the path must not exist before the talk event, must open on it and hear what
follows with a real recognizer, and the detector must be removed when the node ends (and
nothing removed for a caller who hung up)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ivr.app.speech_ears import SpeechEars
from ivr.ari import AriClient
from ivr.flow.types import Listen
from ivr.media.audio import float_to_pcm16, pcm16_to_float, resample
from tests.fakeari_media import MediaFakeAri
from tests.unit.speech.clips import on_the_line, read_clip

CALLER = "caller-1"
REQUEST = Listen(language="en", engine="pocketsphinx", node="main_menu",
                 phrases={"one": "1", "two": "2", "three": "3"}, confidence=0.5)


class Call:
    def __init__(self, client: AriClient, channel_id: str = CALLER) -> None:
        self.id = channel_id
        self.handle = client.channels.handle(channel_id)
        self.onsets = 0
        self.traced: list[tuple[str, dict[str, Any]]] = []

    def speech_started(self) -> None:
        self.onsets += 1

    def trace(self, event: str, **fields: Any) -> None:
        self.traced.append((event, fields))


@pytest.fixture
async def fake() -> AsyncIterator[MediaFakeAri]:
    server = MediaFakeAri()
    async with server:
        server.add_channel(CALLER)
        server.add_channel("caller-2")
        yield server


@pytest.fixture
async def ears(client: AriClient) -> AsyncIterator[SpeechEars]:
    ears = SpeechEars(client, workers=0, eager=0)
    yield ears
    await ears.aclose()


def _rtp_payloads(pcm8k_le: bytes) -> list[bytes]:
    wide = float_to_pcm16(resample(pcm16_to_float(pcm8k_le), 8000, 16000), "big")
    return [wide[i:i + 640] for i in range(0, len(wide), 640)]


async def test_the_path_opens_when_the_caller_talks_and_hears_what_follows(
        fake: MediaFakeAri, client: AriClient, ears: SpeechEars) -> None:
    call = Call(client)
    heard: list[str] = []
    answered = asyncio.Event()

    def hear(keys: str, **fields: Any) -> None:
        heard.append(keys)
        answered.set()

    async with ears.listen(call, REQUEST, hear) as on:
        assert on
        assert fake.talk_detect == {CALLER}
        await asyncio.sleep(0.2)  # a silent caller costs nothing more than the detector
        assert fake.media == {} and fake.snoops == {} and fake.bridges == {}
        await fake.talk(CALLER)
        media = await fake.wait_until(lambda: next(iter(fake.media), None))
        await fake.wait_until(lambda: call.traced or None)
        ((event, fields),) = call.traced
        assert event == "talking" and fields["node"] == "main_menu" and fields["path_ms"] >= 0
        for payload in _rtp_payloads(on_the_line(read_clip("2_lucas_0"), pad_s=1.0)):
            fake.send_rtp(media, payload)
            await asyncio.sleep(0.001)
        await asyncio.wait_for(answered.wait(), 15)
    assert heard == ["2"] and call.onsets == 1
    await asyncio.wait_for(fake.wait_until(lambda: fake.talk_detect == set() or None), 5)
    await fake.wait_until(lambda: (fake.media == {} and fake.bridges == {}
                                   and set(fake.channels) == {CALLER, "caller-2"}) or None)


async def test_a_caller_who_never_talks_costs_a_detector_set_and_removed(
        fake: MediaFakeAri, client: AriClient, ears: SpeechEars) -> None:
    async with ears.listen(Call(client), REQUEST, lambda keys, **_: None) as on:
        assert on
        await asyncio.sleep(0.1)
    await asyncio.wait_for(fake.wait_until(lambda: fake.talk_detect == set() or None), 5)
    assert [name for _, name, _ in fake.variables] == ["TALK_DETECT(set)",
                                                       "TALK_DETECT(remove)"]
    assert fake.requests_to("POST", "/channels/externalMedia") == []
    assert fake.requests_to("POST", f"/channels/{CALLER}/snoop/") == []


async def test_a_caller_hanging_up_before_talking_needs_nothing_removed(
        fake: MediaFakeAri, client: AriClient, ears: SpeechEars) -> None:
    async with ears.listen(Call(client), REQUEST, lambda keys, **_: None) as on:
        assert on
        await fake.hangup_from_caller(CALLER)
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.1)
    assert [name for _, name, _ in fake.variables] == ["TALK_DETECT(set)"]
    assert fake.requests_to("POST", "/channels/externalMedia") == []


async def test_eager_callers_get_the_path_at_once_and_the_next_ones_on_talk(
        fake: MediaFakeAri, client: AriClient) -> None:
    ears = SpeechEars(client, workers=0, eager=1)
    try:
        async with ears.listen(Call(client), REQUEST, lambda keys, **_: None) as first:
            assert first and len(fake.media) == 1 and fake.talk_detect == set()
            second_call = Call(client, "caller-2")
            async with ears.listen(second_call, REQUEST, lambda keys, **_: None) as second:
                assert second and len(fake.media) == 1 and fake.talk_detect == {"caller-2"}
                await fake.talk("caller-2")
                await fake.wait_until(lambda: len(fake.media) == 2 or None)
        async with ears.listen(Call(client), REQUEST, lambda keys, **_: None):
            # the eager place is free again
            assert fake.requests_to("POST", f"/channels/{CALLER}/snoop/")[1:]
    finally:
        await ears.aclose()


async def test_without_the_talk_detect_module_every_path_opens_at_once_said_once(
        fake: MediaFakeAri, client: AriClient, ears: SpeechEars,
        caplog: pytest.LogCaptureFixture) -> None:
    fake.modules.discard("func_talkdetect.so")  # TALK_DETECT(set) would be a silent no-op
    for _ in range(2):
        async with ears.listen(Call(client), REQUEST, lambda keys, **_: None) as on:
            assert on and len(fake.media) == 1
        await fake.wait_until(lambda: fake.media == {} or None)
    assert fake.variables == []
    assert len(fake.requests_to("GET", "/asterisk/modules/func_talkdetect.so")) == 1
    assert [r.message for r in caplog.records if r.levelname == "ERROR"] == [
        "Asterisk has no func_talkdetect.so: every listening caller's audio path opens as "
        "the node starts (IVR_SPEECH_EAGER has no effect)"]
