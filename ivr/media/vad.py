"""Voice activity detection: speech start and end in a stream of frames, for barge-in.

webrtcvad (the `webrtcvad-wheels` build; plain `webrtcvad` no longer installs) classifies each
10/20/30 ms frame of 16-bit little-endian mono audio at 8, 16, 32 or 48 kHz. One voiced frame
is not speech (clicks, a cough's edge): speech starts when most frames of a short window are
voiced, which is `start_ms` late, so a ring buffer keeps the last `pre_roll_ms` of audio and the
segment handed on begins that far before the onset: the recognizer gets the first syllable.
Speech ends after `end_ms` without a voiced frame.

Two habits of webrtcvad are corrected, both measured on the spoken-digit recordings and on
synthetic noise (tests/unit/test_vad.py): it judges shape more than level, so faint hiss can be
"speech" (a level floor); and for the first frames of a stream, or of sound after digital
silence, it calls anything speech while its noise estimate settles (those frames may mark an
onset, but only loud ones can start speech).

`SpeechStarted` is the barge-in signal (stop the prompt); `SpeechEnded` carries the segment.
"""

from __future__ import annotations

import array
import math
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import numpy as np
import webrtcvad

VAD_RATES = (8000, 16000, 32000, 48000)
VAD_FRAME_MS = (10, 20, 30)
MAX_ONSET_GAP = 4  # frames (80 ms)
DIGITAL_SILENCE_DBFS = -90.0
SILENCE_BEFORE_SETTLE_MS = 100  # of digital silence make webrtcvad settle again


@dataclass(frozen=True, slots=True)
class VadConfig:
    aggressiveness: int = 2
    """0 (lets most sound through as speech) to 3 (strictest); 2 suits telephone audio."""
    frame_ms: int = 20
    start_ms: int = 100
    """Window in which at least `start_ratio` of the frames must be voiced to start speech."""
    start_ratio: float = 0.8
    end_ms: int = 600
    """This long without a voiced frame ends speech."""
    pre_roll_ms: int = 300
    """Audio kept before the onset, handed on with the segment."""
    tail_ms: int = 300
    """Audio kept after the last voiced frame: a soft final consonant ("six") often is not."""
    min_level_dbfs: float = -55.0
    """Quieter frames are never speech: webrtcvad judges the spectrum's shape more than the
    level, so faint line noise can pass for speech."""
    warmup_ms: int = 200
    """webrtcvad calls the first ~100 ms of a stream speech while it learns the noise..."""
    settle_ms: int = 80
    """...and the first 80 ms of any sound after digital silence (a muted line, a phone that
    sends zeros; measured: 4 frames at aggressiveness 2 and 3, 6 at 1)..."""
    settle_level_dbfs: float = -40.0
    """...so while it settles, only frames this loud (a voice, not a line's hiss) can start
    speech; quieter voiced ones still mark the onset if speech follows."""
    max_segment_ms: int = 20_000
    """A segment this long is cut (and flagged): noise that never stops is not an utterance."""

    def __post_init__(self) -> None:
        if self.aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"aggressiveness {self.aggressiveness}: 0 to 3")
        if self.frame_ms not in VAD_FRAME_MS:
            raise ValueError(f"frame_ms {self.frame_ms}: one of {VAD_FRAME_MS}")
        if not 0 < self.start_ratio <= 1 or min(self.start_ms, self.end_ms) < self.frame_ms:
            raise ValueError("start_ratio in (0, 1]; start_ms and end_ms at least one frame")


@dataclass(frozen=True, slots=True)
class SpeechSegment:
    start_ms: int
    """Onset (stream time): where the voiced frames that started speech began, short gaps
    before the start window included."""
    end_ms: int
    """End of the last voiced frame."""
    audio_start_ms: int
    """Where `audio` begins: up to `pre_roll_ms` before the onset."""
    audio: bytes
    sample_rate: int
    truncated: bool = False

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    @property
    def audio_end_ms(self) -> int:
        return self.audio_start_ms + len(self.audio) * 1000 // (2 * self.sample_rate)


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    at_ms: int


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    segment: SpeechSegment


