"""The live dialler (services/outbound/dialler.py, call.py) on the ACD's fakes: a fake ARI, a
fake clock and a real SQLite database. Passes are run by hand (`pass_once`); a contact's phone
answers when the test sends its channel a StasisStart, and AMD's verdict is the StasisStart a
channel back from ivr-outbound-amd would bring.

What must hold: the gate refuses before anything is dialled (a do-not-call number, one outside
its window: stored as attempts, never originated); progressive places one call per free agent;
every result is stored and retried after the campaign's back-off; an answered human reaches
the agent with the contact on the screen pop, or hears the safe harbor and counts as abandoned;
a machine gets the message after the beep.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ivr.ari import ChannelDestroyed, ChannelDtmfReceived, ChannelHangupRequest, StasisStart
from ivr.services.acd.agents import AgentState
from ivr.services.acd.config_reader import parse_acd_config
from ivr.services.acd.store import EntryState
from ivr.services.acd.waiting import QueueRequest, wait
from ivr.services.outbound.config_campaigns import parse_campaigns
from ivr.services.outbound.contacts_csv import parse_contacts
from ivr.services.outbound.dialler import Dialler
from ivr.services.outbound.previews import PreviewError
from ivr.services.outbound.report import campaign_report
from ivr.services.outbound.store import Contact, OutboundStore

from ..acd.fakes import FakeCaller, FakeClock, Rig, eventually, finish_playbacks, rig

QUEUES = """
agents:
  a1: {name: Ann, endpoint: PJSIP/a1}
  a2: {name: Bob, endpoint: PJSIP/a2}
queues:
  sales:
    members: [a1]
    ring_timeout: 5
    join_empty: true
  care:
    members: [a2]
    ring_timeout: 5
    join_empty: true
"""
CAMPAIGNS = """
rules:
  patient:                    # the US rules, with time for a test's agent to answer
    extends: us
    abandon: {connect_seconds: 10}
  quick:                      # 0.5 s: spent by AMD's 1.2 s of silence before the verdict
    extends: us
    abandon: {connect_seconds: 0.5}
campaigns:
  hasty:
    mode: progressive
    queue: sales
    rules: quick
    timezone: America/New_York
  reminders:
    mode: progressive
    queue: sales
    rules: patient
    timezone: America/New_York
    attempts: 3
    retry: {busy: 600, no_answer: 3600, machine: 7200}
    amd: {on_machine: message, message: [outbound-machine-message]}
  leads:
    mode: preview
    queue: sales
    rules: patient
    timezone: America/New_York
  reminder:
    mode: agentless
    flow: reminder
    rules: patient
    timezone: America/New_York
    opt_out_key: "9"
    pacing: {max_channels: 2}
  plain:
    mode: progressive
    queue: care
    rules: quick
    timezone: America/New_York
    amd: {enabled: false}
