"""Runs one call through a flow. The interpreter talks to the call only through `CallIO`.

`CallIO` is what a channel offers an IVR: play prompts (with barge-in), read a digit from the
type-ahead buffer, hang up, and trace. The app implements it over ARI; tests and the simulator
implement it in memory.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..media.say import digit_prompts
from .model import Flow, HangupNode, MenuNode, PlayNode, Say

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.]*)\}")


class CallIO(Protocol):
    language: str

    async def play(self, prompt_ids: Sequence[str], *, barge_in: bool) -> None:
        """Play prompts in order; with barge_in, a key (typed now or before) stops them."""

    async def read_digit(self, timeout: float) -> str | None:
        """Next digit from the type-ahead buffer, waiting up to `timeout` s; None if none."""

    async def hangup(self) -> None: ...

    def trace(self, event: str, **fields: Any) -> None: ...


@dataclass
class FlowState:
    node: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    path: list[str] = field(default_factory=list)
    outcome: str = ""


def substitute(text: str, variables: dict[str, str]) -> str:
    return _VAR.sub(lambda m: variables.get(m.group(1), ""), text)


def prompt_ids(items: Sequence[Say], variables: dict[str, str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item.kind == "digits":
            out.extend(digit_prompts(substitute(item.value, variables)))
        else:
            out.append(substitute(item.value, variables))
    return out


async def run_menu(node: MenuNode, io: CallIO, state: FlowState) -> str:
    """VoiceXML-style: prompt, wait, on no-input/no-match play the handler and try again."""
    for attempt in range(1, node.attempts + 1):
        await io.play(prompt_ids(node.prompt, state.variables), barge_in=True)
        digit = await io.read_digit(node.timeout)
        if digit is not None and digit in node.options:
            io.trace("choice", node=node.id, key=digit, attempt=attempt)
            if node.store:
                state.variables[node.store] = digit
            return node.options[digit]
        if digit is None:
            io.trace("no_input", node=node.id, attempt=attempt)
            handler = node.no_input
        else:
            io.trace("no_match", node=node.id, key=digit, attempt=attempt)
            handler = node.no_match
        if attempt < node.attempts:
            await io.play(prompt_ids(handler, state.variables), barge_in=True)
    io.trace("attempts_exhausted", node=node.id)
    return node.fallback


async def run_flow(flow: Flow, io: CallIO, state: FlowState | None = None) -> FlowState:
    state = state or FlowState()
    state.node = flow.entry
    while state.node is not None:
        node = flow.nodes[state.node]
        state.path.append(node.id)
        io.trace("node", node=node.id)
        if isinstance(node, PlayNode):
            await io.play(prompt_ids(node.prompts, state.variables), barge_in=node.barge_in)
            state.node = node.next
        elif isinstance(node, MenuNode):
            state.node = await run_menu(node, io, state)
        elif isinstance(node, HangupNode):
            state.outcome = "completed"
            await io.hangup()
            state.node = None
    if not state.outcome:
        state.outcome = "completed"
        await io.hangup()
    return state
