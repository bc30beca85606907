"""An engine whose decoders run in worker processes: every core, and a loop that never waits.

pocketsphinx holds the GIL while it decodes. In a thread pool that costs twice: one core at
most for every call of the app, and while a thread is inside the decoder the event loop
cannot run either. Audio goes in 100 ms at a time (a few ms each), but the end of an utterance
is one call: building the lattice of an 8-digit string took up to ~0.1 s, of a 1..10-digit
string said in 8 s about 1 s (Asterisk drops an ARI WebSocket it cannot write to for 100 ms).
`ProcessEngine` keeps the same `Engine` interface but runs the real engine in `processes`
worker processes; a turn lives in one of them (the least busy when it opened) and each of
its calls is a round trip on a pipe. The thread that waits for the answer releases the GIL.

A worker is a process that can die (killed, out of memory, a crash in the C library). The
turns it held fail with `WorkerGone`, a RecognizerError, so their callers get a no-match
rather than silence for ever, and another worker is started in the background; one that stops
answering for `reply_timeout` seconds is killed and treated the same way. A worker found dead
when a turn opens is skipped (or waited for, if none is left). `close()` gives workers
`STOP_GRACE` seconds to stop and kills those still there: it never hangs on a stuck worker.

Use it from `AsyncTurn` exactly like the engine it wraps:
`ProcessEngine(functools.partial(PocketsphinxEngine, options), processes=2)`.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from .grammar import Grammar
from .recognizer import Engine, Recognition, RecognizerError

log = logging.getLogger(__name__)

EngineFactory = Callable[[], Engine]

START_TIMEOUT = 120.0
"""Seconds a new worker may take to load its model (a large Vosk model is slow)."""
REPLY_TIMEOUT = 30.0
"""Seconds a worker may take over one call (the longest, the end of a long digit string,
takes about one) before it is deemed stuck and killed."""
STOP_GRACE = 2.0
"""Seconds `close()` lets workers stop by themselves before killing them."""


class WorkerGone(RecognizerError):
    """The worker process a turn lived in died or stopped answering: the turn is lost."""


def _serve(conn: Connection, factory: EngineFactory) -> None:  # in the worker process
    # Ctrl-C reaches the whole process group: the app decides when its workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _answer(conn, factory)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the app stopped (or gave up on us) while we worked: nobody to answer


def _answer(conn: Connection, factory: EngineFactory) -> None:
    try:
        engine = factory()
    except Exception as exc:
        _reply(conn, False, exc)
        return
    _reply(conn, True, (engine.name, engine.sample_rate))
    turns: dict[int, Any] = {}
    while True:
        try:
            op, key, arg = conn.recv()
        except EOFError:
            return
        try:
            result: Any = None
            if op == "accept":
                turns[key].accept(arg)
            elif op == "new":
                turns[key] = engine.new_turn(arg)
            elif op == "result":
                result = turns.pop(key).result()
            elif op == "close":
                turn = turns.pop(key, None)
                if turn is not None:
                    turn.close()
            elif op == "check":
                engine.check(arg)
            elif op == "prewarm":
                prewarm = getattr(engine, "prewarm", None)
                if prewarm is not None:
                    prewarm(arg)
            elif op == "stop":
                engine.close()
                _reply(conn, True, None)
                return
            _reply(conn, True, result)
        except Exception as exc:
            _reply(conn, False, exc)


def _reply(conn: Connection, ok: bool, payload: Any) -> None:
    try:
        conn.send((ok, payload))
    except OSError:
        raise
    except Exception as exc:  # an error the parent could not unpickle: send its text
        conn.send((False, RecognizerError(f"{payload!r} (not sendable: {exc})")))


class _Worker:
    """One process and its pipe; `lock` keeps one call at a time on the pipe."""

    def __init__(self, ctx: Any, factory: EngineFactory) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, factory), daemon=True,
                                   name="ivr-speech")
        self.process.start()
        child.close()
        self.lock = threading.Lock()
        self.open_turns = 0
        self.gone = False
        self.replacing = False
        self.info: tuple[str, int] = ("", 0)

    def handshake(self, timeout: float) -> None:
        with self.lock:
            self.info = self._receive("start", timeout)

    def call(self, op: str, key: int, arg: Any, timeout: float) -> Any:
        with self.lock:
            if self.gone:
                raise WorkerGone(f"speech worker {self.process.pid} is gone")
            try:
                self.conn.send((op, key, arg))
            except OSError as exc:
                raise self._lost(f"is gone ({exc})") from exc
            return self._receive(op, timeout)

    def _receive(self, op: str, timeout: float) -> Any:
        try:
            answered = self.conn.poll(timeout)
            if answered:
                ok, payload = self.conn.recv()
        except (EOFError, OSError) as exc:
            self.process.join(timeout=1)  # reaped, so its exit code says how it died
            raise self._lost(f"died (exit code {self.process.exitcode})") from exc
        if not answered:
            self.process.kill()
            raise self._lost(f"did not answer {op!r} within {timeout:g} s: killed")
        if not ok:
            raise payload
        return payload

    def _lost(self, what: str) -> WorkerGone:
        self.gone = True
        return WorkerGone(f"speech worker {self.process.pid} {what}")

    def stop(self) -> None:
        """Ask the worker to stop, without waiting; one busy on a call is killed by `end`."""
        if not self.lock.acquire(timeout=STOP_GRACE / 4):
            return
        try:
            if not self.gone:
                self.gone = True
                with contextlib.suppress(OSError):
                    self.conn.send(("stop", 0, None))
        finally:
            self.lock.release()

    def end(self, deadline: float) -> None:
        """Wait for the process until `deadline`, then kill it; close the pipe."""
        self.gone = True
        self.process.join(timeout=max(0.0, deadline - time.monotonic()))
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=STOP_GRACE)
        if self.lock.acquire(timeout=STOP_GRACE):  # a call in flight has had its EOF by now
            try:
                self.conn.close()
            finally:
                self.lock.release()


def _end_all(workers: list[_Worker]) -> None:
    for worker in workers:
        worker.stop()
    deadline = time.monotonic() + STOP_GRACE
    for worker in workers:
        worker.end(deadline)


class ProcessEngine:
    """The `Engine` interface over engines in worker processes (see the module's docstring)."""

    def __init__(self, factory: EngineFactory, processes: int = 2, *,
                 reply_timeout: float = REPLY_TIMEOUT,
                 start_timeout: float = START_TIMEOUT) -> None:
        self._ctx = multiprocessing.get_context("spawn")  # no fork of a threaded asyncio process
        self._factory = factory
        self._reply_timeout = reply_timeout
        self._start_timeout = start_timeout
        workers: list[_Worker] = []
        try:
            for _ in range(max(1, processes)):  # all start at once, then each says it is ready
                workers.append(_Worker(self._ctx, factory))
            for worker in workers:
                worker.handshake(start_timeout)
        except BaseException:
            _end_all(workers)
            raise
        self._workers = workers
        self.name, self.sample_rate = workers[0].info
        self.replaced = 0
        """Workers that died and were replaced."""
        self._ids = itertools.count(1)
        self._changed = threading.Condition()  # guards the list, the counts and the flags
        self._closed = False
        self._replacements: set[threading.Thread] = set()
        self._failure = ""
        self._prewarm_share = 0

    def pids(self) -> list[int]:
        with self._changed:
            return [w.process.pid for w in self._workers if not w.gone]

    def check(self, grammar: Grammar) -> None:
        self._on_some_worker("check", grammar, self._reply_timeout)

    def prewarm(self, turns: int) -> None:
        """Have every worker ready for its share of `turns` open at once (engines that pool
        decoders make them now rather than while a caller waits); a replacement gets it too."""
        with self._changed:
            workers = [w for w in self._workers if not w.gone]
            self._prewarm_share = -(-turns // max(1, len(self._workers)))
        for worker in workers:
            try:
                worker.call("prewarm", 0, self._prewarm_share, self._start_timeout)
            except WorkerGone:
                self._lost(worker)

    def new_turn(self, grammar: Grammar) -> RemoteTurn:
        key = next(self._ids)
        for _ in range(len(self._workers) + 1):
            worker = self._take()
            try:
                worker.call("new", key, grammar, self._reply_timeout)
            except WorkerGone:  # gone before the turn began: another worker takes it
                self._done(worker)
                self._lost(worker)
                continue
            except BaseException:
                self._done(worker)
                raise
            return RemoteTurn(self, worker, key)
        raise WorkerGone("no speech worker could open the turn")

    def close(self) -> None:
        with self._changed:
            self._closed = True
            workers, self._workers = self._workers, []
            self._changed.notify_all()
        _end_all(workers)

    # ----- workers
    def _on_some_worker(self, op: str, arg: Any, timeout: float) -> Any:
        for _ in range(len(self._workers) + 1):
            worker = self._take()
            try:
                return worker.call(op, 0, arg, timeout)
            except WorkerGone:
                self._lost(worker)
            finally:
                self._done(worker)
        raise WorkerGone(f"no speech worker could {op}")

    def _take(self) -> _Worker:
        """The least busy live worker, its turn counted; dead ones are replaced, and if none
        is alive this waits for a replacement."""
        deadline = time.monotonic() + self._start_timeout
        first = True
        with self._changed:
            while True:
                if self._closed:
                    raise RecognizerError("the speech engine is closed")
                for worker in self._workers:
                    if not worker.gone and not worker.process.is_alive():
                        worker.gone = True
                    if worker.gone and first:
                        self._replace_later(worker)
                alive = [w for w in self._workers if not w.gone]
                if alive:
                    worker = min(alive, key=lambda w: w.open_turns)
                    worker.open_turns += 1
                    return worker
                left = deadline - time.monotonic()
                if left <= 0 or not self._replacements:
                    raise WorkerGone(f"no speech worker is running ({self._failure or 'none'})")
                first = False
                self._changed.wait(left)

    def _done(self, worker: _Worker) -> None:
        with self._changed:
            worker.open_turns -= 1

    def _lost(self, worker: _Worker) -> None:
        with self._changed:
            self._replace_later(worker)

    def _replace_later(self, worker: _Worker) -> None:  # with self._changed held
        if worker.replacing or self._closed or worker not in self._workers:
            return
        worker.replacing = True
        thread = threading.Thread(target=self._replace, args=(worker,), daemon=True,
                                  name="ivr-speech-replace")
        self._replacements.add(thread)
        thread.start()

    def _replace(self, old: _Worker) -> None:  # in its own thread
        old.end(time.monotonic())
        log.warning("speech worker %s is gone (exit code %s); starting another",
                    old.process.pid, old.process.exitcode)
        new: _Worker | None = None
        failure = ""
        try:
            new = _Worker(self._ctx, self._factory)
            new.handshake(self._start_timeout)
            if self._prewarm_share:
                new.call("prewarm", 0, self._prewarm_share, self._start_timeout)
        except Exception as exc:
            failure = f"a new speech worker would not start: {exc}"
            log.error("%s", failure)
        with self._changed:
            self._replacements.discard(threading.current_thread())
            if not failure and new is not None and not self._closed and old in self._workers:
                self._workers[self._workers.index(old)] = new
                self.replaced += 1
                new = None
            elif failure:
                old.replacing = False  # the next turn tries again
                self._failure = failure
            self._changed.notify_all()
        if new is not None:  # closed meanwhile, or it failed half-way
            _end_all([new])


class RemoteTurn:
    """A turn in a worker process; same contract as `Turn` (one thread at a time)."""

    def __init__(self, engine: ProcessEngine, worker: _Worker, key: int) -> None:
        self._engine, self._worker, self._key = engine, worker, key
        self._open = True

    def accept(self, pcm16k_le: bytes) -> None:
        if not self._open:
            raise RuntimeError("audio fed to a finished turn")
        if pcm16k_le:
            self._call("accept", pcm16k_le)

    def result(self) -> Recognition:
        if not self._open:
            raise RuntimeError("turn already finished")
        self._open = False
        try:
            result: Recognition = self._call("result")
            return result
        finally:
            self._engine._done(self._worker)

    def close(self) -> None:
        if self._open:
            self._open = False
            try:
                self._call("close")
            except WorkerGone:
                pass  # the turn went with its process
            finally:
                self._engine._done(self._worker)

    def _call(self, op: str, arg: Any = None) -> Any:
        try:
            return self._worker.call(op, self._key, arg, self._engine._reply_timeout)
        except WorkerGone:
            self._engine._lost(self._worker)
            raise
