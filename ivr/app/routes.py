"""The Stasis route registry: which entry takes a channel that entered the application.

The dialplan says what a channel is with its first Stasis argument (`Stasis(ivr,mailbox)`,
`Stasis(ivr,agent,...)`, a flow's name, or nothing for the default flow). Each service's entry is
registered for the arguments it owns; channels that no argument claims go to the default
entry (the flows). The registry runs inside the ARI reader: it subscribes to the channel before
the next event is routed (stage, subscribe, then execute), so no key or hangup of the channel is
missed, and hands the entry a handle whose `events` are already flowing.

An entry that raises, or whose work fails, gets the safe fallback: logged, and the channel hung
up (or sent on in the dialplan where the route says so), never left sitting in Stasis.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from ..ari import AriClient, AriError, ChannelHandle, Event, StasisStart

log = logging.getLogger(__name__)

Work = Coroutine[Any, Any, None]
Entry = Callable[[StasisStart, ChannelHandle], Work | None]
"""entry(event, handle) -> the work to run for the channel (spawned and guarded by the
registry), or None when the entry started its own (the flows' supervisor owns its calls)."""
Matcher = Callable[[StasisStart], bool]


class Fallback(enum.Enum):
    HANG_UP = "hang_up"
    CONTINUE = "continue"
    """Continue in the dialplan where the channel came from (a feature the IVR cannot serve
    now falls back to plain dialplan)."""


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    entry: Entry
    fallback: Fallback = Fallback.HANG_UP
    subscribe: bool = True
    """False for an entry that never reads the channel's events (a stray leg hung up)."""


class StasisRoutes:
    def __init__(self, client: AriClient) -> None:
        self.client = client
        self._by_arg: dict[str, Route] = {}
        self._matchers: list[tuple[Matcher, Route]] = []
        self._default: Route | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    # registering -------------------------------------------------------------------------

    def add(self, arg: str, route: Route) -> None:
        """The channels whose first Stasis argument is `arg`."""
        if arg in self._by_arg:
            raise ValueError(f"Stasis argument {arg!r} is taken by {self._by_arg[arg].name}")
        self._by_arg[arg] = route

    def add_matcher(self, matcher: Matcher, route: Route) -> None:
        """Channels recognised otherwise (a listener leg left over from a restart)."""
        self._matchers.append((matcher, route))

    def set_default(self, route: Route) -> None:
        self._default = route

    def owners(self) -> dict[str, str]:
        """Stasis argument -> the route that owns it (for logs and docs)."""
        return {arg: route.name for arg, route in sorted(self._by_arg.items())}

    # routing -----------------------------------------------------------------------------

    def route_of(self, event: StasisStart) -> Route | None:
        if event.args and event.args[0] in self._by_arg:
            return self._by_arg[event.args[0]]
        for matcher, route in self._matchers:
            if matcher(event):
                return route
        return self._default

    def on_unclaimed(self, event: Event) -> None:
        """The ARI client's hook for events no subscription claims; runs inside the reader."""
        if not isinstance(event, StasisStart):
            log.debug("unclaimed %s", event.type)
            return
        channel_id = event.channel.id
        route = self.route_of(event)
        if route is None:
            log.error("no route for channel %s (Stasis args %s): hanging it up",
                      channel_id, list(event.args))
            self._spawn(self._fall_back(self.client.channels.handle(channel_id),
                                        Fallback.HANG_UP))
            return
        handle = self.client.channels.handle(channel_id, subscribe=route.subscribe)
        events = handle.events
        try:
            work = route.entry(event, handle)
        except Exception:
            log.exception("route %s failed to take channel %s", route.name, channel_id)
            if events is not None:
                events.close()
            self._spawn(self._fall_back(handle, route.fallback))
            return
        if work is not None:
            self._spawn(self._guarded(route, handle, work))

    async def _guarded(self, route: Route, handle: ChannelHandle, work: Work) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("route %s failed on channel %s", route.name, handle.id)
            await self._fall_back(handle, route.fallback)
        finally:
            if handle.events is not None:
                handle.events.close()

    async def _fall_back(self, handle: ChannelHandle, fallback: Fallback) -> None:
        with contextlib.suppress(AriError):
            if fallback is Fallback.CONTINUE:
                await handle.continue_in_dialplan()
            else:
                await handle.hangup()

    def _spawn(self, work: Work) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
