"""One interface for every recognizer, and the asyncio side of it.

An `Engine` (pocketsphinx, Vosk) loads its model once and opens a `Turn` per question the IVR
asks, constrained to that question's `Grammar`. A turn is fed audio as it arrives (16 kHz,
16-bit little-endian mono) and gives one `Recognition` at the end. Engines and turns are
synchronous and CPU-bound: they run in threads, never on the event loop.

`AsyncTurn` is what a call uses. `feed()` only appends to a buffer (cheap, safe on the loop);
whenever a batch has gathered and no batch of this turn is being decoded, the batch goes to an
executor, where it is resampled from the telephone rate and decoded. So the decoding keeps up
with the caller while they speak, and when they stop `finish()` has only the last batch and
the end of the utterance left to do: the decision comes a few milliseconds after the end of
speech (bench/README.md measures it). One turn's batches run one after another, in order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ..audio import PcmResampler
from .grammar import Grammar

T = TypeVar("T")


class RecognizerError(RuntimeError):
    """An engine that cannot start (no model, a broken model) or failed while decoding."""


@dataclass(frozen=True)
class Word:
    text: str
    start_s: float
    end_s: float
    confidence: float


@dataclass(frozen=True)
class Recognition:
    """What a turn heard.

    `value` is the grammar's meaning of `text` (the menu phrase's value, or the digits), None
    when nothing the grammar allows was heard. `confidence` is in 0..1, comparable to a menu's
    threshold; each engine documents how it computes it.
    """

    text: str
    value: str | None
    confidence: float
    engine: str
    words: tuple[Word, ...] = ()
    audio_s: float = 0.0  # audio fed to the turn
    finish_s: float = 0.0  # time from the last audio to the result (AsyncTurn only)

    def accepted(self, threshold: float) -> bool:
        """A value the menu may act on: recognized, and at least as sure as it asks."""
        return self.value is not None and self.confidence >= threshold


class Turn(Protocol):
    """One question's recognition, fed audio in order; not thread-safe (one thread at a time)."""

    def accept(self, pcm16k_le: bytes) -> None:
        """Decode the next piece of audio (any length, an even number of bytes)."""

    def result(self) -> Recognition:
        """End the utterance and give what was heard; the turn is finished afterwards."""

    def close(self) -> None:
        """Abandon the turn (the caller hung up) and free what it holds; idempotent."""


class Engine(Protocol):
    """A loaded recognizer model; `new_turn` may be called from any thread."""

    name: str
    sample_rate: int

    def check(self, grammar: Grammar) -> None:
        """Raise (UnknownWordsError) when the grammar uses words this engine cannot hear."""

    def new_turn(self, grammar: Grammar) -> Turn:
        """A turn constrained to `grammar`, ready for audio."""

    def close(self) -> None:
        """Free the model."""


