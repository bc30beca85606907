"""What each node reads, sets and plays, and which variables are definitely set where.

The checker refuses a flow that reads a variable some caller could reach unset: at run time
that is a silent empty prompt or a failed expression in the middle of a call. "Definitely set"
is the classic forward must-analysis: a variable is set at a node if it is set on every path
from the entry. Variables are only ever added along a path (nothing unsets one), so the
analysis is exact for the graph, and a counter-example path can always be shown.

Paths returned here are relative to the node ("prompts", "2"); the checker prefixes
("nodes", id) to find the line and column.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from .expr import ExpressionError, template_variables, variables
from .loader import HANDOFF_TARGET, KeyPath
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
    Prompts,
    SetNode,
    SubflowNode,
    targets,
)
from .model import AnyNode as Node

BUILTINS = frozenset({"caller", "language", "call_id", "flow"})
"""Set by the interpreter before the entry node of every call."""


def edge_path(field: str) -> KeyPath:
    """The YAML path of an edge named by model.targets(): 'options.1' -> ('options', '1')."""
    if field.startswith(("options.", "on.")):
        return tuple(field.split(".", 1))
    if field.startswith("conditions."):
        return ("conditions", field.split(".", 1)[1], "goto")
    return ("else",) if field == "otherwise" else (field,)


def prompt_lists(node: Node) -> list[tuple[KeyPath, Prompts]]:
    """Every prompt list a node plays, with the path of the list in the YAML."""
    out: list[tuple[KeyPath, Prompts]] = []
    if isinstance(node, PlayNode | HangupNode):
        out.append((("prompts",), node.prompts))
    elif isinstance(node, MenuNode | CollectNode):
        out.append((("prompt",), node.prompt))
        if isinstance(node, MenuNode):
            out.append((("reprompt",), node.reprompt))
        else:
            out += [(("readback",), node.readback), (("confirm",), node.confirm)]
        for kind in ("no_input", "no_match"):
            handlers = getattr(node.escalation, kind)
            if len(handlers) == 1:
                out.append(((kind,), handlers[0]))
            else:
                out += [((kind, str(i)), prompts) for i, prompts in enumerate(handlers)]
    return [(path, prompts) for path, prompts in out if prompts]


def expressions(node: Node) -> list[tuple[KeyPath, str]]:
    """Every expression (expr.py syntax) a node evaluates, in evaluation order."""
    if isinstance(node, SetNode):
        return [(("values", k), v) for k, v in node.values.items()]
    if isinstance(node, BranchNode):
        return [(("conditions", str(i), "if"), c.when) for i, c in enumerate(node.conditions)]
    if isinstance(node, HttpNode):
        return [(("body", k), v) for k, v in node.body.items()]
    if isinstance(node, SubflowNode):
        return [(("params", k), v) for k, v in node.params.items()]
    if isinstance(node, ActionNode):
        return [(("args", k), v) for k, v in node.args.items()]
    return []


def templates(node: Node) -> list[tuple[KeyPath, str]]:
    """Every ${var} text a node fills: prompt items (and currency units), url, language,
    hand-off fields."""
    out: list[tuple[KeyPath, str]] = []
    for path, prompts in prompt_lists(node):
        for j, say in enumerate(prompts):
            out.append(((*path, str(j)), say.value))
            if say.unit:
                out.append(((*path, str(j), "unit"), say.unit))
    if isinstance(node, HttpNode):
        out.append((("url",), node.url))
    elif isinstance(node, LanguageNode):
        out.append((("language",), node.language))
    elif isinstance(node, HandoffNode):
        out.append(((HANDOFF_TARGET.get(node.kind, "target"),), node.target))
        out += [((k,), v) for k, v in node.options.items()]
    return out


def reads(node: Node) -> Iterator[tuple[str, KeyPath]]:
    """(variable, path) for every variable read on arriving at the node.

    A set node's values are evaluated in order, so a later value may use an earlier one; a
    collect node's readback and confirm play after its own `store` is filled.
    """
    earlier: set[str] = set()
    for path, text in expressions(node):
        try:
            names = variables(text)
        except ExpressionError:
            names = set()  # reported as an invalid expression
        for name in sorted(names - earlier):
            yield name, path
        if isinstance(node, SetNode):
            earlier.add(path[1])
    for path, text in templates(node):
        after_store = isinstance(node, CollectNode) and path[0] in ("readback", "confirm")
        for name in sorted(template_variables(text)):
            if not (after_store and isinstance(node, CollectNode) and name == node.store):
                yield name, path


def writes(node: Node) -> list[tuple[str, KeyPath]]:
    """(variable, path) for every variable a node can set, wherever the YAML names it."""
    if isinstance(node, MenuNode | CollectNode):
        return [(node.store, ("store",))] if node.store else []
    if isinstance(node, SetNode):
        return [(k, ("values", k)) for k in node.values]
    if isinstance(node, HttpNode):
        return [(k, ("results", k)) for k in node.results]
    if isinstance(node, SubflowNode):
        return [(k, ("returns", k)) for k in node.returns]
    if isinstance(node, ActionNode):
        return [(k, ("results", k)) for k in node.results]
    return []


def edge_sets(node: Node, field: str) -> frozenset[str]:
    """Variables set when the call leaves `node` along edge `field` (a model.targets name).

    Only the success edges set anything: a menu's fallback has no key, an http or action
    fallback no reply, so `store` and `results` are not set there. An action sets its
    `results` on every `on` edge (a field it leaves out arrives as null).
    """
    if isinstance(node, MenuNode) and node.store and field.startswith("options."):
        return frozenset({node.store})
    if isinstance(node, ActionNode) and field.startswith("on."):
        return frozenset(node.results)
    if field != "next":
        return frozenset()
    if isinstance(node, CollectNode):
        return frozenset({node.store})
    if isinstance(node, SetNode):
        return frozenset(node.values)
    if isinstance(node, HttpNode):
        return frozenset(node.results)
    if isinstance(node, SubflowNode):
        return frozenset(node.returns)
    return frozenset()


def all_sets(flow: Flow) -> set[str]:
    """Every variable some node of the flow sets (anywhere), plus the built-ins and params."""
    out = set(BUILTINS) | set(flow.params)
    for node in flow.nodes.values():
        for field, _ in targets(node):
            out |= edge_sets(node, field)
    return out


def definitely_set(flow: Flow) -> dict[str, frozenset[str]]:
    """Node id -> variables set on every path from the entry to it (reachable nodes only)."""
    if flow.entry not in flow.nodes:
        return {}
    base = BUILTINS | frozenset(flow.params)
    known: dict[str, frozenset[str]] = {flow.entry: base}
    work = deque([flow.entry])
    while work:
        node_id = work.popleft()
        node = flow.nodes[node_id]
        for field, target in targets(node):
            if target not in flow.nodes:
                continue
            arriving = known[node_id] | edge_sets(node, field)
            before = known.get(target)
            after = arriving if before is None else before & arriving
            if target == flow.entry:
                after = base  # the first arrival sets only the built-ins and params
            if after != before:
                known[target] = after
                work.append(target)
    return known


def unset_path(flow: Flow, name: str, goal: str) -> list[tuple[str, str]]:
    """A shortest path from the entry to `goal` along which `name` is never set ([] if none).

    Each step is (node id, edge taken out of it: 'next', 'fallback', 'options.1'...); the goal's
    edge is ''.
    """
    if flow.entry not in flow.nodes or name in BUILTINS or name in flow.params:
        return []
    parent: dict[str, tuple[str, str] | None] = {flow.entry: None}
    work = deque([flow.entry])
    while work:
        node_id = work.popleft()
        if node_id == goal:
            path: list[tuple[str, str]] = [(node_id, "")]
            step = parent[node_id]
            while step is not None:
                path.append(step)
                step = parent[step[0]]
            return path[::-1]
        node = flow.nodes[node_id]
        for field, target in targets(node):
            if target in flow.nodes and target not in parent and name not in edge_sets(node, field):
                parent[target] = (node_id, field)
                work.append(target)
    return []
