"""Whole-set checks: what the schema cannot see, because it needs the graph or other files.

Operations staff edit flows on a live service; the checker is what makes that safe. Every rule
here is a mistake that would otherwise surface as a confused caller: a key that leads nowhere,
a prompt that plays silence in Korean, a variable read before anyone set it, a loop a caller
can never leave. Errors refuse the whole set (the service keeps the last good one); warnings
are things a person should look at but that do not break a call.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..media.prompts import PromptLibrary
from . import check_actions, check_handoffs, check_speech, dataflow
from .actions import ActionSpec
from .check_prompts import PromptChecks
from .expr import ExpressionError, parse
from .loader import FlowErrorDetail, KeyPath, Positions
from .model import (
    ActionNode,
    BranchNode,
    CollectNode,
    Flow,
    HandoffNode,
    HangupNode,
    HttpNode,
    LanguageNode,
    MenuNode,
    PlayNode,
    ReturnNode,
    SetNode,
    SubflowNode,
    targets,
)
from .model import AnyNode as Node

_TEMPLATE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


def check_flows(
    flows: Mapping[str, Flow], prompts: PromptLibrary | None, *,
    positions: Mapping[str, Positions] | None = None, complete: bool = True,
    actions: Mapping[str, ActionSpec] | None = None,
    queues: check_handoffs.QueueOutcomes | None = None,
) -> list[FlowErrorDetail]:
    """Every error and warning in a set of flows, sorted by file and position.

    `flows` may be keyed by file or by name; subflows are found by `Flow.name`, and two files
    with the same name are an error (the later one in mapping order is reported).
    `positions` (by `Flow.source`, from loader.parse_flow_positions) lets messages point at
    the exact field; without it they point at the node. `prompts` None skips the prompt check.
    `complete=False` says some files of the set failed to load, so a subflow that is not found
    may just be in one of them: those cross-file findings are left out.
    `actions` (name -> spec of every action the service offers) checks action nodes against
    their actions (check_actions.py); None checks only what needs no spec. `queues` (queue
    name -> outcomes) does the same for queue nodes (check_handoffs.py).
    """
    checker = _Checker(prompts, positions or {}, complete, actions, queues)
    checker.run(list(flows.values()))
    return sorted(checker.details,
                  key=lambda d: (d.file, d.line, d.column, d.severity, d.message))


def _tip(word: str, candidates: Iterable[str]) -> str:
    guess = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {guess[0]!r}?" if guess else ""


def _kind(node: Node) -> str:
    return node.kind if isinstance(node, HandoffNode) else type(node).__name__[:-4].lower()


@dataclass
class _Checker:
    prompts: PromptLibrary | None
    positions: Mapping[str, Positions]
    complete: bool
    actions: Mapping[str, ActionSpec] | None = None
    queues: check_handoffs.QueueOutcomes | None = None
    details: list[FlowErrorDetail] = field(default_factory=list)
    by_name: dict[str, Flow] = field(default_factory=dict)
    called: set[str] = field(default_factory=set)
    _definite: dict[int, dict[str, frozenset[str]]] = field(default_factory=dict)
    said: PromptChecks = field(init=False)

    def __post_init__(self) -> None:
        self.said = PromptChecks(self.prompts, self.report)

    def report(self, flow: Flow, path: KeyPath, message: str, severity: str = "error") -> None:
        node = flow.nodes.get(path[1]) if len(path) >= 2 and path[0] == "nodes" else None
        where = self.positions.get(flow.source)
        if where is not None:
            line, column = where.find(path)
        elif node is not None:
            line, column = node.line, node.column
        else:
            line, column = 1, 1
        node_id = path[1] if len(path) >= 2 and path[0] == "nodes" else None
        self.details.append(FlowErrorDetail(flow.source, line, column, node_id, message, severity))

    def definite(self, flow: Flow) -> dict[str, frozenset[str]]:
        if id(flow) not in self._definite:
            self._definite[id(flow)] = dataflow.definitely_set(flow)
        return self._definite[id(flow)]

    def run(self, flows: list[Flow]) -> None:
        for flow in flows:
            first = self.by_name.setdefault(flow.name, flow)
            if first is not flow:
                self.report(flow, ("name",),
                            f"flow name {flow.name!r} is already used by {first.source}")
        self.called = {n.flow for f in flows for n in f.nodes.values()
                       if isinstance(n, SubflowNode)}
        for flow in flows:
            self.check(flow)

    def check(self, flow: Flow) -> None:
        nodes = flow.nodes
        for path, message, severity in check_speech.check_flow_speech(flow):
            self.report(flow, path, message, severity)
        if flow.entry not in nodes:
            self.report(flow, ("entry",),
                        f"entry node {flow.entry!r} does not exist{_tip(flow.entry, nodes)}")
        for node in nodes.values():
            here = ("nodes", node.id)
            for name, target in targets(node):
                if target not in nodes:
                    self.report(flow, (*here, *dataflow.edge_path(name)),
                                f"target {target!r} does not exist{_tip(target, nodes)}")
            for message, severity in self.endings(node):
                self.report(flow, here, message, severity)
            self.node_checks(flow, node)
        if flow.entry in nodes:
            reached = self.reachable(flow)
            for node in nodes.values():
                if node.id not in reached:
                    self.report(flow, ("nodes", node.id),
                                f"unreachable: no path from the entry {flow.entry!r} leads here",
                                "warning")
            self.loops(flow, reached)
            self.variables(flow)

    # -- dead ends, hand-offs, returns -------------------------------------------------------

    def returns_here(self, node: SubflowNode) -> bool:
        """Whether the called flow can come back to `node.next` (unknown flows: assume so)."""
        callee = self.by_name.get(node.flow)
        return callee is None or any(isinstance(n, ReturnNode) for n in callee.nodes.values())

    def endings(self, node: Node) -> list[tuple[str, str]]:
        """Dead ends (a way the call can go with nowhere to go) and unguarded hand-offs."""
        out: list[tuple[str, str]] = []
        kind = _kind(node)
        needs_next = isinstance(node, PlayNode | SetNode | LanguageNode | CollectNode) or (
            isinstance(node, SubflowNode) and self.returns_here(node))
        if needs_next and not getattr(node, "next", ""):
            out.append((f"dead end: nothing follows this {kind} node; add 'next' "
                        "(to end the call, go to a hangup node)", "error"))
        if isinstance(node, MenuNode | CollectNode) and not node.escalation.fallback:
            out.append((f"dead end: no 'fallback' for when {node.escalation.attempts} attempts "
                        "fail; add one (an agent, or a goodbye hangup)", "error"))
        if isinstance(node, BranchNode) and not node.otherwise:
            out.append(("dead end: no 'else' for when no condition holds", "error"))
        if isinstance(node, HttpNode):
            if not node.next:
                out.append(("dead end: no 'next' for when the request succeeds", "error"))
            if not node.fallback:
                out.append(("dead end: no 'fallback' for when the request fails "
                            "(timeout, error status, bad reply)", "error"))
        if isinstance(node, ActionNode):
            out += check_actions.dead_ends(node)
        if isinstance(node, HandoffNode) and not node.next:
            out.append((f"no 'next' for when the {kind} cannot take the call; "
                        "the call would be hung up", "warning"))
        return out

    def is_exit(self, flow: Flow, node: Node) -> bool:
        """Whether the call can leave the flow's graph at `node` (for the loop check)."""
        if isinstance(node, HangupNode | ReturnNode | HandoffNode):
            return True
        if any(t not in flow.nodes for _, t in targets(node)) or self.endings(node):
            return True  # already reported; do not report the loop as well
        if isinstance(node, SubflowNode):
            callee = self.by_name.get(node.flow)
            return callee is None or not self.returns_here(node) or any(
                isinstance(n, HangupNode | HandoffNode) for n in callee.nodes.values())
        return False

    # -- per node ---------------------------------------------------------------------------

    def node_checks(self, flow: Flow, node: Node) -> None:
        here = ("nodes", node.id)
        if isinstance(node, MenuNode | CollectNode):
            what = "nothing" if isinstance(node, MenuNode) else "too few digits"
            if not node.escalation.no_input:
                self.report(flow, here, "no 'no_input' prompts: a caller who presses nothing "
                                        "hears the question again with no explanation",
                            "warning")
            if not node.escalation.no_match:
                self.report(flow, here, f"no 'no_match' prompts: a caller who presses a wrong "
                                        f"key ({what} valid) hears no explanation", "warning")
        for name, path in dataflow.writes(node):
            if name in dataflow.BUILTINS:
                self.report(flow, (*here, *path), f"{name!r} is built in and cannot be set"
                                                  + (" (use a language node)"
                                                     if name == "language" else ""))
        for path, text in dataflow.expressions(node):
            try:
                parse(text)
            except ExpressionError as exc:
                self.report(flow, (*here, *path), str(exc))
        for path, prompts in dataflow.prompt_lists(node):
            for j, say in enumerate(prompts):
                self.said.item(flow, (*here, *path, str(j)), say)
        if isinstance(node, ActionNode):
            secret = check_actions.maybe_secret(flow, self.actions)
            for path, message, severity in check_actions.check_action(node, self.actions, secret):
                self.report(flow, (*here, *path), message, severity)
        if isinstance(node, HandoffNode):
            for path, message, severity in check_handoffs.check_queue_node(node, self.queues):
                self.report(flow, (*here, *path), message, severity)
        for path, message, severity in check_speech.check_speech_node(flow, node):
            self.report(flow, (*here, *path), message, severity)
        for path, text in dataflow.templates(node):
            if "${" in _TEMPLATE.sub("", text):
                self.report(flow, (*here, *path), f"malformed variable in {text!r}: write "
                                                  "${name} (letters, digits and _)")
        if isinstance(node, LanguageNode) and "${" not in node.language \
                and node.language not in flow.languages:
            self.report(flow, (*here, "language"), f"language {node.language!r} is not one of "
                                                   f"this flow's languages "
                                                   f"({', '.join(flow.languages)})")
        if isinstance(node, SubflowNode):
            self.subflow(flow, node)
        if isinstance(node, ReturnNode) and self.complete and flow.name not in self.called:
            self.report(flow, here, f"'return' in flow {flow.name!r}, which no subflow node "
                                    "calls; at the top level it just ends the call (use hangup)",
                        "warning")

    def subflow(self, flow: Flow, node: SubflowNode) -> None:
        here = ("nodes", node.id)
        callee = self.by_name.get(node.flow)
        if callee is None:
            if self.complete:
                self.report(flow, (*here, "flow"), f"no flow named {node.flow!r}"
                                                   f"{_tip(node.flow, self.by_name)}")
            return
        missing = [p for p in callee.params if p not in node.params]
        if missing:
            self.report(flow, (*here, "params"),
                        f"flow {callee.name!r} needs params {', '.join(callee.params)}; "
                        f"missing {', '.join(missing)}")
        for name in node.params:
            if name not in callee.params:
                self.report(flow, (*here, "params", name),
                            f"{name!r} is not a param of flow {callee.name!r} "
                            f"(params: {', '.join(callee.params) or 'none'})", "warning")
        definite = self.definite(callee)
        ends = [n.id for n in callee.nodes.values()
                if isinstance(n, ReturnNode) and n.id in definite]
        known = dataflow.all_sets(callee)
        for mine, theirs in node.returns.items():
            if theirs not in known:
                self.report(flow, (*here, "returns", mine),
                            f"flow {callee.name!r} never sets {theirs!r}")
                continue
            unset = [end for end in ends if theirs not in definite[end]]
            if unset:
                self.report(flow, (*here, "returns", mine),
                            f"flow {callee.name!r} may return without setting {theirs!r} "
                            f"(at its return node {unset[0]!r}); {mine!r} is then null",
                            "warning")

    # -- graph ------------------------------------------------------------------------------

    def reachable(self, flow: Flow) -> set[str]:
        seen = {flow.entry}
        work = [flow.entry]
        while work:
            for _, target in targets(flow.nodes[work.pop()]):
                if target in flow.nodes and target not in seen:
                    seen.add(target)
                    work.append(target)
        return seen

    def loops(self, flow: Flow, reached: set[str]) -> None:
        """A strongly connected set of nodes no call can leave: the caller is stuck for good."""
        for component in _components(flow, reached):
            inside = set(component)
            looping = len(component) > 1 or any(
                t == component[0] for _, t in targets(flow.nodes[component[0]]))
            if not looping:
                continue
            leaves = any(t not in inside for n in component
                         for _, t in targets(flow.nodes[n]))
            if leaves or any(self.is_exit(flow, flow.nodes[n]) for n in component):
                continue
            ordered = sorted(component, key=lambda n: (flow.nodes[n].line, n))
            shown = ", ".join(ordered[:6]) + (", ..." if len(ordered) > 6 else "")
            self.report(flow, ("nodes", ordered[0]),
                        f"loop with no way out: {shown}: nothing in it hangs up, returns or "
                        "hands off, and no edge leads out of it")

    def variables(self, flow: Flow) -> None:
        definite = self.definite(flow)
        known = dataflow.all_sets(flow)
        for node_id, ready in definite.items():
            node = flow.nodes[node_id]
            done: set[str] = set()
            for name, path in dataflow.reads(node):
                if name in ready or name in done:
                    continue
                done.add(name)
                where = ("nodes", node_id, *path)
                if name not in known:
                    quote = (f"; for the text write \"'{name}'\""
                             if path[0] in ("values", "conditions", "body", "params", "args")
                             else "")
                    self.report(flow, where, f"variable {name!r} is never set"
                                             f"{_tip(name, known) or quote}")
                    continue
                steps = [node if edge in ("next", "") else f"{node} [{edge}]"
                         for node, edge in dataflow.unset_path(flow, name, node_id)]
                if len(steps) > 6:
                    steps = [*steps[:2], "...", *steps[-3:]]
                self.report(flow, where, f"variable {name!r} may not be set here: it is not set "
                                         f"on the path {' → '.join(steps)}")


def _components(flow: Flow, within: set[str]) -> list[list[str]]:
    """Strongly connected components (Tarjan, iterative) of the reachable part of a flow."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in flow.nodes:
        if root not in within or root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node_id, edge = work.pop()
            if edge == 0:
                index[node_id] = low[node_id] = len(index)
                stack.append(node_id)
                on_stack.add(node_id)
            edges = [t for _, t in targets(flow.nodes[node_id]) if t in within]
            if edge < len(edges):
                work.append((node_id, edge + 1))
                target = edges[edge]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node_id] = min(low[node_id], index[target])
                continue
            if low[node_id] == index[node_id]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node_id:
                        break
                out.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node_id])
    return out
