"""Which engine a flow language gets, from configuration (environment variables).

A flow language names its engine ("pocketsphinx" or "vosk"). pocketsphinx has an English model
in its wheel and needs nothing; Vosk needs `IVR_VOSK_MODEL_<LANG>` pointing at a model folder
(`ivr models` lists them). Engines load a model: open each once and share it between calls.

`IVR_SPEECH_WORKERS=N` (default 0) runs the engine in N worker processes (`worker.py`): every
core decodes, and pocketsphinx's GIL never holds up the event loop (bench/README.md).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping

from .recognizer import Engine, RecognizerError

ENGINES = ("pocketsphinx", "vosk")
POCKETSPHINX_LANGUAGES = frozenset({"en"})  # the model in the wheel is US English


def vosk_setting(language: str) -> str:
    return f"IVR_VOSK_MODEL_{language.upper()}"


def open_engine(name: str, language: str, env: Mapping[str, str] | None = None) -> Engine:
    """The engine `name` for `language`; RecognizerError says what is missing."""
    env = os.environ if env is None else env
    factory: Callable[[], Engine]
    if name == "pocketsphinx":
        if language not in POCKETSPHINX_LANGUAGES:
            raise RecognizerError(f"pocketsphinx has no model for language {language!r} "
                                  f"(only {', '.join(sorted(POCKETSPHINX_LANGUAGES))}); "
                                  f"use vosk for it")
        from .pocketsphinx_engine import PocketsphinxEngine

        factory = PocketsphinxEngine
    elif name == "vosk":
        setting = vosk_setting(language)
        path = env.get(setting, "").strip()
        if not path:
            raise RecognizerError(f"{setting} is not set: Vosk needs a model folder for "
                                  f"{language!r}; `ivr models` says where to get one")
        from .vosk_engine import VoskEngine

        factory = functools.partial(VoskEngine, path)
    else:
        raise RecognizerError(f"unknown speech engine {name!r} (known: {', '.join(ENGINES)})")
    workers = env.get("IVR_SPEECH_WORKERS", "0").strip() or "0"
    if not workers.isdigit():
        raise RecognizerError(f"IVR_SPEECH_WORKERS must be a number of processes, not {workers!r}")
    if int(workers) == 0:
        return factory()
    from .worker import ProcessEngine

    return ProcessEngine(factory, processes=int(workers))
