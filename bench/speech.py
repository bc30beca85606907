"""Speech recognition on real telephone speech: accuracy, latency, CPU, concurrent calls.

    .venv/bin/python bench/speech.py [--limit N] [--skip-capacity] [--learn-cmn]

Every clip of ../shared/data/fsdd (8 kHz spoken digits, four speakers) goes through the path
a call's audio takes: 20 ms RTP frames of slin in network byte order, swapped to little-endian,
fed to an `AsyncTurn` as they come, resampled to 16 kHz and decoded in an executor, the result
after the last frame. Variants add one change at a time to the baseline (naive 2x upsampling,
the model's own configuration), so each row says what that change is worth. Where a variant
starts turns from a telephone cepstral mean, each speaker is scored with a mean learnt from the
other three speakers only (leave one speaker out), so nothing is learnt from the clips scored.

Results and what they mean: bench/README.md ("Speech recognition").
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import math
import os
import random
import sys
import time
import wave
import zlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ivr.media.audio import be_to_le, float_to_pcm16, pcm16_to_float, resample  # noqa: E402
from ivr.media.speech import AsyncTurn, Engine, Grammar  # noqa: E402
from ivr.media.speech.pocketsphinx_engine import (  # noqa: E402
    TELEPHONE_BAND_NOISE_DBFS,
    TELEPHONE_CONFIG,
    TELEPHONE_SPEECH_LEVEL_DBFS,
    PocketsphinxEngine,
    PocketsphinxOptions,
)
from ivr.media.speech.worker import ProcessEngine  # noqa: E402
from ivr.testing.audio import ulaw_roundtrip  # noqa: E402

FSDD = Path(os.environ.get("IVR_FSDD", ROOT.parent / "shared" / "data" / "fsdd"))
FRAME = 160  # samples in a 20 ms RTP frame at 8 kHz
PAD_S = 0.3  # pre-roll and hangover a VAD-gated turn gives the recognizer
SPEAKERS = ("george", "jackson", "lucas", "nicolas")


# ----- the clips and the call path
@dataclass(frozen=True)
class Clip:
    path: Path
    digit: str
    speaker: str


def clips(limit: int | None) -> list[Clip]:
    found = [Clip(p, *p.stem.split("_")[:2]) for p in sorted(FSDD.glob("*.wav"))]
    if not found:
        raise SystemExit(f"no recordings in {FSDD} (set IVR_FSDD)")
    if limit and limit < len(found):
        found = sorted(random.Random(0).sample(found, limit), key=lambda c: c.path.name)
    return found


def read(clip: Clip) -> np.ndarray:
    with wave.open(str(clip.path), "rb") as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        return pcm16_to_float(w.readframes(w.getnframes()))


def line_audio(clip: Clip, pad: bool, ulaw: bool, gain_db: float = 0.0) -> np.ndarray:
    """The clip as the line carries it: with `pad`, the recording's own noise floor (its
    quietest 10 ms) before and after the speech, as a VAD-gated turn would deliver it."""
    x = read(clip) * 10 ** (gain_db / 20)
    if pad:
        frames = x[: x.size // 80 * 80].reshape(-1, 80)
        floor = float(np.sqrt(np.min(np.mean(frames**2, axis=1))))
        rng = np.random.default_rng(zlib.crc32(clip.path.name.encode()))
        n = int(PAD_S * 8000)
        x = np.concatenate([rng.normal(0, floor, n), x, rng.normal(0, floor, n)])
    return ulaw_roundtrip(x) if ulaw else x


def rtp_frames(x: np.ndarray) -> list[bytes]:
    """20 ms slin frames as RTP carries them: big-endian."""
    return [float_to_pcm16(x[i:i + FRAME], "big") for i in range(0, x.size, FRAME)]


class NaiveUpsampler:
    """The baseline: every sample twice (leaves a mirror image of 0-4 kHz in 4-8 kHz)."""

    def process(self, pcm_le: bytes) -> bytes:
        return np.repeat(np.frombuffer(pcm_le, "<i2"), 2).tobytes()

    def flush(self) -> bytes:
        return b""


# ----- variants
@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    naive: bool = False
    telephone_cmn: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    pad: bool = False
    oh: bool = False
    ulaw: bool = False
    noise_dbfs: float | None = None  # the noise floor at 4-8 kHz
    level: bool = False  # a second pass at the expected level when the speech is off
    gain_db: float = 0.0  # the caller louder or quieter than the recordings


SILPROB = {"silprob": TELEPHONE_CONFIG["silprob"]}
TEL = dict(telephone_cmn=True, pad=True)
DEFAULTS = dict(config=dict(TELEPHONE_CONFIG), noise_dbfs=TELEPHONE_BAND_NOISE_DBFS, level=True,
                **TEL)
NO_LEVEL = {**DEFAULTS, "level": False}
VARIANTS = (
    Variant("a", "baseline: naive 2x upsampling, model defaults", naive=True),
    Variant("b", "proper resampling (windowed sinc), model defaults"),
    Variant("c", "b + telephone CMN start", telephone_cmn=True),
    Variant("d", "c + 0.3 s of line noise before/after (VAD pre-roll/hangover)", **TEL),
    Variant("e", "d + silence probability 0.05", config=dict(SILPROB), **TEL),
    Variant("f", "e + word-exit beam 1e-15", config=dict(TELEPHONE_CONFIG), **TEL),
    Variant("g", "f + noise floor at 4-8 kHz (-40 dBFS)", **NO_LEVEL),
    Variant("h", "g + level check (2nd pass if off by > 6 dB) = **the engine's defaults**",
            **DEFAULTS),
    Variant("i", "h with naive upsampling instead", naive=True, **DEFAULTS),
    Variant("j", "h + 'oh' for zero in the grammar", oh=True, **DEFAULTS),
    Variant("k", "h + G.711 mu-law round trip (a PCMU call)", ulaw=True, **DEFAULTS),
    Variant("l", "g, caller 12 dB quieter", gain_db=-12, **NO_LEVEL),
    Variant("m", "h, caller 12 dB quieter", gain_db=-12, **DEFAULTS),
    Variant("n", "g, caller 6 dB louder", gain_db=6, **NO_LEVEL),
    Variant("o", "h, caller 6 dB louder", gain_db=6, **DEFAULTS),
)
PRODUCTION = "h"

_engines: dict[tuple[str, str | None], PocketsphinxEngine] = {}


def engine_for(variant: Variant, cmn: str | None) -> PocketsphinxEngine:
    key = (variant.key, cmn)
    if key not in _engines:
        _engines[key] = PocketsphinxEngine(PocketsphinxOptions(
            cmn=cmn, config=variant.config, band_noise_dbfs=variant.noise_dbfs,
            speech_level_dbfs=TELEPHONE_SPEECH_LEVEL_DBFS if variant.level else None))
    return _engines[key]


def grammar_for(variant: Variant) -> Grammar:
    return Grammar.digit_string(1, 1, name="digit", oh=variant.oh)


async def recognize(engine: Engine, grammar: Grammar, frames: Sequence[bytes],
                    executor: ThreadPoolExecutor, naive: bool
                    ) -> tuple[str | None, float, float]:
    """One turn through the call path: (value, confidence, decision latency).

    Frames go in as fast as the decoder takes them, the decoder catching up every 100 ms as it
    does in a call, so the latency is what a caller waits after the last frame.
    """
    turn = await AsyncTurn.start(engine, grammar, executor=executor,
                                 converter=NaiveUpsampler() if naive else None)
    for n, frame in enumerate(frames, 1):
        turn.feed(be_to_le(frame))
        if n % 5 == 0:
            await turn.settle()
    result = await turn.finish()
    return result.value, result.confidence, result.finish_s


def score_chunk(variant: Variant, chunk: list[Clip], cmns: dict[str, str | None]
                ) -> tuple[list[tuple[str, str, str | None, float, float]], float, float]:
    """(speaker, digit, value, confidence, latency) per clip, CPU seconds, audio seconds."""
    grammar = grammar_for(variant)
    rows = []
    audio = 0.0
    cpu0 = time.process_time()
    with ThreadPoolExecutor(1) as executor:
        for clip in chunk:
            x = line_audio(clip, variant.pad, variant.ulaw, variant.gain_db)
            audio += x.size / 8000
            engine = engine_for(variant, cmns[clip.speaker])
            value, conf, latency = asyncio.run(recognize(engine, grammar, rtp_frames(x),
                                                         executor, variant.naive))
            rows.append((clip.speaker, clip.digit, value, conf, latency))
    return rows, time.process_time() - cpu0, audio


# ----- telephone cepstral mean
def learn_cmn(train: Sequence[Clip], naive: bool = False,
              noise_dbfs: float | None = TELEPHONE_BAND_NOISE_DBFS) -> str:
    """The mean cepstrum of speech on this path: the decoder's live CMN estimate after each
    clip (speech only, no padding), averaged over the clips."""
    engine = PocketsphinxEngine(PocketsphinxOptions(cmn=None, config={},
                                                    band_noise_dbfs=noise_dbfs))
    decoder = engine._new_decoder()  # a bare decoder: its live CMN is what is measured
    decoder.add_jsgf_string("d", grammar_for(VARIANTS[0]).jsgf())
    decoder.activate_search("d")
    total = None
    for clip in train:
        decoder.start_utt()
        x = read(clip)
        wide = np.repeat(x, 2) if naive else resample(x, 8000, 16000)
        pcm = float_to_pcm16(wide)
        if engine.band_noise is not None:
            pcm = engine.band_noise.add(pcm, 0)
        decoder.process_raw(pcm, False, False)
        decoder.end_utt()
        v = np.array([float(c) for c in decoder.get_cmn().split(",")])
        total = v if total is None else total + v
    assert total is not None
    return ",".join(f"{c:.3f}" for c in total / len(train))


def loso_cmns(all_clips: Sequence[Clip], naive: bool, noise_dbfs: float | None,
              per_speaker: int = 150) -> dict[str, str]:
    """For each speaker, a mean learnt from the other speakers' clips only."""
    by = defaultdict(list)
    for c in all_clips:
        by[c.speaker].append(c)
    out = {}
    for spk in SPEAKERS:
        train = [c for other in SPEAKERS if other != spk
                 for c in random.Random(1).sample(by[other], min(per_speaker, len(by[other])))]
        out[spk] = learn_cmn(train, naive, noise_dbfs)  # the search does not move the CMN
    return out


