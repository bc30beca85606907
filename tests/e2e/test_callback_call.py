"""Callbacks end to end: a caller in the bank demo's queue presses 2, keeps their number and
hangs up; the app restarts; an agent logs in; the app rings the agent, then the caller's
softphone, and bridges them. A number that never answers is retried, then expires; a number
on the do-not-call list is never dialled.

The "PSTN" is this machine: the app dials customers through Asterisk's carrier endpoint to
sip:<number>@127.0.0.1:<PORT> (IVR_CALLBACK_DIAL), where the test's softphones listen.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ivr.testing.audio import HEARD_WHOLE, find_prompt, load_wav
from ivr.testing.softphone import CallReport, place_call, start_answerer

from .helpers import (
    PROMPTS,
    TO_AGENT,
    TO_VOICEMAIL,
    agent_phone,
    cancel_active_callbacks,
    new_caller,
    post,
    restarted_with,
    seconds,
    spoken,
    voice,
    wait_for,
)
from .running_app import RunningApp, sip_port

pytestmark = pytest.mark.e2e

PORT = sip_port()
QUEUES = """
pause_reasons: {"1": break}
agents:
  agent1001: {name: Minji Kim, endpoint: PJSIP/agent1001}
  agent1002: {name: John Smith, endpoint: PJSIP/agent1002}
queues:
  general:
    members: [agent1001, agent1002]
    ring_timeout: 8
    wrapup: 2
    announce: {first: 60, join: [queue-hold]}
    max_wait: 300
    max_length: 20
    keys: {"1": voicemail, "2": callback}
    callback:
      mode: agent_first
      attempts: 2
      retry: [10]
      ring_timeout: 15
      window: "00:00-00:00"
      caller_id: '"Example Bank" <15880000>'
  outbound:
    members: [agent1002]
    ring_timeout: 8
    wrapup: 2
    join_empty: true
    announce: {first: 60}
    callback:
      mode: customer_first
      attempts: 2
      retry: [10]
      ring_timeout: 5
      window: "00:00-00:00"
      caller_id: '"Example Bank" <15880000>'
"""
ENV = {"IVR_CALLBACK_DIAL": f"PJSIP/carrier/sip:{{number}}@127.0.0.1:{PORT}"}


@pytest.fixture(scope="module")
def app(ivr_app: RunningApp) -> Iterator[RunningApp]:
    """The app restarted to dial customers to this module's port, with the test queues."""
    with restarted_with(ivr_app, {"queues.yaml": QUEUES, "campaigns.yaml": "campaigns: {}\n"},
                        ENV):
        try:
            yield ivr_app
        finally:
            for agent in ("agent1001", "agent1002"):
                post(ivr_app, f"/agents/{agent}/logout")


@pytest.fixture(autouse=True)
def _agents_logged_out(app: RunningApp) -> Iterator[None]:
    """Each test starts with no agent and no callback of earlier tests (a message left by
    another module's test is a callback of `general` too) and leaves none behind."""
    cancel_active_callbacks(app)
    yield
    for agent in ("agent1001", "agent1002"):
        post(app, f"/agents/{agent}/logout")
    cancel_active_callbacks(app)



def callback(app: RunningApp, callback_id: str) -> dict[str, Any]:
    found: dict[str, Any] = app.get(f"/callbacks/{callback_id}")
    return found


def request(app: RunningApp, body: dict[str, Any]) -> dict[str, Any]:
    try:
        with app.open("/callbacks", "POST", json.dumps(body).encode()) as resp:
            return {"status": resp.status, **json.loads(resp.read())}
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, **json.loads(exc.read())}


def dnc(app: RunningApp, number: str) -> None:
    with app.open(f"/dnc/{number}", "PUT", b'{"reason": "asked not to be called"}') as resp:
        assert resp.status == 201


def incoming(report: CallReport) -> list[dict[str, Any]]:
    return [e.data for e in report.events if e.type == "incoming"]


