"""Audio checks for tests that assert what a caller heard (pure numpy, no pjsua2).

Signals are float64 arrays in [-1, 1) at 8 kHz mono (the telephone rate our softphone records).
Prompt detection is normalized cross-correlation computed with FFTs, per 0.2 s chunk of the
prompt, each chunk allowed to slide +-25 ms, and 30 ms more per second into the prompt (up to
+-120 ms): the score stays near 1.0 through a G.711 round trip and any constant gain, loses little
to the 20 ms frames a jitter buffer drops or inserts, even several in one prompt (a chunk that
straddles one scores as the two sides of a cut, the later side one frame off the first), and
unrelated speech stays far below (measured numbers in tests/unit/test_audio.py).

Caveat for assertions: a one-word prompt ("two") also matches where the same word is spoken
inside a longer prompt ("... press 2"). `heard_sequence` leaves such a match out when it also
finds the longer prompt; with `find_prompt` alone, assert on order and offsets, not presence.
"""

from __future__ import annotations

import itertools
import math
import wave
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from ..media.audio import resample as resample  # the media layer owns it; tests import it here

Signal: TypeAlias = npt.NDArray[np.float64]
Audio: TypeAlias = "Signal | Path | str"

RATE = 8000
DEFAULT_THRESHOLD = 0.7  # played >= 0.78 (0.99 typical), absent <= 0.65: tests/unit/test_audio.py
HEARD_WHOLE = 0.75
"""For end-to-end checks of what a caller heard. Measured on real calls: a prompt heard whole
scores 0.99, and 0.81 with a frame the softphone's jitter buffer concealed in a loud syllable
on a loaded machine. A digit said inside a longer prompt ("... press 2") reaches 0.78, but
heard_sequence leaves such nested matches out; other lookalikes stayed at 0.6 or below."""
_CHUNK_S = 0.2  # prompt chunk correlated on its own
_FRAME_S = 0.02  # what a jitter buffer inserts or drops at once: one RTP frame
_FRAME_TOLERANCE = 8  # samples either side of it (seen: exactly 160 at 8 kHz)
_SLACK_S = 0.025  # how far each chunk may slide (a dropped/inserted 20 ms jitter-buffer frame)
_DRIFT = 0.03  # and further per second into the prompt: a jitter buffer under load drops or
# inserts frames again and again (60 ms within 2 s of one prompt, seen on a CI machine)
_MAX_SLACK_S = 0.12
_QUANTILE = 0.1  # score = the level reached by 90 % of the prompt's energy
_FLOOR_DBFS = -80.0  # chunks and windows quieter than this are silence


# ----- files and sample rates
def load_wav(path: Path | str, rate: int = RATE) -> Signal:
    """Read a PCM WAV (8/16/32-bit, any channels) as mono float, resampled to ``rate``."""
    with wave.open(str(path), "rb") as w:
        width, channels, src_rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
        raw = w.readframes(w.getnframes())
    if width == 1:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    elif width == 4:
        x = np.frombuffer(raw, dtype="<i4").astype(np.float64) / 2147483648.0
    else:
        raise ValueError(f"{path}: unsupported sample width {width} bytes")
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    return resample(x, src_rate, rate)


