"""The callback service (services/callback/service.py, serve.py) with the ACD on a fake ARI,
a fake clock and a real SQLite database (tests/unit/acd/fakes.py).

Requests are refused or stored; `tick()` closes the expired, moves out-of-window ones to the
window's opening and lists the due ones among the ACD's waiting callers at the place their
caller had; `settle()` applies the retry policy; `start()` takes up what a previous process
left. Serving runs for real: the dispatcher offers a listed callback, agents' phones answer
when the test sends their channel a StasisStart, the customer's dial ends with the events the
test sends, and every playback finishes as soon as it starts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ivr.ari import ChannelDestroyed, ChannelHangupRequest, StasisStart
from ivr.services.acd.agents import AgentState
from ivr.services.acd.results import QueueResult
from ivr.services.acd.session import QueueRequest, QueueSession, wait
from ivr.services.callback.entry import CallbackEntry
from ivr.services.callback.service import RETRY_SOON, CallbackRefused, Callbacks
from ivr.services.callback.store import Callback, CallbackStore

from ..acd.fakes import FakeCaller, FakeClock, Rig, eventually, finish_playbacks, rig

QUEUES = """
agents:
  a1: {name: Ann, endpoint: PJSIP/a1}
  a2: {name: Bob, endpoint: PJSIP/a2}
queues:
  sales:
    members: [a1]
    ring_timeout: 5
    callback:
      attempts: 3
      retry: [60, 300]
      window: "09:00-20:00"
      timezone: Asia/Seoul
      timezones: {"+1": America/New_York}
      caller_id: '"Bank" <15880000>'
  care:
    members: [a2]
    priority: 2
    join_empty: true
    callback:
      mode: customer_first
      window: "00:00-00:00"
      expire_after: 3600
  brief:
    members: [a2]
    max_wait: 30
    join_empty: true
    callback: {mode: customer_first, window: "00:00-00:00"}
"""
"""sales: agent-first, a1 answers, 09:00-20:00 in Seoul, three tries (60 s, then 300 s apart),
a day to expire. care: customer-first, a2 answers, any hour, an hour to expire. brief: like
care, but its callers wait 30 s at most."""

NOW = dt.datetime(2026, 11, 23, 1, 0, 0, tzinfo=dt.UTC)
"""10:00 in Seoul: inside sales' window."""
DIAL = "PJSIP/{number}@trunk"
NUMBER = "01099998888"
CUSTOMER = f"PJSIP/{NUMBER}@trunk"


def kst(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC) - dt.timedelta(hours=9)


def seconds(n: float) -> dt.timedelta:
    return dt.timedelta(seconds=n)


@dataclass
class Env:
    r: Rig
    svc: Callbacks
    store: CallbackStore
    played: list[str]
    """Media of every playback started on any channel, in order."""
    calls: list[asyncio.Task[QueueResult]] = field(default_factory=list)
    """Callers' waits in a queue (cancelled at the end: they hang up)."""

    def at(self, moment: dt.datetime) -> None:
        self.r.clock.now = moment.timestamp()

    def advance(self, delta: dt.timedelta) -> None:
        self.r.clock.advance(delta.total_seconds())

    @property
    def now(self) -> dt.datetime:
        return self.svc.now()

    def originated(self) -> list[str]:
        return [endpoint for _, endpoint in self.r.rest.originated]

    async def listed(self, cb: Callback) -> CallbackEntry:
        """tick() lists it; its entry in the ACD."""
        await self.svc.tick()
        assert self.r.acd.sessions.get(cb.id) is self.svc.entries[cb.id]
        return self.svc.entries[cb.id]

    async def stored(self, cb: Callback) -> Callback:
        got = await self.store.get(cb.id)
        assert got is not None
        return got


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with rig(tmp_path, QUEUES, clock=FakeClock(NOW.timestamp())) as r:
        played = finish_playbacks(r)
        await r.acd.start()
        store = CallbackStore(r.db)
        svc = Callbacks(r.client, r.acd, store, dial=DIAL, clock=r.clock)
        it = Env(r, svc, store, played)
        try:
            yield it
        finally:
            await svc.stop()
            for task in it.calls:
                task.cancel()
            await asyncio.gather(*it.calls, return_exceptions=True)


