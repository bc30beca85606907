"""Where the app's memory goes, on demand: `IVR_TRACEMALLOC=N` (frames kept per allocation)
starts tracemalloc at `ivr serve`, and each SIGUSR1 then logs the allocation sites that grew
most since the previous SIGUSR1 (the first: since the start).

For a soak whose memory climbs: signal once after the ramp, again later, and read what grew
between. Off by default: tracing costs CPU on every allocation and memory per block.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import tracemalloc
from collections.abc import Mapping

log = logging.getLogger(__name__)

ENV = "IVR_TRACEMALLOC"
TOP = 20


class MemoryWatch:
    """The last snapshot, to compare the next one with."""

    def __init__(self, frames: int) -> None:
        tracemalloc.start(frames)
        self._last = tracemalloc.take_snapshot()

    def report(self) -> list[str]:
        """The TOP sites by growth since the last report, as lines; and remember this one."""
        now = tracemalloc.take_snapshot().filter_traces(
            (tracemalloc.Filter(False, tracemalloc.__file__),))
        grown = now.compare_to(self._last, "traceback" if tracemalloc.get_traceback_limit() > 1
                               else "lineno")
        self._last = now
        current, peak = tracemalloc.get_traced_memory()
        lines = [f"traced {current / 2**20:.1f} MB now, {peak / 2**20:.1f} MB at most"]
        for stat in grown[:TOP]:
            where = " <- ".join(f"{f.filename}:{f.lineno}" for f in stat.traceback)
            lines.append(f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  "
                         f"{where}")
        return lines


def watch_memory(env: Mapping[str, str], loop: asyncio.AbstractEventLoop) -> MemoryWatch | None:
    """Start watching when the setting asks for it; SIGUSR1 logs a report."""
    raw = env.get(ENV, "").strip()
    if not raw:
        return None
    try:
        frames = max(1, int(raw))
    except ValueError:
        log.error("%s=%r is not a number of frames; memory is not traced", ENV, raw)
        return None
    watch = MemoryWatch(frames)

    def on_signal() -> None:
        for line in watch.report():
            log.info("memory: %s", line)

    loop.add_signal_handler(signal.SIGUSR1, on_signal)
    log.info("tracing memory (%d frames); send SIGUSR1 for what grew", frames)
    return watch
