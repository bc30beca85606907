"""How many calls can be recognized at once in real time, for bench/speech.py.

Unlike the accuracy runs, audio here arrives at the line's pace (a frame every 20 ms) for many
callers on one event loop, as in the app; what is measured is whether decisions stay quick and
the loop stays responsive, with decoders in threads or in worker processes.
"""

from __future__ import annotations

import asyncio
import functools
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from speech_line import Clip, line_audio, q, rtp_frames

from ivr.media.audio import be_to_le
from ivr.media.speech import AsyncTurn, Engine, Grammar
from ivr.media.speech.pocketsphinx_engine import PocketsphinxEngine, PocketsphinxOptions
from ivr.media.speech.worker import ProcessEngine


async def paced_stream(engine: Engine, grammar: Grammar, stream_clips: list[Clip],
                       executor: ThreadPoolExecutor, until: float, latencies: list[float],
                       outcomes: list[bool]) -> None:
    """A caller answering question after question, audio arriving every 20 ms."""
    loop = asyncio.get_running_loop()
    i = 0
    while loop.time() < until:
        clip = stream_clips[i % len(stream_clips)]
        i += 1
        frames = rtp_frames(line_audio(clip, True, False))
        turn = await AsyncTurn.start(engine, grammar, executor=executor)
        start = loop.time()
        for n, frame in enumerate(frames):
            delay = start + n * 0.02 - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            turn.feed(be_to_le(frame))
        result = await turn.finish()
        latencies.append(result.finish_s)
        outcomes.append(result.value == clip.digit)


async def _loop_lag(until: float, lags: list[float]) -> None:
    """How late the event loop wakes for a 10 ms timer (what an ARI WebSocket would wait)."""
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        t = loop.time()
        await asyncio.sleep(0.01)
        lags.append(loop.time() - t - 0.01)


@dataclass
class Capacity:
    """One run: `streams` calls at once, and whether they kept up."""

    mode: str
    streams: int
    p50_ms: float
    p95_ms: float
    lag_p99_ms: float
    decisions: int
    accuracy: float

    @property
    def real_time(self) -> bool:
        return self.p95_ms < 250 and self.lag_p99_ms < 50


def capacity(engine: PocketsphinxEngine | ProcessEngine, mode: str, streams: int,
             seconds: float, all_clips: list[Clip]) -> Capacity:
    """`streams` paced calls on one event loop (one app process), as the app would run them,
    decoders made beforehand (a warmed-up server)."""
    grammar = Grammar.digit_string(1, 1, name="digit", oh=False)
    engine.prewarm(streams)

    async def main() -> tuple[list[float], list[bool], list[float]]:
        latencies: list[float] = []
        outcomes: list[bool] = []
        lags: list[float] = []
        until = asyncio.get_running_loop().time() + seconds
        with ThreadPoolExecutor(min(64, streams + 4)) as executor:
            rng = random.Random(streams)
            await asyncio.gather(_loop_lag(until, lags), *(
                paced_stream(engine, grammar, rng.sample(all_clips, min(40, len(all_clips))),
                             executor, until, latencies, outcomes) for _ in range(streams)))
        return latencies, outcomes, lags

    lat, outcomes, lags = asyncio.run(main())
    lat.sort()
    lags.sort()
    return Capacity(mode, streams, q(lat, 0.5), q(lat, 0.95), q(lags, 0.99), len(lat),
                    100 * sum(outcomes) / max(1, len(outcomes)))


def find_capacity(engine: PocketsphinxEngine | ProcessEngine, mode: str,
                  all_clips: list[Clip], seconds: float) -> list[Capacity]:
    """Double the calls until they fall behind, then bisect."""
    def one(n: int) -> Capacity:
        c = capacity(engine, mode, n, seconds, all_clips)
        print(f"  {mode}, {n} calls: p95 {c.p95_ms:.0f} ms, loop lag p99 {c.lag_p99_ms:.0f} ms "
              f"-> {'real time' if c.real_time else 'falls behind'}", file=sys.stderr, flush=True)
        return c

    tried = [one(1)]
    n = 8
    while True:
        tried.append(one(n))
        if not tried[-1].real_time or n >= 512:
            break
        n *= 2
    lo, hi = n // 2, n
    while not tried[-1].real_time and hi - lo > max(2, lo // 8):
        mid = (lo + hi) // 2
        tried.append(one(mid))
        lo, hi = (mid, hi) if tried[-1].real_time else (lo, mid)
    return tried


def capacity_report(all_clips: list[Clip], seconds: float, processes: int) -> str:
    """Threads, then `processes` worker processes: every run, and the most calls in real time."""
    options = PocketsphinxOptions()
    runs: list[Capacity] = []
    runs += find_capacity(PocketsphinxEngine(options), "threads", all_clips, seconds)
    workers = ProcessEngine(functools.partial(PocketsphinxEngine, options), processes)
    try:
        runs += find_capacity(workers, f"{processes} worker processes", all_clips, seconds)
    finally:
        workers.close()
    out = ["", "Calls at once, in real time (engine defaults, single digits, frames paced at "
           "20 ms, one app process with its event loop):", "",
           "| decoders in | calls | decision p50 | decision p95 | loop lag p99 | decisions | "
           "accuracy | real time |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for c in runs:
        out.append(f"| {c.mode} | {c.streams} | {c.p50_ms:.0f} ms | {c.p95_ms:.0f} ms | "
                   f"{c.lag_p99_ms:.0f} ms | {c.decisions} | {c.accuracy:.1f} % | "
                   f"{'yes' if c.real_time else 'no'} |")
    for mode in dict.fromkeys(c.mode for c in runs):
        ok = [c.streams for c in runs if c.mode == mode and c.real_time]
        out.append(f"\n{mode}: up to {max(ok) if ok else 0} calls recognized at once in real "
                   "time (decision p95 < 250 ms, event loop lag p99 < 50 ms)")
    return "\n".join(out)