async def rung(env: Env, endpoint: str, nth: int = 1) -> str:
    """The channel of the nth dial to `endpoint`."""
    def dialled() -> str | None:
        found = [cid for cid, ep in env.r.rest.originated if ep == endpoint]
        return found[nth - 1] if len(found) >= nth else None
    return await eventually(dialled)


async def served(entry: CallbackEntry) -> None:
    """Until the serving the dispatcher started for `entry` has ended."""
    task = await eventually(lambda: entry.task)
    async with asyncio.timeout(2):
        await asyncio.gather(task, return_exceptions=True)


# -- requests --------------------------------------------------------------------------------


async def refused(env: Env, queue: str, number: str, **kw: Any) -> str:
    with pytest.raises(CallbackRefused) as info:
        await env.svc.request(queue, number, **kw)
    return info.value.reason


async def test_request_refuses_an_unknown_queue(env: Env) -> None:
    assert await refused(env, "nosuch", NUMBER) == "unknown_queue"
    assert await env.store.find() == [] and env.svc.active == {}


@pytest.mark.parametrize("number", ["12", "+1-2", "call me", ""])
async def test_request_refuses_a_number_too_short(env: Env, number: str) -> None:
    assert await refused(env, "sales", number) == "bad_number"
    assert await env.store.find() == []


async def test_request_refuses_a_number_on_the_dnc_list(env: Env) -> None:
    await env.store.dnc_add("+82 10-1234-5678", "asked")
    assert await refused(env, "sales", "+821012345678") == "dnc"
    assert await refused(env, "sales", "+82 (10) 1234 5678") == "dnc"
    assert await env.store.find() == []


async def test_request_refuses_an_unknown_time_zone(env: Env) -> None:
    assert await refused(env, "sales", NUMBER, timezone="Mars/Olympus") == "bad_timezone"
    assert await env.store.find() == []


async def test_a_request_is_stored_at_once(env: Env) -> None:
    cb = await env.svc.request("sales", "010-9999-8888", caller="0212345678", language="ko",
                               orig_position=4, message_id="m-1", source="voicemail")
    assert (cb.queue, cb.number, cb.timezone, cb.state, cb.attempts) == (
        "sales", NUMBER, "Asia/Seoul", "pending", 0)
    assert (cb.entered_at, cb.next_attempt_at, cb.created_at) == (NOW, NOW, NOW)
    assert cb.expires_at == NOW + dt.timedelta(days=1)
    assert (cb.caller, cb.language, cb.source, cb.orig_position, cb.message_id) == (
        "0212345678", "ko", "voicemail", 4, "m-1")
    assert cb.priority == 0 and cb.not_before is None
    assert cb.id.startswith("cb-") and env.svc.active[cb.id] is cb
    assert await env.stored(cb) == cb


async def test_a_request_takes_the_queues_priority_and_the_numbers_zone(env: Env) -> None:
    care = await env.svc.request("care", NUMBER)
    assert care.priority == 2
    assert (await env.svc.request("care", NUMBER, priority=7)).priority == 7
    assert (await env.svc.request("sales", "+1 212 555 1234")).timezone == "America/New_York"
    assert (await env.svc.request("sales", NUMBER, timezone="Europe/London")).timezone == (
        "Europe/London")


async def test_a_request_outside_the_window_waits_for_it(env: Env) -> None:
    env.at(kst(23, 21, 30))
    cb = await env.svc.request("sales", NUMBER)
    assert cb.next_attempt_at == kst(24, 9, 0)
    assert cb.expires_at == kst(24, 21, 30), "a day from the request"


async def test_a_request_for_later(env: Env) -> None:
    later = kst(23, 15, 0)
    cb = await env.svc.request("sales", NUMBER, not_before=later)
    assert (cb.not_before, cb.next_attempt_at) == (later, later)
    assert cb.expires_at == later + dt.timedelta(days=1), "a day from the time asked for"
    assert (await env.stored(cb)).not_before == later


# -- listing: the place kept, the window, the expiry -----------------------------------------


async def waiting_caller(env: Env, channel_id: str = "caller-1") -> QueueSession:
    """A caller waiting in sales (a1 logged in but paused: nobody is offered anything)."""
    acd = env.r.acd
    if acd.agent("a1").state is AgentState.LOGGED_OUT:
        await acd.login("a1")
        await acd.pause("a1", "meeting")
    who = FakeCaller(env.r.client, channel_id, "0105550000", "ko")
    env.calls.append(asyncio.create_task(wait(acd, who, QueueRequest("sales"))))
    session: QueueSession = await eventually(lambda: acd.sessions.get(channel_id))
    return session


