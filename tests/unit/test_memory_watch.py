"""IVR_TRACEMALLOC: SIGUSR1 logs the allocation sites that grew since the last report."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import tracemalloc
from collections.abc import Iterator

import pytest

from ivr.app.memory_watch import MemoryWatch, watch_memory

kept: list[bytes] = []


@pytest.fixture(autouse=True)
def stop_tracing() -> Iterator[None]:
    yield
    kept.clear()
    tracemalloc.stop()


def grow() -> None:
    kept.extend(bytes(1000) + bytes([n % 256]) for n in range(2000))  # ~2 MB, this line


def test_the_report_names_the_line_that_grew() -> None:
    watch = MemoryWatch(1)
    grow()
    lines = watch.report()
    assert lines[0].startswith("traced ")
    top = lines[1]
    assert "test_memory_watch.py:27" in top and top.split()[0].startswith("+")
    assert float(top.split()[0]) > 1500  # KiB
    assert "test_memory_watch.py:27" not in " ".join(watch.report()[1:2]), \
        "the next report compares with this one: nothing new grew there"


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
                if "test_memory_watch.py:27" in caplog.text:
                    break
                await asyncio.sleep(0.01)
        assert "memory: traced" in caplog.text
        assert "test_memory_watch.py:27" in caplog.text
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)
