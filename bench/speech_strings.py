"""Digit strings (PINs, account numbers) said by one caller, for bench/speech.py.

There are no recordings of whole strings, so each is put together from one speaker's single
digits with short pauses and the line's noise around them, and decoded with a grammar of
exactly that many digits, as a menu asking for a PIN would.
"""

from __future__ import annotations

import asyncio
import random
import sys
import zlib
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from speech_line import PAD_S, SPEAKERS, Clip, q, read, recognize, rtp_frames

from ivr.media.speech import Grammar
from ivr.media.speech.pocketsphinx_engine import PocketsphinxEngine, PocketsphinxOptions


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


def strings_report(all_clips: list[Clip], count: int, jobs: int,
                   cmns: dict[str, str]) -> str:
    """PINs and account numbers, with and without 'oh' in the grammar (Markdown table)."""
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
