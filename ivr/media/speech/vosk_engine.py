"""Vosk (Kaldi): a model directory from configuration, one recognizer per turn.

The `vosk` wheel ships no model, and `Model(lang=...)` would try to download one: we only ever
load the directory configured (`IVR_VOSK_MODEL_<LANG>`, see `ivr models`). No Vosk model can
be downloaded on the project's development machines, so this engine is exercised only where a
user has put one; its tests check the errors a missing or wrong directory gives.

A turn is a `KaldiRecognizer` constrained to the grammar's phrases plus "[unk]" (so speech
outside the menu comes back as unknown instead of being forced onto the nearest phrase; the
Korean small model 0.22 cannot do this: its graph has no "[unk]"). Confidence is the mean of
the words' confidences Vosk reports (`SetWords(True)`), 0 when it heard nothing.
Vosk's C library releases the GIL while it decodes, so a thread pool uses every core.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .grammar import Grammar
from .recognizer import Recognition, RecognizerError, Word
from .vosk_models import model_problems


class VoskEngine:
    """The `Engine` over a Vosk model directory (16 kHz input; the small models are 16 kHz)."""

    name = "vosk"
    sample_rate = 16000

    def __init__(self, model_path: str | Path, unk: bool = True) -> None:
        path = Path(model_path).expanduser()
        problems = model_problems(path)
        if problems:
            raise RecognizerError(
                f"no usable Vosk model at {path}: {'; '.join(problems)}. No model can be "
                f"downloaded on this machine: see `ivr models` for where to get one and how to "
                f"check it, or use pocketsphinx")
        try:
            import vosk
        except ImportError as exc:
            raise RecognizerError("vosk is not installed (pip install vosk)") from exc
        vosk.SetLogLevel(-1)
        try:
            self._model = vosk.Model(model_path=str(path))
        except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
            raise RecognizerError(f"Vosk could not load the model at {path}: {exc}; check it "
                                  f"with `ivr models check {path}`") from exc
        self._vosk = vosk
        self._unk = unk
        self.path = path

    def check(self, grammar: Grammar) -> None:
        """Vosk maps unknown words to [unk] by itself (with a warning); nothing to refuse."""

    def new_turn(self, grammar: Grammar) -> VoskTurn:
        phrases = grammar.vosk_phrases(unk=self._unk)
        recognizer = self._vosk.KaldiRecognizer(self._model, self.sample_rate,
                                                json.dumps(phrases, ensure_ascii=False))
        recognizer.SetWords(True)
        return VoskTurn(self, recognizer, grammar)

    def close(self) -> None:
        self._model = None


class VoskTurn:
    def __init__(self, engine: VoskEngine, recognizer: Any, grammar: Grammar) -> None:
        self._engine = engine
        self._rec: Any = recognizer
        self._grammar = grammar
        self._samples = 0
        self._words: list[dict[str, Any]] = []

    def accept(self, pcm16k_le: bytes) -> None:
        if self._rec is None:
            raise RuntimeError("audio fed to a finished turn")
        if pcm16k_le:
            self._samples += len(pcm16k_le) // 2
            if self._rec.AcceptWaveform(pcm16k_le):  # an endpoint: Vosk closed a segment
                self._words += json.loads(self._rec.Result()).get("result", [])

    def result(self) -> Recognition:
        if self._rec is None:
            raise RuntimeError("turn already finished")
        rec, self._rec = self._rec, None
        self._words += json.loads(rec.FinalResult()).get("result", [])
        words = tuple(Word(str(w["word"]), float(w["start"]), float(w["end"]),
                           float(w.get("conf", 0.0))) for w in self._words)
        text = " ".join(w.text for w in words)
        value = self._grammar.interpret(text) if text else None
        heard = [w.confidence for w in words if w.text != "[unk]"]
        confidence = sum(heard) / len(heard) if heard and value is not None else 0.0
        return Recognition(text, value, confidence, self._engine.name, words,
                           self._samples / self._engine.sample_rate)

    def close(self) -> None:
        self._rec = None
