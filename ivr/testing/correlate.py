"""The correlation under prompt detection (ivr.testing.audio): each 0.2 s chunk of a prompt
against a whole recording, normalized, with the slack a jitter buffer needs.

Each chunk may slide +-25 ms, and 30 ms more per second into the prompt (up to +-120 ms); a
chunk that straddles a frame the jitter buffer inserted or dropped scores as the two sides of
a cut, the later side one frame off the first (or up to two frames, either way, where both
sides match well). Correlation is by overlap-save FFT blocks,
shared by every piece of the prompt.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

Signal: TypeAlias = npt.NDArray[np.float64]

_CHUNK_S = 0.2  # prompt chunk correlated on its own
_FRAME_S = 0.02  # what a jitter buffer inserts or drops at once: one RTP frame
_FRAME_TOLERANCE = 8  # samples either side of it (seen: exactly 160 at 8 kHz)
_STALL_S = 0.5  # the longest pause of the media path a prompt is heard whole through
_SURE = 0.8  # both sides of a cut match at least this well to move more freely
_SLACK_S = 0.025  # how far each chunk may slide (a dropped/inserted 20 ms jitter-buffer frame)
_DRIFT = 0.03  # and further per second into the prompt: a jitter buffer under load drops or
# inserts frames again and again (60 ms within 2 s of one prompt, seen on a CI machine)
_MAX_SLACK_S = 0.12
_FLOOR_DBFS = -80.0  # chunks and windows quieter than this are silence


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


def _span_max(x: Signal, width: int) -> Signal:
    """max(x[i : i+width]) for i in 0..len(x)-width, by doubling: log2(width) passes."""
    m, span = x, 1  # m[i] = max of x over [i, i + span)
    while 2 * span <= width:
        m = np.maximum(m[:-span], m[span:])
        span *= 2
    n = x.size - width + 1
    out: Signal = np.maximum(m[:n], m[width - span : width - span + n])
    return out


def _sliding_max(x: Signal, radius: int) -> Signal:
    """max(x[i-radius : i+radius+1]) for every i."""
    edge = np.full(radius, -np.inf)
    return _span_max(np.concatenate([edge, x, edge]), 2 * radius + 1)


def _window_max(x: Signal, lo: int, hi: int, ahead: int, radius: int) -> Signal:
    """max(x[i + ahead - radius : i + ahead + radius + 1]) for i in lo..hi-1; -inf elsewhere."""
    out = np.full_like(x, -np.inf)
    a, b = max(0, lo + ahead - radius), min(x.size, hi + ahead + radius + 1)
    if b <= a:
        return out
    m = _sliding_max(x[a:b], radius)
    at = np.arange(lo, hi)
    j = at + ahead - a
    ok = (j >= 0) & (j < m.size)
    out[at[ok]] = m[j[ok]]
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
    halves could move). Letting the sides slide freely lifts lookalikes ("nine" in
    "... demonstration line") to the threshold, so the later side moves by other amounts (up
    to two frames: jitter buffers stretch and shrink too) only where both sides match at
    `_SURE` or better. The quarters are correlated once and summed into the larger pieces:
    four FFTs per chunk.
    """
    p = prompt - np.mean(prompt)
    if r.size < p.size or not np.any(p):
        return
    chunk, frame = int(rate * _CHUNK_S), int(rate * _FRAME_S)
    stall = int(rate * _STALL_S)
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
        pad = slack + stall
        lo, hi = -pad, n_offsets + pad
        weight, ncc = whole
        joint = _in_prompt_offsets(ncc, start, lo, hi)
        for cut in range(1, len(quarters)):
            left, right = piece_ncc(quarters[:cut]), piece_ncc(quarters[cut:])
            if left is None or right is None:
                continue
            raw = _in_prompt_offsets(right[1], quarters[cut][0], lo, hi)
            later = _sliding_max(raw, _FRAME_TOLERANCE)
            moved = np.full_like(later, -np.inf)  # the later side, one frame either way
            moved[frame:] = later[:-frame]
            moved[:-frame] = np.maximum(moved[:-frame], later[frame:])
            first = _in_prompt_offsets(left[1], start, lo, hi)
            split = (left[0] * first + right[0] * moved) / (left[0] + right[0])
            joint = np.maximum(joint, split)
            # Or anywhere within two frames (a jitter buffer that stretches or shrinks what it
            # plays moves audio by 10 or 40 ms too), or later by a stall (the media path paused
            # inside the chunk), but only where both sides match well: that freedom alone lifts
            # a lookalike ("nine" in "... line") to the threshold. Computed only around the
            # offsets where the first side does (for most prompts and places: none).
            sure = np.flatnonzero(first >= _SURE)
            if sure.size == 0:
                continue
            for ahead, radius in ((0, 2 * frame + _FRAME_TOLERANCE), (stall // 2, stall // 2)):
                moved = _window_max(raw, int(sure[0]), int(sure[-1]) + 1, ahead, radius)
                split = (left[0] * first + right[0] * moved) / (left[0] + right[0])
                joint = np.maximum(joint, np.where(np.minimum(first, moved) >= _SURE, split,
                                                   -np.inf))
        best = _sliding_max(joint, slack)[pad : pad + n_offsets]
        yield _Chunk(start, weight / total, best, ncc[start : start + n_offsets])