async def test_caller_books_a_callback_hangs_up_and_is_called_back_by_an_agent(
        app: RunningApp, tmp_path: Path) -> None:
    post(app, "/agents/agent1001/login")  # logged in but paused: the queue is staffed, busy
    post(app, "/agents/agent1001/pause", {"reason": "1"})
    caller = new_caller()
    report = await place_call(
        "100", f"{TO_AGENT}; wait 4; dtmf 2; wait 3; dtmf 1; wait 3; dtmf 1; wait-hangup 30",
        caller=caller, timeout=10)
    assert report.ok, report.error
    assert report.hangup_by == "remote"  # the IVR said goodbye and hung up
    trace = app.trace_for_caller(caller)
    (booked,) = [e for e in trace if e["event"] == "callback_booked"]
    assert booked["kept_place"] is True
    pending = app.get("/callbacks?state=active")
    (mine,) = [cb for cb in pending if cb["number"] == caller]
    assert (mine["queue"], mine["source"], mine["state"]) == ("general", "queue", "pending")
    assert mine["entered_at"] < mine["created_at"]  # the place it had in the queue

    assert app.restart is not None
    app.restart(ENV)  # the promise is in the database, not in the process
    assert callback(app, mine["id"])["state"] == "pending"

    said_by_agent = voice(tmp_path, "ko", "bank-goodbye", repeats=12)
    said_by_customer = voice(tmp_path, "en", "branch-location")
    customer = await start_answerer(f"play-bg {said_by_customer}; wait 18; hangup",
                                    record=tmp_path / "customer-heard.wav", port=PORT,
                                    timeout=60)
    agent = await agent_phone(app, "agent1002", f"play-bg {said_by_agent}; wait-hangup 60",
                              record=tmp_path / "agent-heard.wav", timeout=60)
    try:
        post(app, "/agents/agent1002/login")
        customer_report = await customer.result(90)
        agent_report = await agent.result(30)
    finally:
        await customer.close()
        await agent.close()
    assert customer_report.ok, customer_report.error
    assert agent_report.ok, agent_report.error
    (rang,) = incoming(customer_report)
    assert f"sip:{caller}@" in rang["to"]
    assert "15880000" in rang["from"] and "Example Bank" in rang["from"]

    customer_heard = load_wav(tmp_path / "customer-heard.wav")
    agent_heard = load_wav(tmp_path / "agent-heard.wav")
    assert find_prompt(agent_heard, load_wav(PROMPTS / "en" / "callback-agent-intro.wav"),
                       threshold=HEARD_WHOLE), "the agent was not told whose callback it is"
    assert find_prompt(customer_heard, load_wav(PROMPTS / "ko" / "bank-goodbye.wav"),
                       threshold=HEARD_WHOLE), "the customer never heard the agent"
    assert find_prompt(agent_heard, load_wav(PROMPTS / "en" / "branch-location.wav"),
                       threshold=HEARD_WHOLE), "the agent never heard the customer"

    wait_for(lambda: callback(app, mine["id"])["state"] == "completed", 10,
             "callback not completed")
    done = callback(app, mine["id"])
    assert done["outcome"] == "answered" and done["agent_id"] == "agent1002"
    assert [(a["result"], a["agent_id"]) for a in done["attempt_log"]] == [
        ("answered", "agent1002")]
    wait_for(lambda: app.get("/agents/agent1002")["state"] in ("available", "wrap_up"), 10,
             "agent not released after the callback")


