"""Audio checks for tests that assert what a caller heard (pure numpy, no pjsua2).

Signals are float64 arrays in [-1, 1) at 8 kHz mono (the telephone rate our softphone records).
Prompt detection is normalized cross-correlation computed with FFTs, per 0.2 s chunk of the
prompt, each chunk allowed to slide +-25 ms, and 30 ms more per second into the prompt (up to
+-120 ms): the score stays near 1.0 through a G.711 round trip and any constant gain, loses little
to the 20 ms frames a jitter buffer drops or inserts, even several in one prompt (a chunk that
straddles one scores as the two sides of a cut, the later side one frame off the first; see
correlate.py), and unrelated speech stays far below (measured numbers in
tests/unit/test_audio.py). A prompt is also heard whole through up to two stalls of the media
path of up to 0.5 s each (the audio late, nothing lost: a loaded machine does it), and
`Match.stalled_s` says how late it ended.

Caveat for assertions: a one-word prompt ("two") also matches where the same word is spoken
inside a longer prompt ("... press 2"). `heard_sequence` leaves such a match out when it also
finds the longer prompt; with `find_prompt` alone, assert on order and offsets, not presence.
"""

from __future__ import annotations

import bisect
import math
import wave
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from ..media.audio import resample as resample  # the media layer owns it; tests import it here
from .correlate import _FRAME_S, _MAX_SLACK_S, _STALL_S, Signal, _chunks, _span_max

Audio: TypeAlias = "Signal | Path | str"

RATE = 8000
DEFAULT_THRESHOLD = 0.7  # played >= 0.78 (0.99 typical), absent <= 0.65: tests/unit/test_audio.py
HEARD_WHOLE = 0.75
"""For end-to-end checks of what a caller heard. Measured on real calls: a prompt heard whole
scores 0.99, and 0.81 with a frame the softphone's jitter buffer concealed in a loud syllable
on a loaded machine. A digit said inside a longer prompt ("... press 2") reaches 0.78, but
heard_sequence leaves such nested matches out; other lookalikes stayed at 0.6 or below."""
_STALLS = 2  # pauses of the media path a prompt may be heard through (_Stalls), each
# at most correlate._STALL_S long
_TIE = 1e-3  # how much exact alignment counts in a path's sum: it breaks ties, no more
_ENDS_TRIED = 64  # per run of candidate offsets, the best by the weighted sum
_QUANTILE = 0.1  # score = the level reached by 90 % of the prompt's energy


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
    stalled_s: float = 0.0
    """How much later than its length the prompt ended: the stalls it was heard through."""


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


def _trailing_max(x: Signal, width: int) -> Signal:
    """max(x[i-width : i]) for every i (strictly earlier); -inf where empty."""
    if x.size == 0:
        return x
    return _span_max(np.concatenate([np.full(width, -np.inf), x[:-1]]), width)


class _Stalls:
    """Where each chunk of a prompt may lie: at the previous chunk's offset (the slack takes
    the jitter), or up to ``_STALL_S`` later (a stall: the audio was delayed, nothing lost),
    at most ``_STALLS`` times, each after two chunks at least at the same offset (so a short
    prompt, or a lookalike, cannot be pieced together from words found apart).

    The state arrays are energy-weighted sums of the chunks' scores by the current chunk's
    offset: "settled" after two chunks or more at one offset, "fresh" just after a stall,
    one of each per number of stalls so far. ``keep`` keeps every step, to trace paths back.
    """

    def __init__(self, stall: int, keep: bool) -> None:
        self.stall, self.keep = stall, keep
        self.settled: list[Signal] = []
        self.fresh: list[Signal] = []
        self.steps: list[tuple[list[Signal], list[Signal]]] = []  # after each chunk

    def add(self, weight: float, best: Signal, exact: Signal) -> None:
        score = weight * (best + _TIE * exact)  # within the slack's flat top, the exact place
        if not self.fresh:  # the first chunk
            none = np.full_like(best, -np.inf)
            self.settled = [none] * (_STALLS + 1)
            self.fresh = [score] + [none] * _STALLS
        else:
            settled = [score + np.maximum(s, f) for s, f in zip(self.settled, self.fresh,
                                                                  strict=True)]
            fresh = [np.full_like(best, -np.inf)] + [
                score + _trailing_max(np.maximum(s, f), self.stall)
                for s, f in zip(self.settled[:-1], self.fresh[:-1], strict=True)]
            self.settled, self.fresh = settled, fresh
        if self.keep:
            self.steps.append((self.settled, self.fresh))

    def total(self) -> Signal:
        """The best sum by the last chunk's offset (a stall right before it counts as none)."""
        out: Signal = np.max(np.array(self.settled + self.fresh[:1]), axis=0)
        return out

    def path(self, end: int) -> list[int]:
        """The offsets, chunk by chunk, of the best path ending at ``end`` (needs ``keep``)."""
        n = len(self.steps)
        final = [(self.steps[-1][0][k][end], 0, k) for k in range(_STALLS + 1)]
        final.append((self.steps[-1][1][0][end], 1, 0))
        _, fresh, k = max(final)
        offsets = [end]
        for i in range(n - 1, 0, -1):
            settled_before, fresh_before = self.steps[i - 1]
            o = offsets[-1]
            if fresh:  # came by a stall from a path with one stall fewer
                lo = max(0, o - self.stall)
                before = np.maximum(settled_before[k - 1][lo:o], fresh_before[k - 1][lo:o])
                o = lo + int(np.argmax(before))
                fresh = bool(fresh_before[k - 1][o] > settled_before[k - 1][o])
                k -= 1
            else:
                fresh = bool(fresh_before[k][o] > settled_before[k][o])
            offsets.append(o)
        return offsets[::-1]


