"""A picture of a flow: Graphviz DOT from the model, rendered by `dot` when it is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .model import (
    ActionNode,
    BranchNode,
    CollectNode,
    Flow,
    HandoffNode,
    HangupNode,
    HoursNode,
    HttpNode,
    LanguageNode,
    MenuNode,
    ReturnNode,
    SubflowNode,
    targets,
)
from .model import AnyNode as Node

_SHAPES: dict[type, tuple[str, str]] = {
    MenuNode: ("box", "#dbeafe"),
    CollectNode: ("box", "#e0e7ff"),
    BranchNode: ("diamond", "#fef3c7"),
    HoursNode: ("diamond", "#fde68a"),
    HttpNode: ("component", "#e5e7eb"),
    LanguageNode: ("parallelogram", "#dcfce7"),
    SubflowNode: ("box3d", "#f3e8ff"),
    ReturnNode: ("doublecircle", "#f3e8ff"),
    HangupNode: ("octagon", "#fecaca"),
    HandoffNode: ("house", "#fed7aa"),
    ActionNode: ("cds", "#ccfbf1"),
}
_DASHED = ("fallback", "otherwise", "closed", "holiday")


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped + '"'


def _label(node: Node) -> str:
    kind = node.kind if isinstance(node, HandoffNode) else type(node).__name__[:-4].lower()
    extra = ""
    if isinstance(node, HandoffNode) and node.target:
        extra = f"\n{node.target}"
    elif isinstance(node, SubflowNode):
        extra = f"\n→ {node.flow}"
    elif isinstance(node, LanguageNode):
        extra = f"\n{node.language}"
    elif isinstance(node, ActionNode):
        extra = f"\n{node.action}"
    return f"{node.id}\n({kind}){extra}"


def _edge_label(field: str) -> str:
    if field.startswith("options."):
        return "key " + field.split(".", 1)[1]
    if field.startswith("conditions."):
        return "if #" + str(int(field.split(".", 1)[1]) + 1)
    if field.startswith("on."):
        return field.split(".", 1)[1]  # an action's outcome
    return "" if field in ("next", "target") else field


def to_dot(flow: Flow) -> str:
    title = f"{flow.name} v{flow.version} ({', '.join(flow.languages)})"
    lines = [
        f"digraph {_quote(flow.name)} {{",
        "  rankdir=LR;",
        f"  label={_quote(title)};",
        '  node [fontname="Helvetica", fontsize=10, style=filled, fillcolor="#ffffff"];',
        '  edge [fontname="Helvetica", fontsize=9];',
        '  __start [shape=point, width=0.15];',
        f"  __start -> {_quote(flow.entry)};",
    ]
    for node in flow.nodes.values():
        shape, color = _SHAPES.get(type(node), ("box", "#ffffff"))
        if type(node).__name__ == "PlayNode":
            shape, color = "note", "#f0fdf4"
        lines.append(f"  {_quote(node.id)} [label={_quote(_label(node))}, shape={shape}, "
                     f"fillcolor={_quote(color)}];")
    for node in flow.nodes.values():
        for field, target in targets(node):
            attrs = [f"label={_quote(_edge_label(field))}"]
            if field in _DASHED:
                attrs.append("style=dashed")
            lines.append(f"  {_quote(node.id)} -> {_quote(target)} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(flow: Flow, output: Path) -> Path:
    """Write DOT (`.dot`) or let Graphviz draw `.svg` / `.png` / `.pdf`."""
    dot = to_dot(flow)
    fmt = output.suffix.lstrip(".").lower() or "svg"
    if fmt in ("dot", "gv"):
        output.write_text(dot, encoding="utf-8")
        return output
    binary = shutil.which("dot")
    if binary is None:
        raise RuntimeError("Graphviz is not installed (apt-get install graphviz); "
                           "use -o flow.dot for the DOT source")
    subprocess.run([binary, f"-T{fmt}", "-o", str(output)], input=dot.encode(), check=True)
    return output
