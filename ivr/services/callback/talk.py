"""An agent-first callback's conversation, under the desktop's commands (acd/control.py).

The agent was rung first and the customer dialled and bridged with them (serve.py), so there is
no QueueSession: this object takes the same commands for that bridge. Hold takes the customer
out of the bridge to the queue's music and back; a transfer sends the customer to an extension
of the IVR's dialplan and ends the agent's part. A transfer to a queue is refused (409): the
customer was dialled, not queued, and re-queuing them is not built.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ...ari import AriError, BridgeHandle, ChannelHandle
from ..acd.control import (
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
from ..acd.conversation import TRANSFER_CONTEXT
from ..acd.engine import Acd

__all__ = ["AgentFirstTalk"]


class AgentFirstTalk:
    def __init__(self, acd: Acd, callback_id: str, bridge: BridgeHandle,
                 customer: ChannelHandle, moh: str, on_hold: Callable[[bool], None]) -> None:
        self.id = callback_id
        """What the agent's screen pop called the call: the callback's id."""
        self.acd = acd
        self.bridge = bridge
        self.customer = customer
        self.moh = moh
        self.on_hold = on_hold
        self.held = False
        self.transferred_to: str | None = None
        self.ended = False
        self._commands = Commands()

    def command(self, command: CallCommand) -> asyncio.Future[str]:
        if self.ended or self.transferred_to is not None:
            raise CallControlError(f"callback {self.id} ended")
        return self._commands.put(command)

    async def run(self, *gone: asyncio.Task[None]) -> None:
        """Obey commands until a leg is gone (`gone`) or the customer is transferred."""
        try:
            while self.transferred_to is None:
                command = asyncio.ensure_future(self._commands.next())
                await asyncio.wait({*gone, command}, return_when=asyncio.FIRST_COMPLETED)
                if any(task.done() for task in gone):
                    command.cancel()
                    if command.done() and not command.cancelled():  # taken, never obeyed
                        _fail(command.result(), f"callback {self.id} ended")
                    return
                await self._obey(command.result())
        finally:
            self.ended = True
            self._commands.fail_all(CallControlError(f"callback {self.id} ended"))

    async def _obey(self, item: Command) -> None:
        try:
            match item.command:
                case Hold() | Unhold() as hold:
                    await self._hold(isinstance(hold, Hold))
                    item.done.set_result("held" if self.held else "talking")
                case Transfer(target=target):
                    if self.acd.config().queue_by_transfer_code(target) is not None:
                        raise CallControlError("a callback's customer cannot be queued from "
                                               "the desktop yet: transfer to an extension")
                    await self._hold(False)
                    await self.customer.continue_in_dialplan(TRANSFER_CONTEXT, target, 1)
                    self.transferred_to = target
                    item.done.set_result("transferred")
        except (AriError, CallControlError) as exc:
            if not item.done.done():
                item.done.set_exception(exc if isinstance(exc, CallControlError)
                                        else CallControlError(f"callback {self.id}: {exc}"))

    async def _hold(self, hold: bool) -> None:
        if hold == self.held:
            return
        if hold:
            await put_on_hold(self.bridge, self.customer, self.moh)
        else:
            await take_off_hold(self.bridge, self.customer)
        self.held = hold
        self.on_hold(hold)


def _fail(command: Command, why: str) -> None:
    if not command.done.done():
        command.done.set_exception(CallControlError(why))
