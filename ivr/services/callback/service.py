"""Callbacks: the promise to call a customer back, kept across busy agents, closed hours,
unanswered phones and restarts.

A request is stored at once (store.py). Each second the service looks at the pending ones: an
expired one is closed, one outside the customer's calling window waits for the window, and
one that is due joins the ACD's dispatcher as a CallbackEntry at the place its caller had.
When its turn comes the dispatcher offers it and `serve` dials (serve.py): agent-first or
customer-first by the queue's policy. Every dial is an attempt row; a failed one is retried
after the policy's back-off until the attempts or the time run out. The do-not-call list is
checked when the request is made; before every dial the compliance gate (outbound/gate.py,
with the `callback` rule set) answers, as it does for every campaign's dial: `clear()`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable

from ...ari import AriClient
from ..acd.agents import Agent
from ..acd.config import QueueConfig
from ..acd.config_callback import valid_timezone
from ..acd.engine import Acd
from ..acd.store import EntryState
from ..outbound.config_rules import shipped_rule_sets
from ..outbound.gate import Clearance, DialRequest, Verdict, clearance
from ..outbound.rules import RuleSet
from ..outbound.store import OutboundStore
from .entry import CallbackEntry
from .schedule import first_attempt_at, next_window_start, retry_at, timezone_for
from .serve import MessageMedia, serve
from .store import (
    ACTIVE,
    Attempt,
    Callback,
    CallbackState,
    CallbackStore,
    new_callback_id,
    normalize_number,
)
from .talk import AgentFirstTalk

log = logging.getLogger(__name__)

__all__ = ["CallbackRefused", "Callbacks"]

COUNTED = frozenset({"no_answer", "busy", "failed", "not_connected"})
"""Results that use up one of the policy's attempts; the others (the agent went, the app
stopped) put the callback straight back in line."""
RETRY_SOON = 5.0

class CallbackRefused(Exception):
    """A request that cannot be promised: unknown queue, no number, or do-not-call."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Callbacks:
    def __init__(self, client: AriClient, acd: Acd, store: CallbackStore, *, dial: str,
                 message_media: MessageMedia | None = None,
                 rules: Callable[[], RuleSet] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.acd = acd
        self.store = store
        self.dial = dial
        """Dial string template for a customer, with {number}, e.g. PJSIP/{number}@trunk."""
        self.message_media = message_media
        shipped = shipped_rule_sets()["callback"]
        self.rules = rules or (lambda: shipped)
        """The gate's rule set for callbacks (the shipped `callback` one)."""
        self.lookups = OutboundStore(store.db)
        """What the gate reads of a number: do-not-call lists and past dials."""
        self.clock = clock
        self.active: dict[str, Callback] = {}
        self.talking: dict[str, AgentFirstTalk] = {}
        """Agent id -> its agent-first callback conversation (serve.py), for the desktop."""
        self.entries: dict[str, CallbackEntry] = {}
        self._loop: asyncio.Task[None] | None = None
        self._serving: set[asyncio.Task[None]] = set()
        self.stopping = False

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    async def clear(self, entry: CallbackEntry) -> Clearance | Verdict:
        """The gate's answer for dialling this callback now."""
        cb = entry.cb
        return clearance(DialRequest(
            number=cb.number, zone=cb.timezone, agent_reserved=entry.claims_agents,
            history=await self.lookups.history(cb.number),
            dnc=await self.lookups.dnc_hits("", cb.number)), self.rules(), self.now())

    def queue(self, name: str) -> QueueConfig | None:
        return self.acd.config().queues.get(name)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Take up the pending callbacks; a dial the last process did not finish is retried."""
        for cb in await self.store.find(states=ACTIVE):
            if cb.state is CallbackState.DIALING:
                now = self.now()
                await self.store.add_attempt(Attempt(cb.id, cb.attempts + 1, cb.updated_at, now,
                                                     "interrupted", cb.agent_id,
                                                     detail="app restarted"))
                cb.state, cb.agent_id = CallbackState.PENDING, ""
                cb.next_attempt_at = cb.updated_at = now
                await self.store.update(cb)
            self.active[cb.id] = cb
        self._loop = asyncio.create_task(self._run(), name="callbacks")

    async def stop(self) -> None:
        self.stopping = True
        tasks = [t for t in (self._loop, *self._serving) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for entry in list(self.entries.values()):
            self.unlist(entry)

    # -- requests ----------------------------------------------------------------------------

    async def request(self, queue: str, number: str, *, caller: str = "", language: str = "",
                      source: str = "node", priority: int | None = None,
                      entered_at: dt.datetime | None = None, orig_position: int = 1,
                      not_before: dt.datetime | None = None, message_id: str = "",
                      timezone: str | None = None) -> Callback:
        config = self.queue(queue)
        if config is None:
            raise CallbackRefused("unknown_queue", f"no queue named {queue!r}")
        number = normalize_number(number)
        if len(number.lstrip("+")) < 3:
            raise CallbackRefused("bad_number", f"{number!r} is not a number to call")
        if await self.store.dnc_contains(number):
            raise CallbackRefused("dnc", f"{number} is on the do-not-call list")
        if timezone is not None and not valid_timezone(timezone):
            raise CallbackRefused("bad_timezone", f"unknown time zone {timezone!r}")
        policy = config.callback
        zone = timezone or timezone_for(number, policy)
        now = self.now()
        first = first_attempt_at(now, not_before, policy, zone)
        cb = Callback(
            id=new_callback_id(), queue=queue, number=number, timezone=zone,
            entered_at=entered_at or now, next_attempt_at=first,
            expires_at=max(now, not_before or now) + dt.timedelta(seconds=policy.expire_after),
            created_at=now, updated_at=now, source=source, caller=caller, language=language,
            priority=config.priority if priority is None else priority,
            orig_position=orig_position, message_id=message_id, not_before=not_before)
        await self.store.create(cb)
        self.active[cb.id] = cb
        log.info("callback %s to %s for queue %s, first try %s", cb.id, number, queue,
                 first.isoformat())
        self.wake()
        return cb

    async def cancel(self, callback_id: str) -> Callback | None:
        """Cancel a pending callback (one being dialled finishes its attempt first)."""
        cb = self.active.get(callback_id) or await self.store.get(callback_id)
        if cb is None or cb.state not in ACTIVE:
            return cb
        entry = self.entries.get(cb.id)
        if entry is not None and entry.task is not None:
            entry.task.cancel()
            await asyncio.gather(entry.task, return_exceptions=True)
        await self._close(cb, CallbackState.CANCELLED, "cancelled")
        return cb

    async def reschedule(self, callback_id: str, when: dt.datetime) -> Callback | None:
        cb = self.active.get(callback_id)
        if cb is None or cb.state is not CallbackState.PENDING:
            return cb or await self.store.get(callback_id)
        config = self.queue(cb.queue)
        entry = self.entries.get(cb.id)
        if entry is not None and entry.task is None:
            self.unlist(entry)
        cb.not_before = when
        policy = config.callback if config else None
        cb.next_attempt_at = next_window_start(when, policy, cb.timezone) if policy else when
        if policy is not None:
            cb.expires_at = max(cb.expires_at,
                                when + dt.timedelta(seconds=policy.expire_after))
        cb.updated_at = self.now()
        await self.store.update(cb)
        self.wake()
        return cb

    # -- the loop ----------------------------------------------------------------------------

    def wake(self) -> None:
        self.acd.wake()

    async def _run(self) -> None:
        while not self.stopping:
            try:
                await self.tick()
            except Exception:
                log.exception("callback scheduling failed")
            await asyncio.sleep(1.0)

    async def tick(self) -> None:
        """Close the expired, move the out-of-window ones on, list the due ones."""
        now = self.now()
        for cb in list(self.active.values()):
            entry = self.entries.get(cb.id)
            if cb.state is not CallbackState.PENDING or (entry is not None
                                                         and entry.task is not None):
                continue
            config = self.queue(cb.queue)
            if now >= cb.expires_at:
                if entry is not None:
                    self.unlist(entry)
                await self._close(cb, CallbackState.EXPIRED, "expired")
            elif config is None or cb.next_attempt_at > now:
                if entry is not None:
                    self.unlist(entry)
            elif (opens := next_window_start(now, config.callback, cb.timezone)) > now:
                if entry is not None:
                    self.unlist(entry)
                cb.next_attempt_at, cb.updated_at = opens, now
                await self.store.update(cb)
            elif entry is None:
                entry = CallbackEntry(self.acd, cb, config, self._start_serving)
                self.entries[cb.id] = entry
                self.acd.sessions[cb.id] = entry
                self.acd.wake()

    def unlist(self, entry: CallbackEntry) -> None:
        self.entries.pop(entry.id, None)
        if self.acd.sessions.get(entry.id) is entry:
            del self.acd.sessions[entry.id]

    # -- serving -----------------------------------------------------------------------------

    def _start_serving(self, entry: CallbackEntry, group: list[Agent]) -> asyncio.Task[None]:
        task = asyncio.create_task(serve(self, entry, group), name=f"callback-{entry.id}")
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)
        return task

    async def dialling(self, cb: Callback, agent: str = "") -> None:
        cb.state, cb.agent_id, cb.updated_at = CallbackState.DIALING, agent, self.now()
        await self.store.update(cb)

    async def back_in_line(self, entry: CallbackEntry) -> None:
        """Nobody took it (the agents did not answer): it waits for the next offer."""
        entry.task = None
        entry.state = EntryState.WAITING
        self.acd.wake()

    async def settle(self, entry: CallbackEntry, result: str, *, started: dt.datetime,
                     agent: str = "", channel: str = "", detail: str = "") -> None:
        """Record the attempt and decide what comes next: done, retried later, or given up."""
        cb = entry.cb
        now = self.now()
        counted = result in COUNTED
        if counted:
            cb.attempts += 1
        await self.store.add_attempt(Attempt(cb.id, cb.attempts + (0 if counted else 1), started,
                                             now, result, agent, channel, detail))
        self.unlist(entry)
        if cb.id not in self.active:  # closed while the attempt ran (cancelled): it stays so
            await self.store.update(cb)
            self.acd.wake()
            return
        config = self.queue(cb.queue)
        if result == "answered":
            await self._close(cb, CallbackState.COMPLETED, "answered")
        elif result == "abandoned":
            await self._close(cb, CallbackState.COMPLETED, "abandoned")
        elif result == "dnc":
            await self._close(cb, CallbackState.BLOCKED, "dnc")
        elif counted and (config is None or cb.attempts >= config.callback.attempts):
            await self._close(cb, CallbackState.EXPIRED, f"attempts ({result})")
        else:
            if counted and config is not None:
                cb.next_attempt_at = retry_at(cb.attempts, now, config.callback, cb.timezone)
            else:
                cb.next_attempt_at = now + dt.timedelta(seconds=RETRY_SOON)
            if cb.next_attempt_at >= cb.expires_at:
                await self._close(cb, CallbackState.EXPIRED, f"expired ({result})")
                return
            cb.state, cb.agent_id, cb.updated_at = CallbackState.PENDING, "", now
            await self.store.update(cb)
            log.info("callback %s: %s; next try %s", cb.id, result,
                     cb.next_attempt_at.isoformat())
        self.acd.wake()

    async def _close(self, cb: Callback, state: CallbackState, outcome: str) -> None:
        entry = self.entries.get(cb.id)
        if entry is not None:
            self.unlist(entry)
        cb.state, cb.outcome, cb.updated_at = state, outcome, self.now()
        self.active.pop(cb.id, None)
        try:
            await self.store.update(cb)
        except Exception:
            log.exception("could not store callback %s as %s", cb.id, state)
        log.info("callback %s %s (%s)", cb.id, state, outcome)
