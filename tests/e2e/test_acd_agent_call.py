"""The ACD end to end, the agent's side: the feature codes `*71`, `*73<code>`, `*74`, `*72`
dialled from an agent softphone, with their spoken confirmations; a screen pop on the agent's
WebSocket and a blind transfer into a skills queue; a screen pop carrying the account the caller
verified, never the PIN. Through the real Asterisk 22 and the real app, on the queues of
acd_queues.py (conftest.py's `acd`); the queue_log lines written are checked.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from ivr.app import asterisk
from ivr.testing.audio import HEARD_WHOLE, heard_sequence
from ivr.testing.phonespec import asterisk_host
from ivr.testing.softphone import CallReport, place_call

from .acd_queues import queue_log
from .helpers import PROMPTS, STEP, TO_AGENT, add_account, agent_phone, new_caller, post
from .running_app import RunningApp

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("acd_agents_logged_out")]


async def test_feature_codes_from_the_agent_phone(acd: RunningApp, tmp_path: Path) -> None:
    password = asterisk.agent_credentials()["agent1002"]

    async def dial(code: str) -> CallReport:
        return await place_call(code, "wait-hangup 10", record=tmp_path / f"{code}.wav",
                                timeout=10, register=f"sip:agent1002@{asterisk_host()}",
                                username="agent1002", password=password)

    expected = [("*71", "available", None, "agent-logged-in"),
                ("*732", "paused", "lunch", "agent-paused"),
                ("*74", "available", None, "agent-unpaused"),
                ("*72", "logged_out", None, "agent-logged-out")]
    for code, state, reason, prompt in expected:
        report = await dial(code)
        assert report.ok, (code, report.error)
        agent = acd.get("/agents/agent1002")
        assert (agent["state"], agent["pause_reason"]) == (state, reason), code
        heard = heard_sequence(tmp_path / f"{code}.wav",
                               {prompt: PROMPTS / "en" / f"{prompt}.wav"}, threshold=HEARD_WHOLE)
        assert [name for name, _ in heard] == [prompt], code
    members = [line for line in queue_log(acd) if line[3] == "PJSIP/agent1002"
               and line[4] in ("ADDMEMBER", "PAUSE", "UNPAUSE", "REMOVEMEMBER")]
    assert [(line[4], line[5]) for line in members[-4:]] == [
        ("ADDMEMBER", ""), ("PAUSE", "lunch"), ("UNPAUSE", "lunch"), ("REMOVEMEMBER", "")]


async def test_screen_pop_and_blind_transfer_to_another_queue(acd: RunningApp) -> None:
    first = await agent_phone(acd, "agent1002", "wait 2; dtmf ##2#; wait-hangup 20", timeout=40)
    second = await agent_phone(acd, "agent1001", "wait 2; hangup", timeout=40)
    caller = new_caller()
    try:
        post(acd, "/agents/agent1002/login")  # longest idle: offered the general call
        await asyncio.sleep(1.0)
        post(acd, "/agents/agent1001/login")  # the only agent with the billing skill
        ws_url = acd.base_url.replace("http", "ws") + "/agents/agent1001/events"
        async with aiohttp.ClientSession(headers=acd.headers()) as http, \
                http.ws_connect(ws_url) as desktop:
            hello = await desktop.receive_json(timeout=5)
            assert (hello["type"], hello["id"]) == ("agent_state", "agent1001")
            report = await place_call("100", f"{TO_AGENT}; wait-hangup 40", caller=caller,
                                      timeout=10)
            pops = []
            while True:
                message = await desktop.receive_json(timeout=5)
                if message["type"] == "screen_pop":
                    pops.append(message)
                if message["type"] == "call_ended":
                    break
        transferring = await first.result()
        answering = await second.result()
    finally:
        await first.close()
        await second.close()
    assert report.ok and transferring.ok and answering.ok, (
        report.error, transferring.error, answering.error)
    (pop,) = pops
    assert (pop["queue"], pop["caller"], pop["language"]) == ("billing", caller, "en")
    assert "main_menu" in pop["path"] and pop["account"] is None
    (entered, *_) = [line for line in queue_log(acd) if line[4] == "ENTERQUEUE"
                     and line[6] == caller]
    lines = queue_log(acd, entered[1])
    assert [(line[2], line[4], line[3]) for line in lines if line[4] != "ACW"] == [
        ("general", "ENTERQUEUE", "NONE"), ("general", "CONNECT", "PJSIP/agent1002"),
        ("general", "TRANSFER", "PJSIP/agent1002"), ("billing", "ENTERQUEUE", "NONE"),
        ("billing", "CONNECT", "PJSIP/agent1001"), ("billing", "COMPLETEAGENT", "PJSIP/agent1001")]
    transfer = next(line for line in lines if line[4] == "TRANSFER")
    assert transfer[5:7] == ["2", "queue:billing"]


async def test_screen_pop_carries_the_account_the_caller_verified(acd: RunningApp) -> None:
    await asyncio.to_thread(add_account, acd, "14142135", "3141", "KRW", "77000")
    phone = await agent_phone(acd, "agent1002", "wait 1; hangup", timeout=60)
    post(acd, "/agents/agent1002/login")
    caller = new_caller()
    script = "; ".join([
        STEP, "dtmf 2", STEP, "dtmf 1", STEP, "dtmf 14142135#", STEP, "dtmf 1",
        STEP, "dtmf 3141#",           # verified: the balance is said
        "wait 10", "dtmf 0",          # after the balance: 0 for an agent
        "wait-hangup 30",
    ])
    ws_url = acd.base_url.replace("http", "ws") + "/agents/agent1002/events"
    try:
        async with aiohttp.ClientSession(headers=acd.headers()) as http, \
                http.ws_connect(ws_url) as desktop:
            await desktop.receive_json(timeout=5)
            report = await place_call("100", script, caller=caller, timeout=10)
            while (pop := await desktop.receive_json(timeout=10))["type"] != "screen_pop":
                pass
        await phone.result()
    finally:
        await phone.close()
    assert report.ok, report.error
    assert (pop["caller"], pop["account"], pop["queue"]) == (caller, "14142135", "general")
    assert "verify_pin" in pop["path"] and pop["path"][-1] == "agent"
    assert "3141" not in json.dumps(pop), "the PIN never reaches the desktop"
