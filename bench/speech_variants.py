"""The configurations bench/speech.py compares, and the telephone cepstral mean they start from.

Each variant adds one change to the one above it, so a row of the accuracy table says what that
change is worth. A variant with `telephone_cmn` starts its turns from a mean cepstrum learnt on
this very audio path; `loso_cmns` learns it per speaker from the other speakers only, so nothing
is learnt from the clips being scored.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np
from speech_line import SPEAKERS, Clip, read

from ivr.media.audio import float_to_pcm16, resample
from ivr.media.speech import Grammar
from ivr.media.speech.pocketsphinx_engine import (
    TELEPHONE_BAND_NOISE_DBFS,
    TELEPHONE_CONFIG,
    TELEPHONE_SPEECH_LEVEL_DBFS,
    PocketsphinxEngine,
    PocketsphinxOptions,
)


@dataclass(frozen=True)
class Variant:
    """One row of the accuracy table: the audio path and the engine's options it is scored with."""

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
    gate_ms: int | None = None  # the path opened this long after Asterisk's talk event


class _Telephone(TypedDict):
    """The call path's framing of a turn (typed, so that `**` it into `Variant` is checked)."""

    telephone_cmn: bool
    pad: bool


class _Tuned(_Telephone):
    """The engine's tuning on top of that: with `level`, its defaults."""

    config: dict[str, Any]
    noise_dbfs: float | None
    level: bool


SILPROB = {"silprob": TELEPHONE_CONFIG["silprob"]}
TEL: _Telephone = {"telephone_cmn": True, "pad": True}
DEFAULTS: _Tuned = {"config": dict(TELEPHONE_CONFIG), "noise_dbfs": TELEPHONE_BAND_NOISE_DBFS,
                    "level": True, **TEL}
NO_LEVEL: _Tuned = {**DEFAULTS, "level": False}
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
    Variant("p", "k, the path opened at Asterisk's talk event (no pre-roll)", ulaw=True,
            gate_ms=0, **DEFAULTS),
    Variant("q", "k, the path opened 40 ms after the talk event", ulaw=True, gate_ms=40,
            **DEFAULTS),
    Variant("r", "k, the path opened 80 ms after the talk event", ulaw=True, gate_ms=80,
            **DEFAULTS),
    Variant("s", "k, the path opened 150 ms after the talk event", ulaw=True, gate_ms=150,
            **DEFAULTS),
    Variant("t", "q, caller 12 dB quieter", ulaw=True, gate_ms=40, gain_db=-12, **DEFAULTS),
)
PRODUCTION = "h"

_engines: dict[tuple[str, str | None], PocketsphinxEngine] = {}


def engine_for(variant: Variant, cmn: str | None) -> PocketsphinxEngine:
    """One engine per variant and CMN start, kept for the process (a decoder is slow to make)."""
    key = (variant.key, cmn)
    if key not in _engines:
        _engines[key] = PocketsphinxEngine(PocketsphinxOptions(
            cmn=cmn, config=variant.config, band_noise_dbfs=variant.noise_dbfs,
            speech_level_dbfs=TELEPHONE_SPEECH_LEVEL_DBFS if variant.level else None))
    return _engines[key]


def grammar_for(variant: Variant) -> Grammar:
    """One digit, zero..nine, with 'oh' as a word for zero if the variant says so."""
    return Grammar.digit_string(1, 1, name="digit", oh=variant.oh)


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
