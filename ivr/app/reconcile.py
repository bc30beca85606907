"""After a restart or a reconnect: the calls a previous process left behind are settled.

Events are not buffered across a disconnect, so whatever Asterisk still holds in the
application comes back as synthetic StasisStarts and is decided here:
- a caller the previous process left waiting in a queue (its entry is in the ACD's store)
  resumes at its queue node, with its variables, and keeps its place;
- such a caller that has not come back after a grace hung up while no process ran: its wait
  is settled in the queue log (abandoned, or a completed call) and its entry removed;
- an agent leg the ACD dialled that no waiting caller claims within a grace is hung up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from ..ari import AriError, ChannelHandle, StasisStart
from ..flow.model import Flow
from ..flow.state import FlowState
from ..services.acd.engine import Acd
from ..services.acd.restart import forget_gone
from ..services.acd.session import QueueSession
from ..services.acd.store import EntryRow

log = logging.getLogger(__name__)

ORPHAN_GRACE = 3.0
"""Seconds an unclaimed agent leg may wait for its caller's wait to adopt it after a restart."""


class Reconciler:
    def __init__(self, acd: Acd, grace: float = ORPHAN_GRACE) -> None:
        self.acd = acd
        self.grace = grace
        self.parked: dict[str, EntryRow] = {}
        """Callers a previous process left in a queue, by channel: resumed at their node."""

    async def load(self) -> None:
        self.parked = {row.channel_id: row for row in await self.acd.store.entries()}

    def resume(self, channel_id: str,
               flows: Mapping[str, Flow]) -> tuple[Flow, FlowState] | None:
        """Where a parked caller goes on: its queue node with its variables, if that flow and
        node still exist (a reload may have removed them: then it starts over)."""
        parked = self.parked.pop(channel_id, None)
        if parked is None:
            return None
        flow = flows.get(parked.flow)
        if flow is None or parked.node not in flow.nodes:
            return None
        log.info("caller %s resumes its place in queue %s", channel_id, parked.queue)
        return flow, FlowState(node=parked.node, variables=dict(parked.variables),
                               flow=flow.name)

    async def settle_parked(self) -> None:
        """Callers left in a queue come back with the reconnection's StasisStarts; those that
        have not after a grace hung up while no process ran."""
        await asyncio.sleep(self.grace * 3)
        lost = list(self.parked.values())
        self.parked.clear()
        if lost:
            await forget_gone(self.acd, lost)

    async def agent_leg(self, event: StasisStart, handle: ChannelHandle) -> None:
        """An agent leg the ACD dialled that no wait claims: its caller is gone, or it was
        bridged before a restart and the caller's resumed wait adopts it soon."""
        caller_id = event.args[1] if len(event.args) > 1 else ""
        await asyncio.sleep(self.grace)
        session = self.acd.sessions.get(caller_id)
        if isinstance(session, QueueSession) and session.agent_channel is not None \
                and session.agent_channel.id == handle.id:
            return  # only a caller's session adopts one: a callback's leftover leg goes
        log.info("hanging up agent leg %s: no caller waits for it", handle.id)
        with contextlib.suppress(AriError):
            await handle.hangup()
