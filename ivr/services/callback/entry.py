"""A callback whose turn may come, as the ACD's dispatcher sees it (next to QueueSessions).

It sorts by the place its caller had in the queue, so a caller who pressed "call me back"
keeps their turn, and callers who arrive later wait behind it. When the dispatcher offers it,
the service serves it (service.Callbacks.serve). To the dispatcher it is an
acd.entries.QueueEntry, like a caller's QueueSession.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from ..acd.agents import Agent
from ..acd.config import QueueConfig
from ..acd.engine import Acd
from ..acd.entries import EntryView
from ..acd.store import EntryState
from .store import Callback

__all__ = ["CallbackEntry"]


class CallbackEntry:
    holds = False
    """Nobody is on the line while it waits: it takes no place in a queue's max_length."""

    def __init__(self, acd: Acd, cb: Callback, queue: QueueConfig,
                 serve: Callable[[CallbackEntry, list[Agent]], asyncio.Task[None]]) -> None:
        self.acd = acd
        self.cb = cb
        self.queue = queue
        self.id = cb.id
        self.entered_at = cb.entered_at.timestamp()
        self.order: tuple[float, ...] = (-cb.priority, 0, self.entered_at, 0)
        self.state = EntryState.WAITING
        self.tried: set[str] = set()
        self.last_try = 0.0
        self.task: asyncio.Task[None] | None = None
        self._serve = serve

    @property
    def claims_agents(self) -> bool:
        return self.queue.callback.mode == "agent_first"

    @property
    def offerable(self) -> bool:
        return self.state is EntryState.WAITING and self.task is None

    def offer(self, group: Sequence[Agent]) -> None:
        self.state = EntryState.RINGING
        self.task = self._serve(self, list(group))

    def position(self) -> int:
        return self.acd.position(self)

    def refresh_place(self) -> None:
        """Nobody is on the line for a pending callback: no place to tell."""

    def view(self, now: float) -> EntryView:
        return {"call_id": self.id, "kind": "callback", "caller": self.cb.number,
                "state": self.state, "language": self.cb.language,
                "priority": self.cb.priority,
                "position": self.position() if self.state is not EntryState.CONNECTED
                else None,
                "waited_s": round(now - self.entered_at, 1), "agent": self.cb.agent_id or None}
