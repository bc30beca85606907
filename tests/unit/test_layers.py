"""The ivr package keeps its import rules (tests/unit/import_rules.py says which and why): each
layer imports only itself and the layers under it, only the app uses the testing tools, and no
modules import each other in a circle. A failure names every import that breaks a rule, with
its file and line.

The checker is tested first on small trees of its own, so a pass on ivr means something.
"""

from __future__ import annotations

from pathlib import Path

from tests.unit.import_rules import all_imports, cycles, layer_violations

IVR = Path(__file__).resolve().parents[2] / "ivr"


def test_each_layer_imports_only_itself_and_the_layers_under_it() -> None:
    problems = layer_violations(all_imports(IVR))
    assert not problems, "imports that break the layer rule:\n" + "\n".join(problems)


def test_no_modules_import_each_other_in_a_circle() -> None:
    found = cycles(all_imports(IVR))
    assert not found, "\n\n".join(found)


def test_the_checker_reads_the_real_package() -> None:
    """A checker that found no imports at all would pass the two tests above."""
    imports = {(imp.importer, imp.imported) for imp in all_imports(IVR)}
    assert ("ivr.app.cli", "ivr.testing.call_cli") in imports  # inside a function
    assert ("ivr.flow.interpreter", "ivr.flow.nodes") in imports  # from . import nodes
    assert ("ivr.ari.client", "ivr.ari.errors") in imports


# --- the checker, on trees of its own ---------------------------------------------------------


def package(root: Path, files: dict[str, str]) -> Path:
    """An `ivr` package under `root` with these modules (and an __init__.py in every folder);
    returns the package's folder."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for folder in [root / "ivr", *(root / "ivr").rglob("*")]:
        if folder.is_dir() and not (folder / "__init__.py").exists():
            (folder / "__init__.py").write_text("")
    return root / "ivr"


CLEAN = {
    "ivr/ari/client.py": "import asyncio\n",
    "ivr/media/play.py": "from ..ari import client\nfrom ivr.ari.client import asyncio\n",
    "ivr/flow/model.py": "",
    "ivr/flow/run.py": "from . import model\nfrom .. import media\n",
    "ivr/services/store.py": "from ivr.flow.model import Flow\n",
    "ivr/app/cli.py": "def main() -> None:\n    from ..testing import phone\n",
    "ivr/testing/phone.py": "from ivr.services import store\n",
}


def test_a_tree_that_keeps_the_rules_has_nothing_to_report(tmp_path: Path) -> None:
    imports = all_imports(package(tmp_path, CLEAN))
    assert len(imports) == 7
    assert layer_violations(imports) == []
    assert cycles(imports) == []


def test_an_upward_import_is_reported_where_it_is_written(tmp_path: Path) -> None:
    ivr = package(tmp_path, {
        **CLEAN,
        "ivr/ari/client.py": "import asyncio\n\nfrom ivr.flow.model import Flow\n",
        "ivr/services/store.py": "def late() -> None:\n    from ..app import cli\n",
        "ivr/flow/model.py": "from ivr.testing import phone\n",
        "ivr/__init__.py": "from .media import play\n",
    })
    assert layer_violations(all_imports(ivr)) == [
        "ivr/__init__.py:1: ivr imports ivr.media.play: the top level may not import the media "
        "layer",
        "ivr/ari/client.py:3: ivr.ari.client imports ivr.flow.model: ari may not import flow, a "
        "layer above it",
        "ivr/flow/model.py:1: ivr.flow.model imports ivr.testing.phone: flow may not import the "
        "testing tools",
        "ivr/services/store.py:2: ivr.services.store imports ivr.app.cli: services may not "
        "import app, a layer above it",
    ]


def test_a_module_in_no_layer_is_reported(tmp_path: Path) -> None:
    ivr = package(tmp_path, {**CLEAN, "ivr/extra/thing.py": "from ivr.flow import model\n"})
    assert layer_violations(all_imports(ivr)) == [
        "ivr/extra/thing.py:1: ivr.extra.thing imports ivr.flow.model: ivr.extra is in no "
        "layer: add it to LAYERS, where it belongs",
    ]


def test_a_cycle_is_reported_with_every_import_in_it(tmp_path: Path) -> None:
    """Hidden under TYPE_CHECKING or in a function, and spelled `from . import x`, a circle
    is a circle."""
    ivr = package(tmp_path, {
        **CLEAN,
        "ivr/flow/model.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
                             "    from .run import Thing\n",
        "ivr/ari/client.py": "def late() -> None:\n    from ivr.ari import events\n",
        "ivr/ari/events.py": "from . import client\n",
    })
    imports = all_imports(ivr)
    assert layer_violations(imports) == []
    assert cycles(imports) == [
        "import cycle between ivr.ari.client, ivr.ari.events:\n"
        "  ivr/ari/client.py:2: ivr.ari.client imports ivr.ari.events\n"
        "  ivr/ari/events.py:1: ivr.ari.events imports ivr.ari.client",
        "import cycle between ivr.flow.model, ivr.flow.run:\n"
        "  ivr/flow/model.py:4: ivr.flow.model imports ivr.flow.run\n"
        "  ivr/flow/run.py:1: ivr.flow.run imports ivr.flow.model",
    ]


def test_a_name_taken_from_a_package_is_an_import_of_its_init(tmp_path: Path) -> None:
    """`from ivr.ari import Client` runs ivr/ari/__init__.py, which imports the client back."""
    ivr = package(tmp_path, {
        **CLEAN,
        "ivr/ari/__init__.py": "from .client import Client\n",
        "ivr/ari/client.py": "from ..ari import Client as Again\n",
    })
    assert cycles(all_imports(ivr)) == [
        "import cycle between ivr.ari, ivr.ari.client:\n"
        "  ivr/ari/__init__.py:1: ivr.ari imports ivr.ari.client\n"
        "  ivr/ari/client.py:1: ivr.ari.client imports ivr.ari",
    ]
