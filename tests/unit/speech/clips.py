"""Real 8 kHz speech for recognizer tests: the project's sample of the spoken-digit recordings
in tests/data/fsdd (four speakers, CC BY-SA 4.0; see its README), or IVR_FSDD.

A helper module, not a conftest: the speech tests and tests/unit/test_speech_ears.py import it.
"""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np

from ivr.media.audio import float_to_pcm16, pcm16_to_float

FSDD = Path(os.environ.get("IVR_FSDD", Path(__file__).resolve().parents[2] / "data" / "fsdd"))


def read_clip(name: str) -> bytes:
    """A recording's 16-bit little-endian 8 kHz samples."""
    path = FSDD / f"{name}.wav"
    assert path.exists(), f"no {path}: copy it from ../shared/data/fsdd (keep the README)"
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        return w.readframes(w.getnframes())


def frames(pcm: bytes, ms: int = 20) -> list[bytes]:
    """The recording cut as RTP delivers it: 20 ms of 8 kHz slin per packet."""
    size = 8000 * ms // 1000 * 2
    return [pcm[i:i + size] for i in range(0, len(pcm), size)]


def on_the_line(*pcms: bytes, gap_s: float = 0.25, pad_s: float = 0.3) -> bytes:
    """Recordings as a turn receives them from a call: the line's noise (the first
    recording's quietest 10 ms, i.e. its own noise floor) before, between and after them."""
    xs = [pcm16_to_float(p) for p in pcms]
    quiet = xs[0][: xs[0].size // 80 * 80].reshape(-1, 80)
    floor = float(np.sqrt(np.min(np.mean(quiet**2, axis=1))))
    rng = np.random.default_rng(0)

    def noise(seconds: float) -> np.ndarray:
        return rng.normal(0, floor, int(8000 * seconds))

    parts = [noise(pad_s)]
    for i, x in enumerate(xs):
        parts += [x, noise(gap_s if i < len(xs) - 1 else pad_s)]
    return float_to_pcm16(np.concatenate(parts))
