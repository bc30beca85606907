"""Single-digit accuracy of each variant, per speaker, with CPU, latency and confidence.

Clips are scored in worker processes (a decoder holds the GIL), each chunk with its own
executor and event loop, the way one call's turn would be decoded; the parent adds up the rows.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field

from speech_line import SPEAKERS, Clip, line_audio, q, recognize, rtp_frames
from speech_variants import PRODUCTION, Variant, engine_for, grammar_for, loso_cmns


def score_chunk(variant: Variant, chunk: list[Clip], cmns: dict[str, str | None]
                ) -> tuple[list[tuple[str, str, str | None, float, float]], float, float]:
    """(speaker, digit, value, confidence, latency) per clip, CPU seconds, audio seconds."""
    grammar = grammar_for(variant)
    rows = []
    audio = 0.0
    cpu0 = time.process_time()
    with ThreadPoolExecutor(1) as executor:
        for clip in chunk:
            x = line_audio(clip, variant.pad, variant.ulaw, variant.gain_db, variant.gate_ms)
            audio += x.size / 8000
            engine = engine_for(variant, cmns[clip.speaker])
            value, conf, latency = asyncio.run(recognize(engine, grammar, rtp_frames(x),
                                                         executor, variant.naive))
            rows.append((clip.speaker, clip.digit, value, conf, latency))
    return rows, time.process_time() - cpu0, audio


@dataclass
class Score:
    """What one variant scored, kept whole so the report can slice it by speaker or threshold."""

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
    """Score every clip with each variant; `cmn_loso` caches the learnt means per audio path
    (learning them is slow, and the digit strings reuse one)."""
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


def report(scores: list[Score], n_clips: int) -> str:
    """The accuracy table (Markdown), then the production variant's errors and thresholds."""
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
