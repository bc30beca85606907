"""Where a recorded voice is, by energy alone: the reference VAD results are judged against."""

from __future__ import annotations

import numpy as np

from ivr.testing.audio import Signal

RANGE_DB = 40.0  # a voice's own dynamic range: quieter is breath, hiss or a soft "th"
FLOOR_DBFS = -55.0  # and never quieter than this (the recordings' own noise floor)


def voice_extent_ms(x: Signal, rate: int) -> tuple[float, float]:
    """Onset and end of the voice: the first and last loud 10 ms frame of a stretch of loud
    frames (4 of 5 in a row: a lip click is not the onset). Loud: within RANGE_DB of the
    loudest frame, and above FLOOR_DBFS."""
    size = rate // 100
    n = len(x) // size
    level = 10 * np.log10(np.mean(np.square(x[:n * size].reshape(n, size)), axis=1) + 1e-12)
    loud = (level >= max(level.max() - RANGE_DB, FLOOR_DBFS)).astype(int)
    sustained = np.convolve(loud, np.ones(5, dtype=int), mode="valid") >= 4
    first = int(np.argmax(sustained))
    last = len(sustained) - 1 - int(np.argmax(sustained[::-1])) + 4
    return float(first + int(np.argmax(loud[first:]))) * 10, \
        float(last - int(np.argmax(loud[last::-1])) + 1) * 10
