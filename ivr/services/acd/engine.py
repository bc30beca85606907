"""The ACD: agents' states, the dispatcher that matches waiting callers with free agents, the
queue log, and what the REST API and the agents' desktops see.

One `Acd` per process. Callers enter through `wait()` (session.py), which runs inside the
caller's own flow task: a caller's hangup cancels it, and everything it started (announcements,
rings, the bridge) is released there. The dispatcher is one task that wakes on every change
(a caller joins, an agent frees up) and at least once a second (skills widen with wait time);
its pass is in dispatch.py. What waits in `sessions` is described in entries.py, what the
desktops hear in desktop.py.

Everything that must survive a restart is written through `AcdStore` as it changes: agents'
states and the queue entries (restart.py settles those whose callers left meanwhile). The
queue log goes to the database (KPIs) and, in Asterisk's `queue_log` format, to a file that
existing reporting tools read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ...ari import AriClient
from ...media.prompts import PromptLibrary
from . import queue_log as ql
from .agents import Agent, AgentState
from .config import AcdConfig, QueueConfig
from .desktop import AgentStateEvent, Changes, Desktops
from .dispatch import offer_waiting
from .entries import QueueEntry
from .intervals import KEPT_INTERVALS_S, IntervalSummaries
from .queue_log import QueueLogEvent, QueueLogFile
from .store import AcdStore, EntryState

log = logging.getLogger(__name__)

AUTO_PAUSE_REASON = "auto:no-answer"


class AgentError(Exception):
    """A login/logout/pause request that cannot be done (unknown agent, not logged in...)."""


class Acd:
    def __init__(self, client: AriClient, store: AcdStore, config: Callable[[], AcdConfig],
                 prompts: PromptLibrary, *, log_file: Path | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.store = store
        self.config = config
        self.prompts = prompts
        self.clock = clock
        self.log_file = QueueLogFile(log_file) if log_file is not None else None
        self.agents: dict[str, Agent] = {}
        self.sessions: dict[str, QueueEntry] = {}
        """Id -> what waits in a queue now: a QueueSession (session.py) per caller on the line,
        a CallbackEntry (services/callback) per callback whose turn may come (entries.py)."""
        self.desktops = Desktops()
        """The agents' desktops listening (web_acd's WebSocket), and what is sent to them."""
        self.intervals = IntervalSummaries(store.db)
        """Per-interval KPI sums, added to as the queue log is written (wallboards read them)."""
        self.changes = Changes()
        self.last_agent: dict[str, str] = {}
        self.stopping = False
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._log_lock = asyncio.Lock()
        self._handle_times: dict[str, list[float]] = {}
        self._synced: AcdConfig | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Load agents' states (the ones the config still names) and start dispatching."""
        rows = {row.agent_id: row for row in await self.store.agents()}
        await self.intervals.load(since=self.clock() - KEPT_INTERVALS_S)
        self.sync_agents()
        now = self.clock()
        for agent_id, agent in self.agents.items():
            row = rows.get(agent_id)
            if row is None:
                continue
            restored = Agent.from_row(agent.config, row)
            if restored.state in (AgentState.RINGING, AgentState.ON_CALL):
                restored.set(AgentState.WRAP_UP, now)  # its call is re-adopted or gone
            self.agents[agent_id] = restored
            if restored.state is AgentState.WRAP_UP:
                self._start_wrapup(restored, 0.0 if row.state == "wrap_up" else 1.0)
        self._dispatcher = asyncio.create_task(self._dispatch_forever(), name="acd-dispatcher")

    def sync_agents(self) -> None:
        """Follow a reloaded config: new agents appear logged out, removed ones are dropped
        (unless busy: they finish their call first)."""
        cfg = self.config()
        for agent_id, agent_cfg in cfg.agents.items():
            if agent_id in self.agents:
                self.agents[agent_id].config = agent_cfg
            else:
                self.agents[agent_id] = Agent(agent_cfg, state_since=self.clock())
        for agent_id in [a for a in self.agents if a not in cfg.agents]:
            if self.agents[agent_id].state not in (AgentState.RINGING, AgentState.ON_CALL):
                del self.agents[agent_id]

    async def stop(self) -> None:
        """Stop dispatching. Callers still waiting keep their entries (set `stopping` first:
        their sessions then leave them in the database for the next process)."""
        self.stopping = True
        for task in [self._dispatcher, *self._timers.values()]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*[t for t in [self._dispatcher, *self._timers.values()] if t],
                             return_exceptions=True)

    def wake(self) -> None:
        self._wake.set()


    # -- queue log ---------------------------------------------------------------------------

    async def log(self, *events: QueueLogEvent) -> None:
        """Write events to the database and the file; a failure is logged, never raised (the
        call must go on even if reporting cannot)."""
        async with self._log_lock:
            try:
                await self.store.append_log(events)
            except Exception:
                log.exception("could not store queue_log events")
            try:
                await self.intervals.add(events, self._service_level)
            except Exception:
                log.exception("could not add queue_log events to the interval summaries")
            self.changes.notify()
            if self.log_file is not None:
                try:
                    await asyncio.to_thread(self.log_file.append, list(events))
                except OSError:
                    log.exception("could not write the queue_log file")

    def _service_level(self, queue: str) -> float:
        found = self.config().queues.get(queue)
        return found.service_level if found is not None else 20.0

    def event(self, call_id: str, queue: str, agent: str, verb: str,
              *data: object) -> QueueLogEvent:
        return QueueLogEvent(self.clock(), call_id or "NONE", queue or "NONE", agent or "NONE",
                             verb, tuple(str(d) for d in data))

    # -- agents ------------------------------------------------------------------------------

    def agent(self, agent_id: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise AgentError(f"unknown agent {agent_id!r}")
        return agent

    def agent_by_endpoint(self, endpoint: str) -> Agent | None:
        return next((a for a in self.agents.values() if a.config.endpoint == endpoint), None)

    def queues_of(self, agent: Agent) -> list[QueueConfig]:
        cfg = self.config()
        return [q for q in cfg.queues.values() if agent.config in cfg.agents_of(q)]

    async def _save(self, agent: Agent) -> None:
        try:
            await self.store.save_agent(agent.row())
        except Exception:
            log.exception("could not save agent %s", agent.id)
        self.desktops.publish(agent.id, AgentStateEvent.of(agent, self.clock()))
        self.changes.notify()

    async def _member_event(self, agent: Agent, verb: str, *data: object) -> None:
        names = [q.name for q in self.queues_of(agent)] or ["NONE"]
        await self.log(*(self.event("NONE", name, agent.interface, verb, *data)
                         for name in names))

    async def login(self, agent_id: str) -> Agent:
        agent = self.agent(agent_id)
        if agent.logged_in:
            return agent
        now = self.clock()
        agent.set(AgentState.AVAILABLE, now)
        agent.logged_in_at = agent.idle_since = now
        agent.pause_reason, agent.missed_in_row, agent.pending = "", 0, ""
        await self._member_event(agent, ql.ADDMEMBER)
        await self._save(agent)
        log.info("agent %s logged in", agent.id)
        self.wake()
        return agent

    async def logout(self, agent_id: str) -> Agent:
        agent = self.agent(agent_id)
        if not agent.logged_in:
            return agent
        if agent.state in (AgentState.RINGING, AgentState.ON_CALL):
            agent.pending = "logout"
            await self._save(agent)
            return agent
        await self._cut_wrapup(agent)
        agent.set(AgentState.LOGGED_OUT, self.clock())
        agent.logged_in_at, agent.pause_reason, agent.pending = None, "", ""
        await self._member_event(agent, ql.REMOVEMEMBER)
        await self._save(agent)
        log.info("agent %s logged out", agent.id)
        self.wake()
        return agent

    async def pause(self, agent_id: str, reason: str = "") -> Agent:
        agent = self.agent(agent_id)
        if not agent.logged_in:
            raise AgentError(f"agent {agent_id} is not logged in")
        if agent.state in (AgentState.RINGING, AgentState.ON_CALL):
            agent.pending = f"pause:{reason}"
            await self._save(agent)
            return agent
        if agent.state is AgentState.PAUSED and agent.pause_reason == reason:
            return agent
        await self._cut_wrapup(agent)
        agent.set(AgentState.PAUSED, self.clock())
        agent.pause_reason = reason
        await self._member_event(agent, ql.PAUSE, reason)
        await self._save(agent)
        log.info("agent %s paused (%s)", agent.id, reason or "no reason")
        self.wake()
        return agent

    async def unpause(self, agent_id: str) -> Agent:
        agent = self.agent(agent_id)
        if agent.pending.startswith("pause:"):
            agent.pending = ""
        if agent.state is not AgentState.PAUSED:
            await self._save(agent)
            return agent
        reason = agent.pause_reason
        now = self.clock()
        agent.set(AgentState.AVAILABLE, now)
        agent.idle_since, agent.pause_reason, agent.missed_in_row = now, "", 0
        await self._member_event(agent, ql.UNPAUSE, reason)
        await self._save(agent)
        log.info("agent %s unpaused", agent.id)
        self.wake()
        return agent

    async def reserve(self, agents: Sequence[Agent], call_id: str) -> None:
        now = self.clock()
        for agent in agents:
            agent.set(AgentState.RINGING, now)
            agent.call_id = call_id
            await self._save(agent)

    async def ring_failed(self, agent: Agent, queue: QueueConfig, call_id: str,
                          ring_ms: int, *, answered_elsewhere: bool = False) -> None:
        """Back to available; a real miss (not ring-all's losers) counts towards auto-pause."""
        agent.call_id = ""
        if agent.state is AgentState.RINGING:
            agent.set(AgentState.AVAILABLE, self.clock())
        verb = ql.RINGCANCELED if answered_elsewhere else ql.RINGNOANSWER
        await self.log(self.event(call_id, queue.name, agent.interface, verb, ring_ms))
        if not answered_elsewhere:
            agent.missed_in_row += 1
        if await self._apply_pending(agent):  # what the agent or a supervisor asked comes first
            return
        if not answered_elsewhere and queue.auto_pause_after \
                and agent.missed_in_row >= queue.auto_pause_after:
            log.warning("agent %s missed %d offers in a row: paused", agent.id,
                        agent.missed_in_row)
            await self.pause(agent.id, AUTO_PAUSE_REASON)
            return
        await self._save(agent)
        self.wake()

    async def answered(self, agent: Agent, call_id: str, *, adopted: bool = False) -> None:
        """On the call; `adopted`: a call taken back after a restart, already counted."""
        agent.set(AgentState.ON_CALL, self.clock())
        agent.call_id = call_id
        if not adopted:
            agent.calls_taken += 1
            agent.missed_in_row = 0
        await self._save(agent)

    async def released(self, agent: Agent) -> None:
        """Free again at once, no after-call work (a callback whose customer did not answer)."""
        agent.call_id = ""
        self._cancel_timer(agent.id)
        await self._free(agent)

    async def call_ended(self, agent: Agent, queue: QueueConfig, call_id: str) -> None:
        """After-call work for the queue's wrap-up time, then free (or a pending pause)."""
        agent.call_id = ""
        agent.set(AgentState.WRAP_UP, self.clock())
        await self._save(agent)
        self._start_wrapup(agent, queue.wrapup, queue.name, call_id)

    def _start_wrapup(self, agent: Agent, seconds: float, queue: str = "NONE",
                      call_id: str = "NONE") -> None:
        self._cancel_timer(agent.id)
        agent.wrapup_of = (queue, call_id)
        task = asyncio.create_task(self._wrapup(agent, seconds, queue, call_id),
                                   name=f"wrapup-{agent.id}")
        self._timers[agent.id] = task

    async def _wrapup(self, agent: Agent, seconds: float, queue: str, call_id: str) -> None:
        try:
            await asyncio.sleep(seconds)
        finally:
            if self._timers.get(agent.id) is asyncio.current_task():
                del self._timers[agent.id]
        if agent.state is not AgentState.WRAP_UP:
            return
        agent.wrapup_of = None
        await self.log(self.event(call_id, queue, agent.interface, ql.ACW, round(seconds)))
        await self._free(agent)

    async def _free(self, agent: Agent) -> None:
        """Available for the next call, unless a pause or logout was asked for meanwhile."""
        if await self._apply_pending(agent):
            return
        now = self.clock()
        agent.set(AgentState.AVAILABLE, now)
        agent.idle_since = now
        await self._save(agent)
        self.wake()

    async def _apply_pending(self, agent: Agent) -> bool:
        pending, agent.pending = agent.pending, ""
        if pending == "logout":
            agent.set(AgentState.AVAILABLE, self.clock())
            await self.logout(agent.id)
            return True
        if pending.startswith("pause:"):
            agent.set(AgentState.AVAILABLE, self.clock())
            await self.pause(agent.id, pending[6:])
            return True
        return False

    async def _cut_wrapup(self, agent: Agent) -> None:
        """A pause or logout ends after-call work early: log the ACW it really took."""
        self._cancel_timer(agent.id)
        if agent.state is AgentState.WRAP_UP and agent.wrapup_of:
            queue, call_id = agent.wrapup_of
            seconds = round(max(0.0, self.clock() - agent.state_since))
            await self.log(self.event(call_id, queue, agent.interface, ql.ACW, seconds))
        agent.wrapup_of = None

    def _cancel_timer(self, agent_id: str) -> None:
        task = self._timers.pop(agent_id, None)
        if task is not None:
            task.cancel()

    # -- dispatching -------------------------------------------------------------------------

    async def _dispatch_forever(self) -> None:
        while not self.stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):  # wait_for may swallow a cancel (3.11)
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.dispatch()
                for entry in list(self.sessions.values()):
                    entry.refresh_place()  # positions move as others leave or jump ahead
            except Exception:
                log.exception("dispatch failed")

    def position(self, item: QueueEntry) -> int:
        """1 + how many wait ahead of `item` in its queue (callers and due callbacks)."""
        return 1 + sum(1 for s in self.sessions.values()
                       if s.queue.name == item.queue.name and s.state is not EntryState.CONNECTED
                       and s.order < item.order)

    def members(self, queue: QueueConfig) -> list[Agent]:
        ids = {a.id for a in self.config().agents_of(queue)}
        return [a for a in self.agents.values() if a.id in ids]

    def staffed(self, queue: QueueConfig) -> list[Agent]:
        """Logged in and not paused: the agents a wait estimate counts on."""
        return [a for a in self.members(queue) if a.staffed]

    def present(self, queue: QueueConfig) -> bool:
        """Anyone logged in (a paused agent comes back): a queue worth joining."""
        return any(a.logged_in for a in self.members(queue))

    async def dispatch(self) -> None:
        """Follow a reloaded config, then offer each waiting caller, best first, to the agents
        its queue's strategy picks (dispatch.py)."""
        cfg = self.config()
        if cfg is not self._synced:
            self.sync_agents()
            self._synced = cfg
        await offer_waiting(self, cfg)

    # -- reporting ---------------------------------------------------------------------------

    def handle_times(self, queue: str) -> list[float]:
        """Recent handle times (talk + wrap-up) in this queue, for wait estimates."""
        return list(self._handle_times.get(queue, ()))

    def record_handle_time(self, queue: str, seconds: float) -> None:
        recent = self._handle_times.setdefault(queue, [])
        recent.append(seconds)
        del recent[:-20]

    async def load_handle_times(self) -> None:
        """Seed the estimates from the last completed calls in the log."""
        self._handle_times = {}
        since = self.clock() - 24 * 3600
        completed = (ql.COMPLETECALLER, ql.COMPLETEAGENT, ql.TRANSFER)
        for event in await self.store.log_events(since=since):
            if event.event in completed and len(event.data) >= 2:
                with contextlib.suppress(ValueError):
                    seconds = float(event.data[1 if event.event != ql.TRANSFER else 3])
                    wrap = self.config().queues.get(event.queue)
                    self.record_handle_time(event.queue,
                                            seconds + (wrap.wrapup if wrap else 0.0))
