"""Load a flow from YAML, with errors that name the file, line, column and node.

This is the small first cut of the flow language (play, menu, hangup); the schema grows here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .model import AnyNode, Flow, HangupNode, MenuNode, PlayNode, Say

NODE_TYPES = ("play", "menu", "hangup")


@dataclass(frozen=True, slots=True)
class FlowErrorDetail:
    file: str
    line: int
    column: int
    node: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        node = f" node {self.node!r}:" if self.node else ""
        return f"{where}:{node} {self.message}"


class FlowError(Exception):
    def __init__(self, details: list[FlowErrorDetail]) -> None:
        self.details = details
        super().__init__("\n".join(str(d) for d in details))


def _positions(text: str) -> dict[tuple[str, ...], tuple[int, int]]:
    """Map key paths ('nodes', 'welcome', 'next') to 1-based (line, column) of their keys."""
    positions: dict[tuple[str, ...], tuple[int, int]] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*path, str(key.value))
                positions[child] = (key.start_mark.line + 1, key.start_mark.column + 1)
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = (*path, str(index))
                positions[child] = (item.start_mark.line + 1, item.start_mark.column + 1)
                walk(item, child)

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, ())
    return positions


class _Builder:
    def __init__(self, file: str, positions: dict[tuple[str, ...], tuple[int, int]]) -> None:
        self.file = file
        self.positions = positions
        self.errors: list[FlowErrorDetail] = []

    def error(self, path: tuple[str, ...], message: str, node: str | None = None) -> None:
        probe = path
        while probe and probe not in self.positions:
            probe = probe[:-1]
        line, column = self.positions.get(probe, (1, 1))
        self.errors.append(FlowErrorDetail(self.file, line, column, node, message))

    def says(self, value: Any, path: tuple[str, ...], node: str) -> tuple[Say, ...]:
        items = value if isinstance(value, list) else [value]
        out: list[Say] = []
        for index, item in enumerate(items):
            if isinstance(item, str):
                out.append(Say("prompt", item))
            elif isinstance(item, dict) and set(item) == {"digits"}:
                out.append(Say("digits", str(item["digits"])))
            else:
                self.error((*path, str(index)),
                           "a prompt is a prompt id or {digits: value}", node)
        return tuple(out)

    def node(self, node_id: str, raw: Any) -> AnyNode | None:
        path = ("nodes", node_id)
        if not isinstance(raw, dict):
            self.error(path, "a node is a mapping with a 'type'", node_id)
            return None
        kind = raw.get("type")
        line = self.positions.get(path, (0, 0))[0]
        if kind == "play":
            return PlayNode(
                id=node_id, line=line,
                prompts=self.says(raw.get("prompts", []), (*path, "prompts"), node_id),
                next=raw.get("next"), barge_in=bool(raw.get("barge_in", False)),
            )
        if kind == "menu":
            options = raw.get("options") or {}
            if not isinstance(options, dict) or not options:
                self.error((*path, "options"), "a menu needs options: key -> node", node_id)
                options = {}
            return MenuNode(
                id=node_id, line=line,
                prompt=self.says(raw.get("prompt", []), (*path, "prompt"), node_id),
                options={str(k): str(v) for k, v in options.items()},
                timeout=float(raw.get("timeout", 5)),
                attempts=int(raw.get("attempts", 3)),
                no_input=self.says(raw.get("no_input", []), (*path, "no_input"), node_id),
                no_match=self.says(raw.get("no_match", []), (*path, "no_match"), node_id),
                fallback=str(raw.get("fallback", "")),
                store=raw.get("store"),
            )
        if kind == "hangup":
            return HangupNode(id=node_id, line=line)
        self.error((*path, "type"), f"unknown node type {kind!r} (one of {NODE_TYPES})",
                   node_id)
        return None

    def targets(self, node: AnyNode) -> list[tuple[tuple[str, ...], str]]:
        path = ("nodes", node.id)
        if isinstance(node, PlayNode) and node.next:
            return [((*path, "next"), node.next)]
        if isinstance(node, MenuNode):
            out: list[tuple[tuple[str, ...], str]] = [
                ((*path, "options", key), target) for key, target in node.options.items()
            ]
            if not node.fallback:
                self.error(path, "a menu needs a fallback node for when attempts run out",
                           node.id)
            else:
                out.append(((*path, "fallback"), node.fallback))
            return out
        return []


def parse_flow(text: str, file: str = "<flow>") -> Flow:
    try:
        positions = _positions(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise FlowError([FlowErrorDetail(file, line, column, None, f"YAML: {exc}")]) from None
    builder = _Builder(file, positions)
    if not isinstance(data, dict):
        builder.error((), "a flow file is a mapping with name, entry and nodes")
        raise FlowError(builder.errors)
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, dict) or not raw_nodes:
        builder.error(("nodes",), "'nodes' must map node ids to nodes")
        raise FlowError(builder.errors)
    nodes = {str(k): n for k, v in raw_nodes.items() if (n := builder.node(str(k), v))}
    for node in nodes.values():
        for path, target in builder.targets(node):
            if target not in nodes:
                builder.error(path, f"target {target!r} does not exist", node.id)
    entry = str(data.get("entry", ""))
    if entry not in nodes:
        builder.error(("entry",), f"entry node {entry!r} does not exist")
    languages = tuple(str(x) for x in data.get("languages", ["en"]))
    default_language = str(data.get("default_language", languages[0] if languages else "en"))
    if default_language not in languages:
        builder.error(("default_language",), f"{default_language!r} is not in languages")
    if builder.errors:
        raise FlowError(builder.errors)
    return Flow(
        name=str(data.get("name", Path(file).stem)),
        version=str(data.get("version", "1")),
        languages=languages,
        default_language=default_language,
        entry=entry,
        nodes=nodes,
        source=file,
    )


def load_flow(path: Path) -> Flow:
    return parse_flow(path.read_text(encoding="utf-8"), str(path))
