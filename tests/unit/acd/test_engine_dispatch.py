"""The ACD dispatcher's choice of agents (Acd.dispatch): longest idle, ring all and skills
(the allowed penalty widening with the wait), customer-first callbacks that claim no agent,
phones that are unreachable or unknown to Asterisk, callers not offerable, and agents already
tried. The waiting callers are stand-ins (`Waiting`) that record what they were offered; the
agents run on the ACD's fakes (fakes.py), with engine_helpers.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ivr.services.acd.agents import Agent, AgentState
from ivr.services.acd.config import QueueConfig
from ivr.services.acd.dispatch import RETRY_AFTER
from ivr.services.acd.entries import EntryView
from ivr.services.acd.store import EntryState

from .engine_helpers import queue, state
from .fakes import T0, Rig, rig

DISPATCH = """
agents:
  a1: {name: Ann, endpoint: PJSIP/a1, skills: {billing: 0}}
  a2: {name: Bob, endpoint: PJSIP/a2, skills: {billing: 3}}
  a3: {name: Cid, endpoint: PJSIP/a3}
queues:
  idle: {strategy: longest_idle, members: [a1, a2, a3]}
  all: {strategy: ring_all, members: [a3, a1, a2]}
  billing:
    strategy: skills
    skills: [billing]
    widen: [{after: 0, max_penalty: 0}, {after: 30, max_penalty: 5}]
