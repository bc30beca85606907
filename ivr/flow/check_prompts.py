"""Checker rules for what a caller hears: every prompt exists, every literal value can be said.

A missing prompt is silence in the middle of a call, in one language only, which nobody
notices until a caller complains; a literal the `say` rules refuse (`{currency: "12.50"}` in
Korean) fails at run time on every call that reaches it. Values are judged by media.say
itself, per language, so the checker and the call always agree.

Money has a unit (`{currency: ..., unit: KRW}`). A literal unit is checked like a literal
value; a `${var}` unit is only known at run time, so every currency's words must then exist in
every language of the flow: the KRW balance of an English caller needs the English "won".
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..media.prompts import PromptLibrary
from ..media.say import CURRENCIES, SayError, currency_words
from ..media.say import reader as say_reader
from ..media.say import say as say_ids
from .loader import KeyPath
from .model import Flow, Say

Report = Callable[[Flow, KeyPath, str], None]
"""(flow, path, message): an error at that place."""


def _tip(word: str, candidates: Iterable[str]) -> str:
    guess = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {guess[0]!r}?" if guess else ""


def shown(item: Say) -> str:
    """The item as the flow author wrote it: {currency: 12.50, unit: KRW}."""
    unit = f", unit: {item.unit}" if item.unit else ""
    return f"{{{item.kind}: {item.value}{unit}}}"


@dataclass
class PromptChecks:
    prompts: PromptLibrary | None
    """None skips the presence checks (the literal values are still judged)."""
    report: Report
    unsayable: set[tuple[int, str]] = field(default_factory=set)
    """(flow, language) pairs already reported as having no `say` rules."""

    def item(self, flow: Flow, path: KeyPath, item: Say) -> None:
        """A prompt item: the prompt exists, or the value can be said in every language.

        A ${var} value is only known at run time, but the language must still be one `say`
        knows, and a currency's own words must be there whatever the amount.
        """
        if item.kind == "prompt":
            if "${" not in item.value:
                self.present(flow, path, [item.value], f"prompt {item.value!r}")
            return
        variable_unit = "${" in item.unit
        unit = item.unit if item.unit and not variable_unit else None
        for language in flow.languages:
            try:
                say_reader(language)
            except SayError as exc:
                if (id(flow), language) not in self.unsayable:
                    self.unsayable.add((id(flow), language))
                    self.report(flow, path, str(exc))
                return
            if "${" in item.value or variable_unit:
                if item.kind == "currency" and not self.vocabulary(
                        flow, path, item, language, None if variable_unit else unit):
                    return
                continue
            try:
                words = say_ids(item.kind, item.value, language, unit)
            except SayError as exc:
                tip = (f"; to say variable {item.value!r} write \"${{{item.value}}}\""
                       if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", item.value) else "")
                self.report(flow, path, f"{shown(item)} cannot be said in {language}: "
                                        f"{exc.reason}{tip}")
                return
            self.present(flow, path, words, f"saying {shown(item)}", [language])

    def vocabulary(self, flow: Flow, path: KeyPath, item: Say, language: str,
                   unit: str | None) -> bool:
        """The currency words an amount known only at run time may need; False if the unit
        itself is wrong (reported once, at the unit). A ${var} unit may be any currency."""
        units: list[str | None] = list(CURRENCIES) if "${" in item.unit else [unit]
        for code in units:
            try:
                words = currency_words(language, code)
            except SayError as exc:
                self.report(flow, (*path, "unit"), exc.reason)
                return False
            self.present(flow, path, words, f"saying {shown(item)}", [language])
        return True

    def present(self, flow: Flow, path: KeyPath, prompt_ids: list[str], what: str,
                languages: Iterable[str] | None = None) -> None:
        """Report prompts with neither a recording nor manifest text (which build renders)."""
        library = self.prompts
        if library is None:
            return
        for prompt_id in dict.fromkeys(prompt_ids):
            missing = [lang for lang in (languages or flow.languages)
                       if not library.has(prompt_id, lang)
                       and library.manifest.text(prompt_id, lang) is None]
            if not missing:
                continue
            langs = ", ".join(missing)
            folders = ", ".join(f"{library.root / lang}/" for lang in missing)
            tip = "" if prompt_id in library.manifest.texts else _tip(
                prompt_id, library.manifest.texts)
            needs = "" if what == f"prompt {prompt_id!r}" else f" needs prompt {prompt_id!r}, which"
            self.report(flow, path, f"{what}{needs} is missing in {langs}: no recording in "
                                    f"{folders} and no {langs} text in {library.root}/*.yaml{tip}")
            return
