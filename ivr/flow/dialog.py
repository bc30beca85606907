"""The nodes that wait for the caller: menu (one key) and collect (a string of digits).

Both follow VoiceXML: prompt, wait, and on a failure play the escalating handler for that kind
(the Nth no-input plays no_input handler N, the last repeating) and try again; after `attempts`
failures in total, go to `fallback`. The handler is not played after the last failure: the
fallback speaks next, and a "sorry" right before it would be noise.

Barge-in and type-ahead come from CallIO: `play(..., barge_in=True)` stops at a key and leaves
it in the buffer, and a key typed earlier skips the prompt, so the read that follows gets it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Literal

from ..media.entry import EntryRules, read_entry
from .model import CollectNode, Escalation, MenuNode, Say
from .runtime import SPEECH_UNAVAILABLE, FlowRuntimeError, Next, Runtime
from .types import MASK, Listen

Failure = Literal["no_input", "no_match"]


class _Attempts:
    """Counts failures per kind for the escalation handlers, and in total for `attempts`."""

    def __init__(self, escalation: Escalation) -> None:
        self.escalation = escalation
        self.total = max(1, escalation.attempts)
        self.counts: dict[Failure, int] = {"no_input": 0, "no_match": 0}

    def fail(self, kind: Failure) -> int:
        self.counts[kind] += 1
        return self.counts[kind]

    async def handle(self, rt: Runtime, kind: Failure, attempt: int, barge_in: bool) -> None:
        if attempt < self.total:
            handler = self.escalation.handler(kind, self.counts[kind])
            await rt.play(handler, barge_in=barge_in)

    def exhausted(self, rt: Runtime, node_id: str) -> Next:
        rt.trace("attempts_exhausted", node=rt.qualify(node_id))
        if not self.escalation.fallback:
            raise FlowRuntimeError(f"{self.total} attempts failed and there is no fallback")
        return self.escalation.fallback


def _menu_listen(rt: Runtime, node: MenuNode) -> Listen | None:
    language = rt.io.language
    if not node.listens_in(language):
        return None
    return Listen(language, rt.flow.speech.get(language, ""), phrases=node.grammar(language),
                  confidence=node.confidence, node=rt.qualify(node.id))


def _collect_listen(rt: Runtime, node: CollectNode) -> Listen | None:
    """A digit entry listens in the languages the flow has an engine for (it has no phrases
    that would say which languages it means); in the others it takes keys, as it always did."""
    language = rt.io.language
    if not node.speech or node.secure or language not in rt.flow.speech:
        return None
    return Listen(language, rt.flow.speech[language],
                  digits=(node.min_length, node.max_length), terminator=node.terminator,
                  confidence=node.confidence, node=rt.qualify(node.id))


CONFIRM_PHRASES: dict[str, dict[str, str]] = {
    "en": {"yes": "1", "yeah": "1", "correct": "1", "that's right": "1", "one": "1",
           "no": "2", "wrong": "2", "two": "2"},
    "ko": {"예": "1", "네": "1", "맞아요": "1", "일": "1",
           "아니요": "2", "아니오": "2", "틀려요": "2", "이": "2"},
}
"""How a caller answers a confirmation by voice: a yes is key 1, a no is key 2."""


def _confirm_listen(rt: Runtime, node: CollectNode) -> Listen | None:
    """The confirmation of a spoken entry listens for yes or no, not for more digits."""
    entry = _collect_listen(rt, node)
    phrases = CONFIRM_PHRASES.get(rt.io.language)
    if entry is None or not node.confirm or not phrases:
        return None
    return Listen(entry.language, entry.engine, phrases=phrases, confidence=node.confidence,
                  node=f"{entry.node}.confirm")


@contextlib.asynccontextmanager
async def _listening(rt: Runtime, request: Listen | None) -> AsyncIterator[None]:
    """Listen while the node waits. A node that would listen but cannot (no engine for the
    language) takes keys; the first time in a call, the caller is told to use the keypad."""
    if request is None:
        yield
        return
    async with rt.io.listening(request) as listening:
        if not listening:
            rt.trace("speech_unavailable", node=request.node, language=request.language,
                     engine=request.engine or None)
            if request.language not in rt.told_keypad:
                rt.told_keypad.add(request.language)
                await rt.play((Say("prompt", SPEECH_UNAVAILABLE),), barge_in=True)
        yield


async def run_menu(rt: Runtime, node: MenuNode) -> Next:
    async with _listening(rt, _menu_listen(rt, node)):
        return await _menu(rt, node)


async def _menu(rt: Runtime, node: MenuNode) -> Next:
    qid = rt.qualify(node.id)
    tries = _Attempts(node.escalation)
    for attempt in range(1, tries.total + 1):
        prompt = node.reprompt if attempt > 1 and node.reprompt else node.prompt
        await rt.play(prompt, barge_in=node.barge_in)
        key = await rt.read(node.timeout)
        if key is not None and key in node.options:
            rt.trace("choice", node=qid, key=key, attempt=attempt)
            rt.state.inputs.append((qid, key))
            if node.store:
                rt.set_variable(node.store, key, secret=False)
            return node.options[key].target
        if key is None:
            tries.fail("no_input")
            rt.trace("no_input", node=qid, attempt=attempt)
            await tries.handle(rt, "no_input", attempt, node.barge_in)
        else:
            tries.fail("no_match")
            rt.trace("no_match", node=qid, key=key, attempt=attempt)
            await tries.handle(rt, "no_match", attempt, node.barge_in)
    return tries.exhausted(rt, node.id)


async def run_collect(rt: Runtime, node: CollectNode) -> Next:
    """Digits until the terminator, max_length, or inter-digit silence; then readback/confirm.

    The value is stored before the readback (which speaks it through ${store}); a rejected or
    unconfirmed value is taken back so a failed collect leaves the variable as it was.

    A spoken entry listens in two stages: for digits while the prompt plays and the digits
    come, then for yes or no while the value is read back and confirmed.
    """
    qid = rt.qualify(node.id)
    tries = _Attempts(node.escalation)
    had, before = node.store in rt.state.variables, rt.state.variables.get(node.store)
    was_secret = node.store in rt.state.secure_vars
    for attempt in range(1, tries.total + 1):
        async with _listening(rt, _collect_listen(rt, node)):
            await rt.play(node.prompt, barge_in=node.barge_in)
            digits, ended = await _read_digits(rt, node)
        if ended == "timeout" and not digits:
            tries.fail("no_input")
            rt.trace("no_input", node=qid, attempt=attempt)
            await tries.handle(rt, "no_input", attempt, node.barge_in)
            continue
        if len(digits) < node.min_length:
            tries.fail("no_match")
            rt.trace("no_match", node=qid, attempt=attempt, reason="too_short",
                     length=len(digits), ended=ended)
            await tries.handle(rt, "no_match", attempt, node.barge_in)
            continue
        rt.set_variable(node.store, digits, secret=node.secure)
        verdict = await _confirm(rt, node, qid, attempt)
        if verdict == "ok":
            shown = MASK if node.secure else digits
            rt.trace("collected", node=qid, value=shown, length=len(digits), ended=ended,
                     attempt=attempt)
            rt.state.inputs.append((qid, shown))
            return node.next or None
        if had:
            rt.set_variable(node.store, before, secret=was_secret)
        else:
            rt.state.variables.pop(node.store, None)
            rt.state.secure_vars.discard(node.store)
        if verdict == "rejected":
            tries.fail("no_match")  # the caller chose to re-enter: no "invalid" prompt
        else:
            tries.fail(verdict)
            await tries.handle(rt, verdict, attempt, node.barge_in)
    return tries.exhausted(rt, node.id)


async def _read_digits(rt: Runtime, node: CollectNode) -> tuple[str, str]:
    """(digits, how the entry ended: "terminator" | "max_length" | "timeout"); the rules are
    the line engine's (media/entry.py), including forgiving the habit terminator."""
    entry = await read_entry(rt, EntryRules(
        max_length=node.max_length, first_timeout=node.first_digit_timeout,
        inter_digit=node.inter_digit_timeout, terminator=node.terminator), secure=node.secure)
    return entry.digits, entry.ended


async def _confirm(rt: Runtime, node: CollectNode, qid: str,
                   attempt: int) -> Literal["ok", "rejected", "no_input", "no_match"]:
    """Read the value back and ask for 1 (accept) or 2 (enter it again)."""
    if not node.confirm:
        if node.readback:
            await rt.play(node.readback, barge_in=node.barge_in)
        return "ok"
    async with _listening(rt, _confirm_listen(rt, node)):
        if node.readback:
            await rt.play(node.readback, barge_in=node.barge_in)
        await rt.play(node.confirm, barge_in=node.barge_in)
        key = await rt.read(node.first_digit_timeout)
    if key == "1":
        rt.trace("confirmed", node=qid, attempt=attempt)
        return "ok"
    if key == "2":
        rt.trace("confirm_rejected", node=qid, attempt=attempt)
        return "rejected"
    if key is None:
        rt.trace("no_input", node=qid, attempt=attempt, stage="confirm")
        return "no_input"
    rt.trace("no_match", node=qid, attempt=attempt, stage="confirm", key=key)
    return "no_match"
