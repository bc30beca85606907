"""Routes events from the single WebSocket reader to ordered per-resource queues.

The reader calls `dispatch` synchronously for every event; dispatch only appends to unbounded
queues, so it never blocks and Asterisk never sees a slow reader. Each subscription is a FIFO, so
one call sees its own events in the order Asterisk sent them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

from .events import Event

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)


class SubscriptionClosed(Exception):
    """The subscription was closed while someone waited on it."""


class Subscription:
    """An ordered stream of the events that concern a set of resources."""

    def __init__(self, router: EventRouter, keys: Iterable[str]) -> None:
        self._router = router
        self.keys: set[str] = set(keys)
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.closed = False

    def _deliver(self, event: Event) -> None:
        if not self.closed:
            self._queue.put_nowait(event)

    def add_key(self, key: str) -> None:
        """Also receive events of another resource (e.g. a bridge the call joined)."""
        self._router._index(self, key)

    async def get(self, timeout: float | None = None) -> Event:
        """Next event; raises TimeoutError after `timeout`, SubscriptionClosed once closed."""
        if self.closed and self._queue.empty():
            raise SubscriptionClosed
        item = await asyncio.wait_for(self._queue.get(), timeout)
        if item is None:
            raise SubscriptionClosed
        return item

    async def wait_for(
        self, kind: type[E], predicate: Callable[[E], bool] | None = None,
        timeout: float | None = None,
    ) -> E:
        """Skip events until one of `kind` (matching `predicate`) arrives."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.get()
                if isinstance(event, kind) and (predicate is None or predicate(event)):
                    return event

    def pending(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._router._remove(self)
        self._queue.put_nowait(None)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self.get()
        except SubscriptionClosed:
            raise StopAsyncIteration from None

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


UnclaimedHandler = Callable[[Event], None]


class EventRouter:
    """Holds subscriptions by routing key; hands unclaimed events to one synchronous handler.

    The unclaimed handler runs inside `dispatch`, so a handler that subscribes to a new channel
    there (an inbound StasisStart) is subscribed before the next event is routed: nothing is lost
    between the StasisStart and the call object taking over.
    """

    def __init__(self) -> None:
        self._by_key: dict[str, set[Subscription]] = {}
        self._unclaimed: UnclaimedHandler | None = None

    def subscribe(self, *keys: str) -> Subscription:
        sub = Subscription(self, ())
        for key in keys:
            self._index(sub, key)
        return sub

    def on_unclaimed(self, handler: UnclaimedHandler | None) -> None:
        self._unclaimed = handler

    def subscribed_keys(self) -> set[str]:
        return set(self._by_key)

    def dispatch(self, event: Event) -> bool:
        """Deliver to every subscription for any of the event's keys; True if someone had it."""
        targets: list[Subscription] = []
        for key in event.routing_keys():
            for sub in self._by_key.get(key, ()):
                if sub not in targets:
                    targets.append(sub)
        for sub in targets:
            sub._deliver(event)
        if targets:
            return True
        if self._unclaimed is not None:
            try:
                self._unclaimed(event)
            except Exception:
                log.exception("unclaimed-event handler failed on %s", event.type)
        return False

    def _index(self, sub: Subscription, key: str) -> None:
        sub.keys.add(key)
        self._by_key.setdefault(key, set()).add(sub)

    def _remove(self, sub: Subscription) -> None:
        for key in sub.keys:
            subs = self._by_key.get(key)
            if subs is None:
                continue
            subs.discard(sub)
            if not subs:
                del self._by_key[key]
