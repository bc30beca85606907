"""`ivr graph`: the picture shows every node, the keys of menus and the fallbacks."""

from __future__ import annotations

import re
from pathlib import Path

from ivr.flow.graph import render, to_dot
from ivr.flow.library import load_folder
from ivr.flow.loader import parse_flow

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def test_dot_has_nodes_keys_and_fallbacks() -> None:
    bank = load_folder(FLOWS, None).flows["bank"]
    dot = to_dot(bank)
    declared = set(re.findall(r'^  "([a-z0-9_]+)" \[label=', dot, re.M))
    assert declared == set(bank.nodes)
    assert '"main_menu" -> "hours_menu" [label="key 2"];' in dot
    assert '"main_menu" -> "agent" [label="fallback", style=dashed];' in dot
    assert '"branch_hours" -> "hours_closed" [label="closed", style=dashed];' in dot
    assert '__start -> "choose_language";' in dot
    assert "\\\\n" not in dot, "labels break lines, they do not show a backslash"


def test_svg_is_drawn_by_graphviz(tmp_path: Path) -> None:
    demo = load_folder(FLOWS, None).flows["demo"]
    out = render(demo, tmp_path / "demo.svg")
    svg = out.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert svg.count('class="node"') == len(demo.nodes) + 1  # plus the start point


def test_action_nodes_show_their_action_and_outcomes() -> None:
    flow = parse_flow("name: t\nlanguages: [en]\nentry: a\nnodes:\n"
                      "  a: {type: action, action: accounts.balance, args: {account: caller},\n"
                      "      on: {ok: b, unknown_account: b}, fallback: c}\n"
                      "  b: {type: hangup}\n  c: {type: hangup}\n")
    dot = to_dot(flow)
    assert '"a" [label="a\\n(action)\\naccounts.balance", shape=cds' in dot
    assert '"a" -> "b" [label="ok"];' in dot
    assert '"a" -> "b" [label="unknown_account"];' in dot
    assert '"a" -> "c" [label="fallback", style=dashed];' in dot
