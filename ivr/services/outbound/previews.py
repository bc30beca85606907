"""Preview campaigns: a contact offered to a free agent, who accepts it or skips it.

On each pass of a running preview campaign, every free agent of its queue without an offer
(less those the inbound callers waiting or ringing and `reserve_inbound` keep: inbound first)
is offered the next due contact the gate clears (with an agent reserved, the 72-hour rule after
an abandoned call does not apply). The offer is a `preview` desktop event (the contact, its
fields and earlier attempts) and GET /agents/{id}/preview. The contact is claimed meanwhile.

- accept: the gate is asked again (time has passed), then preview.run_preview rings the agent
  and dials the customer; the attempt is stored like any other.
- skip: the contact goes back to the list, due again after `SKIP_DELAY`, and nothing is
  counted; the agent is offered the next one on the next pass.
- withdrawn (the agent paused or logged out, the campaign stopped or left preview): the
  contact is due again at once, and the desktop is told.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from ..acd.agents import Agent, AgentState
from ..acd.desktop import OutboundTry, PreviewOffer
from ..acd.engine import Acd
from ..acd.store import EntryState
from .campaign import CampaignConfig, Campaigns
from .gate import Clearance, PastAttempt, Verdict
from .rules import RuleSet
from .store import Contact, OutboundStore


class LiveCallLike(Protocol):
    @property
    def agent_id(self) -> str: ...


class Dialler(Protocol):
    """What the preview desk needs of the dialler (dialler.Dialler), without importing it."""

    @property
    def acd(self) -> Acd: ...
    @property
    def store(self) -> OutboundStore: ...
    @property
    def running(self) -> set[str]: ...
    @property
    def calls(self) -> Mapping[str, LiveCallLike]: ...

    def now(self) -> dt.datetime: ...
    def campaigns(self) -> Campaigns: ...
    def campaign(self, name: str) -> CampaignConfig: ...
    def new_attempt_id(self) -> str: ...
    def cleared(self, campaign: CampaignConfig, rules: RuleSet, limit: int, *,
                agent_reserved: bool = False
                ) -> AsyncGenerator[tuple[Contact, Clearance, tuple[OutboundTry, ...]]]: ...
    async def clear(self, campaign: CampaignConfig, rules: RuleSet, contact: Contact,
                    history: tuple[PastAttempt, ...] | None = None, *,
                    agent_reserved: bool = False) -> Clearance | Verdict: ...
    async def refused(self, campaign: CampaignConfig, contact: Contact, verdict: Verdict,
                      now: dt.datetime) -> None: ...
    async def flush_log(self) -> None: ...
    def start_preview_call(self, campaign: CampaignConfig, contact: Contact,
                           cleared: Clearance, agent: Agent,
                           offer: PreviewOffer) -> asyncio.Task[None]: ...

log = logging.getLogger(__name__)

__all__ = ["SKIP_DELAY", "Offer", "PreviewDesk", "PreviewError"]

SKIP_DELAY = dt.timedelta(minutes=30)


class PreviewError(Exception):
    """An accept or skip that cannot be done: no such offer, or the agent is busy."""


@dataclass(frozen=True, slots=True)
class Offer:
    agent_id: str
    campaign: str
    contact: Contact
    event: PreviewOffer


class PreviewDesk:
    def __init__(self, dialler: Dialler) -> None:
        self.dialler = dialler
        self.offers: dict[str, Offer] = {}
        """Agent id -> the contact offered to it."""

    def offer_of(self, agent_id: str) -> Offer | None:
        return self.offers.get(agent_id)

    async def pass_once(self, campaign: CampaignConfig, config: Campaigns) -> int:
        """Offer contacts to the campaign's free agents; how many were offered."""
        dialler = self.dialler
        acd = dialler.acd
        queue = acd.config().queues.get(campaign.queue)
        if queue is None:
            return 0
        busy = {c.agent_id for c in dialler.calls.values()}
        free = [a for a in acd.members(queue) if a.state is AgentState.AVAILABLE
                and a.id not in self.offers and a.id not in busy]
        inbound = [s for s in acd.sessions.values() if s.queue.name == queue.name
                   and s.holds and s.state in (EntryState.WAITING, EntryState.RINGING)]
        held = campaign.pacing.reserve_inbound + len(inbound)
        takers = free[held:] if held < len(free) else []
        offered = 0
        rules = config.rules_of(campaign)
        for agent in takers:
            found = None
            async with contextlib.aclosing(dialler.cleared(campaign, rules, 10,
                                                           agent_reserved=True)) as due:
                async for item in due:
                    found = item
                    break
            if found is None:
                break
            contact, _, tries = found
            event = PreviewOffer(
                call_id=dialler.new_attempt_id(), campaign=campaign.name, contact=contact.id,
                number=contact.number, name=contact.name, language=contact.language,
                fields=dict(contact.fields), history=tries, attempt=contact.attempts + 1)
            self.offers[agent.id] = Offer(agent.id, campaign.name, contact, event)
            acd.desktops.publish(agent.id, event)
            log.info("campaign %s: %s offered to %s", campaign.name, contact.number, agent.id)
            offered += 1
        return offered

    async def withdraw_stale(self, config: Campaigns) -> None:
        """Offers whose agent cannot take them now, or whose campaign does not preview."""
        acd = self.dialler.acd
        for agent_id, offer in list(self.offers.items()):
            campaign = config.campaigns.get(offer.campaign)
            agent = acd.agents.get(agent_id)
            if (campaign is None or campaign.mode != "preview"
                    or offer.campaign not in self.dialler.running or agent is None
                    or agent.state in (AgentState.LOGGED_OUT, AgentState.PAUSED)):
                await self._release(offer, due=self.dialler.now(), outcome="withdrawn")

    async def _release(self, offer: Offer, *, due: dt.datetime, outcome: str) -> None:
        self.offers.pop(offer.agent_id, None)
        await self.dialler.store.settle(offer.contact, state="retry", outcome=outcome,
                                        next_attempt_at=due, dialled=False,
                                        now=self.dialler.now())
        self.dialler.acd.desktops.publish(offer.agent_id, replace(offer.event, withdrawn=True))

    def _taken(self, agent_id: str, call_id: str) -> Offer:
        offer = self.offers.get(agent_id)
        if offer is None or offer.event.call_id != call_id:
            raise PreviewError(f"no contact {call_id} offered to {agent_id}")
        return offer

    async def skip(self, agent_id: str, call_id: str) -> None:
        offer = self._taken(agent_id, call_id)
        await self._release(offer, due=self.dialler.now() + SKIP_DELAY, outcome="skipped")
        log.info("campaign %s: %s skipped by %s", offer.campaign, offer.contact.number,
                 agent_id)

    async def accept(self, agent_id: str, call_id: str) -> asyncio.Task[None] | None:
        """Dial the offered contact with the agent first; None if the gate now refuses it
        (stored as a refusal, and the desktop told the offer is withdrawn)."""
        offer = self._taken(agent_id, call_id)
        dialler = self.dialler
        agent = dialler.acd.agents.get(agent_id)
        if agent is None or agent.state is not AgentState.AVAILABLE:
            raise PreviewError(f"{agent_id} is not free to take a call")
        campaign = dialler.campaign(offer.campaign)
        rules = dialler.campaigns().rules_of(campaign)
        answer = await dialler.clear(campaign, rules, offer.contact, agent_reserved=True)
        self.offers.pop(agent_id, None)
        if isinstance(answer, Verdict):
            await dialler.refused(campaign, offer.contact, answer, dialler.now())
            await dialler.flush_log()
            dialler.acd.desktops.publish(agent_id, replace(offer.event, withdrawn=True))
            return None
        return dialler.start_preview_call(campaign, offer.contact, answer, agent, offer.event)
