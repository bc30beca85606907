"""One caller in a queue (a `QueueSession`): hold music, announcements, rings to agents, then
the conversation with the agent who answered (conversation.py, a `Conversation` the session owns
and hands the call to once connected). waiting.py's `wait()` makes one per queue the caller
waits in and runs it in the caller's flow task, so the caller's hangup cancels it and its
`finally` releases everything the wait owns: the announcement, agent channels still ringing, the
bridge with the agent.

The session owns the entry: its state and row, when it is connected, when it is over (`ended`,
which the conversation sets as it completes). Its parts: what the dispatcher sees, what the
desktop and reconcile.py see of the conversation, the wait, announcements, ringing agents (which
bridges the one who answers), the end of the wait however it ended, and the stored row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from ...ari import AriError, ChannelHandle
from ..place import InQueue, RingingAgent, WithAgent
from ..seam import CallerLeg
from . import queue_log as ql
from .agents import Agent, AgentState, utc
from .announcer import Announcer, announcement
from .config import QueueConfig
from .control import CallCommand, CallControlError
from .conversation import TRANSFER_CONTEXT, Conversation
from .desktop import CallConnected, HowEnded, ScreenPop
from .engine import Acd
from .entries import EntryView, QueueRequest
from .holding import join_holding, leave_holding
from .results import Left, QueueResult, Requeued
from .ringing import ring_group
from .store import EntryRow, EntryState

__all__ = ["TRANSFER_CONTEXT", "QueueSession", "conversation_of"]

log = logging.getLogger(__name__)


class QueueSession:
    def __init__(self, acd: Acd, caller: CallerLeg, queue: QueueConfig, row: EntryRow,
                 request: QueueRequest) -> None:
        self.acd = acd
        self.caller = caller
        self.queue = queue
        self.row = row
        self.request = request
        self.id = caller.id
        self.entered_at = row.entered_at.timestamp()
        # Blending: an outbound contact is served after the callers of its priority, whenever
        # they came (entries.QueueRequest.behind_inbound).
        self.order: tuple[float, ...] = (-row.priority, 1 if request.behind_inbound else 0,
                                         self.entered_at, row.seq)
        self.wait_from = self.entered_at if request.since is None else acd.clock()
        self.state = EntryState.WAITING
        self.tried: set[str] = set()
        self.last_try = 0.0
        self.ended = False
        self.connected = asyncio.Event()
        self.conversation = Conversation(self)
        """The agent, its leg and the bridge once an agent answers; runs the call from then."""
        self._offer: asyncio.Task[None] | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._announcer = Announcer(caller.handle, acd.prompts, caller.language)

    # -- what the dispatcher and the REST API see -------------------------------------------

    claims_agents = True
    """Agents are reserved for it before it is offered (a customer-first callback is not)."""
    holds = True
    """On the line, in the queue's holding bridge (a callback is not)."""

    @property
    def offerable(self) -> bool:
        return self.state is EntryState.WAITING and self._offer is None and not self.ended

    def position(self) -> int:
        return self.acd.position(self)

    def view(self, now: float) -> EntryView:
        return {"call_id": self.id, "caller": self.caller.caller, "state": self.state,
                "language": self.caller.language, "priority": self.row.priority,
                "position": self.position() if self.state is not EntryState.CONNECTED
                else None,
                "waited_s": round(now - self.entered_at, 1),
                "agent": self.agent.id if self.agent else None}

    def refresh_place(self) -> None:
        """A waiting caller's position moves as others leave: the dispatcher refreshes it."""
        if self.state is EntryState.WAITING and not self.ended and not self.connected.is_set():
            self.caller.move(InQueue(self.queue.name, self.position()))

    def offer(self, group: Sequence[Agent]) -> None:
        self.state = EntryState.RINGING
        self._offer = asyncio.create_task(self._ring(list(group)), name=f"offer-{self.id}")

    # -- the conversation (conversation.py), as the desktop and reconcile.py see it ----------

    @property
    def agent(self) -> Agent | None:
        return self.conversation.agent

    @property
    def agent_channel(self) -> ChannelHandle | None:
        """The agent's leg (reconcile.py leaves alone the one a session holds)."""
        return self.conversation.agent_channel

    @property
    def held(self) -> bool:
        return self.conversation.held

    def command(self, command: CallCommand) -> asyncio.Future[str]:
        """From the agent's desktop (control.py): done by the conversation's loop, which owns
        the legs (Conversation.talk)."""
        if not self.connected.is_set() or self.ended:
            raise CallControlError(f"call {self.id} is not in a conversation")
        return self.conversation.commands.put(command)

    # -- the wait ----------------------------------------------------------------------------

    async def run(self, resumed: EntryRow | None) -> QueueResult | Requeued:
        try:
            if resumed is not None and resumed.state is EntryState.CONNECTED:
                if await self._adopt(resumed):
                    return await self.conversation.talk()
            await join_holding(self.acd.client, self.queue, self.id)
            self._start_announcing(joined=resumed is None)
            left = await self._until_connected()
            if left is not None:
                return left
            return await self.conversation.talk()
        except asyncio.CancelledError:
            if not self.acd.stopping:
                await self._caller_gone()
            raise
        finally:
            await self._release()

    async def _adopt(self, row: EntryRow) -> bool:
        """After a restart: take back a call that was already bridged, if both legs are up."""
        agent = await self.conversation.adopt(row)
        if agent is None:
            return False
        self.state = EntryState.CONNECTED
        self.caller.move(WithAgent(self.queue.name, agent.id))
        await self.acd.answered(agent, self.id, adopted=True)
        self.connected.set()
        return True

    async def _leave_holding(self) -> None:
        """Out of the holding bridge, down with it if nobody else holds there: another caller
        of the queue on the line and not connected (a callback holds nobody)."""
        def others_held() -> bool:
            return any(isinstance(s, QueueSession) and s.queue.name == self.queue.name
                       and not s.connected.is_set()
                       for s in self.acd.sessions.values() if s is not self)

        await leave_holding(self.acd.client, self.queue, self.id, others_held)

    async def _until_connected(self) -> Left | None:
        """None once an agent is connected; else how the caller left without one."""
        deadline = self.wait_from + min(self.queue.max_wait or float("inf"),
                                         self.request.max_wait or float("inf"))
        while not self.connected.is_set():
            key = asyncio.create_task(self.caller.read_digit(1.0))
            linked = asyncio.create_task(self.connected.wait())
            try:
                await asyncio.wait({key, linked}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (key, linked):
                    task.cancel()
            digit = key.result() if key.done() and not key.cancelled() else None
            if self.connected.is_set():
                break
            if digit is not None and digit in self.queue.keys:
                return await self._leave(ql.EXITWITHKEY, self.queue.keys[digit], digit)
            if self.acd.clock() >= deadline:
                return await self._leave(ql.EXITWITHTIMEOUT, "timeout")
            if not self.queue.join_empty and not self.acd.present(self.queue) \
                    and self.state is EntryState.WAITING:
                return await self._leave(ql.EXITEMPTY, "no_agents")
        return None

    async def _leave(self, verb: str, outcome: str, *first: str) -> Left | None:
        """Leave with `outcome`, unless an agent answered meanwhile (None: the call goes on)."""
        await self._stop_offer()
        await self._settle_connect()
        if self.connected.is_set():
            return None
        wait_s = round(self.acd.clock() - self.entered_at)
        await self.acd.log(self.acd.event(self.id, self.queue.name, "NONE", verb, *first,
                                          self.position(), self.row.orig_position, wait_s))
        self.ended = True
        self.caller.trace("queue_exit", queue=self.queue.name, outcome=outcome, waited=wait_s)
        return Left(outcome, self.row)

    # -- announcements -----------------------------------------------------------------------

    def announcement(self) -> list[str]:
        staffed = self.acd.staffed(self.queue)
        return announcement(self.queue, self.caller.language, self.position(), len(staffed),
                            sum(1 for a in staffed if a.state is AgentState.AVAILABLE),
                            self.acd.handle_times(self.queue.name))

    def _start_announcing(self, joined: bool) -> None:
        announce = self.queue.announce
        busy = not any(a.state is AgentState.AVAILABLE for a in self.acd.staffed(self.queue))
        join = list(announce.join) if joined and busy else []

        def compose() -> list[str]:
            ids = self.announcement()
            self.caller.trace("queue_announce", prompts=ids)
            return ids

        if join:
            self.caller.trace("queue_announce", prompts=join)
        first_in = max(0.0, self.entered_at + announce.first - self.acd.clock())
        self._announcer.start(join, first_in, announce.every, compose)

    # -- ringing agents ----------------------------------------------------------------------

    async def _ring(self, group: list[Agent]) -> None:
        await self._save(EntryState.RINGING)
        for agent in group:
            self.acd.desktops.publish(agent.id, self.screen_pop(agent))
        self.caller.trace("queue_ring", queue=self.queue.name, agents=[a.id for a in group])
        self.caller.move(RingingAgent(self.queue.name, tuple(a.id for a in group)))
        try:
            answered = await ring_group(self.acd, self.queue, self.id, self.caller.caller, group)
        finally:
            self.tried |= {a.id for a in group}
            self.last_try = self.acd.clock()
        if answered is not None:
            # Bridging runs to its end even if the caller hangs up meanwhile: the hangup
            # handling waits for it, then completes the call it made (never half of one).
            self._connecting = asyncio.create_task(
                self._connect(answered.agent, answered.channel, answered.ring_s))
            await asyncio.shield(self._connecting)
        else:
            self._offer = None
            await self._save(EntryState.WAITING)
            self.refresh_place()
            self.acd.wake()

    async def _connect(self, agent: Agent, channel: ChannelHandle, ring_s: float) -> None:
        acd, talk = self.acd, self.conversation
        try:
            await self._announcer.stop()
            bridge = await acd.client.bridges.create("mixing,dtmf_events",
                                                     bridge_id=f"acd-call-{self.id}")
            talk.bridge = bridge
            await self._leave_holding()
            await bridge.add(self.id, channel.id)
        except AriError as exc:  # the caller went as the agent answered
            log.info("could not bridge %s with %s: %s", self.id, agent.id, exc)
            with contextlib.suppress(AriError):
                await channel.hangup()
            if channel.events is not None:
                channel.events.close()
            await acd.ring_failed(agent, self.queue, self.id, 0, answered_elsewhere=True)
            return
        talk.agent, talk.agent_channel = agent, channel
        talk.connected_at = acd.clock()
        hold = round(talk.connected_at - self.entered_at)
        await acd.answered(agent, self.id)
        await acd.log(acd.event(self.id, self.queue.name, agent.interface, ql.CONNECT, hold,
                                channel.id, round(ring_s)))
        self.connected.set()
        self.caller.trace("queue_connected", queue=self.queue.name, agent=agent.id, hold=hold)
        self.caller.move(WithAgent(self.queue.name, agent.id))
        acd.desktops.publish(agent.id, CallConnected(self.id, self.queue.name))
        await self._save(EntryState.CONNECTED)

    async def _settle_connect(self) -> None:
        """Let a bridging in progress finish (see _ring)."""
        if self._connecting is not None:
            await asyncio.gather(self._connecting, return_exceptions=True)

    async def _stop_offer(self) -> None:
        task = self._offer
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._offer = None

    # -- the end of the wait -----------------------------------------------------------------

    async def _caller_gone(self) -> None:
        """The caller hung up: a conversation completes, a wait is abandoned."""
        await self._stop_offer()
        await self._settle_connect()
        if self.connected.is_set():
            await self.conversation.complete(HowEnded.COMPLETECALLER)
        elif not self.ended:
            self.ended = True
            wait_s = round(self.acd.clock() - self.entered_at)
            await self.acd.log(self.acd.event(self.id, self.queue.name, "NONE", ql.ABANDON,
                                              self.position(), self.row.orig_position, wait_s))

    async def _release(self) -> None:
        talk = self.conversation
        talk.commands.fail_all(CallControlError(f"call {self.id} ended"))
        await self._stop_offer()
        await self._announcer.stop()
        self.acd.sessions.pop(self.id, None)
        if talk.agent_channel is not None and talk.agent_channel.events is not None:
            talk.agent_channel.events.close()
        if talk.bridge is not None and talk.bridge.events is not None:
            talk.bridge.events.close()
        if self.acd.stopping:
            return
        if talk.bridge is not None:
            with contextlib.suppress(AriError):
                await talk.bridge.destroy()
        if not self.connected.is_set():
            await self._leave_holding()
        try:
            await self.acd.store.remove_entry(self.id)
        except Exception:
            log.exception("could not remove the queue entry of %s", self.id)
        self.acd.wake()

    # -- the entry, as stored and as the agents' screens show it -----------------------------

    async def _save(self, state: EntryState) -> None:
        self.state = state
        row, talk = self.row, self.conversation
        row.state = state
        row.agent_id = talk.agent.id if talk.agent else None
        row.agent_channel = talk.agent_channel.id if talk.agent_channel else None
        row.bridge_id = talk.bridge.id if talk.bridge else None
        row.connected_at = utc(talk.connected_at) if talk.connected_at else None
        try:
            await self.acd.store.update_entry(row)
        except Exception:
            log.exception("could not save the queue entry of %s", self.id)

    def screen_pop(self, agent: Agent) -> ScreenPop:
        return ScreenPop.of(self.request.screen, agent=agent.id, call_id=self.id,
                            queue=self.queue.name, caller=self.caller.caller,
                            caller_name=self.caller.caller_name,
                            language=self.caller.language, priority=self.row.priority,
                            waited_s=round(self.acd.clock() - self.entered_at, 1))


def conversation_of(acd: Acd, agent_id: str) -> QueueSession:
    """The queued call the agent is talking to; CallControlError if it is on none (an
    agent-first callback is not a QueueSession: the desktop cannot hold or transfer it yet)."""
    for entry in acd.sessions.values():
        if isinstance(entry, QueueSession) and entry.agent is not None \
                and entry.agent.id == agent_id and entry.connected.is_set() and not entry.ended:
            return entry
    raise CallControlError(f"agent {agent_id} is on no queued call")

