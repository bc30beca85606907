"""What waits in a queue, as the dispatcher, the queue views and the REST API see it.

Two kinds of entry share `Acd.sessions`: a `QueueSession` (session.py) per caller on the line,
and a `CallbackEntry` (services/callback/entry.py) per callback whose turn may come. The
dispatcher orders and offers them alike, so they meet in one Protocol, `QueueEntry`; what only
one kind has (a caller's agent leg, its bridge) is reached by narrowing with isinstance, so
nobody reads a field that one kind would only fake.

An entry's state is `store.EntryState` (the rows hold it); the modules the Protocol's
annotations name are imported for type checking only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, NotRequired, Protocol, TypedDict

from ...flow.expr import Value
from .desktop import IvrOrigin, Origin
from .store import EntryState

if TYPE_CHECKING:
    from .agents import Agent
    from .config import QueueConfig

__all__ = ["EntryView", "QueueEntry", "QueueRequest"]


class EntryView(TypedDict):
    """One entry in `GET /queues/{name}`'s `waiting` or `connected` list."""

    call_id: str
    kind: NotRequired[Literal["callback"]]
    """Only on a callback, so a caller's view stays what it always was."""
    caller: str
    state: EntryState
    """JSON-encoded as its text, like any str."""
    language: str
    priority: int
    position: int | None
    """None once connected: a connected entry waits for nobody."""
    waited_s: float
    agent: str | None


class QueueEntry(Protocol):
    """What the dispatcher, `Acd.position` and the queue views read of an entry.

    Read-only members, so an implementation may answer with an attribute, a class constant
    or a property; `tried` is a set the dispatcher clears when every free agent has been
    tried, which mutates it without assigning it."""

    @property
    def id(self) -> str:
        """The caller's channel, or the callback's id."""
        ...

    @property
    def queue(self) -> QueueConfig: ...

    @property
    def order(self) -> tuple[float, ...]:
        """Sort key of the order of service: (-priority, behind inbound 0/1, entered_at,
        seq)."""
        ...

    @property
    def state(self) -> EntryState: ...

    @property
    def entered_at(self) -> float:
        """Epoch seconds of the place in line (a callback keeps its caller's)."""
        ...

    @property
    def offerable(self) -> bool:
        """Waiting and not being offered now: the dispatcher may offer it."""
        ...

    @property
    def claims_agents(self) -> bool:
        """Agents are reserved for it before it is offered (a customer-first callback is
        not: the customer is dialled first)."""
        ...

    @property
    def holds(self) -> bool:
        """A caller on the line (a callback is not): counts against a queue's max_length."""
        ...

    @property
    def tried(self) -> set[str]:
        """Agents rung for it since the last retry round."""
        ...

    @property
    def last_try(self) -> float:
        """When its last ring ended (retries wait RETRY_AFTER after it)."""
        ...

    def offer(self, group: Sequence[Agent]) -> None:
        """Start serving it with these agents (already reserved), or with none (a
        customer-first callback); returns at once, the serving runs in its own task."""
        ...

    def position(self) -> int: ...

    def view(self, now: float) -> EntryView: ...

    def refresh_place(self) -> None:
        """Tell a caller on the line its position now (others left or joined ahead)."""


@dataclass(frozen=True, slots=True)
class QueueRequest:
    queue: str
    priority: int | None = None
    max_wait: float | None = None
    flow: str = ""
    node: str = ""
    """Where the flow resumes this wait after an app restart."""
    variables: Mapping[str, Value] = field(default_factory=dict)
    """The flow's variables, secrets already masked (stored with the entry)."""
    screen: Origin = field(default_factory=IvrOrigin)
    """Where the caller comes from, for the agents' screen pops: the IVR's path and verified
    account, or (a customer-first callback) the callback."""
    since: float | None = None
    """The place kept from an earlier wait (a callback): served as if it had joined then;
    max_wait still counts from now."""
    behind_inbound: bool = False
    """An outbound campaign's contact: served after every caller of its priority, whenever
    they came (blending: inbound first while both wait)."""