# ----- accuracy runs
@dataclass
class Score:
    variant: Variant
    correct: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)
    confusions: Counter[tuple[str, str | None]] = field(default_factory=Counter)
    confidences: list[tuple[bool, float]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    cpu_s: float = 0.0
    audio_s: float = 0.0

    def pct(self, spk: str | None = None) -> float:
        if spk is None:
            return 100 * sum(self.correct.values()) / max(1, sum(self.total.values()))
        return 100 * self.correct[spk] / max(1, self.total[spk])


def run_variants(variants: Sequence[Variant], all_clips: list[Clip], jobs: int,
                 cmn_loso: dict[tuple[bool, float | None], dict[str, str]]) -> list[Score]:
    scores = []
    with ProcessPoolExecutor(jobs) as pool:
        for v in variants:
            if v.telephone_cmn:
                path = (v.naive, v.noise_dbfs)  # learnt through the variant's own audio path
                if path not in cmn_loso:
                    cmn_loso[path] = loso_cmns(all_clips, *path)
                cmns: dict[str, str | None] = dict(cmn_loso[path])
            else:
                cmns = dict.fromkeys(SPEAKERS)
            chunks = [all_clips[i::jobs * 4] for i in range(jobs * 4)]
            score = Score(v)
            for rows, cpu, audio in pool.map(score_chunk, [v] * len(chunks), chunks,
                                             [cmns] * len(chunks)):
                score.cpu_s += cpu
                score.audio_s += audio
                for spk, digit, value, conf, latency in rows:
                    score.latencies.append(latency)
                    score.total[spk] += 1
                    score.correct[spk] += value == digit
                    score.confidences.append((value == digit, conf))
                    if value != digit:
                        score.confusions[(digit, value)] += 1
            print(f"  {v.key}: {score.pct():.1f} %  ({v.label})", file=sys.stderr, flush=True)
            scores.append(score)
    return scores


# ----- real time: how many calls at once
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


def q(xs: Sequence[float], f: float) -> float:
    """The f-quantile of sorted seconds, in ms."""
    return 1000 * xs[min(len(xs) - 1, int(f * len(xs)))] if xs else math.inf


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


# ----- digit strings (PINs, account numbers)
def digit_strings(all_clips: list[Clip], count: int, length: int) -> list[tuple[str, list[Clip]]]:
    """`count` strings of `length` digits, each said by one speaker (clips chosen at random)."""
    rng = random.Random(length)
    by: dict[tuple[str, str], list[Clip]] = defaultdict(list)
    for c in all_clips:
        by[(c.speaker, c.digit)].append(c)
    out = []
    for _ in range(count):
        spk = rng.choice(SPEAKERS)
        digits = "".join(rng.choice([d for d in "0123456789" if by[(spk, d)]])
                         for _ in range(length))
        out.append((digits, [rng.choice(by[(spk, d)]) for d in digits]))
    return out


def said_together(parts: list[Clip], gap_s: float = 0.25) -> np.ndarray:
    """One caller saying the digits with short pauses, with the line's noise around them."""
    xs = [read(c) for c in parts]
    frames = xs[0][: xs[0].size // 80 * 80].reshape(-1, 80)
    floor = float(np.sqrt(np.min(np.mean(frames**2, axis=1))))
    rng = np.random.default_rng(zlib.crc32("".join(c.path.name for c in parts).encode()))
    out = [rng.normal(0, floor, int(PAD_S * 8000))]
    for i, x in enumerate(xs):
        out += [x, rng.normal(0, floor, int((gap_s if i < len(xs) - 1 else PAD_S) * 8000))]
    return np.concatenate(out)


def score_strings(items: list[tuple[str, list[str]]], oh: bool, cmns: dict[str, str]
                  ) -> list[tuple[bool, float, float]]:
    """(right, confidence, decision latency) per string, exact-length digit grammar."""
    out = []
    engines: dict[str, PocketsphinxEngine] = {}
    with ThreadPoolExecutor(1) as executor:
        for digits, paths in items:
            parts = [Clip(Path(p), *Path(p).stem.split("_")[:2]) for p in paths]
            spk = parts[0].speaker
            engine = engines.setdefault(spk, PocketsphinxEngine(PocketsphinxOptions(
                cmn=cmns[spk])))
            grammar = Grammar.digit_string(len(digits), len(digits), name="number", oh=oh)
            value, conf, latency = asyncio.run(recognize(
                engine, grammar, rtp_frames(said_together(parts)), executor, False))
            out.append((value == digits, conf, latency))
    return out


# ----- report
def report(scores: list[Score], n_clips: int) -> str:
    out = [f"Single digits, {n_clips} clips (grammar: one of zero..nine), accuracy in %:", "",
           "| variant | " + " | ".join(SPEAKERS) + " | overall | CPU per s of audio | "
           "decision p50 / p95 |",
           "|---|" + "---:|" * (len(SPEAKERS) + 3)]
    for s in scores:
        cells = " | ".join(f"{s.pct(spk):.1f}" for spk in SPEAKERS)
        lat = sorted(s.latencies)
        out.append(f"| ({s.variant.key}) {s.variant.label} | {cells} | **{s.pct():.1f}** | "
                   f"{1000 * s.cpu_s / s.audio_s:.1f} ms | {q(lat, 0.5):.0f} / "
                   f"{q(lat, 0.95):.0f} ms |")
    prod = next((s for s in scores if s.variant.key == PRODUCTION), None)
    if prod is not None:
        out += ["", f"Most frequent errors of ({PRODUCTION}): " + ", ".join(
            f"{d} heard as {v if v is not None else 'nothing'} x{n}"
            for (d, v), n in prod.confusions.most_common(6)), "",
            f"Confidence threshold on ({PRODUCTION}):", "",
            "| threshold | correct answers kept | wrong answers accepted |",
            "|---:|---:|---:|"]
        good = sum(ok for ok, _ in prod.confidences)
        bad = len(prod.confidences) - good
        for th in (0.5, 0.7, 0.8, 0.9, 0.95):
            kept = sum(ok and c >= th for ok, c in prod.confidences)
            wrong = sum((not ok) and c >= th for ok, c in prod.confidences)
            out.append(f"| {th:.2f} | {100 * kept / max(1, good):.0f} % | "
                       f"{100 * wrong / max(1, bad):.0f} % |")
    return "\n".join(out)


def strings_report(all_clips: list[Clip], count: int, jobs: int,
                   cmns: dict[str, str]) -> str:
    out = ["", f"Digit strings said by one speaker, 0.25 s between digits, exact-length grammar, "
           f"{count} strings each:", "",
           "| what | 'oh' in grammar | whole string right | confidence >= 0.9 and right | "
           "decision p50 / p95 / max |", "|---|---|---:|---:|---:|"]
    with ProcessPoolExecutor(jobs) as pool:
        for length, what in ((4, "PIN, 4 digits"), (8, "account, 8 digits")):
            items = [(d, [str(c.path) for c in parts])
                     for d, parts in digit_strings(all_clips, count, length)]
            for oh in (False, True):
                chunks = [items[i::jobs * 2] for i in range(jobs * 2)]
                rows = [r for part in pool.map(score_strings, chunks, [oh] * len(chunks),
                                               [cmns] * len(chunks)) for r in part]
                lat = sorted(r[2] for r in rows)
                right = 100 * sum(r[0] for r in rows) / len(rows)
                sure = 100 * sum(r[0] and r[1] >= 0.9 for r in rows) / len(rows)
                out.append(f"| {what} | {'yes' if oh else 'no'} | {right:.0f} % | {sure:.0f} % | "
                           f"{q(lat, 0.5):.0f} / {q(lat, 0.95):.0f} / {1000 * lat[-1]:.0f} ms |")
                print(out[-1], file=sys.stderr, flush=True)
    return "\n".join(out)


def capacity_report(all_clips: list[Clip], seconds: float, processes: int) -> str:
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


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="score N random clips (default: all)")
    parser.add_argument("--variants", default="".join(v.key for v in VARIANTS))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--strings", type=int, default=100, help="digit strings per kind")
    parser.add_argument("--skip-capacity", action="store_true")
    parser.add_argument("--seconds", type=float, default=20.0, help="per capacity run")
    parser.add_argument("--learn-cmn", action="store_true",
                        help="print the telephone CMN learnt from every speaker, and stop")
    args = parser.parse_args()
    all_clips = clips(args.limit)
    if args.learn_cmn:
        train = [c for spk in SPEAKERS for c in random.Random(1).sample(
            [c for c in all_clips if c.speaker == spk],
            min(150, sum(c.speaker == spk for c in all_clips)))]
        print(learn_cmn(train))
        return 0
    print(f"{len(all_clips)} clips from {FSDD}", file=sys.stderr)
    cmn_loso: dict[tuple[bool, float | None], dict[str, str]] = {}
    chosen = [v for v in VARIANTS if v.key in args.variants]
    print(report(run_variants(chosen, all_clips, args.jobs, cmn_loso), len(all_clips)),
          flush=True)
    if args.strings:
        path = (False, TELEPHONE_BAND_NOISE_DBFS)
        if path not in cmn_loso:
            cmn_loso[path] = loso_cmns(all_clips, *path)
        print(strings_report(all_clips, args.strings, args.jobs, cmn_loso[path]), flush=True)
    if not args.skip_capacity:
        print(capacity_report(all_clips, args.seconds, args.jobs), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
