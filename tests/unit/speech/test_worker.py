"""Worker processes that die or hang, for real: the turn they held fails (a no-match for the
caller, never a hang), the worker is replaced, and the next turn decodes a real recording.
`close()` returns promptly whatever state the workers are in."""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from ivr.media.speech import AsyncTurn, Grammar, Recognition, RecognizerError, open_engine
from ivr.media.speech.pocketsphinx_engine import PocketsphinxEngine
from ivr.media.speech.vosk_engine import VoskEngine
from ivr.media.speech.worker import ProcessEngine, WorkerGone, _serve

from .clips import frames, on_the_line, read_clip

DIGIT = Grammar.digit_string(1, 1)


@pytest.fixture
def workers() -> Iterator[ProcessEngine]:
    engine = ProcessEngine(PocketsphinxEngine, processes=1, reply_timeout=5.0)
    yield engine
    engine.close()


async def _recognize(engine: ProcessEngine, clip: str) -> Recognition:
    turn = await AsyncTurn.start(engine, DIGIT)
    for frame in frames(on_the_line(read_clip(clip))):
        turn.feed(frame)
    return await turn.finish()


def _wait_for(condition: object, timeout: float = 10.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is gone too
        return stat.read().split(") ", 1)[1].startswith("Z")


def test_open_engine_in_threads_or_in_worker_processes() -> None:
    in_threads = open_engine("pocketsphinx", "en", workers=0)
    assert isinstance(in_threads, PocketsphinxEngine)
    in_threads.close()
    processes = open_engine("pocketsphinx", "en", workers=2)
    try:
        assert isinstance(processes, ProcessEngine)
        assert (processes.name, processes.sample_rate) == ("pocketsphinx", 16000)
        pids = processes.pids()
        assert len(set(pids)) == 2 and os.getpid() not in pids
    finally:
        processes.close()
    assert all(_gone(pid) for pid in pids)


async def test_a_worker_killed_mid_turn_fails_the_turn_and_is_replaced(
        workers: ProcessEngine) -> None:
    (pid,) = workers.pids()
    turn = await AsyncTurn.start(workers, DIGIT)
    said = frames(on_the_line(read_clip("7_jackson_0")))
    for frame in said[:len(said) // 2]:
        turn.feed(frame)
    await turn.settle()
    os.kill(pid, signal.SIGKILL)
    for frame in said[len(said) // 2:]:
        turn.feed(frame)
    started = time.monotonic()
    with pytest.raises(RecognizerError, match=f"speech worker {pid} (died|is gone)"):
        await turn.finish()
    assert time.monotonic() - started < 2
    await turn.aclose()

    result = await _recognize(workers, "2_jackson_2")
    assert result.value == "2" and result.accepted(0.9)
    assert workers.pids() != [pid] and len(workers.pids()) == 1 and workers.replaced == 1
    assert _gone(pid)


async def test_an_idle_worker_killed_is_skipped_then_replaced() -> None:
    workers = ProcessEngine(PocketsphinxEngine, processes=2)
    try:
        first, second = workers.pids()
        os.kill(first, signal.SIGKILL)
        _wait_for(lambda: _gone(first))
        result = await _recognize(workers, "4_jackson_1")  # the other worker takes it
        assert result.value == "4"
        _wait_for(lambda: workers.replaced == 1)
        assert second in workers.pids() and first not in workers.pids()
        assert len(workers.pids()) == 2
        assert (await _recognize(workers, "9_lucas_2")).value == "9"
    finally:
        workers.close()


async def test_a_lone_dead_worker_is_waited_for(workers: ProcessEngine) -> None:
    (pid,) = workers.pids()
    os.kill(pid, signal.SIGKILL)
    _wait_for(lambda: _gone(pid))
    assert (await _recognize(workers, "0_jackson_0")).value == "0"
    assert workers.replaced == 1


async def test_a_worker_that_stops_answering_is_killed_and_replaced() -> None:
    workers = ProcessEngine(PocketsphinxEngine, processes=1, reply_timeout=0.5)
    try:
        (pid,) = workers.pids()
        turn = workers.new_turn(DIGIT)
        os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(WorkerGone, match=r"did not answer 'accept' within 0\.5 s: killed"):
            turn.accept(b"\x00\x00" * 1600)
        assert time.monotonic() - started < 2
        turn.close()  # nothing left to free: the turn went with its process
        _wait_for(lambda: _gone(pid))
        assert (await _recognize(workers, "3_lucas_0")).value == "3"
    finally:
        workers.close()


def test_a_worker_that_fails_to_start_is_an_error_and_leaves_nothing() -> None:
    with pytest.raises(RecognizerError, match="no usable Vosk model"):
        ProcessEngine(functools.partial(VoskEngine, "/nonexistent"), processes=2)
    assert [p for p in multiprocessing.active_children() if p.name == "ivr-speech"] == []


def test_a_worker_whose_app_is_gone_before_it_answers_stops_quietly(
        capfd: pytest.CaptureFixture[str]) -> None:
    """An app stopped while its workers load (a quick restart): no traceback in its log."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    parent.close()
    worker = ctx.Process(target=_serve, args=(child, PocketsphinxEngine), name="ivr-speech")
    worker.start()
    child.close()
    worker.join(timeout=60)
    assert worker.exitcode == 0
    assert "Traceback" not in capfd.readouterr().err


def test_close_never_hangs_on_stuck_or_busy_workers() -> None:
    workers = ProcessEngine(PocketsphinxEngine, processes=2, reply_timeout=60.0)
    pids = workers.pids()
    stuck = workers.new_turn(DIGIT)  # on one worker; the next turn goes to the other
    busy = workers.new_turn(DIGIT)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    failures: list[BaseException] = []

    def feed() -> None:  # a call blocked on a stopped worker, as a decoding thread would be
        try:
            busy.accept(b"\x00\x00" * 1600)
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=feed)
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    workers.close()
    assert time.monotonic() - started < 6
    thread.join(timeout=5)
    assert not thread.is_alive() and isinstance(failures[0], WorkerGone)
    with pytest.raises(WorkerGone):
        stuck.accept(b"\x00\x00" * 160)
    stuck.close()
    with pytest.raises(RecognizerError, match="closed"):
        workers.new_turn(DIGIT)
    _wait_for(lambda: all(_gone(pid) for pid in pids), timeout=5)
    workers.close()  # idempotent
