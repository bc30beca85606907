"""pocketsphinx: the recognizer that works on a fresh machine, nothing to download.

Its PyPI wheel ships a 16 kHz US English acoustic model and CMUdict. A turn decodes against
a JSGF grammar made from the menu's phrases (or a digit string), so it answers with one of them.

Decoders are expensive to make (the acoustic model loads: ~140 ms and ~27 MB each) and cheap to
re-arm, so the engine keeps idle ones in a pool (`prewarm` fills it at start-up) and each
decoder keeps the searches (compiled grammars) it has seen. Every turn starts from the same
cepstral-mean estimate, so one caller's line never colours the next caller's recognition.

Confidence: the lowest posterior probability among the answer's words, each word's posterior
taken from the word lattice of the grammar search (pocketsphinx builds it when `bestpath` is
on): how much of the probability of every path the grammar allowed, through that stretch of
audio, went to that word. (The utterance's own `hyp().prob` also multiplies in the silences'
posteriors, ~0.15 whatever was said: useless as a threshold.) On real speech most correct
answers score near 1 and wrong ones spread lower: bench/README.md gives the trade-off.

Note: pocketsphinx holds the GIL while it decodes. In a thread pool the event loop waits while
a batch decodes (a 100 ms batch takes ~3 ms) and only one core works; `worker.ProcessEngine`
runs it in worker processes instead (bench/README.md compares the two).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ..audio import BandNoise, scale_pcm16, speech_level_dbfs
from .grammar import Grammar
from .recognizer import Recognition, RecognizerError, Word

_FILLERS = frozenset({"<s>", "</s>", "<sil>", "(NULL)", "[NOISE]", "[SPEECH]"})
_FRAME_S = 0.01  # pocketsphinx's frame rate is 100 per second
_MAX_SEARCHES = 32  # compiled grammars a pooled decoder keeps
_PIECE = 3200  # bytes given to the decoder in one call: 100 ms at 16 kHz


# Cepstral mean of telephone speech resampled to 16 kHz, the starting point of every turn's
# live CMN. The model's own (40,3,-1,0...) is for wide-band speech; with it the first second of
# an 8 kHz caller is mis-normalised and short answers are lost. Estimated by bench/speech.py
# (--learn-cmn) from 600 of the spoken-digit recordings (speech only, no padding, with the
# band noise below); the benchmark scores each speaker with a mean learnt from the others only.
TELEPHONE_CMN = ("59.568,-5.022,12.738,-0.736,6.767,-5.127,-16.543,1.387,-11.307,-1.005,"
                 "-1.026,-7.751,3.101")
# Silence between and around words is likelier on the phone than in the model's default; a
# narrower word-exit beam keeps the lattice (the confidence comes from it) small: at the
# default (7e-29) a digit string's took 0.3-5 s to build after the caller stopped, at 1e-15 it
# takes tens of milliseconds, for the same accuracy (bench/README.md).
TELEPHONE_CONFIG: Mapping[str, Any] = {"silprob": 0.05, "wbeam": 1e-15}
# Callers come through 8 kHz codecs (even as slin16, Asterisk only resamples): nothing above
# 4 kHz. A steady noise floor there, far below speech, keeps the model's upper filters in the
# range it was trained on (media.audio.BandNoise).
TELEPHONE_BAND_NOISE_DBFS: float | None = -40.0
# The speech level the CMN start was learnt at (media.audio.speech_level_dbfs of the
# recordings: median -21 dBFS, 90 % of them within 6 dB). Within one short answer
# pocketsphinx's live CMN hardly moves from its start, so its energy term assumes this level:
# callers 6 dB quieter lost 4 points of accuracy, 12 dB quieter 13. A turn whose speech is off
# by more than LEVEL_TOLERANCE_DB is decoded once more at the end, brought to this level (one
# more pass, ~25 ms per second of audio; bench/README.md).
TELEPHONE_SPEECH_LEVEL_DBFS: float | None = -21.0
LEVEL_TOLERANCE_DB = 6.0
_SILENCE_DBFS = -60.0  # quieter than this there is nothing to bring up
_MAX_GAIN_DB = 30.0


@dataclass(frozen=True)
class PocketsphinxOptions:
    """How decoders are configured; the defaults are what bench/README.md found best on
    real 8 kHz speech (`PocketsphinxOptions.wideband()` is the model's own configuration).

    `config` overrides pocketsphinx parameters by name (see `pocketsphinx.Config().describe()`),
    e.g. {"beam": 1e-60}; they are applied after the model's feat.params, which would
    otherwise win. `cmn` is the cepstral mean every turn starts from (comma-separated, as
    `Decoder.get_cmn()` gives it); None keeps the model's own.
    """

    hmm: str | None = None  # None: the model in the wheel
    dict: str | None = None
    cmn: str | None = TELEPHONE_CMN
    config: Mapping[str, Any] = field(default_factory=lambda: dict(TELEPHONE_CONFIG))
    band_noise_dbfs: float | None = TELEPHONE_BAND_NOISE_DBFS
    speech_level_dbfs: float | None = TELEPHONE_SPEECH_LEVEL_DBFS
    max_idle: int = 32  # decoders kept for reuse (~27 MB and ~140 ms to make, each)

    @classmethod
    def wideband(cls) -> PocketsphinxOptions:
        """The model's own configuration, for audio that really has 4-8 kHz in it."""
        return cls(cmn=None, config={}, band_noise_dbfs=None, speech_level_dbfs=None)


class PocketsphinxEngine:
    """The `Engine` over pocketsphinx 5 (16 kHz input)."""

    name = "pocketsphinx"
    sample_rate = 16000

    def __init__(self, options: PocketsphinxOptions | None = None) -> None:
        try:
            import pocketsphinx
        except ImportError as exc:  # a broken install: it is a declared dependency
            raise RecognizerError("pocketsphinx is not installed (pip install pocketsphinx)"
                                  ) from exc
        self.options = options or PocketsphinxOptions()
        self._ps = pocketsphinx
        self._hmm = self.options.hmm or pocketsphinx.get_model_path("en-us/en-us")
        self._dict = self.options.dict or pocketsphinx.get_model_path(
            "en-us/cmudict-en-us.dict")
        for path in (self._hmm, self._dict):
            if not Path(path).exists():
                raise RecognizerError(f"pocketsphinx model file missing: {path}")
        self._idle: list[_Decoder] = []
        self._lock = threading.Lock()
        noise_dbfs = self.options.band_noise_dbfs
        self.band_noise = BandNoise(noise_dbfs) if noise_dbfs is not None else None
        _dictionary_words(self._dict)  # read now (~0.1 s), not in the first check() on the loop

    # ----- Engine
    def check(self, grammar: Grammar) -> None:
        grammar.check_words(self.knows, self.name)

    def knows(self, word: str) -> bool:
        """Whether the pronouncing dictionary has the word."""
        return word in _dictionary_words(self._dict)

    def new_turn(self, grammar: Grammar) -> PocketsphinxTurn:
        self.check(grammar)
        decoder = self._take()
        try:
            decoder.arm(grammar, self.options.cmn)
        except BaseException:
            self._give_back(decoder)
            raise
        return PocketsphinxTurn(self, decoder, grammar)

    def close(self) -> None:
        with self._lock:
            self._idle.clear()

    def prewarm(self, decoders: int) -> None:
        """Make decoders ahead of the calls (at start-up, not while a caller waits)."""
        made = [_Decoder(self._new_decoder())
                for _ in range(min(decoders, self.options.max_idle) - len(self._idle))]
        for decoder in made:
            self._give_back(decoder)

    # ----- the pool
    def _take(self) -> _Decoder:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return _Decoder(self._new_decoder())

    def _give_back(self, decoder: _Decoder) -> None:
        with self._lock:
            if len(self._idle) < self.options.max_idle:
                self._idle.append(decoder)

    def _new_decoder(self) -> Any:
        settings: dict[str, Any] = {
            "hmm": self._hmm, "dict": self._dict, "lm": None, "samprate": self.sample_rate,
            "loglevel": "FATAL", "bestpath": True,
        }
        try:
            decoder = self._ps.Decoder(self._ps.Config(**settings))
            if self.options.config:
                config = decoder.get_config()
                for key, value in self.options.config.items():
                    config[key] = value
                decoder.reinit_feat(config)
        except (ValueError, RuntimeError, KeyError) as exc:
            raise RecognizerError(f"pocketsphinx would not start with {settings} and "
                                  f"{dict(self.options.config)}: {exc}") from exc
        return decoder


class _Decoder:
    """A pocketsphinx Decoder with the grammars it has compiled (least recently used last)."""

    def __init__(self, decoder: Any) -> None:
        self.ps = decoder
        self.model_cmn: str = decoder.get_cmn()
        self._searches: OrderedDict[str, None] = OrderedDict()

    def restart(self, cmn: str | None) -> None:
        """A fresh utterance on the armed grammar, from the CMN start."""
        self.ps.set_cmn(cmn or self.model_cmn)
        self.ps.start_utt()

    def arm(self, grammar: Grammar, cmn: str | None) -> None:
        jsgf = grammar.jsgf()
        name = "g" + hashlib.sha1(jsgf.encode()).hexdigest()[:16]
        if name not in self._searches:
            try:
                self.ps.add_jsgf_string(name, jsgf)
            except ValueError as exc:
                raise RecognizerError(f"grammar {grammar.name!r}: pocketsphinx rejected its "
                                      f"JSGF: {exc}\n{jsgf}") from exc
            self._searches[name] = None
        self._searches.move_to_end(name)
        self.ps.activate_search(name)
        while len(self._searches) > _MAX_SEARCHES:
            old, _ = self._searches.popitem(last=False)
            self.ps.remove_search(old)
        self.restart(cmn)


class PocketsphinxTurn:
    """One utterance on a pooled decoder; the decoder goes back to the pool when it ends."""

    def __init__(self, engine: PocketsphinxEngine, decoder: _Decoder, grammar: Grammar) -> None:
        self._engine = engine
        self._decoder: _Decoder | None = decoder
        self._grammar = grammar
        self._samples = 0
        self._audio = bytearray()  # for a second pass at another level

    def accept(self, pcm16k_le: bytes) -> None:
        if self._decoder is None:
            raise RuntimeError("audio fed to a finished turn")
        if pcm16k_le:
            if self._engine.options.speech_level_dbfs is not None:
                self._audio += pcm16k_le
            self._process(self._decoder, pcm16k_le, self._samples)
            self._samples += len(pcm16k_le) // 2

    def _process(self, decoder: _Decoder, pcm: bytes, position: int) -> None:
        noise = self._engine.band_noise
        for start in range(0, len(pcm), _PIECE):  # the GIL is held one piece at a time
            piece = pcm[start:start + _PIECE]
            if noise is not None:
                piece = noise.add(piece, position + start // 2)
            decoder.ps.process_raw(piece, False, False)

    def _end(self, decoder: _Decoder) -> None:
        """End the utterance; decode it again brought to the expected level if it was off."""
        decoder.ps.end_utt()
        target = self._engine.options.speech_level_dbfs
        if target is None or not self._audio:
            return
        audio, self._audio = bytes(self._audio), bytearray()
        level = speech_level_dbfs(audio, self._engine.sample_rate)
        if level < _SILENCE_DBFS or abs(level - target) <= LEVEL_TOLERANCE_DB:
            return
        gain = max(-_MAX_GAIN_DB, min(_MAX_GAIN_DB, target - level))
        decoder.restart(self._engine.options.cmn)
        self._process(decoder, scale_pcm16(audio, gain), 0)
        decoder.ps.end_utt()

    def result(self) -> Recognition:
        decoder = self._decoder
        if decoder is None:
            raise RuntimeError("turn already finished")
        self._decoder = None
        self._end(decoder)  # a decoder that fails here is not given back: its state is unknown
        hyp = decoder.ps.hyp()
        text = hyp.hypstr if hyp is not None else ""
        words = tuple(
            Word(seg.word.split("(")[0], seg.start_frame * _FRAME_S,
                 (seg.end_frame + 1) * _FRAME_S, min(1.0, float(seg.prob)))
            for seg in decoder.ps.seg() or () if seg.word not in _FILLERS) if text else ()
        self._engine._give_back(decoder)
        value = self._grammar.interpret(text) if text else None
        confidence = min((w.confidence for w in words), default=0.0) if value is not None \
            else 0.0
        return Recognition(text, value, confidence, self._engine.name, words,
                           self._samples / self._engine.sample_rate)

    def close(self) -> None:
        decoder, self._decoder = self._decoder, None
        if decoder is not None:
            decoder.ps.end_utt()
            self._engine._give_back(decoder)


@cache
def _dictionary_words(path: str) -> frozenset[str]:
    """Words of a CMUdict-format file ("word(2)" is the second pronunciation of "word")."""
    words = set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            head = line.split(maxsplit=1)[0] if line.strip() else ""
            if head and not head.startswith(";;;"):
                words.add(head.split("(")[0])
    return frozenset(words)
