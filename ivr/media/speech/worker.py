"""An engine whose decoders run in worker processes: every core, and a loop that never waits.

pocketsphinx holds the GIL while it decodes. In a thread pool that costs twice: one core at
most for every call of the app, and while a thread is inside the decoder the event loop
cannot run either. Audio goes in 100 ms at a time (a few ms each), but the end of an utterance
is one call: building the lattice of an 8-digit string took up to ~0.1 s, of a 1..10-digit
string said in 8 s about 1 s (Asterisk drops an ARI WebSocket it cannot write to for 100 ms).
`ProcessEngine` keeps the same `Engine` interface but runs the real engine in `processes`
worker processes; a turn lives in one of them (the least busy when it opened) and each of
its calls is a round trip on a pipe. The thread that waits for the answer releases the GIL.

Use it from `AsyncTurn` exactly like the engine it wraps:
`ProcessEngine(functools.partial(PocketsphinxEngine, options), processes=2)`.
"""

from __future__ import annotations

import itertools
import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from .grammar import Grammar
from .recognizer import Engine, Recognition, RecognizerError

EngineFactory = Callable[[], Engine]


def _serve(conn: Connection, factory: EngineFactory) -> None:  # in the worker process
    try:
        engine = factory()
    except Exception as exc:
        conn.send((False, exc))
        return
    conn.send((True, (engine.name, engine.sample_rate)))
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
                conn.send((True, None))
                return
            conn.send((True, result))
        except Exception as exc:
            conn.send((False, exc))


class _Worker:
    def __init__(self, ctx: Any, factory: EngineFactory) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, factory), daemon=True,
                                   name="ivr-speech")
        self.process.start()
        child.close()
        self.lock = threading.Lock()
        self.open_turns = 0
        self.info: tuple[str, int] = self._receive()

    def call(self, op: str, key: int = 0, arg: Any = None) -> Any:
        with self.lock:
            try:
                self.conn.send((op, key, arg))
            except (OSError, ValueError) as exc:
                raise RecognizerError(f"speech worker {self.process.pid} is gone: {exc}"
                                      ) from exc
            return self._receive()

    def _receive(self) -> Any:
        try:
            ok, payload = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise RecognizerError(f"speech worker {self.process.pid} died "
                                  f"(exit code {self.process.exitcode})") from exc
        if not ok:
            raise payload
        return payload


class ProcessEngine:
    """The `Engine` interface over engines in worker processes (see the module's docstring)."""

    def __init__(self, factory: EngineFactory, processes: int = 2) -> None:
        ctx = multiprocessing.get_context("spawn")  # no fork of a threaded asyncio process
        self._workers: list[_Worker] = []
        try:
            for _ in range(max(1, processes)):
                self._workers.append(_Worker(ctx, factory))
        except BaseException:
            self.close()
            raise
        self.name, self.sample_rate = self._workers[0].info
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def check(self, grammar: Grammar) -> None:
        self._workers[0].call("check", 0, grammar)

    def prewarm(self, turns: int) -> None:
        """Have every worker ready for its share of `turns` open at once (engines that pool
        decoders make them now rather than while a caller waits)."""
        share = -(-turns // len(self._workers))
        for worker in self._workers:
            worker.call("prewarm", 0, share)

    def new_turn(self, grammar: Grammar) -> RemoteTurn:
        with self._lock:
            worker = min(self._workers, key=lambda w: w.open_turns)
            worker.open_turns += 1
            key = next(self._ids)
        try:
            worker.call("new", key, grammar)
        except BaseException:
            self._done(worker)
            raise
        return RemoteTurn(self, worker, key)

    def close(self) -> None:
        for worker in self._workers:
            try:
                if worker.process.is_alive():
                    worker.call("stop")
            except RecognizerError:
                pass
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
            worker.conn.close()
        self._workers = []

    def _done(self, worker: _Worker) -> None:
        with self._lock:
            worker.open_turns -= 1


class RemoteTurn:
    """A turn in a worker process; same contract as `Turn` (one thread at a time)."""

    def __init__(self, engine: ProcessEngine, worker: _Worker, key: int) -> None:
        self._engine, self._worker, self._key = engine, worker, key
        self._open = True

    def accept(self, pcm16k_le: bytes) -> None:
        if not self._open:
            raise RuntimeError("audio fed to a finished turn")
        if pcm16k_le:
            self._worker.call("accept", self._key, pcm16k_le)

    def result(self) -> Recognition:
        if not self._open:
            raise RuntimeError("turn already finished")
        self._open = False
        try:
            result: Recognition = self._worker.call("result", self._key)
            return result
        finally:
            self._engine._done(self._worker)

    def close(self) -> None:
        if self._open:
            self._open = False
            try:
                self._worker.call("close", self._key)
            finally:
                self._engine._done(self._worker)