async def test_customer_first_the_customer_hears_whose_callback_then_waits_for_the_agent(
        app: RunningApp, tmp_path: Path) -> None:
    number = new_caller()
    said_by_agent = voice(tmp_path, "ko", "bank-goodbye", repeats=12)
    customer = await start_answerer("wait-hangup 60", record=tmp_path / "customer-heard.wav",
                                    port=PORT, timeout=60)
    agent = await agent_phone(app, "agent1002", f"play-bg {said_by_agent}; wait 8; hangup",
                              record=tmp_path / "agent-heard.wav", timeout=60)
    try:
        post(app, "/agents/agent1002/login")
        made = request(app, {"queue": "outbound", "number": number, "language": "en"})
        assert made["status"] == 201, made
        agent_report = await agent.result(60)
        customer_report = await customer.result(30)
    finally:
        await customer.close()
        await agent.close()
    assert agent_report.ok and customer_report.ok, (agent_report.error, customer_report.error)
    customer_heard = load_wav(tmp_path / "customer-heard.wav")
    intro = find_prompt(customer_heard,
                        load_wav(PROMPTS / "en" / "callback-customer-intro.wav"),
                        threshold=HEARD_WHOLE)
    agent_voice = find_prompt(customer_heard, load_wav(PROMPTS / "ko" / "bank-goodbye.wav"),
                              threshold=HEARD_WHOLE)
    assert intro, "the customer was not told whose callback this is"
    assert agent_voice and agent_voice[0].offset_s > intro[0].offset_s, \
        "the customer did not reach the agent after the introduction"
    assert customer_report.hangup_by == "remote"  # the agent hung up: the call is over
    wait_for(lambda: callback(app, made["id"])["state"] == "completed", 10,
             "callback not completed")
    assert [a["result"] for a in callback(app, made["id"])["attempt_log"]] == ["answered"]


async def test_number_that_never_answers_is_retried_then_expires(app: RunningApp) -> None:
    number = new_caller()
    agent = await agent_phone(app, "agent1002", timeout=90)  # free, never rung: customer-first
    try:
        post(app, "/agents/agent1002/login")
        first_phone = await start_answerer(port=PORT, answer_after=60, timeout=40)
        made = request(app, {"queue": "outbound", "number": number})
        assert made["status"] == 201, made
        first = await first_phone.result(40)
        second_phone = await start_answerer(port=PORT, answer_after=60, timeout=40)
        second = await second_phone.result(40)
        wait_for(lambda: callback(app, made["id"])["state"] != "pending", 10,
                 "callback still pending after its last attempt")
    finally:
        await agent.close()
    for rang in (first, second):
        (call,) = incoming(rang)
        assert f"sip:{number}@" in call["to"]
        assert not rang.connected
    final = callback(app, made["id"])
    assert final["state"] == "expired" and final["attempts"] == 2
    log = final["attempt_log"]
    assert [a["result"] for a in log] == ["no_answer", "no_answer"]
    gap = (_time(log[1]["started_at"]) - _time(log[0]["ended_at"]))
    assert gap >= 9.0, f"retried after {gap:.1f} s, the policy says 10"


async def test_a_number_on_the_do_not_call_list_is_never_dialled(app: RunningApp) -> None:
    refused = new_caller()
    dnc(app, refused)
    answer = request(app, {"queue": "outbound", "number": refused})
    assert (answer["status"], answer["reason"]) == (422, "dnc")

    later = new_caller()
    made = request(app, {"queue": "outbound", "number": later})  # nobody free: it waits
    assert made["status"] == 201
    dnc(app, later)  # listed after booking: the check before the dial catches it
    listener = await start_answerer(port=PORT, timeout=12)
    agent = await agent_phone(app, "agent1002", timeout=30)
    try:
        post(app, "/agents/agent1002/login")
        wait_for(lambda: callback(app, made["id"])["state"] == "blocked", 15,
                 "the callback to a do-not-call number was not blocked")
        heard = await listener.result(30)
    finally:
        await listener.close()
        await agent.close()
    assert not incoming(heard), f"a do-not-call number was dialled: {incoming(heard)}"
    final = callback(app, made["id"])
    assert final["outcome"] == "dnc" and final["attempts"] == 0
    assert [a["result"] for a in final["attempt_log"]] == ["dnc"]
    assert all(cb["number"] not in (refused, later) for cb in app.get("/callbacks?state=active"))


