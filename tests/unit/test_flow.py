"""The flow loader and interpreter, with an in-memory caller (no telephony)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ivr.flow.interpreter import run_flow
from ivr.flow.loader import FlowError, load_flow, parse_flow

DEMO = Path(__file__).resolve().parents[2] / "flows" / "demo.yaml"


class ScriptedCaller:
    """Keys arrive from a script: each entry is pressed when the Nth digit is read."""

    def __init__(self, keys: Sequence[str | None]) -> None:
        self.language = "en"
        self.keys = list(keys)
        self.played: list[str] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.hung_up = False

    async def play(self, prompt_ids: Sequence[str], *, barge_in: bool) -> None:
        self.played.extend(prompt_ids)

    async def read_digit(self, timeout: float) -> str | None:
        await asyncio.sleep(0)
        return self.keys.pop(0) if self.keys else None

    async def hangup(self) -> None:
        self.hung_up = True

    def trace(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))


async def test_key_is_read_back_then_goodbye() -> None:
    caller = ScriptedCaller(["2"])
    state = await run_flow(load_flow(DEMO), caller)
    assert caller.played == ["welcome", "main-menu", "you-pressed", "digit-2", "goodbye"]
    assert state.path == ["welcome", "main_menu", "read_back", "goodbye", "end"]
    assert caller.hung_up and state.outcome == "completed"
    assert ("no_match", {"node": "main_menu", "key": "2", "attempt": 1}) not in caller.events


async def test_wrong_key_then_right_key() -> None:
    caller = ScriptedCaller(["9", "3"])
    await run_flow(load_flow(DEMO), caller)
    assert caller.played == ["welcome", "main-menu", "invalid", "main-menu", "you-pressed",
                             "digit-3", "goodbye"]
    assert [e for e, _ in caller.events].count("no_match") == 1


async def test_no_input_escalates_to_fallback() -> None:
    caller = ScriptedCaller([None, None, None])
    state = await run_flow(load_flow(DEMO), caller)
    assert caller.played == ["welcome", "main-menu", "no-input", "main-menu", "no-input",
                             "main-menu", "goodbye"]
    assert [e for e, _ in caller.events].count("no_input") == 3
    assert ("attempts_exhausted", {"node": "main_menu"}) in caller.events
    assert "read_back" not in state.path


def test_errors_name_file_line_and_node() -> None:
    text = DEMO.read_text().replace('"3": read_back', '"3": nowhere')
    with pytest.raises(FlowError) as info:
        parse_flow(text, "demo.yaml")
    (detail,) = info.value.details
    line = next(i for i, row in enumerate(text.splitlines(), 1) if '"3": nowhere' in row)
    assert (detail.file, detail.line, detail.node) == ("demo.yaml", line, "main_menu")
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
