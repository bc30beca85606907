"""The agents' desktop events (ivr/services/acd/desktop.py) against their published schema
(docs/desktop-events.schema.json).

The schema is what desktop developers read, so it must say exactly what the code sends: every
event class has its definition with every field (and no other), and the messages real calls
and callbacks produce validate. The calls run on the ACD's fakes (tests/unit/acd/fakes.py: a
fake ARI, a fake clock, a real SQLite database); what is checked is what the WebSocket's
listener queue receives, in the JSON form web_acd.py sends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest

from ivr.ari import ChannelDestroyed, ChannelDtmfReceived, ChannelHangupRequest, StasisStart
from ivr.services.acd.agents import AgentState
from ivr.services.acd.control import Hold, Unhold
from ivr.services.acd.desktop import (
    EVENTS,
    LISTENER_BACKLOG,
    AgentStateEvent,
    CallConnected,
    CallKind,
    DesktopEvent,
    Desktops,
    HowEnded,
    IvrInput,
    IvrOrigin,
    OutboundOrigin,
    OutboundTry,
)
from ivr.services.acd.session import QueueSession
from ivr.services.acd.waiting import QueueRequest, wait
from ivr.services.callback.entry import CallbackEntry
from ivr.services.callback.service import Callbacks
from ivr.services.callback.store import CallbackStore
from ivr.services.outbound.config_campaigns import parse_campaigns
from ivr.services.outbound.contacts_csv import parse_contacts
from ivr.services.outbound.dialler import Dialler
from ivr.services.outbound.store import OutboundStore

from .acd.fakes import FakeCaller, Rig, eventually, finish_playbacks, rig

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "desktop-events.schema.json").read_text(encoding="utf-8"))

QUEUES = """
agents:
  a1: {name: Ann, endpoint: PJSIP/a1, skills: {general: 1}}
  a2: {name: Bob, endpoint: PJSIP/a2}
queues:
  sales: {members: [a1], wrapup: 0}
  care: {members: [a2], join_empty: true, transfer_code: "2", wrapup: 0}
  back:
    members: [a1]
    callback: {window: "00:00-00:00"}
  later:
    members: [a2]
    join_empty: true
    callback: {mode: customer_first, window: "00:00-00:00"}
"""
"""sales and care: callers, care reached by an agent's ##2#. back: agent-first callbacks,
later: customer-first ones, both at any hour."""

PREVIEW_CAMPAIGNS = """
rules:
  always: {extends: kr, window: "00:00-00:00", holidays: []}
campaigns:
  leads: {mode: preview, queue: sales, rules: always, timezone: Asia/Seoul}
"""
NUMBER = "01012345678"
CUSTOMER = f"PJSIP/{NUMBER}@trunk"

CALLS_SEND = {("agent_state", None), ("screen_pop", CallKind.CALL), ("connected", None),
              ("hold", None),
              ("call_ended", HowEnded.TRANSFER), ("call_ended", HowEnded.COMPLETECALLER),
              ("call_ended", HowEnded.COMPLETEAGENT)}
CALLBACKS_SEND = {("agent_state", None), ("screen_pop", CallKind.CALLBACK), ("connected", None),
                  ("call_ended", HowEnded.CALLBACK), ("call_ended", HowEnded.COMPLETEAGENT)}
OUTBOUND_SEND = {("agent_state", None), ("screen_pop", CallKind.OUTBOUND), ("connected", None),
                 ("call_ended", HowEnded.COMPLETEAGENT)}
PREVIEW_SEND = {("agent_state", None), ("preview", None)}
"""What the four runs below make the code send: (type, the kind of a screen pop or the how
of a call_ended)."""


def validate(message: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(message)


def sent(desks: list[asyncio.Queue[DesktopEvent]]) -> list[dict[str, Any]]:
    """Everything the desktops got so far, as it goes over the WebSocket (JSON text)."""
    return [json.loads(json.dumps(desk.get_nowait().to_json()))
            for desk in desks for _ in range(desk.qsize())]


def variant(message: dict[str, Any]) -> tuple[str, str | None]:
    return message["type"], message.get("kind", message.get("how"))


@pytest.fixture
async def r(tmp_path: Path) -> AsyncIterator[Rig]:
    async with rig(tmp_path, QUEUES) as it:
        await it.acd.start()
        yield it


async def rung(r: Rig, endpoint: str, nth: int = 1) -> str:
    def dialled() -> str | None:
        found = [cid for cid, ep in r.rest.originated if ep == endpoint]
        return found[nth - 1] if len(found) >= nth else None
    return await eventually(dialled)


async def answers(r: Rig, agent_channel: str, call_id: str) -> QueueSession:
    """The agent's phone answers the call for `call_id`; its session once connected."""
    r.client.channel_event(StasisStart, agent_channel, args=("acd-agent", call_id))
    session = await eventually(lambda: r.acd.sessions.get(call_id))
    assert isinstance(session, QueueSession)
    await eventually(lambda: session.connected.is_set() and session.state == "connected")
    return session