"""


@dataclass
class Waiting:
    """What dispatch() reads of a QueueSession (an entries.QueueEntry), and a record of what
    it offered."""

    id: str
    queue: QueueConfig
    order: tuple[float, ...]
    entered_at: float = T0
    offerable: bool = True
    tried: set[str] = field(default_factory=set)
    last_try: float = 0.0
    offers: list[list[str]] = field(default_factory=list)
    claims_agents: bool = True
    holds: bool = True
    state: EntryState = EntryState.WAITING

    def offer(self, group: Sequence[Agent]) -> None:
        self.offers.append([a.id for a in group])
        self.offerable = False
        self.state = EntryState.RINGING

    def position(self) -> int:
        raise AssertionError("dispatch() does not ask for a position")

    def view(self, now: float) -> EntryView:
        raise AssertionError("dispatch() does not ask for a view")

    def refresh_place(self) -> None:
        """Nobody on the line."""


@pytest.fixture
async def d(tmp_path: Path) -> AsyncIterator[Rig]:
    """Agents a1, a2, a3 logged in 20, 10 and 0 s ago (a1 idle longest)."""
    async with rig(tmp_path, DISPATCH) as it:
        for agent_id in ("a1", "a2", "a3"):
            await it.acd.login(agent_id)
            it.clock.advance(10)
        yield it


def waiting(r: Rig, queue_name: str, *sessions: tuple[str, tuple[int, int]]) -> list[Waiting]:
    found = [Waiting(sid, queue(r, queue_name), order) for sid, order in sessions]
    for session in found:
        r.acd.sessions[session.id] = session
    return found


async def test_longest_idle_offers_best_caller_first_to_the_longest_idle(d: Rig) -> None:
    later_but_urgent, first = waiting(d, "idle", ("c2", (-5, 2)), ("c1", (0, 1)))
    await d.acd.dispatch()
    assert later_but_urgent.offers == [["a1"]]
    assert first.offers == [["a2"]]
    assert (state(d, "a1"), d.acd.agent("a1").call_id) == (AgentState.RINGING, "c2")
    assert (state(d, "a2"), d.acd.agent("a2").call_id) == (AgentState.RINGING, "c1")
    assert state(d, "a3") is AgentState.AVAILABLE
    assert [row.state for row in await d.store.agents()] == ["ringing", "ringing", "available"]


async def test_customer_first_callbacks_take_no_agent_and_dial_no_more_than_are_free(
        d: Rig) -> None:
    await d.acd.pause("a2")
    await d.acd.pause("a3")
    first, second, caller = waiting(d, "idle", ("cb1", (0, 1)), ("cb2", (0, 2)), ("c3", (0, 3)))
    first.claims_agents = second.claims_agents = False
    await d.acd.dispatch()
    assert first.offers == [[]], "dialled with no agent reserved"
    assert second.offers == [], "one agent free: one customer dialled at a time"
    assert caller.offers == [["a1"]], "the free agent still takes the next caller"
    assert state(d, "a1") is AgentState.RINGING


async def test_ring_all_offers_every_free_member_to_one_caller(d: Rig) -> None:
    first, second = waiting(d, "all", ("c1", (0, 1)), ("c2", (0, 2)))
    await d.acd.dispatch()
    assert first.offers == [["a3", "a1", "a2"]], "in member order"
    assert second.offers == [], "nobody is left for the second caller"
    assert {a.state for a in d.acd.agents.values()} == {AgentState.RINGING}
    assert "all" not in d.acd.last_agent


async def test_skills_offers_within_the_allowed_penalty_widening_with_the_wait(d: Rig) -> None:
    old, new = waiting(d, "billing", ("c1", (0, 1)), ("c2", (0, 2)))
    old.entered_at = d.clock() - 40
    new.entered_at = d.clock()
    await d.acd.dispatch()
    assert old.offers == [["a1"]], "the lowest penalty first"
    assert new.offers == [], "a2's penalty 3 is above 0 for a caller who just came"
    assert state(d, "a2") is AgentState.AVAILABLE
    assert state(d, "a3") is AgentState.AVAILABLE, "a3 lacks the skill"

    d.clock.advance(30)
    await d.acd.dispatch()
    assert new.offers == [["a2"]]


async def test_unreachable_phones_are_not_offered(d: Rig) -> None:
    d.rest.endpoints["PJSIP/a1"] = ("offline", ())
    d.rest.endpoints["PJSIP/a2"] = ("online", ("someone-else",))
    first, second = waiting(d, "idle", ("c1", (0, 1)), ("c2", (0, 2)))
    await d.acd.dispatch()
    assert first.offers == [["a3"]]
    assert second.offers == []
    assert (state(d, "a1"), state(d, "a2")) == (AgentState.AVAILABLE, AgentState.AVAILABLE)
    for agent_id in ("a1", "a2", "a3"):
        assert len(d.rest.sent("GET", f"/endpoints/PJSIP/{agent_id}")) == 1, (
            "an endpoint is looked up once per pass, however many callers wait")


async def test_an_endpoint_asterisk_cannot_find_is_not_offered(d: Rig) -> None:
    d.rest.fail("GET", "/endpoints/PJSIP/a1", 404)
    (caller,) = waiting(d, "idle", ("c1", (0, 1)))
    await d.acd.dispatch()
    assert caller.offers == [["a2"]]


async def test_callers_not_offerable_are_skipped(d: Rig) -> None:
    ringing, next_one = waiting(d, "idle", ("c1", (0, 1)), ("c2", (0, 2)))
    ringing.offerable = False
    await d.acd.dispatch()
    assert ringing.offers == []
    assert next_one.offers == [["a1"]]


async def test_agents_already_tried_wait_until_the_others_are_tried(d: Rig) -> None:
    (caller,) = waiting(d, "idle", ("c1", (0, 1)))
    caller.tried = {"a1"}
    caller.last_try = d.clock() - 60
    await d.acd.dispatch()
    assert caller.offers == [["a2"]], "a1 idles longest but was tried"
    assert caller.tried == {"a1"}


async def test_tried_agents_are_retried_after_retry_after(d: Rig) -> None:
    await d.acd.logout("a2")
    await d.acd.logout("a3")
    (caller,) = waiting(d, "idle", ("c1", (0, 1)))
    caller.tried = {"a1"}
    caller.last_try = d.clock() - (RETRY_AFTER - 0.5)
    await d.acd.dispatch()
    assert caller.offers == [], "not again so soon"
    assert state(d, "a1") is AgentState.AVAILABLE

    d.clock.advance(0.5)
    await d.acd.dispatch()
    assert caller.offers == [["a1"]]
    assert caller.tried == set()
