"""How a caller's wait in a queue ended: the answer of `session.wait()`.

The answer used to be a string that meant three things ("answered", an outcome for the flow,
"" for a queue that does not exist) and, between the session and `wait()`, a fourth spelled as
a prefix ("requeue:<queue>"). As types, each caller (the flow's `Call.handoff`, a customer-first
callback's serve.py) matches every way a wait can end, and mypy tells them when a new one comes.

A caller who hangs up is no result: the hangup cancels the wait (CancelledError).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from .store import EntryRow

__all__ = ["Left", "QueueResult", "Requeued", "Served", "TransferredOut", "UnknownQueue"]


@dataclass(frozen=True, slots=True)
class Served:
    """An agent took the call and it is over: the agent hung up (and the IVR hung up the
    caller). The flow has nothing left to do."""


@dataclass(frozen=True, slots=True)
class TransferredOut:
    """The agent blind-transferred the caller to an extension of the IVR's dialplan: the
    channel goes on there, out of the application."""

    extension: str


@dataclass(frozen=True, slots=True)
class Left:
    """The caller left the queue without an agent, with an outcome the queue node routes with
    `on`: "timeout", "full", "no_agents" or the outcome of an exit key."""

    outcome: str
    place: EntryRow | None = field(default=None, compare=False)
    """The place the caller had (a key or a limit took it out of the line); a callback it
    books next keeps it. None when it never joined (a full queue, no agents)."""


@dataclass(frozen=True, slots=True)
class UnknownQueue:
    """The configuration has no queue of that name (a reload removed it): nobody waited."""

    queue: str


@dataclass(frozen=True, slots=True)
class Requeued:
    """The agent transferred the caller to another queue (its transfer code). Only between a
    session and `wait()`, which goes on waiting in that queue: never a result of `wait()`."""

    queue: str


QueueResult: TypeAlias = Served | TransferredOut | Left | UnknownQueue
"""What `wait()` answers."""
