"""One caller in a queue (a `QueueSession`): hold music, announcements, rings to agents, the
conversation. waiting.py's `wait()` makes one per queue the caller waits in and runs it in the
caller's flow task, so the caller's hangup cancels it and its `finally` releases everything the
wait owns: the announcement, agent channels still ringing, the bridge with the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from ...ari import (
    AriError,
    BridgeHandle,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHandle,
    ChannelHangupRequest,
    StasisEnd,
)
from ..place import InQueue, RingingAgent, Transferring, WithAgent
from ..seam import CallerLeg, EndedBy
from . import queue_log as ql
from .agents import Agent, AgentState, utc
from .announcer import Announcer, announcement
from .config import QueueConfig
from .control import CallCommand, CallControlError, Command, Commands, Hold, Transfer, Unhold
from .desktop import CallConnected, CallEnded, CallHold, HowEnded, ScreenPop
from .engine import Acd
from .entries import EntryView, QueueRequest
from .holding import join_holding, leave_holding
from .results import Left, QueueResult, Requeued, Served, TransferredOut
from .ringing import ring_group
from .store import EntryRow, EntryState

log = logging.getLogger(__name__)

TRANSFER_CONTEXT = "ivr-extensions"


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
        self.order: tuple[float, ...] = (-row.priority, self.entered_at, row.seq)
        self.wait_from = self.entered_at if request.since is None else acd.clock()
        self.state = EntryState.WAITING
        self.tried: set[str] = set()
        self.last_try = 0.0
        self.agent: Agent | None = None
        self.agent_channel: ChannelHandle | None = None
        self.bridge: BridgeHandle | None = None
        self.connected_at = 0.0
        self.ended = False
        self.connected = asyncio.Event()
        self.held = False
        self._commands = Commands()
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

    # -- the wait ----------------------------------------------------------------------------

    async def run(self, resumed: EntryRow | None) -> QueueResult | Requeued:
        try:
            if resumed is not None and resumed.state is EntryState.CONNECTED:
                if await self._adopt(resumed):
                    return await self._talk()
            await join_holding(self.acd.client, self.queue, self.id)
            self._start_announcing(joined=resumed is None)
            left = await self._until_connected()
            if left is not None:
                return left
            return await self._talk()
        except asyncio.CancelledError:
            if not self.acd.stopping:
                await self._caller_gone()
            raise
        finally:
            await self._release()

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
        acd = self.acd
        try:
            await self._announcer.stop()
            bridge = await acd.client.bridges.create("mixing,dtmf_events",
                                                     bridge_id=f"acd-call-{self.id}")
            self.bridge = bridge
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
        self.agent, self.agent_channel = agent, channel
        self.connected_at = acd.clock()
        hold = round(self.connected_at - self.entered_at)
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

    # -- the conversation --------------------------------------------------------------------

    async def _adopt(self, row: EntryRow) -> bool:
        """After a restart: take back a call that was already bridged, if both legs are up."""
        acd = self.acd
        if not row.agent_channel or not row.agent_id or row.agent_id not in acd.agents:
            return False
        events = acd.client.subscribe(f"channel:{row.agent_channel}")
        channel = ChannelHandle(acd.client.ari, row.agent_channel, events)
        try:
            await channel.get()
        except AriError:
            events.close()
            return False
        self.agent, self.agent_channel = acd.agents[row.agent_id], channel
        self.bridge = acd.client.bridges.handle(row.bridge_id or f"acd-call-{self.id}")
        await self._back_in_bridge()
        self.connected_at = row.connected_at.timestamp() if row.connected_at else acd.clock()
        self.state = EntryState.CONNECTED
        self.caller.move(WithAgent(self.queue.name, self.agent.id))
        await acd.answered(self.agent, self.id, adopted=True)
        self.connected.set()
        return True

    def command(self, command: CallCommand) -> asyncio.Future[str]:
        """From the agent's desktop (control.py): done by _talk, which owns the legs."""
        if not self.connected.is_set() or self.ended:
            raise CallControlError(f"call {self.id} is not in a conversation")
        return self._commands.put(command)

    async def _back_in_bridge(self) -> None:
        """After a restart a caller on hold is taken off it: nobody then knows it is held, and
        a caller on hold forever is worse than one back with the agent."""
        assert self.bridge is not None
        try:
            if self.id not in (await self.bridge.get()).channels:
                with contextlib.suppress(AriError):
                    await self.caller.handle.stop_moh()
                await self.bridge.add(self.id)
        except AriError as exc:
            log.info("could not put %s back with its agent: %s", self.id, exc)

    async def _talk(self) -> Served | TransferredOut | Requeued:
        """Until the agent hangs up (the caller's hangup cancels this), or transfers."""
        assert self.agent_channel is not None and self.agent_channel.events is not None
        typed = ""
        while (item := await self._commands.next_or(self.agent_channel.events)) is not None:
            if isinstance(item, Command):
                ended = await self._obey(item.command, item.done)
                if ended is not None:
                    return ended
            elif isinstance(item, ChannelDtmfReceived):
                typed = _transfer_buffer(typed + item.digit)
                if len(typed) > 3 and typed.endswith("#"):
                    return await self._transfer(typed[2:-1])
            elif isinstance(item, ChannelHangupRequest | StasisEnd | ChannelDestroyed):
                break
        await self._complete(HowEnded.COMPLETEAGENT)
        self.caller.ended_by(EndedBy.AGENT)
        with contextlib.suppress(AriError):
            await self.caller.handle.hangup()
        return Served()

    async def _obey(self, command: CallCommand,
                    done: asyncio.Future[str]) -> TransferredOut | Requeued | None:
        """A desktop's command; the conversation's end if it was a transfer."""
        try:
            match command:
                case Hold():
                    await self._hold(True)
                    done.set_result("held")
                case Unhold():
                    await self._hold(False)
                    done.set_result("talking")
                case Transfer(target=target):
                    result = await self._transfer(target)
                    done.set_result("requeued" if isinstance(result, Requeued)
                                    else "transferred")
                    return result
        except AriError as exc:
            if not done.done():
                done.set_exception(CallControlError(f"call {self.id}: {exc}"))
        return None

    async def _hold(self, hold: bool) -> None:
        """Out of the bridge with the queue's music, or back into it (see control.py)."""
        if hold == self.held or self.bridge is None:
            return
        handle = self.caller.handle
        if hold:
            await self.bridge.remove(self.id)
            await handle.start_moh(self.queue.moh)
        else:
            with contextlib.suppress(AriError):
                await handle.stop_moh()
            await self.bridge.add(self.id)
        self.held = hold
        self.caller.trace("queue_hold" if hold else "queue_unhold", queue=self.queue.name)
        if self.agent is not None:
            self.acd.desktops.publish(self.agent.id, CallHold(self.id, hold))

    async def _complete(self, verb: HowEnded, *extra: object) -> None:
        """Log the end of the conversation (`verb`, a queue_log verb, is also the desktop's
        `how`), hang up the agent's leg and start its wrap-up."""
        if self.ended or self.agent is None:
            return
        self.ended = True
        acd = self.acd
        hold = round(self.connected_at - self.entered_at)
        talk = round(acd.clock() - self.connected_at)
        data = (*extra, hold, talk, self.row.orig_position)
        await acd.log(acd.event(self.id, self.queue.name, self.agent.interface, verb, *data))
        acd.record_handle_time(self.queue.name, talk + self.queue.wrapup)
        if self.agent_channel is not None:
            with contextlib.suppress(AriError):
                await self.agent_channel.hangup()
        await acd.call_ended(self.agent, self.queue, self.id)
        acd.desktops.publish(self.agent.id, CallEnded(self.id, verb))
        self.caller.trace("queue_complete", queue=self.queue.name, how=verb, talk=talk)

    async def _transfer(self, target: str) -> TransferredOut | Requeued:
        """Blind transfer typed by the agent as ##<target>#: a queue's transfer code re-queues
        the caller there; anything else is an extension of the IVR's dialplan."""
        if self.held:
            with contextlib.suppress(AriError):
                await self.caller.handle.stop_moh()
            self.held = False
        queue = self.acd.config().queue_by_transfer_code(target)
        if queue is not None:
            await self._complete(HowEnded.TRANSFER, target, f"queue:{queue.name}")
            with contextlib.suppress(AriError):
                if self.bridge is not None:
                    await self.bridge.remove(self.id)
            return Requeued(queue.name)
        self.caller.ended_by(EndedBy.TRANSFER)
        self.caller.move(Transferring(target))
        await self._complete(HowEnded.TRANSFER, target, TRANSFER_CONTEXT)
        try:
            await self.caller.handle.continue_in_dialplan(TRANSFER_CONTEXT, target, 1)
        except AriError as exc:
            log.warning("transfer of %s to %s failed: %s", self.id, target, exc)
        return TransferredOut(target)

    async def _caller_gone(self) -> None:
        """The caller hung up: a conversation completes, a wait is abandoned."""
        await self._stop_offer()
        await self._settle_connect()
        if self.connected.is_set():
            await self._complete(HowEnded.COMPLETECALLER)
        elif not self.ended:
            self.ended = True
            wait_s = round(self.acd.clock() - self.entered_at)
            await self.acd.log(self.acd.event(self.id, self.queue.name, "NONE", ql.ABANDON,
                                              self.position(), self.row.orig_position, wait_s))

    async def _release(self) -> None:
        self._commands.fail_all(CallControlError(f"call {self.id} ended"))
        await self._stop_offer()
        await self._announcer.stop()
        self.acd.sessions.pop(self.id, None)
        if self.agent_channel is not None and self.agent_channel.events is not None:
            self.agent_channel.events.close()
        if self.bridge is not None and self.bridge.events is not None:
            self.bridge.events.close()
        if self.acd.stopping:
            return
        if self.bridge is not None:
            with contextlib.suppress(AriError):
                await self.bridge.destroy()
        if not self.connected.is_set():
            await self._leave_holding()
        try:
            await self.acd.store.remove_entry(self.id)
        except Exception:
            log.exception("could not remove the queue entry of %s", self.id)
        self.acd.wake()

    async def _save(self, state: EntryState) -> None:
        self.state = state
        row = self.row
        row.state = state
        row.agent_id = self.agent.id if self.agent else None
        row.agent_channel = self.agent_channel.id if self.agent_channel else None
        row.bridge_id = self.bridge.id if self.bridge else None
        row.connected_at = utc(self.connected_at) if self.connected_at else None
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


def _transfer_buffer(typed: str) -> str:
    """Keep what may still become ##<digits>#; anything else starts over."""
    while typed and not (typed.startswith("##") or typed in ("#",)):
        typed = typed[1:]
    return typed
