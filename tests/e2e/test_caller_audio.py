"""The caller's voice reaches the app through a real Asterisk 22 while a prompt plays to the
caller, and the prompt does not: the media path of speech menus, without the flows.

The test drives ARI itself under an application name of its own (`APP`), so the IVR app is not
involved: it originates a call to an answering softphone that speaks a recorded digit (the
spoken-digit set, 8 kHz), listens to that channel with CallerAudio, and plays a prompt on the
channel meanwhile. The received 16 kHz frames must contain the digit (cross-correlation, and
VAD finding one segment of about its length) and not the prompt, which the phone did hear.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from ivr.app import asterisk
from ivr.app.paths import project_root
from ivr.ari import AriClient, AriConfig, AriError, ChannelHandle, StasisStart, channel_key
from ivr.media.stream import CallerAudio, is_listener_leg
from ivr.media.vad import Segmenter, SpeechEnded
from ivr.testing.audio import (
    HEARD_WHOLE,
    Signal,
    find_prompt,
    load_wav,
    prompt_score,
    resample,
    save_wav,
)
from ivr.testing.softphone import AnsweringPhone, start_answerer
from tests.voice import voice_extent_ms

from .running_app import sip_port

pytestmark = pytest.mark.e2e

APP = "ivr-e2e-caller-audio"
FSDD = Path(__file__).resolve().parents[1] / "data" / "fsdd"  # a CC BY-SA sample, see README
DIGIT = FSDD / "6_jackson_15.wav"  # "six", 0.88 s: the longest of its speaker
PROMPT = "choose-language"  # 5 s, played to the caller while the caller speaks
LEAD_S = 1.5  # silence before the digit: the listener is up well before the caller speaks


@pytest.fixture
async def ari(asterisk_runtime: asterisk.AsteriskRuntime) -> AsyncIterator[AriClient]:
    runtime = asterisk_runtime
    client = AriClient(AriConfig(runtime.ari_url, runtime.ari_username, runtime.ari_password,
                                 APP))
    await client.start(wait=15.0)
    try:
        yield client
    finally:
        await client.close()


def said(tmp_path: Path) -> Path:
    """What the caller's microphone plays: silence, the digit, silence."""
    digit = load_wav(DIGIT)
    x = np.concatenate([np.zeros(int(LEAD_S * 8000)), digit, np.zeros(2 * 8000)])
    save_wav(tmp_path / "said.wav", x)
    return tmp_path / "said.wav"


async def call_phone(ari: AriClient, script: str, tmp_path: Path
                     ) -> tuple[AnsweringPhone, ChannelHandle]:
    port = sip_port()
    phone = await start_answerer(script, record=tmp_path / "heard.wav", port=port, timeout=30)
    caller = await ari.channels.originate(f"PJSIP/carrier/sip:listen@127.0.0.1:{port}",
                                          channel_id=f"e2e-listen-{uuid.uuid4().hex[:12]}")
    assert caller.events is not None
    await caller.events.wait_for(StasisStart, timeout=15.0)  # answered, in our application
    return phone, caller


async def collect(audio: CallerAudio, seconds: float) -> bytes:
    received = bytearray()
    async with asyncio.timeout(seconds + 5):
        async for frame in audio.frames():
            received += frame
            if len(received) >= seconds * 32000:
                break
    return bytes(received)


def as_signal(pcm16le: bytes) -> Signal:
    return np.frombuffer(pcm16le, dtype="<i2").astype(np.float64) / 32768.0


async def leftovers(ari: AriClient, audio: CallerAudio) -> list[str]:
    ours = {audio.snoop_id, audio.media_id, audio.bridge_id}
    channels = [c.id for c in await ari.channels.list() if c.id in ours]
    bridges = [b.id for b in await ari.bridges.list() if b.id in ours]
    return channels + bridges


