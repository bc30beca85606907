"""The end of an attempt (Callbacks.settle) and a restart (Callbacks.start): answered
completes; no answer and busy are retried per the queue's policy, inside the window and before
the expiry, until the last attempt; the do-not-call list blocks; an interruption uses up no
attempt; a dial the last process left is recorded as interrupted and taken up again.
"""

from __future__ import annotations

import pytest

from ivr.services.callback.service import RETRY_SOON, Callbacks
from ivr.services.callback.store import Callback

from ..acd.fakes import eventually
from .service_env import DIAL, NOW, NUMBER, Env, kst, seconds

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