class Converter(Protocol):
    """Streaming PCM conversion before the engine (resampling): `PcmResampler` in calls."""

    def process(self, pcm_le: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


class AsyncTurn:
    """A `Turn` fed from the event loop and decoded in an executor, batch by batch.

    Audio comes at `input_rate` (8000 for a call's slin, 16000 when already wide-band) as
    16-bit little-endian; it is resampled to the engine's rate in the executor (`converter`
    replaces the resampler: the benchmark measures the naive one with it).
    """

    def __init__(self, turn: Turn, engine_rate: int, input_rate: int,
                 executor: Executor | None, batch_ms: int = 100,
                 converter: Converter | None = None) -> None:
        self._turn = turn
        self._executor = executor
        self._resampler: Converter | None = converter or (
            PcmResampler(input_rate, engine_rate) if input_rate != engine_rate else None)
        self._batch_bytes = max(2, input_rate * batch_ms // 1000 * 2)
        self._input_rate = input_rate
        self._buffer = bytearray()
        self._fed = 0
        self._pending: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._done = False

    @classmethod
    async def start(cls, engine: Engine, grammar: Grammar, *, input_rate: int = 8000,
                    executor: Executor | None = None, batch_ms: int = 100,
                    converter: Converter | None = None) -> AsyncTurn:
        """Open a turn (in the executor: it may load or re-arm a decoder)."""
        turn = await _run(executor, engine.new_turn, grammar)
        return cls(turn, engine.sample_rate, input_rate, executor, batch_ms, converter)

    @property
    def audio_s(self) -> float:
        return self._fed / 2 / self._input_rate

    def feed(self, pcm_le: bytes) -> None:
        """Queue audio for decoding (returns at once; decoding happens in the executor)."""
        if self._done:
            raise RuntimeError("audio fed to a finished turn")
        self._buffer += pcm_le
        self._fed += len(pcm_le)
        if len(self._buffer) >= self._batch_bytes:
            self._kick()

    async def settle(self) -> None:
        """Wait until the audio handed to the executor so far is decoded (a test's or a
        benchmark's way to model a decoder that keeps up with the caller)."""
        self._kick()
        await self._drain()

    async def finish(self) -> Recognition:
        """The caller stopped speaking: decode what is left and give the recognition."""
        if self._done:
            raise RuntimeError("turn already finished")
        ended = time.perf_counter()
        self._done = True
        await self._drain()
        if self._error is not None:
            await _run(self._executor, self._turn.close)
            raise RecognizerError(f"decoding failed: {self._error}") from self._error
        tail, self._buffer = bytes(self._buffer), bytearray()
        try:
            result = await _run(self._executor, self._last_batch, tail)
        except RecognizerError:
            raise
        except Exception as exc:
            raise RecognizerError(f"decoding failed: {exc}") from exc
        return Recognition(result.text, result.value, result.confidence, result.engine,
                           result.words, self.audio_s, time.perf_counter() - ended)

    async def aclose(self) -> None:
        """Abandon the turn (hang-up, barge-in by key): waits for its batch, frees the decoder."""
        if self._done and self._pending is None:
            return
        self._done = True
        self._buffer = bytearray()
        await self._drain()
        await _run(self._executor, self._turn.close)

    # ----- batches
    def _kick(self) -> None:
        if self._pending is not None or self._error is not None or not self._buffer:
            return
        batch, self._buffer = bytes(self._buffer), bytearray()
        loop = asyncio.get_running_loop()
        self._pending = loop.run_in_executor(self._executor, self._decode, batch)
        self._pending.add_done_callback(self._batch_done)

    def _batch_done(self, fut: asyncio.Future[None]) -> None:
        self._pending = None
        if fut.cancelled():
            self._error = asyncio.CancelledError()
        elif fut.exception() is not None:
            self._error = fut.exception()
        elif not self._done and len(self._buffer) >= self._batch_bytes:
            self._kick()  # audio gathered while that batch was decoded

    async def _drain(self) -> None:
        while self._pending is not None:
            await asyncio.wait([self._pending])
            await asyncio.sleep(0)  # let the done callback run

    def _decode(self, batch: bytes) -> None:  # in the executor
        # Audio that gathered while the decoder was behind goes in batch-sized calls: an engine
        # holding the GIL (pocketsphinx) then holds it for one batch at a time, not for all.
        size = self._batch_bytes
        for start in range(0, len(batch), size):
            piece = batch[start:start + size]
            self._turn.accept(self._resampler.process(piece) if self._resampler else piece)

    def _last_batch(self, tail: bytes) -> Recognition:  # in the executor
        try:
            self._decode(tail)
            if self._resampler is not None:
                self._turn.accept(self._resampler.flush())
            return self._turn.result()
        except BaseException:
            self._turn.close()
            raise


def _run(executor: Executor | None, fn: Callable[..., T], *args: object) -> Awaitable[T]:
    return asyncio.get_running_loop().run_in_executor(executor, fn, *args)
