"""The demo flow through the interpreter with an in-memory caller (no telephony), on the kit in
tests/unit/flowkit.py; one test checks the kit's demo against flows/demo.yaml. Also the first
load-error tests.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from ivr.flow.interpreter import run_flow
from ivr.flow.library import load_files
from ivr.flow.loader import FlowError, load_flow, parse_flow
from ivr.flow.model import Flow
from ivr.flow.state import FlowContext
from tests.unit.flowkit import ScriptedCaller, demo_flow, run

DEMO = Path(__file__).resolve().parents[2] / "flows" / "demo.yaml"

# --- the demo -----------------------------------------------------------------------------


async def test_key_is_read_back_then_goodbye() -> None:
    caller = ScriptedCaller(["2"])
    state = await run(demo_flow(), caller)
    assert caller.played == ["welcome", "main-menu", "you-pressed", "digit-2", "goodbye"]
    assert state.path == ["welcome", "main_menu", "read_back", "goodbye", "end"]
    assert caller.hung_up and state.outcome == "completed"
    assert ("no_match", {"node": "main_menu", "key": "2", "attempt": 1}) not in caller.events


async def test_wrong_key_then_right_key() -> None:
    caller = ScriptedCaller(["9", "3"])
    await run(demo_flow(), caller)
    assert caller.played == ["welcome", "main-menu", "invalid", "main-menu", "you-pressed",
                             "digit-3", "goodbye"]
    assert [e for e, _ in caller.events].count("no_match") == 1


async def test_no_input_escalates_to_fallback() -> None:
    caller = ScriptedCaller([None, None, None])
    state = await run(demo_flow(), caller)
    assert caller.played == ["welcome", "main-menu", "no-input", "main-menu", "no-input",
                             "main-menu", "goodbye"]
    assert [e for e, _ in caller.events].count("no_input") == 3
    assert ("attempts_exhausted", {"node": "main_menu"}) in caller.events
    assert "read_back" not in state.path


async def test_the_real_digit_prompts_come_from_media_say() -> None:
    caller = ScriptedCaller(["1"])
    await run_flow(demo_flow(), caller, FlowContext())  # the default say
    assert caller.played[2:4] == ["you-pressed", "digit-1"]


def test_the_kit_demo_is_flows_demo_yaml() -> None:
    """The dataclass demo these tests use is what the loader makes of the real file."""
    def plain(flow: Flow) -> dict[str, Any]:
        return {node_id: dataclasses.replace(node, line=0, column=0)
                for node_id, node in flow.nodes.items()}

    loaded = load_flow(DEMO)
    kit = demo_flow()
    assert (loaded.name, loaded.entry, loaded.languages, loaded.speech) == (
        kit.name, kit.entry, kit.languages, kit.speech)
    assert plain(loaded) == plain(kit)


# --- load errors (kept from the first cut; the loader's and checker's own tests go further) --


def test_errors_name_file_line_and_node(tmp_path: Path) -> None:
    text = DEMO.read_text().replace('"3": {target: read_back', '"3": {target: nowhere')
    broken = tmp_path / "demo.yaml"
    broken.write_text(text)
    with pytest.raises(FlowError) as info:
        load_files([broken], None)
    (detail,) = info.value.details
    line = next(i for i, row in enumerate(text.splitlines(), 1) if '"3": {target: nowhere' in row)
    assert (detail.file, detail.line, detail.node) == (str(broken), line, "main_menu")
    assert "nowhere" in detail.message


def test_yaml_syntax_error_has_a_position() -> None:
    with pytest.raises(FlowError) as info:
        parse_flow("nodes:\n  a: [unclosed\n", "bad.yaml")
    assert info.value.details[0].line >= 2
    assert str(info.value).startswith("bad.yaml:")


def test_unknown_node_type_is_refused() -> None:
    text = DEMO.read_text().replace("type: hangup", "type: explode")
    with pytest.raises(FlowError, match="unknown node type 'explode'"):
        parse_flow(text, "demo.yaml")