# -- the schema and the classes --------------------------------------------------------------


def test_the_schema_is_a_valid_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_the_schema_lists_every_event_and_every_field() -> None:
    assert set(get_args(DesktopEvent)) == set(EVENTS)
    refs = [choice["$ref"] for choice in SCHEMA["oneOf"]]
    assert refs == [f"#/$defs/{cls.TYPE}" for cls in EVENTS]
    assert set(SCHEMA["$defs"]) == {cls.TYPE for cls in EVENTS}
    for cls in EVENTS:
        definition = SCHEMA["$defs"][cls.TYPE]
        keys = ["type", *(f.name for f in dataclasses.fields(cls))]
        assert list(definition["properties"]) == keys, cls.__name__
        assert definition["required"] == keys, cls.__name__
        assert definition["properties"]["type"] == {"const": cls.TYPE}
        assert definition["additionalProperties"] is False
    screen = SCHEMA["$defs"]["screen_pop"]["properties"]
    assert screen["kind"]["enum"] == [k.value for k in CallKind]
    assert SCHEMA["$defs"]["call_ended"]["properties"]["how"]["enum"] == [
        h.value for h in HowEnded]
    runs = CALLS_SEND | CALLBACKS_SEND | OUTBOUND_SEND | PREVIEW_SEND
    assert {t for t, _ in runs} == {cls.TYPE for cls in EVENTS}
    assert {v for _, v in runs} - {None} == {*CallKind, *HowEnded}, (
        "the runs below make the code send every kind and every how")


def test_an_agent_state_event_is_the_agents_rest_view(r: Rig) -> None:
    agent = r.acd.agent("a1")
    assert AgentStateEvent.of(agent, 0.0).to_json() == {"type": "agent_state",
                                                        **agent.view(0.0)}


def test_a_desktop_that_does_not_read_loses_the_oldest_events() -> None:
    desktops = Desktops()
    desk = desktops.listen("a1")
    for n in range(LISTENER_BACKLOG + 1):
        desktops.publish("a1", CallConnected(f"c{n}", "sales"))
    got = [desk.get_nowait() for _ in range(desk.qsize())]
    assert len(got) == LISTENER_BACKLOG
    assert (got[0].call_id, got[-1].call_id) == ("c1", f"c{LISTENER_BACKLOG}")


# -- what calls and callbacks really send ----------------------------------------------------


async def test_what_a_call_sends_matches_the_schema(r: Rig) -> None:
    desks = [r.acd.desktops.listen("a1"), r.acd.desktops.listen("a2")]
    await r.acd.login("a1")
    await r.acd.login("a2")

    # A caller from the IVR: a1 answers and transfers to care, where a2 answers; the caller
    # hangs up on a2.
    first = FakeCaller(r.client, "caller-1", NUMBER, "en")
    origin = IvrOrigin(path=("welcome", "verify_pin", "agent"), account="14142135",
                       inputs=(IvrInput("welcome", "2"), IvrInput("verify_pin", "***")))
    waiting = asyncio.create_task(wait(r.acd, first, QueueRequest("sales", screen=origin)))
    await answers(r, await rung(r, "PJSIP/a1"), first.id)
    for digit in "##2#":
        r.client.channel_event(ChannelDtmfReceived, r.rest.originated[0][0], digit=digit)
    await answers(r, await rung(r, "PJSIP/a2"), first.id)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting

    # A second caller: the agent hangs up.
    await eventually(lambda: r.acd.agent("a1").state is AgentState.AVAILABLE)
    second = FakeCaller(r.client, "caller-2", NUMBER, "ko")
    waiting = asyncio.create_task(wait(r.acd, second, QueueRequest("sales")))
    agent_leg = await rung(r, "PJSIP/a1", nth=2)
    talking = await answers(r, agent_leg, second.id)
    await talking.command(Hold())  # the desktop holds the caller, and takes it back
    await talking.command(Unhold())
    r.client.channel_event(ChannelHangupRequest, agent_leg)
    await waiting

    messages = sent(desks)
    for message in messages:
        validate(message)
    assert {variant(m) for m in messages} == CALLS_SEND
    pop = next(m for m in messages if m["type"] == "screen_pop")
    assert (pop["path"], pop["account"], pop["callback"]) == (
        ["welcome", "verify_pin", "agent"], "14142135", None)
    assert pop["inputs"] == [{"node": "welcome", "value": "2"},
                             {"node": "verify_pin", "value": "***"}]
    assert pop["caller_name"] == "Kim Caller"


