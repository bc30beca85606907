"""The YAML layer under the loader: text to plain data, with the position of every key.

Kept apart from loader.py (which turns data into the model) because it is about YAML's own
traps, not the flow language: duplicate keys that YAML silently collapses, unquoted dates it
turns into objects, and YAML 1.1 booleans. `on:`, `yes:` or `no:` as a *key* would load as
true/false (an action node's `on:` mapping would vanish into a key named "True"); no key of
the flow language is a boolean, so keys keep the text that was written, while values
(`barge_in: yes`) stay booleans as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

KeyPath = tuple[str, ...]
Duplicate = tuple[KeyPath, int, int, str]
"""(path, line, column, message) of a key given twice in one mapping."""

_BOOL_TAG = "tag:yaml.org,2002:bool"
_STR_TAG = "tag:yaml.org,2002:str"


class FlowYamlLoader(yaml.SafeLoader):
    """SafeLoader without YAML's date guessing: `2026-12-25` stays the text people wrote.

    PyYAML turns an unquoted ISO date into a `date`, and an impossible one (2026-02-30) into a
    bare ValueError with no position; as text, the loader checks it and points at it.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.yaml_implicit_resolvers = _NO_DATES


_NO_DATES = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """(root node, data) of one YAML document; raises yaml.YAMLError with a position."""
    loader = FlowYamlLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        _keys_as_text(root)
        return root, loader.construct_document(root)
    finally:
        loader.dispose()


def _keys_as_text(root: yaml.Node) -> None:
    """Plain keys that YAML 1.1 would read as booleans (on, off, yes, no) stay text."""
    stack: list[tuple[yaml.Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > 64:
            continue
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag == _BOOL_TAG and not key.style:
                    key.tag = _STR_TAG
                stack.append((value, depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack += [(item, depth + 1) for item in node.value]


class Positions:
    """1-based (line, column) of every key path in a YAML file ('nodes', 'menu', 'options', '1').

    Lookups climb to the nearest known ancestor, so a path into a value that has no key of its
    own (an item given in short form, a merged anchor) still lands on the right line.
    """

    def __init__(self, marks: Mapping[KeyPath, tuple[int, int]] | None = None) -> None:
        self.marks: dict[KeyPath, tuple[int, int]] = dict(marks or {})

    def find(self, path: KeyPath) -> tuple[int, int]:
        probe = path
        while probe and probe not in self.marks:
            probe = probe[:-1]
        return self.marks.get(probe, (1, 1))

    def __contains__(self, path: object) -> bool:
        return path in self.marks


def walk(root: yaml.Node | None) -> tuple[Positions, list[Duplicate]]:
    """Positions of every key and list item, and duplicate keys (path, line, column, message)."""
    marks: dict[KeyPath, tuple[int, int]] = {(): (1, 1)}
    duplicates: list[Duplicate] = []
    stack: list[tuple[yaml.Node, KeyPath, int]] = [(root, (), 0)] if root is not None else []
    while stack:
        node, path, depth = stack.pop()
        if depth > 64:  # aliases can make a graph; flows are shallow
            continue
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.value == "<<":
                    continue
                name = str(key.value)
                child = (*path, name)
                where = (key.start_mark.line + 1, key.start_mark.column + 1)
                if name in first:
                    duplicates.append((child, *where, f"duplicate key {name!r} (first on line "
                                                      f"{first[name]}); YAML keeps only the last"))
                    continue
                first[name] = where[0]
                marks[child] = where
                stack.append((value, child, depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = (*path, str(index))
                marks[child] = (item.start_mark.line + 1, item.start_mark.column + 1)
                stack.append((item, child, depth + 1))
    return Positions(marks), duplicates


def yaml_message(exc: yaml.YAMLError) -> str:
    """A YAML error in words, with the usual fixes for menu keys and tabs."""
    problem = str(getattr(exc, "problem", "") or exc).strip()
    context = str(getattr(exc, "context", "") or "").strip()
    started = getattr(exc, "context_mark", None)
    if context and started is not None:
        context += f" that started on line {started.line + 1}"
    message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    if "alias" in problem + context:
        message += '; quote "*" and "#" menu keys, e.g. "*": main_menu'
    elif "\\t" in problem:
        message += "; indent with spaces, not tabs"
    return message