def save_wav(path: Path | str, x: Signal, rate: int = RATE) -> None:
    """Write mono 16-bit PCM (what Asterisk and the softphone play)."""
    pcm = np.clip(np.round(x * 32768.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def _as_signal(audio: Audio, rate: int) -> Signal:
    if isinstance(audio, np.ndarray):
        return np.asarray(audio, dtype=np.float64)
    return load_wav(audio, rate)


# ----- G.711 mu-law (what a PCMU call does to audio)
_BIAS, _CLIP = 0x84, 32635


def ulaw_encode(x: Signal) -> npt.NDArray[np.uint8]:
    """G.711 mu-law bytes for float samples (ITU-T G.711 segment encoding)."""
    s = np.clip(np.round(np.asarray(x) * 32768.0), -32768, 32767).astype(np.int32)
    sign = (s < 0).astype(np.int32)
    mag = np.minimum(np.abs(s), _CLIP) + _BIAS
    exponent = np.clip(np.floor(np.log2(mag)).astype(np.int32) - 7, 0, 7)
    mantissa = (mag >> (exponent + 3)) & 0x0F
    codes: npt.NDArray[np.uint8] = (~((sign << 7) | (exponent << 4) | mantissa) & 0xFF).astype(
        np.uint8
    )
    return codes


def ulaw_decode(codes: npt.NDArray[np.uint8]) -> Signal:
    """Float samples for G.711 mu-law bytes."""
    u = ~np.asarray(codes, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mag = ((((u & 0x0F) << 3) + _BIAS) << exponent) - _BIAS
    return np.where(u & 0x80, -mag, mag).astype(np.float64) / 32768.0


def ulaw_roundtrip(x: Signal) -> Signal:
    """What the far end hears of ``x`` over a PCMU call."""
    return ulaw_decode(ulaw_encode(x))


# ----- levels and speech
def rms_dbfs(x: Signal) -> float:
    """RMS level in dB relative to full scale (-120 for digital silence or empty input)."""
    if x.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(np.square(x))))
    return max(-120.0, 20.0 * math.log10(rms)) if rms > 0 else -120.0


def is_silent(audio: Audio, threshold_dbfs: float = -50.0, rate: int = RATE) -> bool:
    """True when no 20 ms frame rises above ``threshold_dbfs`` (a dead or muted line)."""
    x = _as_signal(audio, rate)
    return all(level < threshold_dbfs for level in _frame_dbfs(x, int(rate * 0.02)))


def _frame_dbfs(x: Signal, frame: int) -> list[float]:
    n = x.size // frame
    if n == 0:
        return [rms_dbfs(x)]
    power = np.mean(np.square(x[: n * frame].reshape(n, frame)), axis=1)
    return [float(v) for v in 10.0 * np.log10(np.maximum(power, 1e-12))]


def speech_segments(
    audio: Audio,
    threshold_dbfs: float = -40.0,
    min_speech_s: float = 0.08,
    min_gap_s: float = 0.3,
    rate: int = RATE,
) -> list[tuple[float, float]]:
    """(start, end) seconds of stretches louder than ``threshold_dbfs`` in 20 ms frames.

    Gaps shorter than ``min_gap_s`` (pauses between words) are bridged; bursts shorter than
    ``min_speech_s`` (clicks) are dropped.
    """
    x = _as_signal(audio, rate)
    frame = int(rate * 0.02)
    loud = [level >= threshold_dbfs for level in _frame_dbfs(x, frame)]
    segments: list[tuple[float, float]] = []
    start: int | None = None
    for i, on in enumerate([*loud, False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            begin, end = start * frame / rate, i * frame / rate
            if segments and begin - segments[-1][1] < min_gap_s:
                begin = segments.pop()[0]
            segments.append((begin, end))
            start = None
    return [(round(a, 3), round(b, 3)) for a, b in segments if b - a >= min_speech_s]


# ----- prompt detection
@dataclass(frozen=True)
class Match:
    """The prompt starts ``offset_s`` seconds into the recording; ``score`` 1.0 is identical."""

    offset_s: float
    score: float


@dataclass
class _Chunk:
    start: int  # sample offset of the chunk inside the prompt
    weight: float  # share of the prompt's energy
    best: Signal  # best NCC within +-slack, indexed by prompt offset in the recording
    exact: Signal  # NCC at exactly that offset (to pin the offset to the sample)


class _Correlator:
    """Cross-correlation of short pieces against one long recording, by overlap-save.

    The recording is cut once into overlapping blocks and transformed; each piece then costs
    one inverse FFT over the blocks, not two transforms as long as the recording (four times
    faster on a minute of audio, and the blocks' spectrum is shared by every piece)."""

    def __init__(self, r: Signal, longest: int, block: int = 4096) -> None:
        self.size, self.block = r.size, block
        self.hop = block - longest + 1
        n_blocks = -(-r.size // self.hop)
        padded = np.zeros((n_blocks - 1) * self.hop + block)
        padded[: r.size] = r
        frames = np.lib.stride_tricks.sliding_window_view(padded, block)[:: self.hop]
        self.spectrum = np.fft.rfft(frames, axis=1)

    def __call__(self, piece: Signal) -> Signal:
        """sum_n r[k + n] * piece[n] for k in 0..len(r)-len(piece)."""
        spec = self.spectrum * np.conj(np.fft.rfft(piece, self.block))
        out = np.fft.irfft(spec, self.block, axis=1)[:, : self.hop].ravel()
        return out[: self.size - piece.size + 1]


def _sliding_max(x: Signal, radius: int) -> Signal:
    """max(x[i-radius : i+radius+1]) for every i, by doubling: log2(window) passes."""
    w = 2 * radius + 1
    m = np.concatenate([np.full(radius, -np.inf), x, np.full(radius, -np.inf)])
    span = 1  # m[i] = max of the padded x over [i, i + span)
    while 2 * span <= w:
        m = np.maximum(m[:-span], m[span:])
        span *= 2
    out: Signal = np.maximum(m[: x.size], m[w - span : w - span + x.size])
    return out


def _in_prompt_offsets(ncc: Signal, start: int, lo: int, hi: int) -> Signal:
    """``ncc`` (indexed by where a piece starting ``start`` into the prompt lies in the
    recording) re-indexed by prompt offset, for offsets lo..hi-1; -inf where it does not fit."""
    out = np.full(hi - lo, -np.inf)
    a, b = max(lo, -start), min(hi, ncc.size - start)
    if b > a:
        out[a - lo : b - lo] = ncc[a + start : b + start]
    return out


def _chunks(r: Signal, prompt: Signal, rate: int) -> Iterator[_Chunk]:
    """Per-chunk normalized cross-correlation of the prompt against the recording.

    A chunk that straddles a frame the jitter buffer inserted or dropped matches badly as a
    whole (a loud one weighs a quarter of "goodbye"), but well as two sides of a cut, the
    later side one frame (20 ms, to the sample) later or earlier than the first: a chunk
    scores the better of itself and its cuts at a quarter, a half and three quarters (a frame
    inserted inside a half, seen on a loaded CI machine, cost a loud chunk 0.4 when only its
    halves could move). Letting the sides slide freely instead lifts lookalikes ("nine" in
    "... demonstration line") towards the threshold. The quarters are correlated once and
    summed into the larger pieces: four FFTs per chunk.
    """
    p = prompt - np.mean(prompt)
    if r.size < p.size or not np.any(p):
        return
    chunk, frame = int(rate * _CHUNK_S), int(rate * _FRAME_S)
    xcorr = _Correlator(r, chunk // 4)
    energy = np.concatenate([[0.0], np.cumsum(np.square(r))])
    windows: dict[int, Signal] = {}  # the recording's energy in every window of a size
    n_offsets = r.size - p.size + 1
    total = float(np.sum(np.square(p)))

    def piece_ncc(parts: list[tuple[int, int, Signal]]) -> tuple[float, Signal] | None:
        """The energy and NCC (by position in the recording) of the piece made of ``parts``
        (start, size, correlation), or None if it is silence."""
        start, size = parts[0][0], sum(part_size for _, part_size, _ in parts)
        floor = 10 ** (_FLOOR_DBFS / 20) * math.sqrt(size)  # quieter windows are silence
        norm = float(np.linalg.norm(p[start : start + size]))
        if norm < floor:
            return None
        n = r.size - size + 1
        corr = np.zeros(n)
        for at, _, part_corr in parts:  # correlation is linear: the parts add up
            corr += part_corr[at - start : at - start + n]
        if size not in windows:
            windows[size] = np.sqrt(np.maximum(energy[size:] - energy[:-size], 0.0))
        return norm * norm, corr / (norm * np.maximum(windows[size], floor))

    for start in range(0, p.size, chunk):
        size = min(chunk, p.size - start)
        slack = int(rate * min(_MAX_SLACK_S, _SLACK_S + _DRIFT * start / rate))
        bounds = sorted({start + min(size, i * (chunk // 4)) for i in range(4)} | {start + size})
        quarters = [(a, b - a, xcorr(p[a:b]))
                    for a, b in itertools.pairwise(bounds)]
        whole = piece_ncc(quarters)
        if whole is None:
            continue
        pad = slack + frame
        lo, hi = -pad, n_offsets + pad
        weight, ncc = whole
        joint = _in_prompt_offsets(ncc, start, lo, hi)
        for cut in range(1, len(quarters)):
            left, right = piece_ncc(quarters[:cut]), piece_ncc(quarters[cut:])
            if left is None or right is None:
                continue
            later = _sliding_max(_in_prompt_offsets(right[1], quarters[cut][0], lo, hi),
                                 _FRAME_TOLERANCE)
            moved = np.full_like(later, -np.inf)  # the later side, one frame either way
            moved[frame:] = later[:-frame]
            moved[:-frame] = np.maximum(moved[:-frame], later[frame:])
            first = _in_prompt_offsets(left[1], start, lo, hi)
            joint = np.maximum(joint, (left[0] * first + right[0] * moved) / (left[0] + right[0]))
        best = _sliding_max(joint, slack)[pad : pad + n_offsets]
        yield _Chunk(start, weight / total, best, ncc[start : start + n_offsets])


def prompt_score(recording: Audio, prompt: Audio, rate: int = RATE) -> Signal:
    """Energy-weighted mean chunk score of ``prompt`` at every offset (cheap; for diagnosis)."""
    r, p = _as_signal(recording, rate), _as_signal(prompt, rate)
    total = np.zeros(max(0, r.size - p.size + 1))
    for c in _chunks(r, p, rate):
        total += c.weight * c.best
    return total


def _weighted_quantile(values: Signal, weights: Signal, q: float) -> Signal:
    """Per column of ``values`` (chunks x offsets): the value below which ``q`` of weight lies."""
    order = np.argsort(values, axis=0)
    cum = np.cumsum(weights[order], axis=0)
    first = np.argmax(cum >= q * cum[-1], axis=0)
    ranked: Signal = np.take_along_axis(values, order, axis=0)[first, np.arange(values.shape[1])]
    return ranked


def find_prompt(
    recording: Audio,
    prompt: Audio,
    threshold: float = DEFAULT_THRESHOLD,
    rate: int = RATE,
    head_s: float | None = None,
) -> list[Match]:
    """Where the whole ``prompt`` was heard in ``recording``, in time order (empty if never).

    The score at an offset is the level that 90 % of the prompt's energy reaches: every 0.2 s
    chunk's best normalized cross-correlation within the slack (+-25 ms, growing by 30 ms per
    second into the prompt: frames a jitter buffer drops or inserts cost little), weighted by
    the chunk's energy. A prompt that only shares words with what was heard ("you pressed
    two" vs "you pressed one") stays well below.
    ``head_s`` matches only the prompt's first seconds (a prompt cut short by barge-in).
    """
    r, p = _as_signal(recording, rate), _as_signal(prompt, rate)
    if head_s is not None:
        p = p[: int(head_s * rate)]
    # Pass 1, cheap: the weighted mean bounds the quantile (q90 >= T implies mean >= 0.9T - 0.1).
    mean = np.zeros(max(0, r.size - p.size + 1))
    for c in _chunks(r, p, rate):
        mean += c.weight * c.best
    candidates = np.flatnonzero(mean >= (1 - _QUANTILE) * threshold - _QUANTILE)
    if candidates.size == 0:
        return []
    # Pass 2: the energy quantile and the exact-alignment score at the candidates only.
    chunks = list(_chunks(r, p, rate))
    weights = np.array([c.weight for c in chunks])
    best = np.array([c.best[candidates] for c in chunks])
    exact = weights @ np.array([c.exact[candidates] for c in chunks])
    score = _weighted_quantile(best, weights, _QUANTILE)
    ok = score >= threshold
    offsets, score, exact = candidates[ok], score[ok], exact[ok]
    if offsets.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(offsets) > 1) + 1
    runs = [(int(np.argmax(exact[run])), run) for run in np.split(np.arange(offsets.size), breaks)]
    found = [(int(offsets[run[i]]), float(np.max(score[run]))) for i, run in runs]
    found.sort(key=lambda item: -item[1])
    kept: list[tuple[int, float]] = []
    for offset, value in found:  # runs closer than half a prompt are the same hearing
        if all(abs(offset - k) >= p.size // 2 for k, _ in kept):
            kept.append((offset, value))
    return [Match(round(k / rate, 3), round(v, 3)) for k, v in sorted(kept)]


def heard_sequence(
    recording: Audio,
    prompts: Mapping[str, Audio],
    threshold: float = DEFAULT_THRESHOLD,
    rate: int = RATE,
) -> list[tuple[str, float]]:
    """(name, offset_s) of every prompt heard, sorted by time: ``[("welcome", 0.5), ...]``.

    A prompt found inside a longer one found at the same time ("two" inside "... press 2")
    is that prompt's word, not a prompt of its own, and is left out.
    """
    r = _as_signal(recording, rate)
    found: list[tuple[str, int, int]] = []  # name, first and last sample
    for name, audio in prompts.items():
        prompt = _as_signal(audio, rate)
        for m in find_prompt(r, prompt, threshold, rate):
            start = round(m.offset_s * rate)
            found.append((name, start, start + prompt.size))
    slack = int(rate * _MAX_SLACK_S)
    heard = [(name, start / rate) for name, start, end in found
             if not any(o_end - o_start > end - start and o_start - slack <= start
                        and end <= o_end + slack for _, o_start, o_end in found)]
    return sorted(heard, key=lambda item: item[1])
