"""Due callbacks among the ACD's waiting callers (Callbacks.tick): listed at the place their
caller had, by priority, only inside the queue's window and once due, taken out when the window
closes, closed when they expire.
"""

from __future__ import annotations

import asyncio

from ivr.services.acd.agents import AgentState
from ivr.services.acd.session import QueueSession
from ivr.services.acd.waiting import QueueRequest, wait

from ..acd.fakes import FakeCaller, eventually
from .service_env import NOW, NUMBER, Env, kst, seconds


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
