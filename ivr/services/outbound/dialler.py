"""The live dialler: each second, for each running campaign, pace, ask the gate, and dial.

A pass measures the moment (the campaign queue's agents, the inbound callers waiting for them,
the dialler's own calls in flight) into a `pacing.PacingSnapshot`, and the same `decide()` the
simulator runs says how many calls to place. For that many due contacts it asks the compliance
gate (`gate.clearance`) with what the database knows of the number: a refusal is stored as an
attempt (dnc, outside_window or blocked, with the gate's reason codes) and the contact waits for
the gate's `retry_at` or is done; a clearance is the only way to `dial()`. Each placed call runs
as `call.run_attempt` in a task the dialler owns; its outcome is stored as the attempt and the
contact is retried after the campaign's back-off for that result, until its attempts run out.

Which campaigns run is stored (outbound_runs): a supervisor starts and stops them, and a
restarted service goes on with the running ones; contacts a stopped process left `dialling`
are due again. A preview campaign is not paced: its contacts are offered to free agents, who
accept or skip them (previews.py; the accepted call is preview.py). An agentless campaign is
paced by `max_channels` alone, and its answered humans hear its flow (call.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...ari import AriClient
from ..acd.agents import Agent, AgentState
from ..acd.desktop import OutboundOrigin, OutboundTry, PreviewOffer
from ..acd.engine import Acd
from ..acd.queue_log import OUTBOUND, QueueLogEvent
from ..acd.store import EntryState
from .board import Today, campaign_board
from .call import AttemptPlan, Outcome, Phase, RunFlow, run_attempt
from .campaign import CampaignConfig, Campaigns, policy_of
from .gate import REASONS, Clearance, DialRequest, PastAttempt, Verdict, clearance
from .pacing import Decision, PacingSnapshot, PacingStats, decide
from .preview import run_preview
from .previews import PreviewDesk
from .rules import RuleSet
from .store import AttemptRow, Contact, OutboundStore

log = logging.getLogger(__name__)

__all__ = ["DIALLED_MODES", "CampaignNotFound", "Dialler", "LiveCall"]

DIALLED_MODES = ("progressive", "predictive", "agentless")
"""The modes this dialler paces; preview campaigns offer contacts to agents (previews.py)."""
PASS_INTERVAL = 1.0
STATS_TTL = 10.0
"""Seconds the abandonment counts of a campaign are reused between passes."""
CLOCK_REASONS = frozenset({"holiday", "closed_day", "outside_window", "night_no_consent"})
DNC_REASONS = frozenset({"dnc_internal", "dnc_campaign", "dnc_national"})
UNDECIDED = frozenset({"ringing", "detecting"})
"""Phases of a call whose outcome (human or not) is not known yet: the calls in flight."""
RECENT_CALLS = 1000
"""Settled calls remembered (call id -> campaign) for their wrap-up's codes."""

BookCallback = Callable[[str, str, str], Awaitable[None]]
"""book(queue, number, language): a callback on the callback service (a disposition asked)."""


class CampaignNotFound(Exception):
    pass


@dataclass
class LiveCall:
    """One call the dialler placed and has not settled."""

    id: str
    campaign: str
    contact: Contact
    agent_id: str = ""
    """A preview call's agent (taken from the first ring)."""
    phase: str = "ringing"
    task: asyncio.Task[None] | None = field(default=None, repr=False)


def refusal_result(verdict: Verdict) -> str:
    if any(r in DNC_REASONS for r in verdict.reasons):
        return "dnc"
    if verdict.reasons and all(r in CLOCK_REASONS for r in verdict.reasons):
        return "outside_window"
    return "blocked"


