"""The ACD end to end, the caller's wait: a caller of the bank demo who pressed 3 ("agent")
hears the hold message, music and its position, then caller and agent hear each other; an
abandon; a ring timeout moving to the next agent; wrap-up keeping the agent from the next call;
a waiting caller keeping its place and hold time across an app killed with SIGKILL; an exit key
leading to the flow's voicemail node. Through the real Asterisk 22 and the real app, with agent
softphones registered with the credentials Asterisk was provisioned with, on the queues of
acd_queues.py (conftest.py's `acd`); each test checks the queue_log lines written.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ivr.testing.audio import HEARD_WHOLE, find_prompt, heard_sequence, is_silent, load_wav
from ivr.testing.softphone import CallReport, place_call

from .acd_queues import queue_log, verbs
from .helpers import (
    PROMPTS,
    TO_AGENT,
    agent_phone,
    events,
    new_caller,
    place_of,
    places,
    post,
    seconds,
    voice,
    wait_for,
)
from .running_app import RunningApp

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("acd_agents_logged_out")]


async def test_caller_waits_with_music_and_announcement_then_talks_to_the_agent(
        acd: RunningApp, tmp_path: Path) -> None:
    caller_voice = voice(tmp_path, "en", "branch-location")
    agent_voice = voice(tmp_path, "ko", "bank-main-menu")
    phone = await agent_phone(acd, "agent1001", f"play-bg {agent_voice}; wait-hangup 60",
                              record=tmp_path / "agent-heard.wav")
    try:
        post(acd, "/agents/agent1001/login")
        paused = post(acd, "/agents/agent1001/pause", {"reason": "1"})
        assert (paused["state"], paused["pause_reason"]) == ("paused", "break")
        caller = new_caller()
        call = asyncio.create_task(place_call(
            "100", f"{TO_AGENT}; play-bg {caller_voice}; wait {seconds('queue-hold') + 30:.0f}; "
                   "hangup",
            record=tmp_path / "caller-heard.wav", caller=caller, timeout=10))
        deadline = time.monotonic() + 20
        while not acd.get("/queues/general")["waiting"]:
            assert time.monotonic() < deadline, "the caller never joined the queue"
            await asyncio.sleep(0.2)
        waiting = await place_of(acd, caller, "in_queue", queue="general", position=1)
        assert waiting["line"] != "gone"
        # the hold message (no agent free), then music, then the first announcement
        await asyncio.sleep(seconds("queue-hold") + 6)
        assert post(acd, "/agents/agent1001/unpause")["state"] in ("available", "ringing")
        await place_of(acd, caller, "with_agent", queue="general", agent="agent1001")
        report: CallReport = await call
        agent_report = await phone.result()
    finally:
        await phone.close()
    assert report.ok, report.error
    assert agent_report.ok, agent_report.error

    trace = acd.trace_for_caller(caller)
    names = [e["event"] for e in trace]
    assert "queue_enter" in names and "queue_connected" in names
    announced = events(trace, "queue_announce")
    assert announced[0]["prompts"] == ["queue-hold"]
    assert announced[1]["prompts"][:3] == ["queue-position", "num-1", "queue-position-end"]
    (connected,) = events(trace, "queue_connected")
    assert connected["agent"] == "agent1001" and connected["hold"] >= 10
    assert places(trace) == ["in_flow", "in_queue", "ringing_agent", "with_agent", "ended"]

    heard = load_wav(tmp_path / "caller-heard.wav")
    agent_heard = load_wav(tmp_path / "agent-heard.wav")
    prompts = {p: PROMPTS / "en" / f"{p}.wav" for p in ("queue-hold", "queue-position")}
    order = [name for name, _ in heard_sequence(heard, prompts, threshold=HEARD_WHOLE)]
    assert order[:2] == ["queue-hold", "queue-position"]
    hold_at = next(o for n, o in heard_sequence(heard, prompts, threshold=HEARD_WHOLE)
                   if n == "queue-hold")
    hold_end = hold_at + len(load_wav(PROMPTS / "en" / "queue-hold.wav")) / 8000
    music = heard[int(hold_end * 8000) + 800:int((hold_end + 1.5) * 8000)]
    assert not is_silent(music), "no hold music between the hold message and the announcement"
    # Both ways: each side heard the other's voice, and not its own echo.
    said_by_agent = load_wav(PROMPTS / "ko" / "bank-main-menu.wav")
    said_by_caller = load_wav(PROMPTS / "en" / "branch-location.wav")
    assert find_prompt(heard, said_by_agent, threshold=HEARD_WHOLE), \
        "the caller never heard the agent"
    assert find_prompt(agent_heard, said_by_caller, threshold=HEARD_WHOLE), \
        "the agent never heard the caller"

    entered = [line for line in queue_log(acd) if line[4] == "ENTERQUEUE" and line[6] == caller]
    assert len(entered) == 1
    call_lines = queue_log(acd, entered[0][1])
    assert verbs(call_lines)[:3] == [("ENTERQUEUE", "NONE"), ("CONNECT", "PJSIP/agent1001"),
                                     ("COMPLETECALLER", "PJSIP/agent1001")]
    connect = call_lines[1]
    assert int(connect[5]) >= 10  # holdtime
    wait_for(lambda: acd.get("/agents/agent1001")["state"] == "available", 20,
             "agent not back after wrap-up")
    record = acd.get(f"/records/{entered[0][1]}")
    assert record["outcome"] == "queue"


async def test_caller_who_hangs_up_while_waiting_is_an_abandon(acd: RunningApp) -> None:
    post(acd, "/agents/agent1001/login")
    post(acd, "/agents/agent1001/pause", {"reason": "2"})
    caller = new_caller()
    report = await place_call("100", f"{TO_AGENT}; wait 6; hangup", caller=caller, timeout=10)
    assert report.ok, report.error
    trace = acd.trace_for_caller(caller)
    assert events(trace, "queue_enter") and not events(trace, "queue_ring")
    (entered,) = [line for line in queue_log(acd) if line[4] == "ENTERQUEUE"
                  and line[6] == caller]
    lines = queue_log(acd, entered[1])
    assert verbs(lines) == [("ENTERQUEUE", "NONE"), ("ABANDON", "NONE")]
    position, orig_position, waited = (int(x) for x in lines[1][5:8])
    assert (position, orig_position) == (1, 1) and 1 <= waited <= 8
    assert acd.get(f"/records/{entered[1]}")["outcome"] == "abandoned"
    wait_for(lambda: not acd.get("/queues/general")["waiting"], 5, "caller still listed")
    with pytest.raises(urllib.error.HTTPError) as gone:  # the last caller took it down
        acd.ari("/bridges/acd-hold-general")
    assert gone.value.code == 404
    kpis = acd.get("/queues/general/kpis?hours=1")
    assert kpis["abandoned"] + kpis["short_abandoned"] >= 1


async def test_ring_timeout_moves_to_the_next_agent(acd: RunningApp, tmp_path: Path) -> None:
    slow = await agent_phone(acd, "agent1001", answer_after=30, timeout=40)
    quick = await agent_phone(acd, "agent1002", "wait 3; hangup", timeout=40)
    try:
        post(acd, "/agents/agent1001/login")  # longest idle: offered first
        await asyncio.sleep(1.0)
        post(acd, "/agents/agent1002/login")
        caller = new_caller()
        call = asyncio.create_task(place_call("100", f"{TO_AGENT}; wait-hangup 30",
                                              caller=caller, timeout=10))
        ringing = await place_of(acd, caller, "ringing_agent", queue="general")
        assert ringing["place"]["agents"] == ["agent1001"]
        report = await call
        answered = await quick.result()
    finally:
        await slow.close()
        await quick.close()
    assert report.ok, report.error
    assert answered.ok, answered.error
    (entered,) = [line for line in queue_log(acd) if line[4] == "ENTERQUEUE"
                  and line[6] == caller]
    lines = queue_log(acd, entered[1])
    assert verbs(lines)[:4] == [("ENTERQUEUE", "NONE"), ("RINGNOANSWER", "PJSIP/agent1001"),
                                ("CONNECT", "PJSIP/agent1002"),
                                ("COMPLETEAGENT", "PJSIP/agent1002")]
    assert 4500 <= int(lines[1][5]) <= 7000  # rang for the 5 s ring timeout
    agent = acd.get("/agents/agent1001")
    assert (agent["state"], agent["missed_in_row"]) == ("available", 1)
    trace = acd.trace_for_caller(caller)
    assert [e["agents"] for e in events(trace, "queue_ring")] == [["agent1001"], ["agent1002"]]
    ringing = [e for e in events(trace, "place") if e["place"] == "ringing_agent"]
    assert [e["agents"] for e in ringing] == [["agent1001"], ["agent1002"]]
    back = places(trace)[places(trace).index("ringing_agent") + 1]
    assert back == "in_queue", "a ring nobody answered puts the caller back in the queue"


async def test_wrap_up_keeps_the_agent_from_the_next_call(acd: RunningApp) -> None:
    first_phone = await agent_phone(acd, "agent1002", "wait-hangup 20", timeout=30)
    post(acd, "/agents/agent1002/login")
    first = new_caller()
    try:
        report = await place_call("100", f"{TO_AGENT}; wait 6; hangup", caller=first,
                                  timeout=10)
        await first_phone.result()
    finally:
        await first_phone.close()
    assert report.ok, report.error
    ended_at = time.time()
    assert acd.get("/agents/agent1002")["state"] == "wrap_up"
    second_phone = await agent_phone(acd, "agent1002", "wait-hangup 30", timeout=40)
    second = new_caller()
    try:
        report = await place_call("100", f"{TO_AGENT}; wait 18; hangup", caller=second,
                                  timeout=10)
        await second_phone.result()
    finally:
        await second_phone.close()
    assert report.ok, report.error
    trace = acd.trace_for_caller(second)
    assert [e["agents"] for e in events(trace, "queue_ring")] == [["agent1002"]]
    (entered,) = [line for line in queue_log(acd) if line[4] == "ENTERQUEUE"
                  and line[6] == second]
    lines = queue_log(acd, entered[1])
    assert verbs(lines)[:2] == [("ENTERQUEUE", "NONE"), ("CONNECT", "PJSIP/agent1002")]
    acw = [line for line in queue_log(acd) if line[4] == "ACW" and line[3] == "PJSIP/agent1002"]
    assert acw and int(acw[-1][5]) == 10
    # The second caller joined during the wrap-up and was connected only after its 10 s.
    assert int(entered[0]) < int(ended_at) + 9
    assert int(lines[1][0]) >= int(ended_at) + 9


async def test_waiting_caller_keeps_its_place_across_an_app_restart(
        acd: RunningApp, tmp_path: Path) -> None:
    phone = await agent_phone(acd, "agent1001", "wait-hangup 60", timeout=90)
    try:
        post(acd, "/agents/agent1001/login")
        post(acd, "/agents/agent1001/pause", {"reason": "1"})
        caller = new_caller()
        call = asyncio.create_task(place_call(
            "100", f"{TO_AGENT}; wait 25; hangup", caller=caller, timeout=10))
        deadline = time.monotonic() + 20
        while not acd.get("/queues/general")["waiting"]:
            assert time.monotonic() < deadline, "the caller never joined the queue"
            await asyncio.sleep(0.2)
        (before,) = acd.get("/queues/general")["waiting"]
        await asyncio.sleep(2)
        assert acd.restart is not None
        await asyncio.to_thread(acd.restart)  # SIGKILL: no goodbye, no cleanup
        deadline = time.monotonic() + 10
        while not acd.get("/queues/general")["waiting"]:
            assert time.monotonic() < deadline, "the caller was not taken back into the queue"
            await asyncio.sleep(0.2)
        (after,) = acd.get("/queues/general")["waiting"]
        assert after["call_id"] == before["call_id"] and after["position"] == 1
        assert after["waited_s"] >= before["waited_s"] + 2  # the original arrival time
        agent = acd.get("/agents/agent1001")
        assert (agent["state"], agent["pause_reason"]) == ("paused", "break")
        post(acd, "/agents/agent1001/unpause")
        report = await call
        await phone.result()
    finally:
        await phone.close()
    assert report.ok, report.error
    lines = queue_log(acd, before["call_id"])
    assert verbs(lines)[:3] == [("ENTERQUEUE", "NONE"), ("CONNECT", "PJSIP/agent1001"),
                                ("COMPLETECALLER", "PJSIP/agent1001")]
    assert int(lines[1][5]) >= 4  # hold time counted from before the restart


async def test_exit_key_leaves_the_queue_for_the_flows_voicemail_node(acd: RunningApp) -> None:
    post(acd, "/agents/agent1001/login")
    post(acd, "/agents/agent1001/pause", {"reason": "1"})
    caller = new_caller()
    # Gone during the greeting (4.7 s): no message, so no callback for the next test's agent.
    report = await place_call("100", f"{TO_AGENT}; wait 4; dtmf 1; wait 3; hangup",
                              caller=caller, timeout=10)
    assert report.ok, report.error
    trace = acd.trace_for_caller(caller)
    (exit_,) = events(trace, "queue_exit")
    assert exit_["outcome"] == "voicemail"
    path = events(trace, "end")[-1]["path"]
    assert path[path.index("agent"):] == ["agent", "voicemail"]
    assert [e["prompt"] for e in events(trace, "play")][-1] == "vm-greeting"
    assert not events(trace, "voicemail_recording")
    (entered,) = [line for line in queue_log(acd) if line[4] == "ENTERQUEUE"
                  and line[6] == caller]
    lines = queue_log(acd, entered[1])
    assert verbs(lines) == [("ENTERQUEUE", "NONE"), ("EXITWITHKEY", "NONE")]
    assert lines[1][5:7] == ["1", "1"]  # the key, the position
