"""The import rules of the ivr package, checked on its source with `ast` (nothing is imported,
so a module that cannot be imported is checked all the same).

Layers, bottom to top: ari -> media -> flow -> services -> app. A module may import modules of
its own layer and of the layers under it, never of a layer above: the call machinery (app)
builds on the services, which build on flows, which play media over ARI; an upward import
would make the lower layer unusable, and untestable, without the upper one.

ivr.testing is the testers' tool package (the softphone, the audio scoring, `ivr call`): it may
import any layer (today it imports ivr.media only), and of the rest of ivr only ivr.app may import
it (for the `ivr call` command), so nothing the app runs on depends on testing tools. The
top-level modules (ivr/__init__.py) sit under every layer and import none of them.

Every import statement counts, wherever it is: at the top, inside a function (a late import
that hides a cycle is still a cycle, just one that bites later) and under `if TYPE_CHECKING:`
(mypy and every reader still need both modules at once). `from . import x` where x is a module
is an import of that module; `from pkg import name` where name is not a module is an import of
pkg/__init__.py. Importing pkg.sub is counted as an import of pkg.sub only, not of pkg: counting
the parent package too would make every package that re-exports its modules a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

LAYERS = ("ari", "media", "flow", "services", "app")
"""Bottom to top."""
TOOLS = "testing"
"""The tool package: imports anything; imported only by TOOL_USERS."""
TOOL_USERS = ("app",)
TOP = ""
"""The 'layer' of the package's own top-level modules, under every layer."""


@dataclass(frozen=True, order=True)
class Import:
    """One import of one module of the package by another, where it is written."""

    importer: str
    imported: str
    file: Path
    line: int

    def where(self) -> str:
        return f"{self.file}:{self.line}"


def modules_of(package_dir: Path) -> dict[str, Path]:
    """Every module of the package at `package_dir`, by dotted name ('ivr.flow' is
    ivr/flow/__init__.py)."""
    found: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _resolve(importer: str, is_package: bool, module: str | None, level: int) -> str:
    """The absolute name of what `from <level dots><module> import ...` names in `importer`."""
    if not level:
        return module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, module] if module else base)


def imports_in(name: str, path: Path, modules: Mapping[str, Path], shown_from: Path
               ) -> list[Import]:
    """The imports of modules in `modules` that the source of module `name` makes, each with
    its file relative to `shown_from`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, is_package, node.module, node.level)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        found += [Import(name, target, path.relative_to(shown_from), node.lineno)
                  for target in targets if target in modules and target != name]
    return sorted(set(found))


def all_imports(package_dir: Path) -> list[Import]:
    """Every import between modules of the package, files shown from the package's parent."""
    modules = modules_of(package_dir)
    return [imp for name, path in modules.items()
            for imp in imports_in(name, path, modules, package_dir.parent)]


def layer_of(module: str) -> str:
    """'ivr.flow.model' -> 'flow'; a top-level module of the package (ivr, ivr.version) -> TOP;
    a module of a subpackage that is in no layer -> that subpackage's name."""
    parts = module.split(".")
    if len(parts) == 1 or (len(parts) == 2 and parts[1] not in (*LAYERS, TOOLS)):
        return TOP
    return parts[1]


def layer_problem(imp: Import) -> str | None:
    """Why `imp` breaks the layer rule, or None when it keeps it."""
    importer, imported = layer_of(imp.importer), layer_of(imp.imported)
    for layer in (importer, imported):
        if layer not in (*LAYERS, TOOLS, TOP):
            return f"ivr.{layer} is in no layer: add it to LAYERS, where it belongs"
    if importer == imported:
        return None
    if imported == TOOLS:
        if importer in TOOL_USERS:
            return None
        return f"{importer or 'the top level'} may not import the testing tools"
    if importer == TOOLS:
        return None
    if importer == TOP:
        return f"the top level may not import the {imported} layer"
    if imported != TOP and LAYERS.index(imported) > LAYERS.index(importer):
        return f"{importer} may not import {imported}, a layer above it"
    return None


def layer_violations(imports: Iterable[Import]) -> list[str]:
    """One line per import that breaks the layer rule: where, what, and why."""
    return [f"{imp.where()}: {imp.importer} imports {imp.imported}: {problem}"
            for imp in imports if (problem := layer_problem(imp))]


def _strongly_connected(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively; components of more than one module only."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def cycles(imports: Iterable[Import]) -> list[str]:
    """One block per group of modules that import each other in a circle: the modules, then
    every import between them, with where it is written (any of them may be the one to cut)."""
    imports = list(imports)
    graph: dict[str, set[str]] = {}
    for imp in imports:
        graph.setdefault(imp.importer, set()).add(imp.imported)
    report = []
    for component in _strongly_connected(graph):
        members = set(component)
        lines = [f"import cycle between {', '.join(component)}:"]
        lines += [f"  {imp.where()}: {imp.importer} imports {imp.imported}"
                  for imp in imports if imp.importer in members and imp.imported in members]
        report.append("\n".join(lines))
    return report
