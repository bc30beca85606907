"""The recordings and the way a call's audio reaches the recognizer, for bench/speech.py.

Every measurement (accuracy, digit strings, calls at once) sends its audio down this one path,
so a number in one table can be compared with a number in another: the clip as the line carries
it, 20 ms RTP frames of big-endian slin, swapped and fed to an `AsyncTurn` frame by frame.
"""

from __future__ import annotations

import math
import os
import random
import wave
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ivr.media.audio import be_to_le, float_to_pcm16, pcm16_to_float
from ivr.media.speech import AsyncTurn, Engine, Grammar
from ivr.testing.audio import ulaw_roundtrip

ROOT = Path(__file__).resolve().parents[1]
FSDD = Path(os.environ.get("IVR_FSDD", ROOT.parent / "shared" / "data" / "fsdd"))
FRAME = 160  # samples in a 20 ms RTP frame at 8 kHz
PAD_S = 0.3  # pre-roll and hangover a VAD-gated turn gives the recognizer
SPEAKERS = ("george", "jackson", "lucas", "nicolas")


@dataclass(frozen=True)
class Clip:
    """One recording: `<digit>_<speaker>_<n>.wav`, so the name says what was said, by whom."""

    path: Path
    digit: str
    speaker: str


def clips(limit: int | None) -> list[Clip]:
    """All the recordings, or `limit` of them picked with a fixed seed (runs are comparable)."""
    found = [Clip(p, *p.stem.split("_")[:2]) for p in sorted(FSDD.glob("*.wav"))]
    if not found:
        raise SystemExit(f"no recordings in {FSDD} (set IVR_FSDD)")
    if limit and limit < len(found):
        found = sorted(random.Random(0).sample(found, limit), key=lambda c: c.path.name)
    return found


def read(clip: Clip) -> np.ndarray:
    """The recording as floats; anything but 8 kHz 16-bit mono would not be telephone audio."""
    with wave.open(str(clip.path), "rb") as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        return pcm16_to_float(w.readframes(w.getnframes()))


TALK_LEVEL = 256 / 32768
"""Asterisk's talk detection (func_talkdetect with dsp.conf's default silencethreshold): a
20 ms frame whose mean absolute sample reaches 256 (of 32768) is talking."""


def talk_onset(x: np.ndarray) -> int | None:
    """The sample just after the first frame Asterisk's TALK_DETECT calls talking (when its
    ChannelTalkingStarted is raised), or None if it never would."""
    frames = x[: x.size // FRAME * FRAME].reshape(-1, FRAME)
    loud = np.flatnonzero(np.mean(np.abs(frames), axis=1) >= TALK_LEVEL)
    return int(loud[0] + 1) * FRAME if loud.size else None


def line_audio(clip: Clip, pad: bool, ulaw: bool, gain_db: float = 0.0,
               gate_ms: int | None = None) -> np.ndarray:
    """The clip as the line carries it: with `pad`, the recording's own noise floor (its
    quietest 10 ms) before and after the speech, as a VAD-gated turn would deliver it.

    With `gate_ms`, the audio path opens only when Asterisk says the caller is talking: what
    the recognizer gets starts `gate_ms` after the frame that raised the event (the event's and
    the path's set-up time), and there is no pre-roll before it."""
    x = read(clip) * 10 ** (gain_db / 20)
    if ulaw:
        x = ulaw_roundtrip(x)
    cut = 0
    if gate_ms is not None:
        onset = talk_onset(x)
        cut = x.size if onset is None else min(x.size, onset + gate_ms * 8)
    if pad:
        frames = x[: x.size // 80 * 80].reshape(-1, 80)
        floor = float(np.sqrt(np.min(np.mean(frames**2, axis=1))))
        rng = np.random.default_rng(zlib.crc32(clip.path.name.encode()))
        n = int(PAD_S * 8000)
        noise = rng.normal(0, floor, 2 * n)
        if ulaw:
            noise = ulaw_roundtrip(noise)
        x = np.concatenate([noise[:n] if gate_ms is None else noise[:0], x[cut:], noise[n:]])
    return x[cut:] if not pad else x


def rtp_frames(x: np.ndarray) -> list[bytes]:
    """20 ms slin frames as RTP carries them: big-endian."""
    return [float_to_pcm16(x[i:i + FRAME], "big") for i in range(0, x.size, FRAME)]


class NaiveUpsampler:
    """The baseline: every sample twice (leaves a mirror image of 0-4 kHz in 4-8 kHz)."""

    def process(self, pcm_le: bytes) -> bytes:
        return np.repeat(np.frombuffer(pcm_le, "<i2"), 2).tobytes()

    def flush(self) -> bytes:
        return b""


async def recognize(engine: Engine, grammar: Grammar, frames: Sequence[bytes],
                    executor: ThreadPoolExecutor, naive: bool
                    ) -> tuple[str | None, float, float]:
    """One turn through the call path: (value, confidence, decision latency).

    Frames go in as fast as the decoder takes them, the decoder catching up every 100 ms as it
    does in a call, so the latency is what a caller waits after the last frame.
    """
    turn = await AsyncTurn.start(engine, grammar, executor=executor,
                                 converter=NaiveUpsampler() if naive else None)
    for n, frame in enumerate(frames, 1):
        turn.feed(be_to_le(frame))
        if n % 5 == 0:
            await turn.settle()
    result = await turn.finish()
    return result.value, result.confidence, result.finish_s


def q(xs: Sequence[float], f: float) -> float:
    """The f-quantile of sorted seconds, in ms."""
    return 1000 * xs[min(len(xs) - 1, int(f * len(xs)))] if xs else math.inf
