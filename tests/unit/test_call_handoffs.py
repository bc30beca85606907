"""A call and the services that take it (app/call.py through services/seam.py), on the fake
Asterisk: the call looks the hand-off up by kind, the service moves the caller, and the call
record and `GET /calls` read the places, never flags a service wrote into the call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.app.call import Call
from ivr.app.calls import CallSupervisor
from ivr.app.records import outcome_of, record_of
from ivr.app.web import call_view
from ivr.ari import AriClient, Event, StasisStart
from ivr.flow.model import Flow, HandoffNode, HangupNode, PlayNode
from ivr.flow.state import FlowContext
from ivr.flow.types import TAKEN, HandoffKind, HandoffRequest, HandoffResult, routed
from ivr.media.prompts import PromptLibrary
from ivr.services.place import InQueue, PlaceKind, WithAgent
from ivr.services.seam import CallerLeg, EndedBy, Handoff
from tests.fakeari import FakeAri
from tests.unit.fake_prompts import fake_prompts
from tests.unit.flowkit import make_flow, says


class FakeQueue:
    """Waits in "general" until `answer` is set, then talks until `hang_up` is set: the agent
    hangs up. Or, with `outcome`, leaves the queue with it."""

    kind = HandoffKind.QUEUE

    def __init__(self, outcome: str = "") -> None:
        self.outcome = outcome
        self.answer = asyncio.Event()
        self.hang_up = asyncio.Event()
        self.requests: list[HandoffRequest] = []
        self.ended: list[str] = []

    async def take(self, leg: CallerLeg, request: HandoffRequest) -> HandoffResult:
        self.requests.append(request)
        leg.move(InQueue(request.target, 1))
        if self.outcome:
            return routed(self.outcome)
        await self.answer.wait()
        leg.move(WithAgent(request.target, "agent1001"))
        await self.hang_up.wait()
        leg.ended_by(EndedBy.AGENT)
        await leg.handle.hangup()
        return TAKEN

    def call_ended(self, call_id: str) -> None:
        self.ended.append(call_id)


def queue_flow() -> Flow:
    return make_flow(
        HandoffNode("agent", kind="queue", target="general", on={"timeout": "sorry"},
                    next="sorry"),
        PlayNode("sorry", prompts=says("agent-unavailable"), next="end"),
        HangupNode("end", prompts=says("goodbye")))


@pytest.fixture(autouse=True)
def quick_hangup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ivr.media.line.HANGUP_GRACE", 0.01)


@pytest.fixture
async def fake() -> AsyncIterator[FakeAri]:
    async with FakeAri() as server:
        yield server


async def start_call(fake: FakeAri, client: AriClient, tmp_path: Path,
                     services: dict[HandoffKind, Handoff]) -> Call:
    flow = queue_flow()
    supervisor = CallSupervisor(client, PromptLibrary(fake_prompts(tmp_path / "prompts")),
                                tmp_path / "traces")
    ctx = FlowContext(flows={flow.name: flow})

    def on_unclaimed(event: Event) -> None:
        if isinstance(event, StasisStart):
            supervisor.start(event.channel, flow, ctx, handoffs=services)

    client.on_unclaimed(on_unclaimed)
    channel = fake.add_channel()
    await fake.emit_stasis_start(channel)
    return await fake.wait_until(lambda: supervisor.calls.get(channel.id))


async def test_a_caller_who_reached_an_agent_is_a_queue_call_however_it_ends(
        fake: FakeAri, client: AriClient, tmp_path: Path) -> None:
    queue = FakeQueue()
    call = await start_call(fake, client, tmp_path, {HandoffKind.QUEUE: queue})
    await fake.wait_until(lambda: call.place.kind is PlaceKind.IN_QUEUE or None)
    assert call_view(call)["state"] == "in_queue"
    assert call_view(call)["place"] == {"queue": "general", "position": 1}
    queue.answer.set()
    await fake.wait_until(lambda: call.place.kind is PlaceKind.WITH_AGENT or None)
    assert call_view(call)["place"] == {"queue": "general", "agent": "agent1001"}
    queue.hang_up.set()
    await fake.wait_until(lambda: call.place.kind is PlaceKind.ENDED or None)

    (request,) = queue.requests
    assert (request.kind, request.target, request.node, request.flow) == (
        HandoffKind.QUEUE, "general", "agent", "main")
    moves = [e["place"] for e in call.trace_log.events("place")]
    assert moves == ["in_flow", "in_queue", "with_agent", "ended"]
    assert call.trace_log.events("place")[-1]["how"] == "agent"
    assert (outcome_of(call), call.hangup_by, call.taken_by) == ("queue", "agent",
                                                                  HandoffKind.QUEUE)
    assert len(fake.requests_to("DELETE", f"/channels/{call.id}")) == 1, \
        "the service hung up; the call did not hang up again"
    assert queue.ended == [call.id], "every service hears that the call is over"
    assert record_of(call).queues == ["general"], "a supervisor of general sees its record"


async def test_a_caller_given_back_goes_on_in_the_flow(
        fake: FakeAri, client: AriClient, tmp_path: Path) -> None:
    queue = FakeQueue(outcome="timeout")
    call = await start_call(fake, client, tmp_path, {HandoffKind.QUEUE: queue})
    await fake.wait_until(lambda: call.place.kind is PlaceKind.ENDED or None)
    moves = [e["place"] for e in call.trace_log.events("place")]
    assert moves == ["in_flow", "in_queue", "in_flow", "ended"]
    assert call.flow_state.path == ["agent", "sorry", "end"]
    assert (outcome_of(call), call.hangup_by, call.taken_by) == ("completed", "ivr", None)


async def test_a_feature_that_is_off_declines_and_the_flow_goes_on(
        fake: FakeAri, client: AriClient, tmp_path: Path) -> None:
    call = await start_call(fake, client, tmp_path, {})
    await fake.wait_until(lambda: call.place.kind is PlaceKind.ENDED or None)
    assert [(e["kind"], e["target"]) for e in call.trace_log.events("handoff_unavailable")] \
        == [("queue", "general")]
    assert [e["place"] for e in call.trace_log.events("place")] == ["in_flow", "ended"]
