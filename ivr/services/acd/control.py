"""What an agent's desktop may do to the call it is on: hold it, take it off hold, transfer it.

The phone can already transfer (`##<target>#`); the desktop sends the same through REST. A
command does not touch the legs itself: it is queued to the conversation's own loop
(conversation.py, Conversation.talk), which owns the caller's and the agent's channels, so a
command and a hangup or a DTMF transfer are never applied at once. The command's future says
how it went.

Hold takes the caller out of the conversation's bridge and plays the queue's music to them
alone: the agent hears silence and the caller hears neither the agent nor the room. Back off
hold, the caller rejoins the same bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from typing import TypeAlias

from ...ari import AriError, BridgeHandle, ChannelHandle, Event, Subscription

__all__ = ["CallCommand", "CallControlError", "Command", "Commands", "Hold", "Transfer",
           "Unhold", "check_target", "put_on_hold", "take_off_hold"]

_TARGET = re.compile(r"[0-9*]{1,20}")


class CallControlError(Exception):
    """The command cannot be done: no conversation, the call ended, a bad target."""


@dataclass(frozen=True, slots=True)
class Hold:
    pass


@dataclass(frozen=True, slots=True)
class Unhold:
    pass


@dataclass(frozen=True, slots=True)
class Transfer:
    target: str
    """A queue's transfer code (the caller is queued there) or an extension of the IVR's
    dialplan, exactly as the agent would key it after ##."""


CallCommand: TypeAlias = Hold | Unhold | Transfer


def check_target(target: object) -> str:
    """A transfer target as the phone could key it: 1-20 of 0-9 and *."""
    if not isinstance(target, str) or not _TARGET.fullmatch(target):
        raise CallControlError("a transfer target is 1-20 of 0-9 and * (a queue's transfer "
                               "code or an extension)")
    return target


@dataclass(frozen=True, slots=True)
class Command:
    command: CallCommand
    done: asyncio.Future[str]
    """What the desktop hears back: the call's new state, or CallControlError."""


class Commands:
    """A conversation's queue of desktop commands, read together with its agent leg's events."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Command] = asyncio.Queue()

    def put(self, command: CallCommand) -> asyncio.Future[str]:
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(Command(command, done))
        return done

    async def next_or(self, events: Subscription) -> Event | Command | None:
        """The leg's next event or the next command, whichever comes first (an event that
        came at the same time goes first); None once the leg's events are closed."""
        event = asyncio.ensure_future(events.get())
        command = asyncio.ensure_future(self._queue.get())
        try:
            await asyncio.wait({event, command}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (event, command):
                if not task.done():
                    task.cancel()
        event_came = event.done() and not event.cancelled()
        if command.done() and not command.cancelled():
            if not (event_came and event.exception() is None):
                return command.result()
            self._queue.put_nowait(command.result())  # taken at the next call
        if event.exception() is not None:
            return None  # SubscriptionClosed: the leg is gone
        return event.result()

    async def next(self) -> Command:
        """The next command (for a conversation that watches its legs another way)."""
        return await self._queue.get()

    def fail_all(self, error: CallControlError) -> None:
        """The conversation ended: every command still queued fails with `error`."""
        while not self._queue.empty():
            done = self._queue.get_nowait().done
            if not done.done():
                done.set_exception(error)


async def put_on_hold(bridge: BridgeHandle, channel: ChannelHandle, moh: str) -> None:
    """The channel out of the conversation's bridge, hearing the music class `moh` alone."""
    await bridge.remove(channel.id)
    await channel.start_moh(moh)


async def take_off_hold(bridge: BridgeHandle, channel: ChannelHandle) -> None:
    """The channel's music off (it may have none: a restart) and back into the bridge."""
    with contextlib.suppress(AriError):
        await channel.stop_moh()
    await bridge.add(channel.id)
