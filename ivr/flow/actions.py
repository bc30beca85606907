"""Actions: what a flow asks of the services (accounts, later queues...) through `action` nodes.

The flow layer defines the contract; services implement it; the app hands the implementations
to the interpreter in `FlowContext.actions` and their specs to the checker. An action answers
with a named outcome (the node branches on it) and result values (copied into variables).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

Value = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """What the checker needs to know about an action, without any backend."""

    name: str
    """Dotted name used in flows, e.g. 'accounts.verify_pin'."""
    args: tuple[str, ...]
    """Required argument names."""
    outcomes: tuple[str, ...]
    """Every outcome the action may answer; a node's `on` maps them to nodes."""
    results: tuple[str, ...] = ()
    """Result fields the action may return (a missing one arrives as null)."""
    secure_args: tuple[str, ...] = ()
    """Arguments that are secrets: never logged, traced or put in an error message."""
    description: str = ""


@dataclass(frozen=True, slots=True)
class ActionResult:
    outcome: str
    values: Mapping[str, Value] = field(default_factory=dict)
    authenticated: Mapping[str, Value] = field(default_factory=dict)
    """What this answer proves about the caller (a PIN check passed: {"account": number}); kept
    for the call, shown to an agent as verified. Never a secret."""


@dataclass(frozen=True, slots=True)
class CallInfo:
    """Who is asking: lets a service rate-limit by caller or log by call id."""

    call_id: str
    caller: str
    language: str


class ActionError(Exception):
    """The service could not answer (backend down, timeout, garbage). The node's fallback runs.

    The message must never contain a secure argument.
    """


class Action(Protocol):
    spec: ActionSpec

    async def __call__(self, args: Mapping[str, Value], call: CallInfo) -> ActionResult: ...
