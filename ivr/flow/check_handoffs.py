"""Checker rules for `queue` nodes, against the queues the ACD serves (flows/queues.yaml).

A queue node names its queue by text and routes the queue's outcomes (`timeout`, `full`,
`no_agents`, a key's `voicemail`...) by `on`. Given the queues and the outcomes each can
answer, a misspelt queue or an outcome the queue never produces is refused before it is served
instead of surfacing as a caller sent to `next` for no visible reason.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

from .loader import KeyPath
from .model import HandoffNode

QueueOutcomes = Mapping[str, frozenset[str]]
"""Queue name -> the outcomes a wait in it can end with (besides being answered)."""

Finding = tuple[KeyPath, str, str]


def _tip(word: str, candidates: Iterable[str]) -> str:
    guess = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {guess[0]!r}?" if guess else ""


MAILBOX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""A mailbox name becomes a folder name (services/voicemail/store.py checks the same)."""


def check_queue_node(node: HandoffNode, queues: QueueOutcomes | None) -> list[Finding]:
    if node.kind == "voicemail" and "${" not in node.target \
            and not MAILBOX.fullmatch(node.target):
        return [(("mailbox",), f"mailbox {node.target!r} is not a mailbox name (letters, "
                               "digits, _ . -; up to 64)", "error")]
    if node.kind in ("callback", "voicemail") and queues is not None:
        target = node.target if node.kind == "callback" else node.options.get("queue", "")
        field = "queue"
        if target and "${" not in target and target not in queues:
            return [((field,), f"unknown queue {target!r}{_tip(target, queues)} (queues: "
                               f"{', '.join(sorted(queues)) or 'none'})", "error")]
    if node.kind != "queue":
        if node.on:
            return [(("on",), f"a {node.kind} node answers no outcomes; 'on' is for queue "
                              "nodes", "error")]
        return []
    if queues is None or "${" in node.target:
        return []
    outcomes = queues.get(node.target)
    if outcomes is None:
        return [(("queue",), f"unknown queue {node.target!r}{_tip(node.target, queues)} "
                             f"(queues: {', '.join(sorted(queues)) or 'none'})", "error")]
    if "max_wait" in node.options:
        outcomes = outcomes | {"timeout"}
    out: list[Finding] = []
    for outcome in node.on:
        if outcome not in outcomes:
            out.append((("on", outcome), f"queue {node.target!r} never ends a wait with "
                                         f"{outcome!r}{_tip(outcome, outcomes)} (it can: "
                                         f"{', '.join(sorted(outcomes)) or 'nothing'})",
                        "error"))
    unrouted = sorted(outcomes - set(node.on))
    if unrouted and not node.next:
        out.append(((), f"no 'on' or 'next' for queue outcome(s) {', '.join(unrouted)}; the "
                        "call would be hung up", "error"))
    return out
