"""IVR_TRACEMALLOC: SIGUSR1 logs what grew since the last report: object types, malloc's
account and (with frames) the allocation sites."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import tracemalloc
from collections.abc import Iterator

import pytest

from ivr.app.memory_watch import (
    MemoryWatch,
    keep_heap_trimmed,
    malloc_totals,
    trim_heap,
    watch_memory,
)

kept: list[bytes] = []


@pytest.fixture(autouse=True)
def stop_tracing() -> Iterator[None]:
    yield
    kept.clear()
    tracemalloc.stop()


def grow() -> None:
    kept.extend(bytes(1000) + bytes([n % 256]) for n in range(2000))  # ~2 MB, this line


GROW_SITE = f"test_memory_watch.py:{grow.__code__.co_firstlineno + 1}"


def _traced(lines: list[str]) -> list[str]:
    """The lines after "traced ...": the allocation sites."""
    at = next(n for n, line in enumerate(lines) if line.startswith("traced "))
    return lines[at + 1 :]


def test_the_report_names_the_line_that_grew() -> None:
    watch = MemoryWatch(1)
    grow()
    top = _traced(watch.report())[0]
    assert GROW_SITE in top and top.split()[0].startswith("+")
    assert float(top.split()[0]) > 1500  # KiB
    assert GROW_SITE not in _traced(watch.report())[0], \
        "the next report compares with this one: nothing new grew there"


class Leaked:
    pass


def test_without_frames_the_report_counts_types_and_malloc_without_tracing() -> None:
    watch = MemoryWatch(0)
    assert not tracemalloc.is_tracing()
    before = malloc_totals()
    assert before is not None, "glibc: mallinfo2 is there"
    held = [Leaked() for _ in range(3000)]
    kept.append(bytes(4 << 20))  # malloc's, not Python's small-object allocator
    python, heap = watch.report()
    assert python.startswith("python ") and "grew: Leaked +3000" in python, \
        "the top grower comes first"
    figures = re.fullmatch(r"malloc ([\d.]+) MB in use \(([\d.]+) MB mapped on its own\), "
                           r"([\d.]+) MB held free", heap)
    assert figures is not None, heap
    assert float(figures.group(1)) - before["in_use"] >= 3.9  # shown to 0.1 MB
    assert "Leaked" not in watch.report()[0], "the next report compares with this one"
    del held


def test_off_unless_asked_and_a_bad_setting_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.new_event_loop()
    try:
        assert watch_memory({}, loop) is None
        with caplog.at_level(logging.ERROR):
            assert watch_memory({"IVR_TRACEMALLOC": "lots"}, loop) is None
        assert "IVR_TRACEMALLOC='lots' is not a number" in caplog.text
        assert not tracemalloc.is_tracing()
    finally:
        loop.close()


async def test_sigusr1_logs_the_report(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.get_running_loop()
    assert watch_memory({"IVR_TRACEMALLOC": "3"}, loop) is not None
    try:
        grow()
        with caplog.at_level(logging.INFO, logger="ivr.app.memory_watch"):
            os.kill(os.getpid(), signal.SIGUSR1)
            for _ in range(100):
                if GROW_SITE in caplog.text:
                    break
                await asyncio.sleep(0.01)
        assert "memory: traced" in caplog.text
        assert GROW_SITE in caplog.text
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)


def test_trim_gives_freed_heap_back() -> None:
    """Blocks freed between live ones stay resident (glibc keeps them for reuse and its heap
    cannot shrink past a live block) until malloc_trim hands their whole pages back."""
    freed, live = [], []
    for n in range(3000):  # 16 KiB holes between 600-byte live blocks: ~48 MB
        freed.append(bytes(16 << 10) + bytes([n % 256]))
        live.append(bytes(600) + bytes([n % 256]))
    kept.extend(live)
    del freed
    done = trim_heap()
    assert done is not None, "glibc: malloc_trim is there"
    before, after = done
    print(f"resident {before:.1f} -> {after:.1f} MB")
    assert before - after > 30


async def test_trimming_runs_when_asked(caplog: pytest.LogCaptureFixture) -> None:
    assert keep_heap_trimmed({"IVR_MALLOC_TRIM_S": "0"}) is None
    default = keep_heap_trimmed({})
    assert default is not None, "on by default"
    default.cancel()
    with caplog.at_level(logging.ERROR):
        assert keep_heap_trimmed({"IVR_MALLOC_TRIM_S": "often"}) is None
    assert "IVR_MALLOC_TRIM_S='often' is not a number" in caplog.text
    task = keep_heap_trimmed({"IVR_MALLOC_TRIM_S": "0.01"})
    assert task is not None
    with caplog.at_level(logging.DEBUG, logger="ivr.app.memory_watch"):
        for _ in range(100):
            if "heap trimmed: resident" in caplog.text:
                break
            await asyncio.sleep(0.01)
    task.cancel()
    assert "heap trimmed: resident" in caplog.text