async def test_what_an_outbound_contact_sends_matches_the_schema(r: Rig) -> None:
    """A campaign's contact who answered waits for an agent like a caller (outbound/call.py),
    with the contact's fields and earlier attempts on the pop; the agent hangs up."""
    desks = [r.acd.desktops.listen("a1")]
    await r.acd.login("a1")
    contact = FakeCaller(r.client, "ob-1", NUMBER, "en")
    origin = OutboundOrigin(campaign="card-payment", contact="ct-1", attempt=2,
                            fields={"amount": "120000", "due": "2026-12-15"},
                            history=(OutboundTry("2026-12-07T10:00:00+00:00", "busy"),))
    waiting = asyncio.create_task(wait(r.acd, contact, QueueRequest("sales", screen=origin)))
    agent_leg = await rung(r, "PJSIP/a1")
    await answers(r, agent_leg, contact.id)
    r.client.channel_event(ChannelHangupRequest, agent_leg)
    await waiting

    messages = sent(desks)
    for message in messages:
        validate(message)
    assert {variant(m) for m in messages} == OUTBOUND_SEND
    pop = next(m for m in messages if m["type"] == "screen_pop")
    assert (pop["kind"], pop["campaign"], pop["contact"], pop["attempt"]) == (
        "outbound", "card-payment", "ct-1", 2)
    assert pop["fields"] == {"amount": "120000", "due": "2026-12-15"}
    assert pop["history"] == [{"at": "2026-12-07T10:00:00+00:00", "result": "busy"}]
    assert (pop["path"], pop["callback"]) == (None, None)


async def test_what_a_preview_offer_sends_matches_the_schema(r: Rig) -> None:
    """A preview campaign's contact offered to a1 by the dialler (outbound/previews.py), then
    withdrawn when a1 pauses."""
    campaigns = parse_campaigns(PREVIEW_CAMPAIGNS)
    store = OutboundStore(r.db)
    dialler = Dialler(r.client, r.acd, store, lambda: campaigns, dial="PJSIP/{number}@trunk",
                      clock=r.clock)
    parsed = parse_contacts("number,name,plan\n01012345678,Kim,gold\n",
                            campaigns.campaigns["leads"])
    await store.import_contacts("leads", parsed, now=dialler.now())
    await dialler.set_running("leads", True)
    desks = [r.acd.desktops.listen("a1")]
    await r.acd.login("a1")
    await dialler.pass_once()
    await r.acd.pause("a1", "break")
    await dialler.pass_once()

    messages = sent(desks)
    for message in messages:
        validate(message)
    assert {variant(m) for m in messages} == PREVIEW_SEND
    offered, withdrawn = [m for m in messages if m["type"] == "preview"]
    assert (offered["number"], offered["fields"], offered["attempt"]) == (
        "01012345678", {"plan": "gold"}, 1)
    assert (offered["withdrawn"], withdrawn["withdrawn"]) == (False, True)
    assert withdrawn["call_id"] == offered["call_id"]


async def test_what_callbacks_send_matches_the_schema(r: Rig) -> None:
    played = finish_playbacks(r)
    svc = Callbacks(r.client, r.acd, CallbackStore(r.db), dial="PJSIP/{number}@trunk",
                    clock=r.clock)
    desks = [r.acd.desktops.listen("a1"), r.acd.desktops.listen("a2")]
    try:
        await r.acd.login("a1")
        await r.acd.login("a2")

        # Agent-first: a1 answers, the customer answers, then hangs up.
        cb = await svc.request("back", NUMBER, source="voicemail", message_id="m-7")
        await svc.tick()
        entry = svc.entries[cb.id]
        agent_leg = await rung(r, "PJSIP/a1")
        r.client.channel_event(StasisStart, agent_leg, args=("acd-agent", cb.id))
        customer = await rung(r, CUSTOMER)
        r.client.channel_event(StasisStart, customer, args=("callback", cb.id))
        await eventually(lambda: len(r.rest.bridges.get(f"cb-call-{cb.id}", ())) == 2)
        r.client.channel_event(ChannelDestroyed, customer, cause=16)
        await served(entry)

        # Customer-first: the customer answers and waits in `later`, a2 answers, hangs up.
        later = await svc.request("later", NUMBER)
        await svc.tick()
        entry = svc.entries[later.id]
        customer = await rung(r, CUSTOMER, nth=2)
        r.client.channel_event(StasisStart, customer, args=("callback", later.id))
        agent_leg = await rung(r, "PJSIP/a2")
        await answers(r, agent_leg, customer)
        r.client.channel_event(ChannelHangupRequest, agent_leg)
        await served(entry)
    finally:
        await svc.stop()

    assert played, "the briefings played"
    messages = sent(desks)
    for message in messages:
        validate(message)
    assert {variant(m) for m in messages} == CALLBACKS_SEND
    agent_first, customer_first = [m for m in messages if m["type"] == "screen_pop"]
    assert (agent_first["call_id"], agent_first["callback"], agent_first["waited_s"]) == (
        cb.id, cb.id, None)
    assert (agent_first["source"], agent_first["message_id"], agent_first["attempt"]) == (
        "voicemail", "m-7", 1)
    assert (customer_first["call_id"], customer_first["callback"]) == (customer, later.id)
    assert isinstance(customer_first["waited_s"], float)


async def served(entry: CallbackEntry) -> None:
    task = await eventually(lambda: entry.task)
    async with asyncio.timeout(2):
        await asyncio.gather(task, return_exceptions=True)
