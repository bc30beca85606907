"""What a call's flow walk keeps (FlowState) and what the flows of a call may use (FlowContext).

Both are plain data: the interpreter changes a FlowState as it walks, the app keeps it (and
parks it with a queue entry across a restart), tests and tools inspect it at any point.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from ..media.say import say
from .actions import Action
from .expr import Value
from .http import HttpClient, UnavailableHttp
from .model import Flow


class SayFunction(Protocol):
    def __call__(self, kind: str, value: str, language: str,
                 unit: str | None = None, /) -> list[str]:
        """Prompt ids for `value`. `unit` (currency) is passed only when the item names one,
        so a say function written before units still serves flows that use none."""


def default_say(kind: str, value: str, language: str, unit: str | None = None, /) -> list[str]:
    """Prompt ids that speak `value` as `kind` in `language` (ivr.media.say; SayError on a
    value it cannot say, which the interpreter reports as a flow error)."""
    return say(kind, value, language, unit)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class FlowContext:
    """What the flows of a call may use beyond the call itself; shared by calls.

    Everything with a side effect or a clock is injected so tests and the simulator run
    without a network and on virtual time.
    """

    flows: Mapping[str, Flow] = field(default_factory=dict)
    """Flows by name, for subflow nodes."""
    http: HttpClient = field(default_factory=UnavailableHttp)
    now: Callable[[], datetime] = utc_now
    """An aware datetime; hours nodes judge schedules on it."""
    say: SayFunction = default_say
    """(kind, value, language[, unit]) -> prompt ids."""
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    """Backoff between http retries (virtual in the simulator)."""
    actions: Mapping[str, Action] = field(default_factory=dict)
    """Action name -> implementation, for action nodes. One the flow names but the service
    does not offer sends the call to the node's fallback (the checker, given the specs,
    refuses such a flow before it is served)."""


@dataclass
class Frame:
    """A caller's place while a subflow runs: where to come back and its own variables."""

    flow: Flow
    node: str
    """The subflow node in `flow`; the caller goes on at its `next`."""
    variables: dict[str, Value]
    secure_vars: set[str]


@dataclass
class FlowState:
    node: str | None = None
    variables: dict[str, Value] = field(default_factory=dict)
    """The current scope: the main flow's variables, or the running subflow's own."""
    path: list[str] = field(default_factory=list)
    """Every node entered, in order; subflow nodes as `flowname:node`."""
    outcome: str = ""
    """"" while running; then "completed", "error" or "handoff:<kind>"."""
    secure_vars: set[str] = field(default_factory=set)
    flow: str = ""
    """The name of the flow `node` belongs to."""
    frames: list[Frame] = field(default_factory=list)
    inputs: list[tuple[str, str]] = field(default_factory=list)
    """(node, what the caller chose or entered there), in order: a menu's key, a collect's
    digits, MASK for a secure entry. An agent's screen shows them (never a secret)."""
    authenticated: dict[str, Value] = field(default_factory=dict)
    """What the caller proved during the call (an action's `authenticated`, e.g. the account a
    PIN check passed for): hand-offs carry it to the agent's screen as verified."""
