"""Waiting in a queue: `wait()`, what every caller of a queue goes through.

It runs inside the caller's flow task (or a callback's customer leg), so the caller's hangup
cancels it. It joins the caller (or takes back its place after a restart), refuses a full queue
or one without agents when the queue says so, and runs a `QueueSession` until the wait ends. It
answers how as a results.QueueResult: served by an agent, transferred out by one, left with an
outcome for the flow (`timeout`, `full`, `no_agents`, a key's outcome), or no such queue; an
agent's transfer to another queue goes on waiting there.
"""

from __future__ import annotations

from ..place import InQueue
from ..seam import CallerLeg
from . import queue_log as ql
from .agents import utc
from .config import QueueConfig
from .engine import Acd
from .entries import QueueRequest
from .results import Left, QueueResult, Requeued, UnknownQueue
from .session import QueueSession
from .store import EntryRow, EntryState

__all__ = ["QueueRequest", "wait"]


async def wait(acd: Acd, caller: CallerLeg, request: QueueRequest) -> QueueResult:
    """Queue the caller (or resume its place after a restart) until the wait ends; an agent's
    transfer to another queue goes on waiting there."""
    name = request.queue
    while True:
        queue = acd.config().queues.get(name)
        if queue is None:
            caller.trace("queue_unknown", queue=name)
            return UnknownQueue(name)
        result = await _wait_in(acd, caller, queue, request)
        if not isinstance(result, Requeued):
            return result
        name = result.queue


async def _wait_in(acd: Acd, caller: CallerLeg, queue: QueueConfig,
                   request: QueueRequest) -> QueueResult | Requeued:
    existing = await acd.store.entry(caller.id)
    if existing is not None and existing.queue != queue.name:
        await acd.store.remove_entry(caller.id)
        existing = None
    waiting = [s for s in acd.sessions.values()
               if s.queue.name == queue.name and s.state is not EntryState.CONNECTED and s.holds]
    if existing is None:
        if not queue.join_empty and not acd.present(queue):
            await acd.log(acd.event(caller.id, queue.name, "NONE", ql.JOINEMPTY))
            caller.trace("queue_exit", queue=queue.name, outcome="no_agents")
            return Left("no_agents")
        if queue.max_length is not None and len(waiting) >= queue.max_length:
            await acd.log(acd.event(caller.id, queue.name, "NONE", ql.FULL))
            caller.trace("queue_exit", queue=queue.name, outcome="full")
            return Left("full")
    priority = request.priority if request.priority is not None else queue.priority
    row = await acd.store.add_entry(EntryRow(
        channel_id=caller.id, queue=queue.name, priority=priority,
        entered_at=utc(request.since or acd.clock()), seq=0, caller=caller.caller,
        language=caller.language,
        flow=request.flow, node=request.node, variables=dict(request.variables),
        orig_position=len(waiting) + 1))
    if existing is None:
        await acd.log(acd.event(caller.id, queue.name, "NONE", ql.ENTERQUEUE, "",
                                caller.caller))
    session = QueueSession(acd, caller, queue, row, request)
    acd.sessions[caller.id] = session
    acd.wake()
    caller.trace("queue_enter", queue=queue.name, position=session.position(),
                 resumed=existing is not None)
    caller.move(InQueue(queue.name, session.position()))
    return await session.run(resumed=existing)