async def test_listener_hears_the_caller_and_not_the_prompt_played_to_the_caller(
    ari: AriClient, tmp_path: Path,
) -> None:
    phone, caller = await call_phone(ari, f"play {said(tmp_path)}; wait-hangup 30", tmp_path)
    audio = CallerAudio(ari, caller.id)
    legs = ari.subscribe(channel_key(audio.snoop_id), channel_key(audio.media_id))
    try:
        await audio.start()
        playback = await caller.play(f"sound:ivr/en/{PROMPT}")
        starts = [await legs.wait_for(StasisStart, timeout=1.0) for _ in range(2)]
        legs.close()
        assert all(is_listener_leg(e) for e in starts), "a restarted app can tell them apart"
        received = await collect(audio, LEAD_S + 3.0)
        await audio.stop()
        assert await leftovers(ari, audio) == [], "snoop, externalMedia or bridge left behind"
        assert audio.receiver is not None and audio.receiver.closed.is_set()
        assert ari.router.subscribed_keys() <= {f"channel:{caller.id}",
                                                f"playback:{playback.id}"}
        await caller.hangup()
    finally:
        await audio.stop()
        report = await phone.result(30)
    assert report.ok, report.error
    assert_the_digit_not_the_prompt(received, tmp_path)


async def test_a_caller_in_a_bridge_stays_in_it_and_the_bridges_prompt_stays_out(
    ari: AriClient, tmp_path: Path,
) -> None:
    """The case the caller + externalMedia mixing-bridge recipe gets wrong on both counts."""
    phone, caller = await call_phone(ari, f"play {said(tmp_path)}; wait-hangup 30", tmp_path)
    bridge = await ari.bridges.create("mixing", name="e2e-callers-own")
    audio = CallerAudio(ari, caller.id)
    try:
        await bridge.add(caller.id)
        await audio.start()
        await bridge.play(f"sound:ivr/en/{PROMPT}")  # to everyone in the caller's bridge
        received = await collect(audio, LEAD_S + 3.0)
        assert (await bridge.get()).channels == (caller.id,), "the caller was never moved"
        await audio.stop()
        assert (await bridge.get()).channels == (caller.id,)
        assert await leftovers(ari, audio) == []
        await caller.hangup()
    finally:
        await audio.stop()
        with contextlib.suppress(AriError):
            await bridge.destroy()
        report = await phone.result(30)
    assert report.ok, report.error
    assert_the_digit_not_the_prompt(received, tmp_path)


def assert_the_digit_not_the_prompt(received: bytes, tmp_path: Path) -> None:
    """The caller's digit is in the 16 kHz frames (cross-correlation; VAD: one segment where
    the digit is); the prompt, which the caller did hear, is not."""
    save_wav(tmp_path / "received.wav", as_signal(received), 16000)  # for a human, on failure
    x8 = resample(as_signal(received), 16000, 8000)
    digit = load_wav(DIGIT)
    found = find_prompt(x8, digit, threshold=0.8)
    assert len(found) == 1, f"the caller's digit in what the app received: {found}"
    # The prompt started with the listener; its first 3 s lie well inside what was received.
    prompt = load_wav(project_root() / "prompts" / "en" / f"{PROMPT}.wav")[: 3 * 8000]
    assert find_prompt(tmp_path / "heard.wav", prompt, threshold=HEARD_WHOLE), \
        "the prompt did play to the caller"
    leaked = float(np.max(prompt_score(x8, prompt), initial=0.0))
    assert leaked < 0.3, f"the prompt reached the recognizer's audio (score {leaked:.2f})"

    segmenter = Segmenter(16000)
    events = [e for i in range(0, len(received) - 639, 640)
              for e in segmenter.push(received[i:i + 640])] + segmenter.flush()
    (segment,) = [e.segment for e in events if isinstance(e, SpeechEnded)]
    onset, end = (found[0].offset_s * 1000 + ms for ms in voice_extent_ms(digit, 8000))
    assert abs(segment.start_ms - onset) <= 100, (segment.start_ms, onset)
    assert segment.audio_start_ms <= onset and segment.audio_end_ms >= end, "digit covered"
    assert segment.end_ms <= end + 100


async def test_caller_hanging_up_while_listened_to_leaves_nothing_behind(
    ari: AriClient, tmp_path: Path,
) -> None:
    phone, caller = await call_phone(ari, "wait 2; hangup", tmp_path)
    audio = CallerAudio(ari, caller.id)
    try:
        await audio.start()
        frames = 0
        async with asyncio.timeout(10):
            async for _ in audio.frames():  # ends by itself when the caller goes
                frames += 1
        await asyncio.wait_for(audio.stopped.wait(), 10)
        assert frames > 25, "audio flowed until the caller hung up"
        assert await leftovers(ari, audio) == []
        assert ari.router.subscribed_keys() <= {f"channel:{caller.id}"}
    finally:
        await audio.stop()
        report = await phone.result(30)
    assert report.ok and report.hangup_by == "local", report
