"""Checker rules for `action` nodes, against the specs of the actions the service offers.

A flow names actions by text; the services implement them. Without this check a misspelt
action, a forgotten argument or an outcome written `okay` instead of `ok` would each surface
only on a live call, as a caller sent to the fallback ("our systems are unavailable") for no
reason anyone can see. Given the specs (ActionSpec: args, outcomes, results), the checker
refuses such a flow before it is served.

Severities follow what happens on a call: anything that always misroutes the call is an
error; an extra argument the action ignores, or an outcome the node leaves to `fallback`, is
a warning (a flow may mean it: "locked" and "backend down" can share a goodbye).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from .actions import ActionSpec
from .expr import ExpressionError, variables
from .loader import KeyPath
from .model import ActionNode, CollectNode, Flow, SetNode, SubflowNode

Finding = tuple[KeyPath, str, str]
"""(path relative to the node, message, severity)."""


def _tip(word: str, candidates: Iterable[str]) -> str:
    guess = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {guess[0]!r}?" if guess else ""


def _names(names: Iterable[str]) -> str:
    return ", ".join(names) or "none"


def dead_ends(node: ActionNode) -> list[tuple[str, str]]:
    """Needs no spec: every action can fail (timeout, backend down), so a fallback is a must."""
    if node.fallback:
        return []
    return [("dead end: no 'fallback' for when the action fails (error, timeout, an outcome "
             "'on' does not name)", "error")]


def maybe_secret(flow: Flow, specs: Mapping[str, ActionSpec] | None) -> set[str]:
    """Variables that may hold a secret: secure collects, what is computed from them, secure
    fields an action answers, and (not knowable here) a subflow's params and returns."""
    out = set(flow.params)
    for node in flow.nodes.values():
        if isinstance(node, CollectNode) and node.secure:
            out.add(node.store)
        elif isinstance(node, SubflowNode):
            out |= set(node.returns)
        elif isinstance(node, ActionNode) and specs and node.action in specs:
            out |= {v for v, f in node.results.items() if f in specs[node.action].secure_args}
    sets = [(name, text) for node in flow.nodes.values() if isinstance(node, SetNode)
            for name, text in node.values.items()]
    while True:
        more = {name for name, text in sets if name not in out and _reads(text) & out}
        if not more:
            return out
        out |= more


def _reads(text: str) -> set[str]:
    try:
        return variables(text)
    except ExpressionError:
        return set()  # reported as an invalid expression


def check_action(node: ActionNode, specs: Mapping[str, ActionSpec] | None,
                 secret: set[str] | None = None) -> list[Finding]:
    """Findings for one action node; none when no specs were given (nothing to check against).

    `secret` (maybe_secret of the node's flow) enables the warning for a secure argument fed
    from a value that is not secure: the action masks it, but it was traced where it was
    collected (a collect without `secure: true`) or sits in the flow file as a literal.
    """
    if specs is None:
        return []
    spec = specs.get(node.action)
    if spec is None:
        return [(("action",), f"no action named {node.action!r}"
                              f"{_tip(node.action, specs) or f' (known: {_names(sorted(specs))})'}",
                 "error")]
    name = spec.name or node.action
    out: list[Finding] = []
    required = list(dict.fromkeys((*spec.args, *spec.secure_args)))
    missing = [arg for arg in required if arg not in node.args]
    if missing:
        out.append((("args",), f"{name} needs args {_names(required)}; missing "
                               f"{_names(missing)}", "error"))
    for arg in node.args:
        if arg not in required:
            out.append((("args", arg), f"{arg!r} is not an argument of {name} (args: "
                                       f"{_names(required)}){_tip(arg, required)}; the action "
                                       "ignores it", "warning"))
    for arg in spec.secure_args:
        if secret is not None and arg in node.args and not _reads(node.args[arg]) & secret:
            out.append((("args", arg), f"{arg!r} is a secret for {name}, but {node.args[arg]!r} "
                                       "is not secure: it shows in traces and logs where it is "
                                       "set (use a collect with secure: true)", "warning"))
    for outcome in node.on:
        if outcome not in spec.outcomes:
            out.append((("on", outcome), f"{outcome!r} is not an outcome of {name} (outcomes: "
                                         f"{_names(spec.outcomes)})"
                                         f"{_tip(outcome, spec.outcomes)}", "error"))
    unhandled = [o for o in spec.outcomes if o not in node.on]
    if unhandled:
        out.append((("on",), f"outcome(s) {_names(unhandled)} of {name} are not in 'on': "
                             "they go to 'fallback'", "warning"))
    for variable, field in node.results.items():
        if field not in spec.results:
            out.append((("results", variable), f"{name} has no result {field!r} (results: "
                                               f"{_names(spec.results)})"
                                               f"{_tip(field, spec.results)}", "error"))
    return out