"""
NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
"""10:00 in New York (inside 08:00-21:00); midnight in Seoul (outside)."""
GOOD, DNC, SEOUL = "12125550101", "12125550102", "821012345678"
DIAL = "PJSIP/{number}@trunk"


@dataclass
class Env:
    r: Rig
    dialler: Dialler
    store: OutboundStore
    played: list[str]
    booked: list[tuple[str, str, str]]
    """Callbacks the dialler booked: (queue, number, language)."""

    def dialled(self) -> list[str]:
        return [endpoint for _, endpoint in self.r.rest.originated
                if endpoint.endswith("@trunk")]

    async def contact(self, number: str, campaign: str = "reminders") -> Contact:
        rows = [r for r in await self.store.contacts(campaign) if r["number"] == number]
        found = await self.store.contact(rows[0]["id"])
        assert found is not None
        return found

    async def call(self, nth: int = 1) -> str:
        """The channel of the nth contact dialled."""
        def dialled() -> str | None:
            found = [cid for cid, ep in self.r.rest.originated if ep.endswith("@trunk")]
            return found[nth - 1] if len(found) >= nth else None
        return await eventually(dialled)

    async def settled(self) -> None:
        """Until every call the dialler placed is over and stored."""
        await eventually(lambda: not self.dialler.calls, timeout=3.0)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with rig(tmp_path, QUEUES, clock=FakeClock(NOW.timestamp())) as r:
        played = finish_playbacks(r)
        await r.acd.start()
        campaigns = parse_campaigns(CAMPAIGNS, acd=parse_acd_config(QUEUES))
        store = OutboundStore(r.db)
        # The US rules want a national do-not-call list no older than 31 days.
        await r.db.execute("INSERT INTO outbound_national_lists (id, list_date, source, numbers,"
                           " imported_at) VALUES ('n1', ?, 'test', 0, ?)", NOW.date(), NOW)
        booked: list[tuple[str, str, str]] = []

        async def book(queue: str, number: str, language: str) -> None:
            booked.append((queue, number, language))

        dialler = Dialler(r.client, r.acd, store, lambda: campaigns, dial=DIAL,
                          book_callback=book, clock=r.clock)
        await dialler.start()
        it = Env(r, dialler, store, played, booked)
        try:
            yield it
        finally:
            await dialler.stop()


async def imported(env: Env, campaign: str, *rows: str) -> None:
    text = "number,timezone,name,amount\n" + "".join(f"{row}\n" for row in rows)
    config = env.dialler.campaign(campaign)
    await env.store.import_contacts(campaign, parse_contacts(text, config), now=NOW)
    await env.dialler.set_running(campaign, True, "test")


async def test_do_not_call_and_outside_window_numbers_are_never_dialled(env: Env) -> None:
    await env.store.opt_out(DNC, "asked by phone")
    await imported(env, "reminders", f"{DNC},,Dee,10", f"{SEOUL},Asia/Seoul,Seo,20",
                   f"{GOOD},,Gus,30")
    await env.r.acd.login("a1")
    decisions = await env.dialler.pass_once()
    assert (decisions["reminders"].dial, decisions["reminders"].reason) == (1, "progressive")
    await env.call()
    assert env.dialled() == [f"PJSIP/{GOOD}@trunk"], "only the cleared number is dialled"
    dnc = await env.store.attempts("reminders", DNC)
    assert [(a["result"], a["reasons"], a["channel_id"]) for a in dnc] == [
        ("dnc", "dnc_internal", "")]
    assert (await env.contact(DNC)).state == "done"
    seoul = await env.contact(SEOUL)
    assert [(a["result"], a["reasons"]) for a in await env.store.attempts("reminders", SEOUL)] \
        == [("outside_window", "outside_window")]
    assert (seoul.state, seoul.attempts) == ("retry", 0), "a refusal is not a dial"
    assert seoul.next_attempt_at == dt.datetime(2026, 11, 23, 23, 0, tzinfo=dt.UTC), (
        "08:00 in Seoul")
    assert (await env.contact(GOOD)).state == "dialling"
    # queue_log-style lines, in the campaign's queue, one per refusal (and per dial, later)
    dnc_contact, seoul_contact = await env.contact(DNC), await env.contact(SEOUL)
    assert await env.r.lines("OUTBOUND") == [
        f"{dnc_contact.id}|sales|NONE|OUTBOUND|reminders|dnc|0||dnc_internal",
        f"{seoul_contact.id}|sales|NONE|OUTBOUND|reminders|outside_window|0||outside_window"]


async def test_progressive_places_one_call_per_free_agent(env: Env) -> None:
    await imported(env, "reminders", f"{GOOD},,Gus,30", "12125550103,,Hal,40")
    decisions = await env.dialler.pass_once()
    assert (decisions["reminders"].dial, decisions["reminders"].reason) == (0, "no_free_agent")
    assert env.dialled() == []
    await env.r.acd.login("a1")
    await env.dialler.pass_once()
    await env.call()
    await env.dialler.pass_once()  # the first call is in flight: nothing more for one agent
    await asyncio.sleep(0.05)
    assert env.dialled() == [f"PJSIP/{GOOD}@trunk"]


async def test_a_busy_number_is_tried_again_after_the_campaigns_back_off(env: Env) -> None:
    await imported(env, "reminders", f"{GOOD},,Gus,30")
    await env.r.acd.login("a1")
    await env.dialler.pass_once()
    env.r.client.channel_event(ChannelDestroyed, await env.call(), cause=17)
    await env.settled()
    contact = await env.contact(GOOD)
    assert (contact.state, contact.outcome, contact.attempts) == ("retry", "busy", 1)
    assert contact.next_attempt_at == NOW + dt.timedelta(seconds=600)
    assert [a["result"] for a in await env.store.attempts("reminders", GOOD)] == ["busy"]
    assert (await env.r.lines("OUTBOUND"))[-1].split("|")[1:] == [
        "sales", "NONE", "OUTBOUND", "reminders", "busy", "0", "", ""]
    await env.dialler.pass_once()
    assert len(env.dialled()) == 1, "not due yet"
    env.r.clock.advance(600)
    await env.dialler.pass_once()
    await env.call(2)


async def answered(env: Env, channel: str, verdict: tuple[str, str] | None) -> None:
    """The contact answers; with AMD, the channel comes back from ivr-outbound-amd."""
    env.r.client.channel_event(StasisStart, channel, args=("outbound", channel))
    if verdict is None:
        return
    await eventually(lambda: len(env.r.rest.sent("POST", f"/channels/{channel}/continue")) > 0)
    env.r.client.channel_event(StasisStart, channel, args=("outbound-amd", *verdict))


async def test_a_human_reaches_the_agent_with_the_contact_on_the_screen(env: Env) -> None:
    await imported(env, "reminders", f"{GOOD},,Gus,30")
    desk = env.r.acd.desktops.listen("a1")
    await env.r.acd.login("a1")
    await env.dialler.pass_once()
    customer = await env.call()
    await answered(env, customer, ("HUMAN", "HUMAN-1200-1200"))
    continued = env.r.rest.sent("POST", f"/channels/{customer}/continue")
    assert continued[0].params == {"context": "ivr-outbound-amd", "extension": "s",
                                   "priority": 1}
    agent_leg = await eventually(lambda: next(
        (cid for cid, ep in env.r.rest.originated if ep == "PJSIP/a1"), None))
    env.r.client.channel_event(StasisStart, agent_leg, args=("acd-agent", customer))
    await eventually(lambda: env.r.acd.agent("a1").state is AgentState.ON_CALL)
    # The contact's side of the connection (its move to the agent, when its talk starts)
    # comes after the agent's state: wait for it before the clock moves on.
    await eventually(lambda: env.dialler.calls[customer].phase == "connected")
    env.r.clock.advance(30)
    env.r.client.channel_event(ChannelHangupRequest, agent_leg)
    await env.settled()
    attempts = await env.store.attempts("reminders", GOOD)
    assert [(a["result"], a["agent_id"], a["amd_status"]) for a in attempts] == [
        ("human", "a1", "HUMAN")]
    contact = await env.contact(GOOD)
    assert (contact.state, contact.outcome, contact.agent_id) == ("done", "human", "a1")
    pops = [e.to_json() for e in (desk.get_nowait() for _ in range(desk.qsize()))
            if e.to_json()["type"] == "screen_pop"]
    assert [(p["kind"], p["campaign"], p["fields"], p["attempt"]) for p in pops] == [
        ("outbound", "reminders", {"amount": "30"}, 1)]

    line = (await env.r.lines("OUTBOUND"))[-1]
    assert line == f"{customer}|sales|PJSIP/a1|OUTBOUND|reminders|human|30|HUMAN|"

    # The agent's wrap-up: asked not to be called again, and for a callback.
    codes = env.dialler.dispositions_of(customer, {"sale": "Sale", "do_not_call": "DNC"})
    assert codes == {"sale": "Sale", "do_not_call": "DNC"}
    assert env.dialler.dispositions_of("caller-1", {"sale": "Sale"}) is None, "not outbound"
    assert await env.dialler.dispositioned(customer, "a1", "do_not_call")
    assert (await env.store.dnc_hits("reminders", GOOD)).internal, "on the list at once"
    (attempt,) = await env.store.attempts("reminders", GOOD)
    assert attempt["disposition"] == "do_not_call"
    assert (await env.contact(GOOD)).outcome == "do_not_call"
    assert await env.dialler.dispositioned(customer, "a1", "callback")
    assert env.booked == [("sales", GOOD, "")]
    assert not await env.dialler.dispositioned("caller-1", "a1", "sale")

    report = campaign_report(await env.store.attempts("reminders"), NOW - dt.timedelta(hours=1),
                             NOW + dt.timedelta(hours=1), dt.timedelta(hours=1))
    assert report["total"] == {
        "start": (NOW - dt.timedelta(hours=1)).isoformat(), "dialled": 1, "refused": {},
        "results": {"human": 1}, "answered_human": 1, "answered_machine": 0, "connected": 1,
        "abandoned": 0, "abandon_rate": 0.0, "talk_s": 30.0, "connected_per_talk_hour": 120.0,
        "dispositions": {"callback": 1}}
    assert [i["start"] for i in report["intervals"]] == [NOW.isoformat()]


async def test_an_inbound_caller_is_served_before_an_outbound_contact_that_waited_longer(
        env: Env) -> None:
    """Blending: both wait for a1 (paused while the contact was being dialled); the inbound
    caller, who came later, is offered a1 first."""
    await imported(env, "reminders", f"{GOOD},,Gus,30")
    await env.r.acd.login("a1")
    await env.dialler.pass_once()
    customer = await env.call()
    await env.r.acd.pause("a1", "break")
    await answered(env, customer, ("HUMAN", "HUMAN-1200-1200"))
    contact = await eventually(lambda: env.r.acd.sessions.get(customer))
    env.r.clock.advance(5)
    caller = FakeCaller(env.r.client, "caller-9", "01055554444", "en")
    inbound = asyncio.create_task(wait(env.r.acd, caller, QueueRequest("sales")))
    await eventually(lambda: env.r.acd.sessions.get("caller-9"))
    assert contact.entered_at < env.r.acd.sessions["caller-9"].entered_at
    await env.r.acd.unpause("a1")
    await eventually(lambda: env.r.acd.agent("a1").state is AgentState.RINGING)
    assert env.r.acd.sessions["caller-9"].state is EntryState.RINGING
    assert contact.state is EntryState.WAITING
    inbound.cancel()
    await asyncio.gather(inbound, return_exceptions=True)
    env.r.client.channel_event(ChannelHangupRequest, customer)
    await env.settled()


async def test_a_human_with_no_agent_in_time_hears_the_safe_harbor_and_is_abandoned(
        env: Env) -> None:
    await imported(env, "hasty", f"{GOOD},,Gus,30")
    await env.r.acd.login("a1")
    await env.dialler.pass_once()
    customer = await env.call()
    await answered(env, customer, ("HUMAN", "HUMAN-1200-1200"))
    # The connect time counts from the greeting's end, 1.2 s before the verdict: nothing
    # is left of the 0.5 s, so the safe harbor plays at once.
    await env.settled()
    assert any("outbound-safe-harbor" in media for media in env.played)
    contact = await env.contact(GOOD, "hasty")
    assert (contact.state, contact.outcome) == ("retry", "abandoned")
    assert customer in env.r.rest.hung_up
    assert contact.next_attempt_at == NOW + dt.timedelta(hours=72)
    # Made due sooner (an operator's edit), the gate still refuses it within the 72 hours.
    await env.r.db.execute("UPDATE outbound_contacts SET next_attempt_at = ?", NOW)
    env.r.clock.advance(3600)
    await eventually(lambda: env.r.acd.agent("a1").state is AgentState.AVAILABLE)
    await env.dialler.pass_once()
    assert len(env.dialled()) == 1
    refused = (await env.store.attempts("hasty", GOOD))[-1]
    assert (refused["result"], refused["reasons"]) == ("blocked", "abandoned_recently")
    assert (await env.contact(GOOD, "hasty")).next_attempt_at == NOW + dt.timedelta(hours=72)


async def test_a_machine_gets_the_message_after_the_beep(env: Env) -> None:
    await imported(env, "reminders", f"{GOOD},,Gus,30")
    await env.r.acd.login("a1")
    await env.dialler.pass_once()
    customer = await env.call()
    await answered(env, customer, ("MACHINE", "LONGGREETING-2500-2500"))
    await eventually(lambda: len(env.r.rest.sent("POST", f"/channels/{customer}/continue"))
                     == 2)
    beep = env.r.rest.sent("POST", f"/channels/{customer}/continue")[1]
    assert beep.params["extension"] == "beep"
    assert not any("outbound-machine-message" in m for m in env.played), "not before the beep"
    env.r.client.channel_event(StasisStart, customer, args=("outbound-amd", "BEEP", "tone"))
    await env.settled()
    assert any("outbound-machine-message" in media for media in env.played)
    attempt = (await env.store.attempts("reminders", GOOD))[0]
    assert (attempt["result"], attempt["detail"]) == ("machine", "message left (tone)")
    contact = await env.contact(GOOD)
    assert contact.next_attempt_at == NOW + dt.timedelta(seconds=7200)
    assert env.r.acd.agent("a1").state is AgentState.AVAILABLE, "no agent was rung"


async def test_without_amd_an_answer_goes_straight_to_the_queue(env: Env) -> None:
    await imported(env, "plain", f"{GOOD},,Gus,30")
    await env.r.acd.login("a2")
    await env.dialler.pass_once()
    customer = await env.call()
    await answered(env, customer, None)
    agent_leg = await eventually(lambda: next(
        (cid for cid, ep in env.r.rest.originated if ep == "PJSIP/a2"), None))
    assert env.r.rest.sent("POST", f"/channels/{customer}/continue") == []
    env.r.client.channel_event(StasisStart, agent_leg, args=("acd-agent", customer))
    await eventually(lambda: env.r.acd.agent("a2").state is AgentState.ON_CALL)
    env.r.client.channel_event(ChannelHangupRequest, customer)
    await env.settled()
    assert [a["result"] for a in await env.store.attempts("plain", GOOD)] == ["human"]


async def test_a_stopped_campaign_dials_nothing_and_a_restart_frees_its_claims(
        env: Env) -> None:
    await imported(env, "reminders", f"{GOOD},,Gus,30")
    await env.r.acd.login("a1")
    await env.dialler.set_running("reminders", False)
    assert await env.dialler.pass_once() == {}
    assert env.dialled() == []
    await env.dialler.set_running("reminders", True)
    await env.dialler.pass_once()
    await env.call()
    await env.dialler.stop()  # the call is cut: a failed attempt, retried later
    contact = await env.contact(GOOD)
    assert (contact.state, contact.outcome) == ("retry", "failed")
    assert await env.store.running() == {"reminders"}
    await asyncio.sleep(0)


async def test_a_preview_contact_is_offered_then_skipped_or_accepted_agent_first(
        env: Env) -> None:
    await env.store.opt_out(DNC, "asked")
    await imported(env, "leads", f"{DNC},,Dee,10", f"{GOOD},,Gus,30", "12125550103,,Hal,40")
    desk = env.r.acd.desktops.listen("a1")
    await env.r.acd.login("a1")
    await env.dialler.pass_once()
    offer = env.dialler.previews.offer_of("a1")
    assert offer is not None and offer.contact.number == GOOD, "the DNC number is not offered"
    assert env.dialled() == [], "a preview dials nothing before the agent accepts"
    events = [e.to_json() for e in (desk.get_nowait() for _ in range(desk.qsize()))]
    (shown,) = [e for e in events if e["type"] == "preview"]
    assert (shown["number"], shown["fields"], shown["withdrawn"]) == (GOOD, {"amount": "30"},
                                                                      False)
    await env.dialler.pass_once()
    assert env.dialler.previews.offer_of("a1") is offer, "one offer at a time"

    await env.dialler.previews.skip("a1", offer.event.call_id)
    skipped = await env.contact(GOOD, "leads")
    assert (skipped.state, skipped.outcome, skipped.attempts) == ("retry", "skipped", 0)
    await env.dialler.pass_once()
    second = env.dialler.previews.offer_of("a1")
    assert second is not None and second.contact.number == "12125550103"

    await env.dialler.previews.accept("a1", second.event.call_id)
    agent_leg = await eventually(lambda: next(
        (cid for cid, ep in env.r.rest.originated if ep == "PJSIP/a1"), None))
    assert env.dialled() == [], "the agent's phone first"
    env.r.client.channel_event(StasisStart, agent_leg, args=("acd-agent", second.event.call_id))
    customer = await env.call()
    assert customer == second.event.call_id
    env.r.client.channel_event(StasisStart, customer, args=("outbound", customer))
    await eventually(lambda: any(customer in members for members in env.r.rest.bridges.values()))
    env.r.clock.advance(20)
    env.r.client.channel_event(ChannelHangupRequest, customer)
    await env.settled()
    (attempt,) = await env.store.attempts("leads", "12125550103")
    assert (attempt["result"], attempt["agent_id"]) == ("human", "a1")
    assert (await env.contact("12125550103", "leads")).state == "done"
    assert env.r.acd.agent("a1").state is AgentState.WRAP_UP


async def test_a_preview_offer_is_withdrawn_when_the_agent_pauses(env: Env) -> None:
    await imported(env, "leads", f"{GOOD},,Gus,30")
    desk = env.r.acd.desktops.listen("a1")
    await env.r.acd.login("a1")
    await env.dialler.pass_once()
    offer = env.dialler.previews.offer_of("a1")
    assert offer is not None
    await env.r.acd.pause("a1", "break")
    await env.dialler.pass_once()
    assert env.dialler.previews.offer_of("a1") is None
    events = [e.to_json() for e in (desk.get_nowait() for _ in range(desk.qsize()))]
    assert [e["withdrawn"] for e in events if e["type"] == "preview"] == [False, True]
    contact = await env.contact(GOOD, "leads")
    assert (contact.state, contact.next_attempt_at) == ("retry", NOW)
    with pytest.raises(PreviewError):
        await env.dialler.previews.accept("a1", offer.event.call_id)


async def test_an_agentless_contact_hears_the_flow_and_its_opt_out_key_takes_effect_at_once(
        env: Env) -> None:
    await imported(env, "reminder", f"{GOOD},,Gus,30", "12125550103,,Hal,40",
                   "12125550104,,Ivy,50")
    started: list[tuple[str, str, dict[str, str]]] = []
    ended = asyncio.Event()

    async def run_flow(handle: Any, flow: str, variables: Any) -> asyncio.Task[str]:
        started.append((handle.id, flow, dict(variables)))

        async def the_call() -> str:
            await ended.wait()
            return "completed"
        return asyncio.create_task(the_call())

    env.dialler.run_flow = run_flow
    decisions = await env.dialler.pass_once()  # no agent logged in: agentless needs none
    assert (decisions["reminder"].dial, decisions["reminder"].reason) == (2, "agentless")
    first = await env.call()
    await env.call(2)
    await env.dialler.pass_once()
    assert len(env.dialled()) == 2, "max_channels: 2 calls up at most"
    await answered(env, first, ("HUMAN", "HUMAN-1200-1200"))
    await eventually(lambda: len(started) == 1)
    assert started == [(first, "reminder", {"amount": "30", "name": "Gus", "number": GOOD})]
    env.r.client.channel_event(ChannelDtmfReceived, first, digit="9")
    hits = await eventually_async(lambda: env.store.dnc_hits("reminder", GOOD),
                                  lambda h: h.internal)
    assert hits.internal, "on the list while the flow still runs"
    ended.set()
    env.r.client.channel_event(ChannelDestroyed, await env.call(2), cause=16)
    await env.settled()
    attempt = (await env.store.attempts("reminder", GOOD))[0]
    assert (attempt["result"], attempt["detail"]) == (
        "human", "flow reminder: completed; opted out")


async def eventually_async(probe: Any, done: Any, timeout: float = 1.0) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            value = await probe()
            if done(value):
                return value
            await asyncio.sleep(0.005)