def _window_chunks(r: Signal, p: Signal, rate: int, windows: list[tuple[int, int]]
                   ) -> list[tuple[Signal, Signal, Signal]]:
    """The chunks' weights, best and exact scores (chunks x offsets) in each window of
    offsets, correlated over the stretch of recording around it only: what a chunk scores at
    an offset depends on the recording within the slack and a stall of it, no further."""
    reach = int(rate * (_MAX_SLACK_S + _STALL_S + 4 * _FRAME_S))
    out = []
    for a, b in windows:
        lo, hi = max(0, a - reach), min(r.size, b + p.size + reach)
        chunks = list(_chunks(r[lo:hi], p, rate))
        out.append((np.array([c.weight for c in chunks]),
                    np.array([c.best[a - lo : b - lo] for c in chunks]),
                    np.array([c.exact[a - lo : b - lo] for c in chunks])))
    return out


def find_prompt(
    recording: Audio,
    prompt: Audio,
    threshold: float = DEFAULT_THRESHOLD,
    rate: int = RATE,
    head_s: float | None = None,
) -> list[Match]:
    """Where the whole ``prompt`` was heard in ``recording``, in time order (empty if never).

    The score is the level that 90 % of the prompt's energy reaches: every 0.2 s chunk's best
    normalized cross-correlation within the slack (+-25 ms, growing by 30 ms per second into
    the prompt: frames a jitter buffer drops or inserts cost little), weighted by the chunk's
    energy, the chunks in order at one offset or delayed by a stall or two (_Stalls: a loaded
    machine's media path paused 0.4 s inside a prompt and then went on). A prompt that only
    shares words with what was heard ("you pressed two" vs "you pressed one") stays well
    below. ``head_s`` matches only the prompt's first seconds (a prompt cut short by
    barge-in).
    """
    r, p = _as_signal(recording, rate), _as_signal(prompt, rate)
    if head_s is not None:
        p = p[: int(head_s * rate)]
    stall = int(rate * _STALL_S)
    # Pass 1, cheap: the best path's weighted mean bounds the quantile of any path
    # (q90 >= T implies mean >= 0.9T - 0.1).
    bound = _Stalls(stall, keep=False)
    for c in _chunks(r, p, rate):
        bound.add(c.weight, c.best, c.exact)
    if not bound.fresh:
        return []
    ends = np.flatnonzero(bound.total() >= (1 - _QUANTILE) * threshold - _QUANTILE + _TIE)
    if ends.size == 0:
        return []
    # Pass 2, per run of candidate ends: the best path to each end (every chunk at the end's
    # offset, or through stalls), its quantile score, and how exactly it aligns (to pin the
    # offset to the sample: the slack makes the scores flat around it).
    breaks = np.flatnonzero(np.diff(ends) > 1) + 1
    runs = np.split(ends, breaks)
    windows = [(max(0, int(run[0]) - _STALLS * stall), int(run[-1]) + 1) for run in runs]
    per_window = _window_chunks(r, p, rate, windows)
    weights = per_window[0][0]
    rows = np.arange(weights.size)[:, None]
    found = []  # rows: exactness, start, score, stall (samples), a column per candidate
    for (_, best, exact), (a, _), run in zip(per_window, windows, runs, strict=True):
        at_end = run - a
        paths = [np.broadcast_to(at_end, (weights.size, at_end.size))]  # no stall
        window = _Stalls(stall, keep=True)
        for weight, row, exact_row in zip(weights, best, exact, strict=True):
            window.add(float(weight), row, exact_row)
        total = window.total()
        stalled = at_end[total[at_end] > window.settled[0][at_end] + 1e-9]
        stalled = stalled[np.argsort(-total[stalled])][:_ENDS_TRIED]
        if stalled.size:
            paths.append(np.array([window.path(int(e)) for e in stalled]).T)
        for at in paths:
            score = _weighted_quantile(best[rows, at], weights, _QUANTILE)
            ok = score >= threshold
            found.append(np.stack([(weights @ exact[rows, at])[ok], a + at[0][ok], score[ok],
                                   (at[-1] - at[0])[ok]]))
    # One hearing per half a prompt: the most exactly aligned offset of each (the slack makes
    # the scores flat around it), scored as the best of its neighbours. One run of candidates
    # may hold several hearings: a digit said four times in a row, for one.
    aligned, starts, scores, delays = np.concatenate(found, axis=1)
    half = p.size // 2
    kept: list[int] = []  # indices into the candidates
    taken: list[float] = []  # their starts, in order
    for i in np.argsort(-aligned, kind="stable"):
        place = bisect.bisect_left(taken, starts[i])
        if (place < len(taken) and taken[place] - starts[i] < half) or \
                (place > 0 and starts[i] - taken[place - 1] < half):
            continue
        taken.insert(place, float(starts[i]))
        kept.append(int(i))
    out = []
    for i in kept:
        near = np.abs(starts - starts[i]) < half
        out.append(Match(round(float(starts[i]) / rate, 3), round(float(scores[near].max()), 3),
                         round(float(delays[i]) / rate, 3)))
    return sorted(out, key=lambda m: m.offset_s)


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
            found.append((name, start, start + prompt.size + round(m.stalled_s * rate)))
    slack = int(rate * _MAX_SLACK_S)
    heard = [(name, start / rate) for name, start, end in found
             if not any(o_end - o_start > end - start and o_start - slack <= start
                        and end <= o_end + slack for _, o_start, o_end in found)]
    return sorted(heard, key=lambda item: item[1])