VadEvent = SpeechStarted | SpeechEnded
Classifier = Callable[[bytes], bool]


def level_dbfs(frame: bytes) -> float:
    """RMS of 16-bit little-endian samples, in dB below full scale (-120 for silence)."""
    samples = array.array("h", frame)
    if sys.byteorder == "big":
        samples.byteswap()
    power = sum(s * s for s in samples) / max(1, len(samples))
    return max(-120.0, 10 * math.log10(power / 32768**2)) if power > 0 else -120.0


def webrtc_classifier(sample_rate: int, aggressiveness: int) -> Classifier:
    """webrtcvad's decision for one frame."""
    vad = webrtcvad.Vad(aggressiveness)

    def is_speech(frame: bytes) -> bool:
        return bool(vad.is_speech(frame, sample_rate))

    return is_speech


class Segmenter:
    """Feed frames in order; get speech events. Time is counted in frames, from zero.

    A frame is voiced when webrtcvad says so and it is louder than `min_level_dbfs`. While
    webrtcvad settles (the first `warmup_ms` of the stream; `settle_ms` after digital
    silence) only loud voiced frames can start speech, but the others still mark where it
    began when speech follows at once.
    """

    def __init__(self, sample_rate: int = 16000, config: VadConfig | None = None,
                 classify: Classifier | None = None) -> None:
        if sample_rate not in VAD_RATES:
            raise ValueError(f"sample rate {sample_rate}: one of {VAD_RATES}")
        self.sample_rate = sample_rate
        self.config = config = config or VadConfig()
        self.frame_bytes = sample_rate * config.frame_ms // 1000 * 2
        self.classify = classify or webrtc_classifier(sample_rate, config.aggressiveness)

        def frames(ms: int) -> int:
            return max(0, math.ceil(ms / config.frame_ms))

        self._window = max(1, frames(config.start_ms))
        self._needed = math.ceil(config.start_ratio * self._window)
        self._pre_roll = frames(config.pre_roll_ms)
        self._end = max(1, frames(config.end_ms))
        self._tail = min(frames(config.tail_ms), self._end)
        self._max = max(1, frames(config.max_segment_ms))
        self._settle_after_silence = frames(config.settle_ms)
        self._silence_before_settle = max(1, frames(SILENCE_BEFORE_SETTLE_MS))
        self._settling = frames(config.warmup_ms)  # frames left that cannot start speech
        self._silent_run = 0
        # Before speech: (index, frame, voiced, counts toward a start), pre-roll plus window.
        self._ring: deque[tuple[int, bytes, bool, bool]] = deque(
            maxlen=self._pre_roll + self._window)
        self._index = 0
        self._segment: list[bytes] | None = None  # frames since the pre-roll began
        self._audio_start = 0
        self._onset = 0
        self._last_voiced = 0

    @property
    def in_speech(self) -> bool:
        return self._segment is not None

    def _ms(self, index: int) -> int:
        return index * self.config.frame_ms

    def push(self, frame: bytes) -> list[VadEvent]:
        if len(frame) != self.frame_bytes:
            raise ValueError(f"frame of {len(frame)} bytes; expected {self.frame_bytes}")
        index = self._index
        self._index += 1
        level = level_dbfs(frame)
        voiced = self.classify(frame) and level >= self.config.min_level_dbfs  # always asked
        if level <= DIGITAL_SILENCE_DBFS:
            self._silent_run += 1
        else:
            if self._silent_run >= self._silence_before_settle:
                self._settling = max(self._settling, self._settle_after_silence)
            self._silent_run = 0
        counts = voiced and (self._settling == 0 or level >= self.config.settle_level_dbfs)
        self._settling = max(0, self._settling - 1)
        if self._segment is None:
            return self._listen(index, frame, voiced, counts)
        self._segment.append(frame)
        if voiced:
            self._last_voiced = index
        if index - self._last_voiced >= self._end:
            return [self._finish(truncated=False)]
        if index + 1 - self._audio_start >= self._max:
            return [self._finish(truncated=True)]
        return []

    def flush(self) -> list[VadEvent]:
        """End of the stream: an utterance still open ends here."""
        return [self._finish(truncated=False)] if self._segment is not None else []

    def _listen(self, index: int, frame: bytes, voiced: bool, counts: bool) -> list[VadEvent]:
        self._ring.append((index, frame, voiced, counts))
        window = list(self._ring)[-self._window:]
        if not counts or sum(c for *_, c in window) < self._needed:
            return []
        self._onset = self._onset_before(next(i for i, _, _, c in window if c))
        first = max(self._onset - self._pre_roll, self._ring[0][0])
        self._segment = [f for i, f, _, _ in self._ring if i >= first]
        self._audio_start = first
        self._last_voiced = index
        self._ring.clear()
        return [SpeechStarted(at_ms=self._ms(self._onset))]

    def _onset_before(self, onset: int) -> int:
        """Voiced frames just before the window, with short gaps, are the same speech: the
        window can slide past a hesitant first syllable, or webrtcvad's settling."""
        gap = 0
        for index, _, voiced, _ in reversed(self._ring):
            if index >= onset:
                continue
            if voiced:
                onset, gap = index, 0
            elif (gap := gap + 1) > MAX_ONSET_GAP:
                break
        return onset

    def _finish(self, *, truncated: bool) -> SpeechEnded:
        assert self._segment is not None
        keep = min(self._last_voiced + 1 + self._tail, self._audio_start + len(self._segment))
        frames = self._segment[:keep - self._audio_start]
        rest = self._segment[keep - self._audio_start:]
        segment = SpeechSegment(
            start_ms=self._ms(self._onset), end_ms=self._ms(self._last_voiced + 1),
            audio_start_ms=self._ms(self._audio_start), audio=b"".join(frames),
            sample_rate=self.sample_rate, truncated=truncated)
        self._segment = None
        for offset, leftover in enumerate(rest):
            # The silence after the tail may be the next utterance's pre-roll (the deque keeps
            # the newest); unvoiced, since that is how this segment ended.
            self._ring.append((keep + offset, leftover, False, False))
        return SpeechEnded(segment)