async def test_a_message_routed_to_the_queue_is_called_back_by_an_agent_who_hears_it(
        app: RunningApp, tmp_path: Path) -> None:
    said, sentence = spoken(tmp_path, "queue-full")
    caller = new_caller()
    report = await place_call("100", "; ".join([
        TO_VOICEMAIL, f"wait {seconds('vm-greeting') + 1.5:.1f}", f"play {said}", "wait 0.5",
        "dtmf #", "wait 1.5", "dtmf 3", "wait-hangup 20"]), caller=caller, timeout=10)
    assert report.ok, report.error
    wait_for(lambda: any(cb["number"] == caller for cb in app.get("/callbacks?state=active")),
             10, "the message did not become a callback")
    (task,) = [cb for cb in app.get("/callbacks?state=active") if cb["number"] == caller]
    message = app.get(f"/messages/{task['message_id']}")
    assert (task["source"], task["queue"]) == ("voicemail", "general")
    assert message["caller"] == caller and message["mailbox"] == "general"

    customer = await start_answerer("wait 3; hangup", port=PORT, timeout=90)
    agent = await agent_phone(app, "agent1002", "wait-hangup 90",
                              record=tmp_path / "agent-heard.wav", timeout=90)
    try:
        post(app, "/agents/agent1002/login")
        customer_report = await customer.result(120)
        agent_report = await agent.result(30)
    finally:
        await customer.close()
        await agent.close()
    assert customer_report.ok and agent_report.ok, (customer_report.error, agent_report.error)
    (rang,) = incoming(customer_report)
    assert f"sip:{caller}@" in rang["to"]
    agent_heard = load_wav(tmp_path / "agent-heard.wav")
    intro = find_prompt(agent_heard, load_wav(PROMPTS / "en" / "callback-agent-message.wav"),
                        threshold=HEARD_WHOLE)
    heard = find_prompt(agent_heard, sentence, threshold=0.8)
    assert intro and heard, "the agent did not hear the customer's message"
    assert heard[0].offset_s > intro[0].offset_s
    wait_for(lambda: callback(app, task["id"])["state"] == "completed", 10,
             "callback not completed")


def _time(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()



async def test_the_agent_holds_a_called_back_customer_from_the_desktop(
        app: RunningApp, tmp_path: Path) -> None:
    """An agent-first callback has no queued call; the desktop's hold still takes the
    customer out of the bridge to music, and back."""
    number = new_caller()
    said_by_agent = voice(tmp_path, "en", "goodbye", repeats=20)
    customer = await start_answerer("wait 14; hangup", record=tmp_path / "customer.wav",
                                    port=PORT, timeout=60)
    agent = await agent_phone(app, "agent1002", f"play-bg {said_by_agent}; wait-hangup 60",
                              timeout=60)
    try:
        made = request(app, {"queue": "general", "number": number})
        assert made["status"] == 201, made
        post(app, "/agents/agent1002/login")
        bridge = f"/bridges/cb-call-{made['id']}"

        def bridged() -> list[str]:
            try:
                return list(app.ari(bridge)["channels"])
            except urllib.error.HTTPError:
                return []

        wait_for(lambda: len(bridged()) == 2, 30, "the customer was never bridged")
        await asyncio.sleep(2)
        held = post(app, "/agents/agent1002/call/hold")
        assert held == {"call_id": made["id"], "state": "held"}
        assert len(bridged()) == 1, "the customer is out of the conversation"
        await asyncio.sleep(4)
        assert post(app, "/agents/agent1002/call/unhold")["state"] == "talking"
        assert len(bridged()) == 2
        customer_report = await customer.result(60)
        await agent.result(30)
    finally:
        await customer.close()
        await agent.close()
    assert customer_report.ok, customer_report.error
    heard = load_wav(tmp_path / "customer.wav")
    said = [m.offset_s for m in find_prompt(heard, load_wav(PROMPTS / "en" / "goodbye.wav"),
                                            threshold=HEARD_WHOLE)]
    assert said, "the customer heard the agent (before and after the hold)"
    wait_for(lambda: callback(app, made["id"])["state"] == "completed", 10,
             "callback not completed")
