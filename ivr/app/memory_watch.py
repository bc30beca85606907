"""Where the app's memory goes, on demand: `IVR_TRACEMALLOC=N` makes each SIGUSR1 log what
grew since the previous SIGUSR1 (the first: since the start).

Every report has the cheap figures: glibc malloc's bytes in use against the bytes it holds
free (a heap that grows with free bytes is fragmentation, not a leak), Python's allocated
blocks, and the object types whose count grew most. N >= 1 also starts tracemalloc with N
frames per allocation and lists the source lines that grew; N = 0 leaves it off, so between
reports the app runs at full speed (tracing costs CPU on every allocation: at 150 callers it
overloaded the app).

For a soak whose memory climbs: signal once after the ramp, again later, and read what grew
between.

The heap is trimmed every minute (`IVR_MALLOC_TRIM_S`, 0: never): glibc's free memory goes
back to the kernel (malloc_trim). Without it a Python server's heap fills with freed blocks
between live ones that glibc keeps for reuse, and its resident size climbs to the busiest
hour's peak and stays there.
"""

from __future__ import annotations

import asyncio
import collections
import ctypes
import ctypes.util
import functools
import gc
import logging
import os
import signal
import sys
import tracemalloc
from collections.abc import Mapping

log = logging.getLogger(__name__)

ENV = "IVR_TRACEMALLOC"
TOP = 20


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def malloc_totals() -> dict[str, float] | None:
    """glibc's own account over all its arenas, in MB (None off glibc): in use, held free,
    and mapped on its own (large blocks)."""
    libc = _libc()
    mallinfo2 = getattr(libc, "mallinfo2", None)
    if mallinfo2 is None:
        return None
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    mb = 2.0 ** 20
    return {"in_use": (info.uordblks + info.hblkhd) / mb, "free": info.fordblks / mb,
            "mapped": info.hblkhd / mb}


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """glibc, loaded once (find_library runs ldconfig: not for every report and trim)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def resident_mb() -> float:
    """This process's resident set, from /proc."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def trim_heap() -> tuple[float, float] | None:
    """Give malloc's free pages back (all arenas); resident MB before and after (None off
    glibc)."""
    libc = _libc()
    if libc is None or not hasattr(libc, "malloc_trim"):
        return None
    before = resident_mb()
    libc.malloc_trim(0)
    return before, resident_mb()


def type_counts() -> collections.Counter[str]:
    """Objects the garbage collector tracks, by type name."""
    return collections.Counter(type(o).__qualname__ for o in gc.get_objects())


class MemoryWatch:
    """The last report's figures, to compare the next one with."""

    def __init__(self, frames: int) -> None:
        self._last: tracemalloc.Snapshot | None = None
        if frames > 0:
            tracemalloc.start(frames)
            self._last = tracemalloc.take_snapshot()
        self._types = type_counts()

    def report(self) -> list[str]:
        """The figures, the object types and (when tracing) the TOP lines by growth since
        the last report, as lines (the first always starts "python "); and remember these."""
        types = type_counts()
        grown_types = sorted(((n - self._types.get(t, 0), t) for t, n in types.items()),
                             reverse=True)[: TOP // 2]
        self._types = types
        lines = [f"python {sys.getallocatedblocks()} blocks, {types.total()} objects, resident "
                 f"{resident_mb():.1f} MB; grew: "
                 + ", ".join(f"{t} {d:+d}" for d, t in grown_types if d > 0)]
        heap = malloc_totals()
        if heap is not None:
            lines.append(f"malloc {heap['in_use']:.1f} MB in use ({heap['mapped']:.1f} MB "
                         f"mapped on its own), {heap['free']:.1f} MB held free")
        if self._last is None:
            return lines
        now = tracemalloc.take_snapshot().filter_traces(
            (tracemalloc.Filter(False, tracemalloc.__file__),))
        grown = now.compare_to(self._last, "traceback" if tracemalloc.get_traceback_limit() > 1
                               else "lineno")
        self._last = now
        current, peak = tracemalloc.get_traced_memory()
        lines.append(f"traced {current / 2**20:.1f} MB now, {peak / 2**20:.1f} MB at most")
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
        frames = max(0, int(raw))
    except ValueError:
        log.error("%s=%r is not a number of frames; memory is not watched", ENV, raw)
        return None
    watch = MemoryWatch(frames)

    def on_signal() -> None:
        for line in watch.report():
            log.info("memory: %s", line)

    loop.add_signal_handler(signal.SIGUSR1, on_signal)
    log.info("watching memory (%s); send SIGUSR1 for what grew",
             f"tracemalloc, {frames} frames" if frames else "no tracemalloc")
    return watch


TRIM_ENV = "IVR_MALLOC_TRIM_S"


TRIM_EVERY_S = 60.0
"""The default: a trim takes a few ms; a minute keeps a soak's resident size flat (bench/README:
Soak). Measured before it: malloc's bytes in use stayed at 20-22 MB over a 35-minute load
while the free bytes it held grew 6.5 -> 11.7 MB, and the resident size with them."""


def keep_heap_trimmed(env: Mapping[str, str]) -> asyncio.Task[None] | None:
    """Trim the heap every IVR_MALLOC_TRIM_S seconds (unset: TRIM_EVERY_S; 0: never)."""
    raw = env.get(TRIM_ENV, "").strip()
    try:
        every = float(raw) if raw else TRIM_EVERY_S
    except ValueError:
        log.error("%s=%r is not a number of seconds; the heap is not trimmed", TRIM_ENV, raw)
        return None
    if every <= 0 or _libc() is None:
        return None

    async def trim() -> None:
        while True:
            await asyncio.sleep(every)
            done = trim_heap()
            if done is not None:
                log.debug("heap trimmed: resident %.1f -> %.1f MB", *done)

    log.info("trimming the heap every %g s", every)
    return asyncio.create_task(trim(), name="malloc-trim")