async def test_a_due_callback_is_listed_at_its_callers_place(env: Env) -> None:
    early = await env.svc.request("sales", NUMBER, entered_at=NOW - seconds(120))
    assert early.id not in env.r.acd.sessions, "listed by tick(), not by the request"
    caller = await waiting_caller(env)
    env.advance(seconds(30))
    late = await env.svc.request("sales", "01011112222")

    await env.svc.tick()
    first, last = env.svc.entries[early.id], env.svc.entries[late.id]
    assert env.r.acd.sessions[early.id] is first and env.r.acd.sessions[late.id] is last
    assert first.entered_at == (NOW - seconds(120)).timestamp()
    ordered = sorted(env.r.acd.sessions.values(), key=lambda s: s.order)
    assert [s.id for s in ordered] == [early.id, "caller-1", late.id]
    assert (first.position(), caller.position(), last.position()) == (1, 2, 3)
    view = first.view(env.r.clock())
    assert (view["kind"], view["caller"], view["state"], view["position"], view["waited_s"]) == (
        "callback", NUMBER, "waiting", 1, 150.0)
    assert first.offerable and first.claims_agents and not first.holds
    await env.svc.tick()
    assert env.svc.entries[early.id] is first, "listed once"


async def test_a_callback_of_higher_priority_goes_first(env: Env) -> None:
    caller = await waiting_caller(env)
    env.advance(seconds(60))
    urgent = await env.svc.request("sales", NUMBER, priority=5)
    await env.svc.tick()
    assert (env.svc.entries[urgent.id].position(), caller.position()) == (1, 2)


async def test_a_callback_outside_the_window_is_not_listed(env: Env) -> None:
    env.at(kst(23, 19, 59))
    cb = await env.svc.request("sales", NUMBER)
    assert cb.next_attempt_at == kst(23, 19, 59)
    env.at(kst(23, 20, 1))
    await env.svc.tick()
    assert cb.id not in env.r.acd.sessions
    assert cb.next_attempt_at == kst(24, 9, 0), "moved to the window's opening"
    stored = await env.stored(cb)
    assert (stored.next_attempt_at, stored.updated_at, stored.state) == (
        kst(24, 9, 0), kst(23, 20, 1), "pending")

    env.at(kst(24, 8, 59))
    await env.svc.tick()
    assert cb.id not in env.r.acd.sessions
    env.at(kst(24, 9, 0))
    await env.svc.tick()
    assert cb.id in env.r.acd.sessions


async def test_a_listed_callback_leaves_when_the_window_closes(env: Env) -> None:
    env.at(kst(23, 19, 59))
    cb = await env.svc.request("sales", NUMBER)
    await env.listed(cb)  # nobody logged in: nothing offers it
    env.at(kst(23, 20, 0))
    await env.svc.tick()
    assert cb.id not in env.r.acd.sessions and cb.id not in env.svc.entries
    assert cb.next_attempt_at == kst(24, 9, 0)


async def test_a_callback_not_yet_due_is_not_listed(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER, not_before=NOW + seconds(600))
    await env.svc.tick()
    assert cb.id not in env.r.acd.sessions
    env.advance(seconds(600))
    await env.svc.tick()
    assert cb.id in env.r.acd.sessions


async def test_an_expired_callback_is_closed(env: Env) -> None:
    cb = await env.svc.request("care", NUMBER)
    kept = await env.svc.request("care", "01011112222", not_before=NOW + seconds(1800))
    await env.listed(cb)
    env.advance(seconds(3600))
    await env.svc.tick()
    assert (cb.state, cb.outcome) == ("expired", "expired")
    assert cb.id not in env.r.acd.sessions and cb.id not in env.svc.active
    stored = await env.stored(cb)
    assert (stored.state, stored.outcome, stored.updated_at) == (
        "expired", "expired", NOW + seconds(3600))
    assert kept.state == "pending" and kept.id in env.r.acd.sessions, (
        "a later time asked for expires later")


# -- cancel and reschedule -------------------------------------------------------------------