async def speech_events(frames: AsyncIterator[bytes], segmenter: Segmenter
                        ) -> AsyncIterator[VadEvent]:
    """The events of a live stream (e.g. `CallerAudio.frames()`), then a final flush."""
    async for frame in frames:
        for event in segmenter.push(frame):
            yield event
    for event in segmenter.flush():
        yield event


def voiced_ms(audio: bytes, sample_rate: int, *, frame_ms: int = 30,
              threshold: float = 0.3, floor_dbfs: float = -50.0) -> int:
    """Milliseconds of voiced (periodic, 60-400 Hz pitch) sound in 16-bit little-endian audio.

    Words have vowels, and vowels are periodic; hiss, clicks and most line noise are not, even
    when webrtcvad calls them speech. A segment with (almost) no voiced sound is noise: it is
    not worth a recognizer's guess, which always picks some phrase of the grammar.
    """
    samples = np.frombuffer(audio, dtype="<i2").astype(np.float64) / 32768.0
    size = sample_rate * frame_ms // 1000
    low, high = sample_rate // 400, sample_rate // 60
    voiced = 0
    for start in range(0, samples.size - size + 1, size):
        frame = samples[start:start + size]
        frame = frame - frame.mean()
        energy = float(np.dot(frame, frame))
        if energy <= 0 or 10 * np.log10(energy / size) < floor_dbfs:
            continue
        spectrum = np.fft.rfft(frame, 2 * size)
        corr = np.fft.irfft(spectrum * np.conj(spectrum))[:size]
        if float(corr[low:min(high, size - 1)].max()) / float(corr[0]) >= threshold:
            voiced += 1
    return voiced * frame_ms
