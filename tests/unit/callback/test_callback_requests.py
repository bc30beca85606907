"""Booking a callback and changing it (services/callback/service.py): a request is
refused (unknown queue, a number too short or on the do-not-call list, an unknown time zone) or
stored at once with the queue's priority, the number's zone, the window and the expiry; cancel
and reschedule of a pending callback, and of one already final.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ivr.services.callback.service import CallbackRefused

from .service_env import NOW, NUMBER, Env, kst, seconds

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