async def test_cancel(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    await env.listed(cb)
    env.advance(seconds(5))
    got = await env.svc.cancel(cb.id)
    assert got is cb and (cb.state, cb.outcome) == ("cancelled", "cancelled")
    assert cb.id not in env.r.acd.sessions and cb.id not in env.svc.active
    assert (await env.stored(cb)).state == "cancelled"
    await env.svc.tick()
    assert cb.id not in env.r.acd.sessions, "never listed again"
    again = await env.svc.cancel(cb.id)
    assert again is not None and again.state == "cancelled"
    assert await env.svc.cancel("cb-nosuch") is None


async def test_cancel_leaves_a_final_callback_alone(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    entry = await env.listed(cb)
    await env.svc.settle(entry, "answered", started=NOW)
    got = await env.svc.cancel(cb.id)
    assert got is not None and (got.state, got.outcome) == ("completed", "answered")
    assert (await env.stored(cb)).state == "completed"


async def test_reschedule(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    await env.listed(cb)
    env.advance(seconds(10))
    when = kst(24, 15, 0)
    got = await env.svc.reschedule(cb.id, when)
    assert got is cb and cb.id not in env.r.acd.sessions and cb.id not in env.svc.entries
    assert (cb.not_before, cb.next_attempt_at, cb.state) == (when, when, "pending")
    assert cb.expires_at == when + dt.timedelta(days=1)
    assert cb.updated_at == NOW + seconds(10)
    assert await env.stored(cb) == cb
    await env.svc.tick()
    assert cb.id not in env.r.acd.sessions
    env.at(when)
    await env.svc.tick()
    assert cb.id in env.r.acd.sessions


async def test_reschedule_into_the_night_waits_for_the_window(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    got = await env.svc.reschedule(cb.id, kst(23, 22, 0))
    assert got is not None and got.next_attempt_at == kst(24, 9, 0)
    assert got.not_before == kst(23, 22, 0)


async def test_reschedule_earlier_keeps_the_expiry(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER, not_before=kst(23, 18, 0))
    await env.svc.reschedule(cb.id, kst(23, 11, 0))
    assert cb.next_attempt_at == kst(23, 11, 0)
    assert cb.expires_at == kst(24, 18, 0), "never shortened"


async def test_reschedule_leaves_a_final_or_unknown_callback_alone(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    await env.svc.cancel(cb.id)
    got = await env.svc.reschedule(cb.id, kst(24, 15, 0))
    assert got is not None and got.state == "cancelled" and got.not_before is None
    assert (await env.stored(cb)).not_before is None
    assert await env.svc.reschedule("cb-nosuch", kst(24, 15, 0)) is None


# -- settling an attempt ---------------------------------------------------------------------


async def results(env: Env, cb: Callback) -> list[tuple[int, str]]:
    return [(a.attempt, a.result) for a in await env.store.attempts(cb.id)]


async def test_answered_completes(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    entry = await env.listed(cb)
    env.advance(seconds(40))
    await env.svc.settle(entry, "answered", started=NOW + seconds(1), agent="a1",
                         channel="ch-9")
    assert (cb.state, cb.outcome, cb.attempts) == ("completed", "answered", 0)
    assert cb.id not in env.r.acd.sessions and cb.id not in env.svc.active
    stored = await env.stored(cb)
    assert (stored.state, stored.outcome, stored.updated_at) == (
        "completed", "answered", NOW + seconds(40))
    [attempt] = await env.store.attempts(cb.id)
    assert (attempt.attempt, attempt.result, attempt.agent_id, attempt.channel_id) == (
        1, "answered", "a1", "ch-9")
    assert (attempt.started_at, attempt.ended_at) == (NOW + seconds(1), NOW + seconds(40))


async def test_no_answer_is_retried_per_the_policy_until_the_last_attempt(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    entry = await env.listed(cb)
    await env.svc.settle(entry, "no_answer", started=NOW, agent="a1")
    assert (cb.state, cb.attempts, cb.agent_id) == ("pending", 1, "")
    assert cb.next_attempt_at == NOW + seconds(60), "the first delay"
    assert cb.id not in env.r.acd.sessions
    stored = await env.stored(cb)
    assert (stored.state, stored.attempts, stored.next_attempt_at) == (
        "pending", 1, NOW + seconds(60))

    await env.svc.tick()
    assert cb.id not in env.r.acd.sessions, "not before its time"
    env.advance(seconds(60))
    entry = await env.listed(cb)
    await env.svc.settle(entry, "busy", started=env.now)
    assert (cb.state, cb.attempts) == ("pending", 2)
    assert cb.next_attempt_at == NOW + seconds(60 + 300), "the second delay"

    env.advance(seconds(300))
    entry = await env.listed(cb)
    await env.svc.settle(entry, "no_answer", started=env.now)
    assert (cb.state, cb.outcome, cb.attempts) == ("expired", "attempts (no_answer)", 3)
    assert cb.id not in env.svc.active
    assert (await env.stored(cb)).state == "expired"
    assert await results(env, cb) == [(1, "no_answer"), (2, "busy"), (3, "no_answer")]


async def test_a_retry_is_pushed_into_the_window(env: Env) -> None:
    env.at(kst(23, 19, 58))
    cb = await env.svc.request("sales", NUMBER)
    entry = await env.listed(cb)
    env.at(kst(23, 19, 59))
    await env.svc.settle(entry, "failed", started=kst(23, 19, 58))
    assert (cb.state, cb.next_attempt_at) == ("pending", kst(24, 9, 0))


async def test_a_retry_after_the_expiry_expires(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    entry = await env.listed(cb)
    env.at(kst(24, 9, 59) + seconds(30))  # the retry would be at 10:00:30, after the expiry
    await env.svc.settle(entry, "no_answer", started=env.now)
    assert (cb.state, cb.outcome) == ("expired", "expired (no_answer)")
    assert (await env.stored(cb)).state == "expired"


async def test_dnc_blocks(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    entry = await env.listed(cb)
    await env.svc.settle(entry, "dnc", started=NOW, detail="on the list")
    assert (cb.state, cb.outcome, cb.attempts) == ("blocked", "dnc", 0)
    assert cb.id not in env.svc.active
    assert (await env.stored(cb)).state == "blocked"
    assert await results(env, cb) == [(1, "dnc")]


@pytest.mark.parametrize("result", ["interrupted", "agent_gone", "agent_missed"])
async def test_an_interruption_does_not_use_up_an_attempt(env: Env, result: str) -> None:
    cb = await env.svc.request("sales", NUMBER)
    entry = await env.listed(cb)
    await env.svc.settle(entry, "no_answer", started=NOW)
    env.advance(seconds(60))
    entry = await env.listed(cb)
    await env.svc.settle(entry, result, started=env.now, agent="a1")
    assert (cb.state, cb.attempts, cb.agent_id) == ("pending", 1, "")
    assert cb.next_attempt_at == env.now + seconds(RETRY_SOON)
    assert await results(env, cb) == [(1, "no_answer"), (2, result)]
    assert (await env.stored(cb)).attempts == 1


# -- a restart -------------------------------------------------------------------------------


async def test_start_takes_up_a_dial_the_last_process_left(env: Env) -> None:
    dialing = await env.svc.request("sales", NUMBER)
    await env.svc.dialling(dialing, "a1")
    dialing.attempts = 1
    await env.store.update(dialing)
    pending = await env.svc.request("care", NUMBER)
    done = await env.svc.request("care", "01011112222")
    await env.svc.cancel(done.id)

    env.advance(seconds(90))
    again = Callbacks(env.r.client, env.r.acd, env.store, dial=DIAL, clock=env.r.clock)
    await again.start()
    try:
        assert set(again.active) == {dialing.id, pending.id}
        taken = again.active[dialing.id]
        assert (taken.state, taken.agent_id, taken.attempts) == ("pending", "", 1)
        assert taken.next_attempt_at == taken.updated_at == NOW + seconds(90)
        assert await env.stored(taken) == taken
        [attempt] = await env.store.attempts(dialing.id)
        assert (attempt.attempt, attempt.result, attempt.agent_id, attempt.detail) == (
            2, "interrupted", "a1", "app restarted"), "the dial cut short was the second"
        assert (attempt.started_at, attempt.ended_at) == (NOW, NOW + seconds(90))
        assert again.active[pending.id] == pending
        assert await env.store.attempts(pending.id) == []
        await eventually(lambda: dialing.id in env.r.acd.sessions)  # its loop lists them
    finally:
        await again.stop()
    assert dialing.id not in env.r.acd.sessions, "stop() unlists"


# -- serving: agent-first --------------------------------------------------------------------


async def agent_answers(env: Env, cb: Callback) -> tuple[CallbackEntry, str]:
    """a1 logged in, the callback listed, offered, a1's phone rings and is answered."""
    await env.r.acd.login("a1")
    entry = await env.listed(cb)
    agent_channel = await rung(env, "PJSIP/a1")
    dial = env.r.rest.sent("POST", f"/channels/{agent_channel}")[0].params
    assert dial["appArgs"] == f"acd-agent,{cb.id}"
    env.r.client.channel_event(StasisStart, agent_channel, args=("acd-agent", cb.id))
    return entry, agent_channel


async def test_agent_first_customer_busy(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    desk = env.r.acd.desktops.listen("a1")
    entry, agent_channel = await agent_answers(env, cb)
    customer = await rung(env, CUSTOMER)
    assert cb.state == "dialing" and cb.agent_id == "a1"
    assert (await env.stored(cb)).state == "dialing"
    assert env.r.acd.agent("a1").state is AgentState.ON_CALL
    dial = env.r.rest.sent("POST", f"/channels/{customer}")[0].params
    assert (dial["appArgs"], dial["callerId"], dial["timeout"]) == (
        f"callback,{cb.id}", '"Bank" <15880000>', 30)
    sound = env.r.acd.prompts.media_uri
    assert env.played[:2] == [sound("callback-agent-intro", "en"), sound("digit-0", "en")]
    assert "tone:ring" in env.played, "the agent hears the customer's phone ring"

    env.r.client.channel_event(ChannelDestroyed, customer, cause=17, cause_txt="User busy")
    await served(entry)
    assert env.played[-1] == sound("callback-no-answer", "en")
    assert (cb.state, cb.attempts, cb.agent_id) == ("pending", 1, "")
    assert cb.next_attempt_at == NOW + seconds(60)
    [attempt] = await env.store.attempts(cb.id)
    assert (attempt.attempt, attempt.result, attempt.agent_id, attempt.detail) == (
        1, "busy", "a1", "User busy")
    stored = await env.stored(cb)
    assert (stored.state, stored.attempts) == ("pending", 1)
    agent = env.r.acd.agent("a1")
    assert agent.state is AgentState.AVAILABLE, "free at once, no wrap-up"
    assert agent.call_id == ""
    assert agent_channel in env.r.rest.hung_up and customer in env.r.rest.hung_up
    assert cb.id not in env.r.acd.sessions
    assert env.originated() == ["PJSIP/a1", CUSTOMER], "no second dial before its time"
    pops = [m for m in (desk.get_nowait().to_json() for _ in range(desk.qsize()))
            if m["type"] == "screen_pop"]
    assert [(p["kind"], p["call_id"], p["caller"], p["attempt"]) for p in pops] == [
        ("callback", cb.id, NUMBER, 1)]
    assert env.r.rest.bridges == {}, "nobody was bridged"


async def test_agent_first_briefing_plays_the_voicemail_it_came_from(env: Env) -> None:
    opened: list[str] = []
    closed: list[str] = []

    @asynccontextmanager
    async def media(message_id: str) -> AsyncIterator[str | None]:
        opened.append(message_id)
        try:
            yield f"sound:/tmp/voicemail/{message_id}"
        finally:
            closed.append(message_id)

    env.svc.message_media = media
    cb = await env.svc.request("sales", NUMBER, message_id="m-42", source="voicemail")
    await env.store.dnc_add(NUMBER)  # ends the attempt right after the briefing
    entry, _ = await agent_answers(env, cb)
    await served(entry)
    sound = env.r.acd.prompts.media_uri
    briefing = env.played[:env.played.index(sound("callback-blocked", "en"))]
    assert briefing[0] == sound("callback-agent-intro", "en")
    assert briefing[-2:] == [sound("callback-agent-message", "en"), "sound:/tmp/voicemail/m-42"]
    assert (opened, closed) == (["m-42"], ["m-42"]), "the message's media is released"


async def test_agent_first_number_put_on_the_dnc_list_after_booking(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    await env.store.dnc_add(NUMBER, "asked by phone")
    entry, agent_channel = await agent_answers(env, cb)
    await served(entry)
    assert (cb.state, cb.outcome) == ("blocked", "dnc")
    assert cb.id not in env.svc.active
    assert (await env.stored(cb)).state == "blocked"
    assert [(a.result, a.agent_id) for a in await env.store.attempts(cb.id)] == [("dnc", "a1")]
    assert env.originated() == ["PJSIP/a1"], "the customer is never dialled"
    assert env.played[-1] == env.r.acd.prompts.media_uri("callback-blocked", "en")
    assert "tone:ring" not in env.played
    assert env.r.acd.agent("a1").state is AgentState.AVAILABLE
    assert agent_channel in env.r.rest.hung_up


async def test_agent_first_customer_answers_and_talks(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    entry, agent_channel = await agent_answers(env, cb)
    customer = await rung(env, CUSTOMER)
    env.r.client.channel_event(StasisStart, customer, args=("callback", cb.id))
    bridge = f"cb-call-{cb.id}"
    await eventually(lambda: len(env.r.rest.bridges.get(bridge, ())) == 2)
    assert env.r.rest.bridges[bridge] == [agent_channel, customer]
    assert entry.state == "connected"
    env.advance(seconds(120))
    env.r.client.channel_event(ChannelDestroyed, customer, cause=16)
    await served(entry)
    assert (cb.state, cb.outcome, cb.attempts) == ("completed", "answered", 0)
    assert [(a.result, a.channel_id) for a in await env.store.attempts(cb.id)] == [
        ("answered", customer)]
    assert env.r.acd.agent("a1").state is AgentState.WRAP_UP, "after-call work as for a call"
    assert bridge not in env.r.rest.bridges and agent_channel in env.r.rest.hung_up


async def test_agent_hanging_up_while_the_customer_rings(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    entry, agent_channel = await agent_answers(env, cb)
    customer = await rung(env, CUSTOMER)
    env.r.client.channel_event(ChannelHangupRequest, agent_channel)
    await served(entry)
    assert customer in env.r.rest.hung_up, "the customer's phone stops ringing"
    assert (cb.state, cb.attempts, cb.agent_id) == ("pending", 0, ""), "not the customer's fault"
    assert cb.next_attempt_at == NOW + seconds(RETRY_SOON)
    assert [(a.attempt, a.result) for a in await env.store.attempts(cb.id)] == [
        (1, "agent_gone")]
    assert (await env.stored(cb)).state == "pending"
    assert env.r.acd.agent("a1").state is AgentState.AVAILABLE


async def test_cancel_while_the_customer_rings(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    entry, agent_channel = await agent_answers(env, cb)
    customer = await rung(env, CUSTOMER)
    got = await env.svc.cancel(cb.id)
    assert got is cb and (cb.state, cb.outcome) == ("cancelled", "cancelled")
    assert entry.task is not None and entry.task.done()
    assert [(a.result, a.detail) for a in await env.store.attempts(cb.id)] == [
        ("interrupted", "cancelled")], "settled once, by serve()"
    assert (await env.stored(cb)).state == "cancelled"
    assert customer in env.r.rest.hung_up and agent_channel in env.r.rest.hung_up
    assert env.r.acd.agent("a1").state is AgentState.AVAILABLE


async def test_stopping_while_the_customer_rings_keeps_the_callback(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    _, agent_channel = await agent_answers(env, cb)
    customer = await rung(env, CUSTOMER)
    await env.svc.stop()
    assert customer in env.r.rest.hung_up and agent_channel in env.r.rest.hung_up
    stored = await env.stored(cb)
    assert (stored.state, stored.attempts, stored.agent_id) == ("pending", 0, "")
    assert [(a.result, a.detail) for a in await env.store.attempts(cb.id)] == [
        ("interrupted", "stopped")]
    assert cb.id not in env.r.acd.sessions


async def test_agent_not_answering_puts_it_back_in_line(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    await env.r.acd.login("a1")
    entry = await env.listed(cb)
    agent_channel = await rung(env, "PJSIP/a1")
    env.r.client.channel_event(ChannelDestroyed, agent_channel, cause=19)
    await eventually(lambda: entry.state == "waiting" and entry.task is None)
    assert entry.tried == {"a1"} and env.r.acd.sessions[cb.id] is entry
    assert cb.state == "pending" and await env.store.attempts(cb.id) == []
    assert env.originated() == ["PJSIP/a1"]


async def test_cancel_while_the_agent_rings(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    await env.r.acd.login("a1")
    await env.listed(cb)
    agent_channel = await rung(env, "PJSIP/a1")
    got = await env.svc.cancel(cb.id)
    assert got is cb and cb.state == "cancelled"
    assert (await env.stored(cb)).state == "cancelled"
    assert agent_channel in env.r.rest.hung_up, "the agent's phone stops ringing"
    assert env.r.acd.agent("a1").state is AgentState.AVAILABLE
    assert [(a.result, a.detail) for a in await env.store.attempts(cb.id)] == [
        ("interrupted", "cancelled")]
    assert cb.id not in env.r.acd.sessions and cb.id not in env.svc.active


# -- serving: customer-first -----------------------------------------------------------------


async def test_customer_first_on_the_dnc_list_is_never_dialled(env: Env) -> None:
    cb = await env.svc.request("care", NUMBER)
    await env.store.dnc_add(NUMBER)
    await env.r.acd.login("a2")
    entry = await env.listed(cb)
    assert not entry.claims_agents
    await served(entry)
    assert (cb.state, cb.outcome) == ("blocked", "dnc")
    assert (await env.stored(cb)).state == "blocked"
    assert [a.result for a in await env.store.attempts(cb.id)] == ["dnc"]
    assert env.r.rest.originated == [], "neither the customer nor an agent is dialled"
    assert env.r.acd.agent("a2").state is AgentState.AVAILABLE


async def test_customer_first_busy_is_retried(env: Env) -> None:
    cb = await env.svc.request("care", NUMBER)
    await env.r.acd.login("a2")
    entry = await env.listed(cb)
    customer = await rung(env, CUSTOMER)
    assert cb.state == "dialing" and cb.agent_id == ""
    assert env.r.acd.agent("a2").state is AgentState.AVAILABLE, "no agent is held meanwhile"
    env.r.client.channel_event(ChannelDestroyed, customer, cause=17)
    await served(entry)
    assert (cb.state, cb.attempts) == ("pending", 1)
    assert cb.next_attempt_at == NOW + seconds(120), "care keeps the default delays"
    assert [a.result for a in await env.store.attempts(cb.id)] == ["busy"]
    assert env.originated() == [CUSTOMER]


async def test_a_customer_waiting_in_the_queue(env: Env) -> None:
    """Customer-first: answered, the customer hears whose callback it is and waits in the
    queue at the callback's place; an agent is rung for them like for any caller."""
    cb = await env.svc.request("care", NUMBER, entered_at=NOW - seconds(300))
    await env.r.acd.login("a2")
    entry = await env.listed(cb)
    customer = await rung(env, CUSTOMER)
    env.r.client.channel_event(StasisStart, customer, args=("callback", cb.id))
    agent_channel = await rung(env, "PJSIP/a2")
    assert cb.id not in env.r.acd.sessions, "the callback's entry gave way to the caller"
    session: QueueSession = env.r.acd.sessions[customer]
    assert session.entered_at == (NOW - seconds(300)).timestamp(), "at the callback's place"
    assert env.played[0] == env.r.acd.prompts.media_uri("callback-customer-intro", "en")
    env.r.client.channel_event(StasisStart, agent_channel, args=("acd-agent", customer))
    await eventually(lambda: session.state == "connected")
    env.r.client.channel_event(ChannelHangupRequest, agent_channel)
    await served(entry)
    assert (cb.state, cb.outcome) == ("completed", "answered")
    assert [(a.result, a.channel_id) for a in await env.store.attempts(cb.id)] == [
        ("answered", customer)]
    assert customer in env.r.rest.hung_up


async def test_cancel_while_the_customer_waits_in_the_queue_stays_cancelled(env: Env) -> None:
    cb = await env.svc.request("brief", NUMBER)
    await env.r.acd.login("a2")
    entry = await env.listed(cb)
    customer = await rung(env, CUSTOMER)
    await env.r.acd.pause("a2", "meeting")  # nobody takes the customer: the wait times out
    env.r.client.channel_event(StasisStart, customer, args=("callback", cb.id))
    session: QueueSession = await eventually(lambda: env.r.acd.sessions.get(customer))
    got = await env.svc.cancel(cb.id)
    assert got is cb and cb.state == "cancelled"
    env.advance(seconds(31))
    await eventually(lambda: session.ended, timeout=3)
    await served(entry)
    assert [a.result for a in await env.store.attempts(cb.id)] == ["not_connected"]
    stored = await env.stored(cb)
    assert (stored.state, stored.outcome, stored.attempts) == ("cancelled", "cancelled", 1), (
        "the attempt under way is recorded; the callback is not taken up again")
    assert cb.id not in env.svc.active and cb.id not in env.r.acd.sessions
