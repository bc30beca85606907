"""What a caller may say in one turn, and what it means: phrases of a menu, or a digit string.

A recognizer constrained to a handful of phrases is far more accurate than free dictation, and
it answers with one of them or nothing. Engines take the grammar in their own form: JSGF for
pocketsphinx (every word must be in its pronouncing dictionary: `check_words` says which are
not, instead of the engine silently never recognizing them), a phrase list for Vosk (with
"[unk]" so that speech outside the menu is heard as unknown rather than forced onto a phrase).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

# Digit words a caller says for each digit. "oh" is how many people say 0 in a number.
DIGIT_WORDS: Mapping[str, str] = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}
UNK = "[unk]"  # Vosk's out-of-vocabulary word
_NAME = re.compile(r"[^A-Za-z0-9_]")


class GrammarError(ValueError):
    """A grammar that cannot be built (empty, a phrase with no words, a bad length)."""


class UnknownWordsError(GrammarError):
    """Words a grammar needs that the engine cannot pronounce: it would never hear them."""

    def __init__(self, engine: str, grammar: str, words: Iterable[str]) -> None:
        self.engine, self.grammar = engine, grammar
        self.words = tuple(sorted(set(words)))
        super().__init__(
            f"grammar {grammar!r}: {engine} has no pronunciation for "
            f"{', '.join(repr(w) for w in self.words)}; use other words for the phrase, "
            f"or add the word to the engine's dictionary")

    def __reduce__(self) -> tuple[type[UnknownWordsError], tuple[str, str, tuple[str, ...]]]:
        return (UnknownWordsError, (self.engine, self.grammar, self.words))  # crosses processes


def normalise(text: str) -> str:
    """Lower case, letters/digits/apostrophes/hyphens only, single spaces: the form both the
    phrases of a flow and an engine's words are compared in ("Account-Balance!" stays
    "account-balance"; Korean letters survive)."""
    text = unicodedata.normalize("NFC", text).casefold().replace("\u2019", "'")
    kept = "".join(ch if ch.isalnum() or ch in "'-" else " " for ch in text)
    return " ".join(w.strip("'-") for w in kept.split() if w.strip("'-"))


@dataclass(frozen=True)
class Grammar:
    """A menu's phrases (phrase -> value) or a digit string of `min_digits`..`max_digits`.

    Build with `Grammar.menu(...)` or `Grammar.digit_string(...)`.
    """

    name: str
    phrases: Mapping[str, str] = field(default_factory=dict)
    min_digits: int = 0
    max_digits: int = 0
    digit_words: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def menu(cls, phrases: Mapping[str, str], name: str = "menu") -> Grammar:
        """Phrases as a flow writes them ({"account balance": "1", "agent": "3"})."""
        table: dict[str, str] = {}
        for phrase, value in phrases.items():
            key = normalise(phrase)
            if not key:
                raise GrammarError(f"grammar {name!r}: phrase {phrase!r} has no words")
            if table.get(key, value) != value:
                raise GrammarError(f"grammar {name!r}: {key!r} means both "
                                   f"{table[key]!r} and {value!r}")
            table[key] = value
        if not table:
            raise GrammarError(f"grammar {name!r}: no phrases")
        return cls(name=name, phrases=table)

    @classmethod
    def digit_string(cls, min_digits: int, max_digits: int, name: str = "digits",
                     oh: bool = True) -> Grammar:
        """A number said digit by digit ("one two three four"), `oh` also meaning zero."""
        if not 1 <= min_digits <= max_digits <= 32:
            raise GrammarError(f"grammar {name!r}: digit lengths must be 1 <= min <= max <= 32,"
                               f" got {min_digits}..{max_digits}")
        words = {w: d for w, d in DIGIT_WORDS.items() if oh or w != "oh"}
        return cls(name=name, min_digits=min_digits, max_digits=max_digits, digit_words=words)

    @property
    def is_digits(self) -> bool:
        return self.max_digits > 0

    @property
    def words(self) -> frozenset[str]:
        """Every word an engine must know for this grammar."""
        if self.is_digits:
            return frozenset(self.digit_words)
        return frozenset(w for phrase in self.phrases for w in phrase.split())

    def interpret(self, text: str) -> str | None:
        """The value of what was recognized: the phrase's value, or the digits as a string;
        None when it is not something this grammar allows (e.g. Vosk heard "[unk]")."""
        if UNK in text:
            return None
        said = normalise(text)
        if not self.is_digits:
            return self.phrases.get(said)
        words = said.split()
        if not self.min_digits <= len(words) <= self.max_digits:
            return None
        digits = [self.digit_words.get(w) for w in words]
        return None if None in digits else "".join(d for d in digits if d)

    def check_words(self, known: Callable[[str], bool], engine: str) -> None:
        """Raise UnknownWordsError naming every word `known` rejects."""
        unknown = [w for w in self.words if not known(w)]
        if unknown:
            raise UnknownWordsError(engine, self.name, unknown)

    # ----- engine forms
    def jsgf(self) -> str:
        """JSGF for pocketsphinx: one public rule, the alternatives of the menu or the digits."""
        rule = _NAME.sub("_", self.name) or "g"
        lines = ["#JSGF V1.0;", f"grammar {rule};"]
        if self.is_digits:
            digit = f"<{rule}_digit>"  # named after the grammar: it cannot clash with it
            lines.append(f"{digit} = {' | '.join(_token(w) for w in self.digit_words)};")
            optional = self.max_digits - self.min_digits
            body = " ".join([digit] * self.min_digits)
            if optional:
                body += " " + f"[{digit} " * optional
                body = body.rstrip() + "]" * optional
            lines.append(f"public <{rule}> = {body.strip()};")
        else:
            alternatives = " | ".join(
                " ".join(_token(w) for w in phrase.split()) for phrase in sorted(self.phrases))
            lines.append(f"public <{rule}> = {alternatives};")
        return "\n".join(lines) + "\n"

    def vosk_phrases(self, unk: bool = True) -> list[str]:
        """The phrase list a Vosk recognizer takes (its grammar repeats phrases freely, so
        a digit string is its digit words and the length is checked by `interpret`)."""
        phrases = sorted(self.digit_words if self.is_digits else self.phrases)
        return [*phrases, UNK] if unk else phrases


def _token(word: str) -> str:
    """A JSGF token. `normalise` leaves letters, digits, ' and - only, which pocketsphinx's
    JSGF parser takes bare ("x-ray", "o'clock"); it refuses quoted tokens."""
    if not re.fullmatch(r"[\w'-]+", word):
        raise GrammarError(f"{word!r} is not a JSGF token (normalise() the phrase first)")
    return word
