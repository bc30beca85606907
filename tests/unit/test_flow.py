"""The demo flow through the interpreter with an in-memory caller (no telephony), and the kit
the other interpreter tests share: flows built straight from the model's dataclasses, so these
tests do not depend on the YAML loader (one test checks the kit's demo against flows/demo.yaml).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from ivr.flow.expr import Value
from ivr.flow.interpreter import run_flow
from ivr.flow.library import load_files
from ivr.flow.loader import FlowError, load_flow, parse_flow
from ivr.flow.model import (
    AnyNode,
    Escalation,
    Flow,
    HangupNode,
    MenuNode,
    MenuOption,
    PlayNode,
    Prompts,
    Say,
)
from ivr.flow.state import FlowContext, FlowState
from ivr.flow.types import DECLINED, TAKEN, HandoffRequest, HandoffResult, Listen, routed

DEMO = Path(__file__).resolve().parents[2] / "flows" / "demo.yaml"

# --- the kit ------------------------------------------------------------------------------


def says(*items: str | dict[str, str]) -> Prompts:
    """says("welcome", {"digits": "${key}"}) -> a prompt list."""
    out: list[Say] = []
    for item in items:
        if isinstance(item, str):
            out.append(Say("prompt", item))
        else:
            ((kind, value),) = item.items()
            out.append(Say(kind, value))
    return tuple(out)


def make_flow(*nodes: AnyNode, name: str = "main", languages: Sequence[str] = ("en",),
              entry: str | None = None, params: Sequence[str] = ()) -> Flow:
    """A flow of these nodes; the first one is the entry unless told otherwise."""
    return Flow(name=name, version="1", languages=tuple(languages),
                default_language=languages[0], entry=entry or nodes[0].id,
                nodes={node.id: node for node in nodes}, params=tuple(params))


def options(targets: Mapping[str, str]) -> dict[str, MenuOption]:
    """{"1": "sales"} -> menu options."""
    return {key: MenuOption(target) for key, target in targets.items()}


def demo_flow(menu_timeout: float = 5.0, **welcome: Any) -> Flow:
    """flows/demo.yaml as dataclasses (welcome fields overridable)."""
    return dataclasses.replace(make_flow(
        PlayNode("welcome", **{"prompts": says("welcome"), "barge_in": True,
                               "next": "main_menu", **welcome}),
        MenuNode("main_menu", prompt=says("main-menu"), timeout=menu_timeout, store="key",
                 options={key: MenuOption("read_back", {"en": (word, topic)})
                          for key, word, topic in (("1", "one", "sales"), ("2", "two", "support"),
                                                   ("3", "three", "billing"))},
                 escalation=Escalation(no_input=(says("no-input"),),
                                       no_match=(says("invalid"),),
                                       attempts=3, fallback="goodbye")),
        PlayNode("read_back", prompts=says("you-pressed", {"digits": "${key}"}),
                 next="goodbye"),
        PlayNode("goodbye", prompts=says("goodbye"), next="end"),
        HangupNode("end"),
        name="demo",
    ), speech={"en": "pocketsphinx"})


def fake_say(kind: str, value: str, language: str) -> list[str]:
    """Digits as digit-N (what the prompts hold); other kinds as one id that shows the inputs."""
    if kind == "digits":
        return [f"digit-{c}" for c in value if c.isdigit()]
    if value == "boom":
        raise ValueError(f"cannot say {value!r}")
    return [f"{kind}:{value}:{language}"]


def context(*flows: Flow, **overrides: Any) -> FlowContext:
    return FlowContext(flows={f.name: f for f in flows}, say=fake_say, **overrides)


class ScriptedCaller:
    """CallIO in memory: each read takes the next scripted key (None: no input)."""

    def __init__(self, keys: Sequence[str | None] = (), *, language: str = "en",
                 accept_handoff: bool | str = False) -> None:
        self.language = language
        self.caller = "01099998888"
        self.call_id = "call-1"
        self.keys = list(keys)
        self.accept_handoff = accept_handoff
        self.played: list[str] = []
        self.plays: list[dict[str, Any]] = []
        self.reads: list[dict[str, Any]] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.handoffs: list[tuple[HandoffRequest, dict[str, Value]]] = []
        self.hung_up = False
        self.listens: list[Listen] = []

    async def play(self, prompt_ids: Sequence[str], *, barge_in: bool,
                   secure: bool = False) -> None:
        self.played.extend(prompt_ids)
        self.plays.append({"ids": list(prompt_ids), "barge_in": barge_in, "secure": secure,
                           "language": self.language})

    async def read_digit(self, timeout: float, *, secure: bool = False) -> str | None:
        await asyncio.sleep(0)
        self.reads.append({"timeout": timeout, "secure": secure})
        return self.keys.pop(0) if self.keys else None

    def forgive(self, key: str, within: float) -> None:
        if self.keys and self.keys[0] == key:
            self.keys.pop(0)
            self.events.append(("key_forgiven", {"key": key, "within": within}))

    async def hangup(self) -> None:
        self.hung_up = True

    @contextlib.asynccontextmanager
    async def listening(self, request: Listen) -> AsyncIterator[bool]:
        """Listens when the flow names an engine; `heard` keys then stand for speech."""
        self.listens.append(request)
        yield bool(request.engine)

    async def handoff(self, request: HandoffRequest) -> HandoffResult:
        self.handoffs.append((request, dict(request.variables)))
        if isinstance(self.accept_handoff, str):
            return routed(self.accept_handoff)
        return TAKEN if self.accept_handoff else DECLINED

    def trace(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))

    def named(self, event: str) -> list[dict[str, Any]]:
        return [fields for name, fields in self.events if name == event]


async def run(flow: Flow, caller: ScriptedCaller, *others: Flow, **ctx: Any) -> FlowState:
    return await run_flow(flow, caller, context(flow, *others, **ctx))


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
