"""Voice activity on real voices (the spoken-digit recordings) and the segmenter's rules."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import numpy as np
import pytest

from ivr.media.vad import (
    Segmenter,
    SpeechEnded,
    SpeechSegment,
    SpeechStarted,
    VadConfig,
    VadEvent,
    speech_events,
)
from ivr.testing.audio import Signal, load_wav, resample
from tests.voice import voice_extent_ms

FSDD = Path(__file__).resolve().parents[1] / "data" / "fsdd"  # a CC BY-SA sample, see README

SPEAKERS = ("jackson", "nicolas", "george", "lucas")
# One clip per digit, the four speakers in turn: the same set on every run.
CLIPS = [f"{d}_{s}_{i}.wav" for d, (s, i) in enumerate(
    [("jackson", 3), ("nicolas", 7), ("george", 11), ("lucas", 19), ("jackson", 23),
     ("nicolas", 29), ("george", 31), ("lucas", 37), ("jackson", 41), ("nicolas", 43)])]


def pcm(x: Signal) -> bytes:
    return np.clip(np.round(x * 32768), -32768, 32767).astype("<i2").tobytes()


def frames_of(x: Signal, rate: int, frame_ms: int = 20) -> list[bytes]:
    size = rate * frame_ms // 1000
    x = np.concatenate([x, np.zeros(-len(x) % size)])
    return [pcm(x[i:i + size]) for i in range(0, len(x), size)]


def run(x: Signal, rate: int, config: VadConfig | None = None) -> list[VadEvent]:
    segmenter = Segmenter(rate, config)
    events: list[VadEvent] = []
    for frame in frames_of(x, rate):
        events += segmenter.push(frame)
    return events + segmenter.flush()


def segments(events: Iterable[VadEvent]) -> list[SpeechSegment]:
    return [e.segment for e in events if isinstance(e, SpeechEnded)]


def padded(name: str, rate: int = 8000, pad_s: float = 1.0) -> Signal:
    clip = load_wav(FSDD / name, rate)
    silence = np.zeros(int(pad_s * rate))
    return np.concatenate([silence, clip, silence])


@pytest.mark.parametrize("name", CLIPS)
def test_one_digit_gives_one_segment_that_starts_at_the_onset_and_covers_it(name: str) -> None:
    x = padded(name)
    onset, end = voice_extent_ms(x, 8000)
    events = run(x, 8000)
    (segment,) = segments(events)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]
    # Never late; early only by a breath or a quiet "th" the energy reference leaves out.
    assert -200 <= segment.start_ms - onset <= 100, (segment.start_ms, onset)
    assert segment.audio_start_ms <= onset - 100, "the pre-roll keeps the first syllable"
    assert segment.audio_end_ms >= end, "and the tail keeps a soft last consonant"
    assert segment.end_ms <= end + 100, "speech ends with the voice"
    # The audio handed on is exactly the stream's samples over that span.
    start = segment.audio_start_ms * 8
    assert segment.audio == pcm(x)[2 * start:2 * start + len(segment.audio)]
    assert isinstance(events[0], SpeechStarted) and events[0].at_ms == segment.start_ms


def test_on_many_voices_onsets_are_within_100_ms_and_every_digit_is_covered() -> None:
    names = [f"{d}_{s}_{i}.wav" for d in range(10) for s in SPEAKERS for i in (0, 25)]
    off = []
    for name in names:
        x = padded(name)
        onset, end = voice_extent_ms(x, 8000)
        (segment,) = segments(run(x, 8000))  # one each: none missed, none split
        assert segment.audio_start_ms <= onset and segment.audio_end_ms >= end, name
        off.append(segment.start_ms - onset)
    within = sum(abs(d) <= 100 for d in off) / len(off)
    assert within >= 0.95, sorted(off)


def test_at_16_khz_as_the_caller_stream_delivers_it() -> None:
    x = resample(padded(CLIPS[3]), 8000, 16000)
    onset, end = voice_extent_ms(x, 16000)
    (segment,) = segments(run(x, 16000))
    assert -200 <= segment.start_ms - onset <= 100 and segment.audio_end_ms >= end
    assert segment.sample_rate == 16000 and len(segment.audio) % 640 == 0


def test_two_digits_a_second_apart_are_two_segments_a_short_pause_is_not() -> None:
    one, two = (load_wav(FSDD / CLIPS[i]) for i in (1, 2))

    def say(gap_s: float) -> list[SpeechSegment]:
        gap, edge = np.zeros(int(gap_s * 8000)), np.zeros(8000)
        return segments(run(np.concatenate([edge, one, gap, two, edge]), 8000))

    assert len(say(1.2)) == 2
    assert len(say(0.2)) == 1  # shorter than end_ms: one utterance


def test_silence_and_low_noise_give_no_segment() -> None:
    assert run(np.zeros(3 * 8000), 8000) == []
    rng = np.random.default_rng(7)
    for dbfs in (-70, -60, -50, -40):
        noise = rng.normal(0, 10 ** (dbfs / 20), 3 * 8000)
        assert run(noise, 8000) == [], f"white noise at {dbfs} dBFS"
        hum = 10 ** (dbfs / 20) * math.sqrt(2) * np.sin(2 * np.pi * 50 * np.arange(3 * 8000)
                                                          / 8000)
        assert run(hum, 8000) == [], f"mains hum at {dbfs} dBFS"
        after_silence = np.concatenate([np.zeros(8000), noise])  # a line that wakes up
        assert run(after_silence, 8000) == [], f"white noise at {dbfs} dBFS after silence"


async def test_speech_events_on_a_live_stream() -> None:
    x = padded(CLIPS[5], 16000)

    async def stream() -> AsyncIterator[bytes]:
        for frame in frames_of(x, 16000):
            yield frame

    events = [e async for e in speech_events(stream(), Segmenter(16000))]
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]


# --- the rules, with a scripted classifier -------------------------------------------------


def scripted(pattern: str, config: VadConfig | None = None, rate: int = 8000
             ) -> tuple[Segmenter, list[tuple[int, VadEvent]]]:
    """'x' voiced, '.' not; one 20 ms frame each. Returns (frame index, event) pairs."""
    voiced = iter(pattern)
    segmenter = Segmenter(rate, config, classify=lambda _: next(voiced) == "x")
    out: list[tuple[int, VadEvent]] = []
    for i in range(len(pattern)):
        out += [(i, e) for e in segmenter.push(bytes([i % 256, 0x10]) * (rate // 50))]
    return segmenter, out


def test_start_needs_most_of_the_window_voiced() -> None:
    config = VadConfig(start_ms=100, start_ratio=0.8, pre_roll_ms=0, warmup_ms=0)
    _, out = scripted("x.x.x.x.x.x.x" + "." * 40, config)  # never 4 of 5
    assert out == []
    _, out = scripted("...xx.xx" + "." * 40, config)
    assert out[0] == (7, SpeechStarted(at_ms=60))  # onset: the window's first voiced frame


def test_pre_roll_is_kept_and_clipped_at_the_stream_start() -> None:
    config = VadConfig(start_ms=60, start_ratio=1.0, pre_roll_ms=100, end_ms=100, tail_ms=0,
                       warmup_ms=0)
    _, out = scripted("." * 10 + "xxx" + "." * 5, config)
    segment = out[-1][1]
    assert isinstance(segment, SpeechEnded)
    seg = segment.segment
    assert (seg.start_ms, seg.end_ms, seg.audio_start_ms) == (200, 260, 100)
    assert seg.audio[0] == 5 and len(seg.audio) == 8 * 160 * 2  # frames 5..12
    _, out = scripted("xxx" + "." * 5, config)
    first = out[-1][1]
    assert isinstance(first, SpeechEnded) and first.segment.audio_start_ms == 0


def test_end_after_end_ms_of_silence_with_a_tail() -> None:
    config = VadConfig(start_ms=40, start_ratio=1.0, pre_roll_ms=0, end_ms=200, tail_ms=60,
                       warmup_ms=0)
    segmenter, out = scripted("xx" + "." * 9 + "x" + "." * 10, config)
    assert [(i, type(e)) for i, e in out] == [(1, SpeechStarted), (21, SpeechEnded)]
    ended = out[1][1]
    assert isinstance(ended, SpeechEnded)
    assert (ended.segment.end_ms, ended.segment.audio_end_ms) == (240, 300)
    assert not segmenter.in_speech


def test_a_segment_that_never_ends_is_cut_and_flagged() -> None:
    config = VadConfig(start_ms=20, pre_roll_ms=0, max_segment_ms=200, warmup_ms=0)
    _, out = scripted("x" * 25, config)
    ended = [e for _, e in out if isinstance(e, SpeechEnded)]
    assert ended and ended[0].segment.truncated and ended[0].segment.duration_ms == 200


def test_flush_ends_an_open_utterance() -> None:
    segmenter, out = scripted("xxxxxx", VadConfig(start_ms=40, pre_roll_ms=0, warmup_ms=0))
    assert segmenter.in_speech and len(out) == 1
    (ended,) = segmenter.flush()
    assert isinstance(ended, SpeechEnded) and ended.segment.end_ms == 120


def test_bad_settings_and_frames_are_refused() -> None:
    with pytest.raises(ValueError):
        VadConfig(aggressiveness=4)
    with pytest.raises(ValueError):
        VadConfig(frame_ms=25)
    with pytest.raises(ValueError):
        Segmenter(11025)
    with pytest.raises(ValueError):
        Segmenter(16000).push(bytes(320))  # a 10 ms frame where 20 ms were configured
    for rate in (8000, 16000, 32000, 48000):
        for level in range(4):
            segmenter = Segmenter(rate, VadConfig(aggressiveness=level))
            assert segmenter.push(bytes(rate // 50 * 2)) == []


def test_words_are_voiced_and_hiss_is_not() -> None:
    """What the ears use to refuse noise before a recognizer guesses a phrase for it."""
    from ivr.media.vad import voiced_ms

    for name in sorted(p.name for p in FSDD.glob("*.wav")):
        x = resample(load_wav(FSDD / name), 8000, 16000)
        assert voiced_ms(pcm(x), 16000) >= 30, name
    rng = np.random.default_rng(3)
    for level in (0.003, 0.03, 0.3):
        assert voiced_ms(pcm(rng.normal(0, level, 32000)), 16000) == 0
    assert voiced_ms(pcm(np.zeros(16000)), 16000) == 0
