"""The kit the interpreter tests share: flows built straight from the model's dataclasses, so
these tests do not depend on the YAML loader, and an in-memory caller (no telephony).

tests/unit/test_flow.py checks that the kit's demo flow is what the loader makes of
flows/demo.yaml, so a test run on `demo_flow()` is a test of the real demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from ivr.flow.expr import Value
from ivr.flow.interpreter import run_flow
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
