"""Speech recognition for menus: grammars, one engine interface, pocketsphinx and Vosk.

Engine modules import their library lazily (`open_engine`), so importing this package costs
nothing and works where an engine is not installed.
"""

from .engines import ENGINES, NoModelError, open_engine
from .grammar import Grammar, GrammarError, UnknownWordsError, normalise
from .recognizer import AsyncTurn, Engine, Recognition, RecognizerError, Turn, Word

__all__ = [
    "ENGINES",
    "AsyncTurn",
    "Engine",
    "Grammar",
    "GrammarError",
    "NoModelError",
    "Recognition",
    "RecognizerError",
    "Turn",
    "UnknownWordsError",
    "Word",
    "normalise",
    "open_engine",
]
