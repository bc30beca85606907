"""Checker rules for speech: which languages a menu or a digit entry listens in, and whether
the flow names an engine for each.

A menu listens in a language when one of its options has phrases in it; it can only do so
if the flow's `speech` names an engine for that language. Without one the call still works
(keys, and a prompt asking for them), so that is a warning; a phrase that could mean two
options, or speech for a secret, is an error.
"""

from __future__ import annotations

from .dialog import CONFIRM_PHRASES
from .model import CollectNode, Flow, MenuNode, Node
from .source import KeyPath

Finding = tuple[KeyPath, str, str]

__all__ = ["check_flow_speech", "check_speech_node"]


def check_flow_speech(flow: Flow) -> list[Finding]:
    return [(("speech", language), f"speech engine for {language!r}, which is not one of this "
                                   f"flow's languages ({', '.join(flow.languages)})", "error")
            for language in flow.speech if language not in flow.languages]


def _normal(phrase: str) -> str:
    return " ".join(phrase.lower().split())


def check_speech_node(flow: Flow, node: Node) -> list[Finding]:
    if isinstance(node, MenuNode):
        return _menu(flow, node)
    if isinstance(node, CollectNode) and node.speech:
        if node.secure:
            return [(("speech",), "a secure entry is never taken by voice (anyone nearby "
                                  "would hear it); drop speech or secure", "error")]
        if not flow.speech:
            return [(("speech",), "speech: true, but the flow names no speech engine "
                                  "(speech: {en: pocketsphinx}); callers can only key the "
                                  "digits", "warning")]
        if node.confirm:
            return [(("confirm",), f"no spoken yes/no is known in {language!r}: the "
                                   f"confirmation takes keys only in it", "warning")
                    for language in flow.speech if language not in CONFIRM_PHRASES]
    return []


def _menu(flow: Flow, node: MenuNode) -> list[Finding]:
    out: list[Finding] = []
    seen: dict[tuple[str, str], str] = {}
    for key, option in node.options.items():
        for language, phrases in option.phrases.items():
            where = ("options", key, "phrases", language)
            if language not in flow.languages:
                out.append((where, f"phrases in {language!r}, which is not one of this flow's "
                                   f"languages ({', '.join(flow.languages)})", "error"))
                continue
            for phrase in phrases:
                said = _normal(phrase)
                if not said:
                    out.append((where, "an empty phrase", "error"))
                elif (language, said) in seen and seen[(language, said)] != key:
                    out.append((where, f"{phrase!r} is a phrase of option "
                                       f"{seen[(language, said)]!r} too: which one would a "
                                       "caller who says it get?", "error"))
                else:
                    seen[(language, said)] = key
    for language in flow.languages:
        if node.listens_in(language) and language not in flow.speech:
            out.append(((), f"the menu listens in {language!r}, but the flow names no speech "
                            f"engine for it (speech: {{{language}: ...}}): callers in "
                            f"{language!r} are asked to use the keypad", "warning"))
    return out
