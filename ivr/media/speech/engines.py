"""An engine by name, for a flow language, from explicit settings (the app layer reads them).

A flow language names its engine ("pocketsphinx" or "vosk"). pocketsphinx has an English model
in its wheel and needs nothing; Vosk needs a model folder (`ivr models` lists them). Engines
load a model: open each once and share it between calls.

`workers=N` runs the engine in N worker processes (`worker.py`): every core decodes, and
pocketsphinx's GIL never holds up the event loop (bench/README.md); 0 keeps it in this process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from .recognizer import Engine, RecognizerError

ENGINES = ("pocketsphinx", "vosk")
POCKETSPHINX_LANGUAGES = frozenset({"en"})  # the model in the wheel is US English


class NoModelError(RecognizerError):
    """The engine needs a model folder for the language and was given none: the app layer
    knows which setting provides it and says so."""

    def __init__(self, engine: str, language: str) -> None:
        self.engine, self.language = engine, language
        super().__init__(f"{engine} needs a model folder for {language!r} and none is "
                         f"configured; `ivr models` says where to get one")

    def __reduce__(self) -> tuple[type[NoModelError], tuple[str, str]]:
        return (NoModelError, (self.engine, self.language))


def open_engine(name: str, language: str, *, model: Path | None = None,
                workers: int = 0) -> Engine:
    """The engine `name` for `language`, its model at `model` (Vosk), decoding in `workers`
    processes (0: in this one); RecognizerError says what is missing."""
    if workers < 0:
        raise ValueError(f"workers must be 0 or more, not {workers}")
    factory: Callable[[], Engine]
    if name == "pocketsphinx":
        if language not in POCKETSPHINX_LANGUAGES:
            raise RecognizerError(f"pocketsphinx has no model for language {language!r} "
                                  f"(only {', '.join(sorted(POCKETSPHINX_LANGUAGES))}); "
                                  f"use vosk for it")
        from .pocketsphinx_engine import PocketsphinxEngine

        factory = PocketsphinxEngine
    elif name == "vosk":
        if model is None:
            raise NoModelError(name, language)
        from .vosk_engine import VoskEngine

        factory = functools.partial(VoskEngine, model)
    else:
        raise RecognizerError(f"unknown speech engine {name!r} (known: {', '.join(ENGINES)})")
    if workers == 0:
        return factory()
    from .worker import ProcessEngine

    return ProcessEngine(factory, processes=workers)
