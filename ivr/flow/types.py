"""The flow layer's vocabulary, at its bottom: what a call offers a flow and what a hand-off is.

Everything else in `ivr.flow` imports from here; this module imports nothing of the flow layer
but its expression values, so the interpreter, the node handlers and the simulator never import
each other in a circle. The app implements `CallIO` over ARI (app/call.py), the simulator on a
virtual clock (simulate.py), the unit tests in memory; services receive a `HandoffRequest` and
answer a `HandoffResult`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from .expr import Value

MASK = "***"
"""What traces show instead of a secret."""


@dataclass(frozen=True, slots=True)
class Listen:
    """What a waiting node accepts by voice, in one language.

    A menu: `phrases` (phrase -> the key it stands for); what is heard arrives as that key.
    A digit entry: `digits` (min, max length); the digits heard arrive one by one, then
    `terminator` (if the entry has one)."""

    language: str
    engine: str
    phrases: Mapping[str, str] = field(default_factory=dict)
    digits: tuple[int, int] | None = None
    terminator: str = ""
    confidence: float = 0.5
    node: str = ""


class HandoffKind(enum.StrEnum):
    """The services a flow can give a call to (a `handoff` node's kind)."""

    QUEUE = "queue"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    TRANSFER = "transfer"


@dataclass(frozen=True, slots=True)
class HandoffRequest:
    """A hand-off node with its ${var}s filled, and what the service may show of the caller.

    `variables` are the flow's, secrets already masked; `authenticated` is what the caller
    proved in the IVR (e.g. {"account": "1234"} after a PIN check): the only part of the IVR a
    screen pop may call verified."""

    kind: HandoffKind
    target: str
    node: str
    flow: str
    options: Mapping[str, str] = field(default_factory=dict)
    variables: Mapping[str, Value] = field(default_factory=dict)
    path: tuple[str, ...] = ()
    inputs: tuple[tuple[str, str], ...] = ()
    """(node, key or digits) the caller gave, secure entries masked (FlowState.inputs)."""
    authenticated: Mapping[str, Value] = field(default_factory=dict)

    def number(self, option: str) -> float | None:
        """A numeric option (priority, max_wait...), None when absent or empty."""
        text = self.options.get(option)
        return float(text) if text not in (None, "") else None


class Disposition(enum.StrEnum):
    TAKEN = "taken"
    """The service kept the call: the flow ends without hanging up."""
    DECLINED = "declined"
    """The service cannot take it: the flow goes on at the node's `next`."""
    ROUTED = "routed"
    """The service gave the call back with an outcome (a queue's `timeout`...): `on` routes it."""


@dataclass(frozen=True, slots=True)
class HandoffResult:
    disposition: Disposition
    outcome: str = ""
    """With ROUTED: the outcome the node's `on` maps (an outcome it does not name -> `next`)."""

    @property
    def traced(self) -> str:
        """The `outcome` field of the `handoff` trace event: taken, "" or the outcome."""
        if self.disposition is Disposition.TAKEN:
            return "taken"
        return self.outcome if self.disposition is Disposition.ROUTED else ""


TAKEN = HandoffResult(Disposition.TAKEN)
DECLINED = HandoffResult(Disposition.DECLINED)


def routed(outcome: str) -> HandoffResult:
    """A service's outcome for the flow; an empty one means the service declined."""
    return HandoffResult(Disposition.ROUTED, outcome) if outcome else DECLINED


class CallIO(Protocol):
    """What a channel offers an IVR flow; the interpreter talks to a call only through this."""

    language: str
    """The caller's current language; prompts are resolved in it. The `language` node sets it."""
    caller: str
    call_id: str

    async def play(self, prompt_ids: Sequence[str], *, barge_in: bool,
                   secure: bool = False) -> None:
        """Play prompts in order; with barge_in, a key (typed now or before) stops them and stays
        in the buffer for the next read. `secure`: the ids speak a secret; trace them masked."""

    async def read_digit(self, timeout: float, *, secure: bool = False) -> str | None:
        """Next digit from the type-ahead buffer, waiting up to `timeout` s; None if none.
        `secure`: the digit belongs to a secret; never trace it."""

    def forgive(self, key: str, within: float) -> None:
        """Drop the next key if it is `key` and is waiting already or comes within `within`
        seconds: the terminator a caller adds out of habit to an entry that was already full,
        which would otherwise cut the next prompt and answer the next question."""

    async def hangup(self) -> None: ...

    async def handoff(self, request: HandoffRequest) -> HandoffResult:
        """Give the call to a queue, voicemail, callback or transfer service."""

    def trace(self, event: str, **fields: Any) -> None: ...

    def listening(self, request: Listen) -> AbstractAsyncContextManager[bool]:
        """Listen while the block runs; yields False when nobody can listen (no engine for
        the language, or it is not available): keys only. What the caller says arrives
        through read_digit like keys, and stops a barge-in prompt like a key (runtime.Listen)."""
