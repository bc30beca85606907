"""A callback whose turn may come, as the ACD's dispatcher sees it (next to QueueSessions).

It sorts by the place its caller had in the queue, so a caller who pressed "call me back"
keeps their turn, and callers who arrive later wait behind it. When the dispatcher offers it,
the service serves it (service.Callbacks.serve).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from ..acd.agents import Agent
from ..acd.config import QueueConfig
from ..acd.engine import Acd
from .store import Callback

__all__ = ["CallbackEntry"]


class CallbackEntry:
    holds = False
    agent_channel = None
    """Never adopted after a restart (a QueueSession's is): an agent leg left over is dropped."""

    def __init__(self, acd: Acd, cb: Callback, queue: QueueConfig,
                 serve: Callable[[CallbackEntry, list[Agent]], asyncio.Task[None]]) -> None:
        self.acd = acd
        self.cb = cb
        self.queue = queue
        self.id = cb.id
        self.entered_at = cb.entered_at.timestamp()
        self.order: tuple[float, ...] = (-cb.priority, self.entered_at, 0)
        self.state = "waiting"
        self.tried: set[str] = set()
        self.last_try = 0.0
        self.connected = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self._serve = serve

    @property
    def claims_agents(self) -> bool:
        return self.queue.callback.mode == "agent_first"

    @property
    def offerable(self) -> bool:
        return self.state == "waiting" and self.task is None

    def offer(self, group: Sequence[Agent]) -> None:
        self.state = "ringing"
        self.task = self._serve(self, list(group))

    def position(self) -> int:
        return self.acd.position(self)

    def view(self, now: float) -> dict[str, Any]:
        return {"call_id": self.id, "kind": "callback", "caller": self.cb.number,
                "state": self.state, "language": self.cb.language,
                "priority": self.cb.priority,
                "position": self.position() if self.state != "connected" else None,
                "waited_s": round(now - self.entered_at, 1), "agent": self.cb.agent_id or None}