class Dialler:
    def __init__(self, client: AriClient, acd: Acd, store: OutboundStore,
                 campaigns: Callable[[], Campaigns], *, dial: str,
                 book_callback: BookCallback | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.acd = acd
        self.store = store
        self.campaigns = campaigns
        self.dial = dial
        """Dial string template with {number} (the carrier's, as callbacks use)."""
        self.book_callback = book_callback
        self.run_flow: RunFlow | None = None
        """Agentless campaigns' flows: the app sets its hook (call.RunFlow) once it runs."""
        self.clock = clock
        self.running: set[str] = set()
        self.calls: dict[str, LiveCall] = {}
        self.last: dict[str, Decision] = {}
        """Campaign -> the last pass's pacing decision (for GET /campaigns)."""
        self.today = Today()
        """Attempts by result since midnight, for the wallboard (board.py)."""
        self.recent: OrderedDict[str, str] = OrderedDict()
        """Call id -> campaign of calls placed lately (live or settled), newest last."""
        self._stats: dict[str, tuple[float, PacingStats]] = {}
        self._lock = asyncio.Lock()
        self._log_buffer: list[QueueLogEvent] = []
        self._loop: asyncio.Task[None] | None = None
        self.previews = PreviewDesk(self)
        """Preview campaigns' offers to agents (previews.py)."""

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    # lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        self.running = await self.store.running()
        for name in self.running:
            freed = await self.store.release_claims(name, self.now())
            if freed:
                log.warning("campaign %s: %d contact(s) left dialling by the last run are due"
                            " again", name, freed)
        self._loop = asyncio.create_task(self._run_forever())

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
        tasks = [c.task for c in self.calls.values() if c.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run_forever(self) -> None:
        while True:
            try:
                await self.pass_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dialler pass failed")
            await asyncio.sleep(PASS_INTERVAL)

    # supervisor's controls ----------------------------------------------------------------------

    def campaign(self, name: str) -> CampaignConfig:
        campaign = self.campaigns().campaigns.get(name)
        if campaign is None:
            raise CampaignNotFound(name)
        return campaign

    async def set_running(self, name: str, running: bool, by: str = "") -> None:
        self.campaign(name)
        await self.store.set_running(name, running, by, self.now())
        if running:
            self.running.add(name)
        else:
            self.running.discard(name)
        log.info("campaign %s %s by %s", name, "started" if running else "stopped", by or "-")

    # one pass ---------------------------------------------------------------------------------

    async def pass_once(self) -> dict[str, Decision]:
        async with self._lock:
            decisions: dict[str, Decision] = {}
            config = self.campaigns()
            await self.previews.withdraw_stale(config)
            for name in sorted(self.running):
                campaign = config.campaigns.get(name)
                if campaign is not None and campaign.mode == "preview":
                    await self.previews.pass_once(campaign, config)
                if campaign is None or campaign.mode not in DIALLED_MODES:
                    continue
                decision = decide(policy_of(campaign, config.rules_of(campaign)),
                                  await self.snapshot(campaign, config))
                self.last[name] = decisions[name] = decision
                if decision.dial > 0:
                    await self._place(campaign, config, decision.dial)
            await self.flush_log()
            return decisions

    async def snapshot(self, campaign: CampaignConfig, config: Campaigns) -> PacingSnapshot:
        acd, now = self.acd, self.clock()
        queue = acd.config().queues.get(campaign.queue)
        members = acd.members(queue) if queue is not None else []
        logged_in = [a for a in members if a.state not in (AgentState.LOGGED_OUT,
                                                            AgentState.PAUSED)]
        free = [a for a in logged_in if a.state is AgentState.AVAILABLE]
        busy = tuple(now - a.state_since for a in logged_in
                     if a.state in (AgentState.ON_CALL, AgentState.WRAP_UP))
        mine = [c for c in self.calls.values() if c.campaign == campaign.name]
        inbound = [s for s in acd.sessions.values()
                   if s.queue.name == campaign.queue and s.id not in self.calls and s.holds]
        waiting = [s for s in inbound if s.state is EntryState.WAITING]
        return PacingSnapshot(
            agents_logged_in=len(logged_in), agents_free=len(free), agents_busy_since=busy,
            # agentless: every call up counts (max_channels is its only limit)
            calls_in_flight=len(mine) if campaign.mode == "agentless"
            else sum(c.phase in UNDECIDED for c in mine),
            humans_waiting=sum(c.phase == "waiting_agent" for c in mine),
            inbound_waiting=len(waiting),
            inbound_ringing=sum(s.state is EntryState.RINGING for s in inbound),
            inbound_longest_wait=max((now - s.entered_at for s in waiting), default=0.0),
            stats=await self._pacing_stats(campaign, config))

    async def _pacing_stats(self, campaign: CampaignConfig, config: Campaigns) -> PacingStats:
        cached = self._stats.get(campaign.name)
        now = self.clock()
        if cached is not None and now - cached[0] < STATS_TTL:
            return cached[1]
        window = config.rules_of(campaign).abandon.window_days
        counts = await self.store.pacing_counts(
            campaign.name, self.now() - dt.timedelta(days=window))
        humans = counts.get("human", 0) + counts.get("abandoned", 0)
        dialled = sum(counts.values())
        handle = self.acd.handle_times(campaign.queue)
        stats = PacingStats(
            dialled=dialled, human_answered=humans, abandoned=counts.get("abandoned", 0),
            recent_dialled=dialled, recent_human=humans,
            mean_handle_time=sum(handle) / len(handle) if handle else 0.0,
            mean_time_to_answer=campaign.ring_timeout / 2, mean_time_to_fail=campaign.ring_timeout)
        self._stats[campaign.name] = (now, stats)
        return stats

    async def _place(self, campaign: CampaignConfig, config: Campaigns, wanted: int) -> None:
        """Dial up to `wanted` due contacts the gate clears; store the ones it refuses."""
        rules = config.rules_of(campaign)
        placed = 0
        async with contextlib.aclosing(self.cleared(campaign, rules, wanted * 3 + 10)) as found:
            async for contact, answer, tries in found:
                self._start_call(campaign, contact, answer, rules.abandon.connect_seconds,
                                 tries)
                placed += 1
                if placed >= wanted:
                    break

    async def cleared(self, campaign: CampaignConfig, rules: RuleSet, limit: int, *,
                      agent_reserved: bool = False
                      ) -> AsyncGenerator[tuple[Contact, Clearance, tuple[OutboundTry, ...]]]:
        """Due contacts the gate clears now, each claimed (no other pass takes it), with the
        campaign's earlier attempts to it; the refused ones are stored on the way."""
        for contact in await self.store.due(campaign.name, self.now(), limit):
            if any(c.contact.id == contact.id for c in self.calls.values()):
                continue
            now = self.now()
            history = await self.store.history(contact.number)
            answer = await self.clear(campaign, rules, contact, history,
                                      agent_reserved=agent_reserved)
            if isinstance(answer, Verdict):
                await self.refused(campaign, contact, answer, now)
                continue
            if not await self.store.claim(contact.id, now):
                continue
            tries = tuple(OutboundTry(a.at.astimezone(dt.UTC).isoformat(), a.result)
                          for a in history if a.campaign == campaign.name)
            yield contact, answer, tries

    async def clear(self, campaign: CampaignConfig, rules: RuleSet, contact: Contact,
                    history: tuple[PastAttempt, ...] | None = None, *,
                    agent_reserved: bool = False) -> Clearance | Verdict:
        if history is None:
            history = await self.store.history(contact.number)
        return clearance(DialRequest(
            number=contact.number, zone=contact.timezone, campaign=campaign.name,
            agent_reserved=agent_reserved, history=history,
            dnc=await self.store.dnc_hits(campaign.name, contact.number),
            consent_at=contact.consent_at, night_consent=contact.night_consent),
            rules, self.now())

    async def refused(self, campaign: CampaignConfig, contact: Contact, verdict: Verdict,
                       now: dt.datetime) -> None:
        result = refusal_result(verdict)
        self.today.count(campaign.name, result, self.clock())
        log.info("campaign %s: not dialling %s: %s", campaign.name, contact.number,
                 ", ".join(verdict.reasons))
        row = AttemptRow(
            contact_id=contact.id, campaign=campaign.name, number=contact.number,
            attempt=contact.attempts, started_at=now, ended_at=now, result=result,
            reasons=verdict.reasons, detail="; ".join(REASONS[r][0] for r in verdict.reasons))
        done = verdict.permanent or verdict.retry_at is None
        async with self.store.db.transaction():  # the attempt and the contact's state at once
            await self.store.record_attempt(row)
            await self.store.settle(contact, state="done" if done else "retry",
                                    outcome=verdict.reasons[0],
                                    next_attempt_at=None if done else verdict.retry_at,
                                    dialled=False, now=now)
        # Its queue_log line goes with the pass's others (flush_log): one write a pass.
        self._log_buffer.append(self.acd.event(contact.id, campaign.queue, "NONE", OUTBOUND,
                                               campaign.name, result, 0, "",
                                               " ".join(verdict.reasons)))

    async def flush_log(self) -> None:
        """The refusals' queue_log lines, written together."""
        if self._log_buffer:
            events, self._log_buffer = self._log_buffer, []
            await self.acd.log(*events)

    def new_attempt_id(self) -> str:
        return "ob-" + secrets.token_hex(8)

    def _plan(self, campaign: CampaignConfig, contact: Contact, cleared: Clearance,
              connect_seconds: float, tries: tuple[OutboundTry, ...],
              attempt_id: str) -> AttemptPlan:
        number = contact.attempts + 1
        return AttemptPlan(
            campaign=campaign, contact=contact, clearance=cleared, attempt=number,
            attempt_id=attempt_id, endpoint=self.dial.format(number=contact.number),
            connect_seconds=connect_seconds,
            origin=OutboundOrigin(campaign=campaign.name, contact=contact.id, attempt=number,
                                  fields=contact.fields, history=tries),
            clock=self.now, run_flow=self.run_flow,
            opt_out=lambda number: self.store.opt_out(
                number, f"{campaign.name}: opt-out key {campaign.opt_out_key}", self.now()))

    def _live(self, plan: AttemptPlan, run: Callable[[Phase], Awaitable[Outcome | None]],
              agent_id: str = "") -> asyncio.Task[None]:
        live = self.calls[plan.attempt_id] = LiveCall(
            plan.attempt_id, plan.campaign.name, plan.contact, agent_id=agent_id)
        self.recent[plan.attempt_id] = plan.campaign.name
        while len(self.recent) > RECENT_CALLS:
            self.recent.popitem(last=False)
        live.task = asyncio.create_task(self._call(live, plan, run))
        return live.task

    def _start_call(self, campaign: CampaignConfig, contact: Contact, cleared: Clearance,
                    connect_seconds: float, tries: tuple[OutboundTry, ...]) -> None:
        plan = self._plan(campaign, contact, cleared, connect_seconds, tries,
                          self.new_attempt_id())
        self._live(plan, lambda phase: run_attempt(self.client, self.acd, plan, phase))

    def start_preview_call(self, campaign: CampaignConfig, contact: Contact,
                           cleared: Clearance, agent: Agent,
                           offer: PreviewOffer) -> asyncio.Task[None]:
        """An accepted preview contact: the agent's phone, then the customer's (preview.py)."""
        plan = self._plan(campaign, contact, cleared, 0.0, offer.history, offer.call_id)
        queue = self.acd.config().queues.get(campaign.queue)
        if queue is None:
            raise CampaignNotFound(f"queue {campaign.queue!r} of {campaign.name}")
        return self._live(plan, lambda phase: run_preview(self.client, self.acd, plan, agent,
                                                          queue, phase), agent.id)

    async def _call(self, live: LiveCall, plan: AttemptPlan,
                    run: Callable[[Phase], Awaitable[Outcome | None]]) -> None:
        outcome: Outcome | None

        def phase(name: str) -> None:
            live.phase = name
            if name in ("waiting_agent", "done"):
                self.acd.wake()  # a decided call changes what the next pass may place

        try:
            outcome = await run(phase)
        except asyncio.CancelledError:
            cut = Outcome(started_at=self.now(), channel_id=live.id, result="failed",
                          detail="the dialler stopped")
            await asyncio.shield(self._settle(live, plan, cut))
            raise
        except Exception as exc:
            log.exception("outbound call %s failed", live.id)
            outcome = Outcome(started_at=self.now(), channel_id=live.id, result="failed",
                              detail=str(exc)[:200])
        finally:
            self.calls.pop(live.id, None)
        if outcome is None:  # not dialled after all (a preview agent never answered)
            await self.store.settle(plan.contact, state="retry", outcome="not_dialled",
                                    next_attempt_at=self.now(), dialled=False, now=self.now())
            return
        await self._settle(live, plan, outcome)

    async def _settle(self, live: LiveCall, plan: AttemptPlan, out: Outcome) -> None:
        campaign, contact, now = plan.campaign, plan.contact, self.now()
        self._stats.pop(campaign.name, None)
        self.today.count(campaign.name, out.result, self.clock())
        await self.store.record_attempt(AttemptRow(
            contact_id=contact.id, campaign=campaign.name, number=contact.number,
            attempt=plan.attempt, started_at=out.started_at, ended_at=now, result=out.result,
            answered_at=out.answered_at, connected_at=out.connected_at,
            amd_status=out.amd_status, amd_cause=out.amd_cause, agent_id=out.agent_id,
            channel_id=out.channel_id, detail=out.detail))
        delay = campaign.retry.get(out.result)
        if out.result != "human" and delay is not None and plan.attempt < campaign.attempts:
            await self.store.settle(contact, state="retry", outcome=out.result,
                                    next_attempt_at=now + dt.timedelta(seconds=delay),
                                    dialled=True, agent_id=out.agent_id, now=now)
        else:
            await self.store.settle(contact, state="done", outcome=out.result,
                                    next_attempt_at=None, dialled=True,
                                    agent_id=out.agent_id, now=now)
        agent = self.acd.agents.get(out.agent_id)
        await self.acd.log(self.acd.event(
            live.id, campaign.queue, agent.interface if agent else "NONE", OUTBOUND,
            campaign.name, out.result, round((now - out.started_at).total_seconds()),
            out.amd_status, ""))
        log.info("outbound %s to %s (%s, attempt %d): %s %s", live.id, contact.number,
                 campaign.name, plan.attempt, out.result, out.detail)

    def board(self, queues: set[str] | None = None) -> list[dict[str, Any]]:
        """The campaigns of these queues (None: all) for the wallboard."""
        return campaign_board(self.campaigns(), self.running, self.calls.values(), self.last,
                              self.today, self.clock(), queues=queues)

    # after the call -------------------------------------------------------------------------

    def dispositions_of(self, call_id: str, codes: Mapping[str, str]) -> Mapping[str, str] | None:
        """The wrap-up codes for an outbound call (its campaign's, of `codes`); None if
        `call_id` is no outbound call this dialler placed lately."""
        campaign = self.campaigns().campaigns.get(self.recent.get(call_id, ""))
        if campaign is None:
            return None
        if not campaign.dispositions:
            return codes
        return {code: label for code, label in codes.items() if code in campaign.dispositions}

    async def dispositioned(self, call_id: str, agent_id: str, code: str) -> bool:
        """The agent's wrap-up of an outbound call: stored with the attempt and the contact;
        a do-not-call code puts the number on the internal list at once (before any other
        dial of it, by any campaign or callback), a callback code books one in the campaign's
        queue. False if `call_id` is no outbound attempt."""
        attempt = await self.store.attempt_of_channel(call_id)
        if attempt is None:
            return False
        await self.store.set_disposition(attempt["id"], attempt["contact_id"], code, self.now())
        campaign = self.campaigns().campaigns.get(attempt["campaign"])
        if campaign is None:
            return True
        number = attempt["number"]
        if code in campaign.dnc_dispositions:
            await self.store.opt_out(number, f"{campaign.name}: {code} by {agent_id}",
                                     self.now())
            log.info("campaign %s: %s opted out (%s, agent %s)", campaign.name, number, code,
                     agent_id)
        if code in campaign.callback_dispositions and self.book_callback is not None:
            contact = await self.store.contact(attempt["contact_id"])
            try:
                await self.book_callback(campaign.queue, number,
                                         contact.language if contact else "")
            except Exception as exc:  # refused (the number opted out meanwhile): logged
                log.warning("campaign %s: no callback for %s: %s", campaign.name, number, exc)
        return True
