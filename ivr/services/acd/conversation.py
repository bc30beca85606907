"""A queued caller's conversation with the agent who answered (a `Conversation`, one per
`QueueSession`): the agent, the agent's leg and the call's bridge, hold and transfer, and the
end of the call in the queue log.

The session's ringing (session.py `_connect`) fills in the agent, its leg and the bridge as it
bridges them; after a restart `adopt` takes them back from the entry's row. `talk` is then the
conversation's own loop: it reads the agent leg's events and the desktop's commands together
(control.py), so a hangup, a DTMF transfer and a desktop command are never applied at once. It
ends when the agent hangs up or transfers; the caller's hangup cancels the session's task, and
the session completes the conversation itself (`complete`).

What the entry is (waiting, connected, over) stays the session's. session.py imports this
module, so what the conversation reads of its session is the `Owner` protocol, not the class.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from ...ari import (
    AriError,
    BridgeHandle,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHandle,
    ChannelHangupRequest,
    StasisEnd,
)
from ..place import Transferring
from ..seam import CallerLeg, EndedBy
from .agents import Agent
from .config import QueueConfig
from .control import (
    CallCommand,
    CallControlError,
    Command,
    Commands,
    Hold,
    Transfer,
    Unhold,
    put_on_hold,
    take_off_hold,
)
from .desktop import CallEnded, CallHold, HowEnded
from .engine import Acd
from .results import Requeued, Served, TransferredOut
from .store import EntryRow

__all__ = ["TRANSFER_CONTEXT", "Conversation", "Owner"]

log = logging.getLogger(__name__)

TRANSFER_CONTEXT = "ivr-extensions"


class Owner(Protocol):
    """What a conversation reads of the QueueSession that owns it. `ended` is the session's:
    the entry is over, however it ended (left, abandoned, or this conversation completed)."""

    @property
    def acd(self) -> Acd: ...

    @property
    def caller(self) -> CallerLeg: ...

    @property
    def queue(self) -> QueueConfig: ...

    @property
    def row(self) -> EntryRow: ...

    @property
    def id(self) -> str: ...

    @property
    def entered_at(self) -> float: ...

    ended: bool


class Conversation:
    def __init__(self, owner: Owner) -> None:
        self.owner = owner
        self.agent: Agent | None = None
        self.agent_channel: ChannelHandle | None = None
        self.bridge: BridgeHandle | None = None
        self.connected_at = 0.0
        self.held = False
        self.commands = Commands()
        """The desktop's commands (QueueSession.command puts them), done by `talk`."""

    async def adopt(self, row: EntryRow) -> Agent | None:
        """After a restart: take back the legs of a call that was already bridged, if both are
        up, and put the caller back with the agent; the agent, or None (not adopted)."""
        acd, owner = self.owner.acd, self.owner
        if not row.agent_channel or not row.agent_id or row.agent_id not in acd.agents:
            return None
        events = acd.client.subscribe(f"channel:{row.agent_channel}")
        channel = ChannelHandle(acd.client.ari, row.agent_channel, events)
        try:
            await channel.get()
        except AriError:
            events.close()
            return None
        self.agent, self.agent_channel = acd.agents[row.agent_id], channel
        self.bridge = acd.client.bridges.handle(row.bridge_id or f"acd-call-{owner.id}")
        await self._back_in_bridge()
        self.connected_at = row.connected_at.timestamp() if row.connected_at else acd.clock()
        return self.agent

    async def _back_in_bridge(self) -> None:
        """After a restart a caller on hold is taken off it: nobody then knows it is held, and
        a caller on hold forever is worse than one back with the agent."""
        assert self.bridge is not None
        owner = self.owner
        try:
            if owner.id not in (await self.bridge.get()).channels:
                await take_off_hold(self.bridge, owner.caller.handle)
        except AriError as exc:
            log.info("could not put %s back with its agent: %s", owner.id, exc)

    async def talk(self) -> Served | TransferredOut | Requeued:
        """Until the agent hangs up (the caller's hangup cancels this), or transfers."""
        assert self.agent_channel is not None and self.agent_channel.events is not None
        typed = ""
        while (item := await self.commands.next_or(self.agent_channel.events)) is not None:
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
        await self.complete(HowEnded.COMPLETEAGENT)
        caller = self.owner.caller
        caller.ended_by(EndedBy.AGENT)
        with contextlib.suppress(AriError):
            await caller.handle.hangup()
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
                done.set_exception(CallControlError(f"call {self.owner.id}: {exc}"))
        return None

    async def _hold(self, hold: bool) -> None:
        """Out of the bridge with the queue's music, or back into it (see control.py)."""
        if hold == self.held or self.bridge is None:
            return
        owner = self.owner
        if hold:
            await put_on_hold(self.bridge, owner.caller.handle, owner.queue.moh)
        else:
            await take_off_hold(self.bridge, owner.caller.handle)
        self.held = hold
        owner.caller.trace("queue_hold" if hold else "queue_unhold", queue=owner.queue.name)
        if self.agent is not None:
            owner.acd.desktops.publish(self.agent.id, CallHold(owner.id, hold))

    async def complete(self, verb: HowEnded, *extra: object) -> None:
        """Log the end of the conversation (`verb`, a queue_log verb, is also the desktop's
        `how`), hang up the agent's leg and start its wrap-up."""
        owner = self.owner
        if owner.ended or self.agent is None:
            return
        owner.ended = True
        acd, queue = owner.acd, owner.queue
        hold = round(self.connected_at - owner.entered_at)
        talk = round(acd.clock() - self.connected_at)
        data = (*extra, hold, talk, owner.row.orig_position)
        await acd.log(acd.event(owner.id, queue.name, self.agent.interface, verb, *data))
        acd.record_handle_time(queue.name, talk + queue.wrapup)
        if self.agent_channel is not None:
            with contextlib.suppress(AriError):
                await self.agent_channel.hangup()
        await acd.call_ended(self.agent, queue, owner.id)
        acd.desktops.publish(self.agent.id, CallEnded(owner.id, verb))
        owner.caller.trace("queue_complete", queue=queue.name, how=verb, talk=talk)

    async def _transfer(self, target: str) -> TransferredOut | Requeued:
        """Blind transfer typed by the agent as ##<target>#: a queue's transfer code re-queues
        the caller there; anything else is an extension of the IVR's dialplan."""
        owner = self.owner
        caller = owner.caller
        if self.held:
            with contextlib.suppress(AriError):
                await caller.handle.stop_moh()
            self.held = False
        queue = owner.acd.config().queue_by_transfer_code(target)
        if queue is not None:
            await self.complete(HowEnded.TRANSFER, target, f"queue:{queue.name}")
            with contextlib.suppress(AriError):
                if self.bridge is not None:
                    await self.bridge.remove(owner.id)
            return Requeued(queue.name)
        caller.ended_by(EndedBy.TRANSFER)
        caller.move(Transferring(target))
        await self.complete(HowEnded.TRANSFER, target, TRANSFER_CONTEXT)
        try:
            await caller.handle.continue_in_dialplan(TRANSFER_CONTEXT, target, 1)
        except AriError as exc:
            log.warning("transfer of %s to %s failed: %s", owner.id, target, exc)
        return TransferredOut(target)


def _transfer_buffer(typed: str) -> str:
    """Keep what may still become ##<digits>#; anything else starts over."""
    while typed and not (typed.startswith("##") or typed in ("#",)):
        typed = typed[1:]
    return typed
