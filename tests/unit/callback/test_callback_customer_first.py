"""Serving a customer-first callback (services/callback/serve.py): the customer is dialled
first, with no agent held meanwhile, never when the number is on the do-not-call list, retried
when busy; answered, the customer waits in the queue at the callback's place until an agent
takes the call, and a cancel meanwhile stays a cancel.
"""

from __future__ import annotations

from ivr.ari import ChannelDestroyed, ChannelHangupRequest, StasisStart
from ivr.services.acd.agents import AgentState
from ivr.services.acd.session import QueueSession

from ..acd.fakes import eventually
from .service_env import CUSTOMER, NOW, NUMBER, Env, rung, seconds, served


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


async def test_a_number_dialled_as_often_as_the_rules_allow_today_is_not_dialled(
        env: Env) -> None:
    """Callbacks ask the same gate as campaigns: the callback rule set allows 10 dials of a
    number a day, counting a campaign's dials of it too."""
    cb = await env.svc.request("care", NUMBER)
    await env.r.db.execute(
        "INSERT INTO outbound_contacts (id, campaign, number, timezone, state, next_attempt_at,"
        " import_id, line, created_at, updated_at) VALUES ('ct-1', 'c', ?, 'UTC', 'done', ?,"
        " 'imp', 2, ?, ?)", NUMBER, NOW, NOW, NOW)
    for n in range(10):
        await env.r.db.execute(
            "INSERT INTO outbound_attempts (contact_id, campaign, number, attempt, started_at,"
            " ended_at, result) VALUES ('ct-1', 'c', ?, ?, ?, ?, 'no_answer')",
            NUMBER, n + 1, NOW, NOW)
    await env.r.acd.login("a2")
    entry = await env.listed(cb)
    await served(entry)
    attempts = await env.store.attempts(cb.id)
    assert [a.result for a in attempts] == ["failed"]
    assert "daily_limit" in attempts[0].detail
    assert env.r.rest.originated == [], "the customer is not dialled"


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
