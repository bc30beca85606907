"""Outbound campaigns on the real Asterisk: the dialler calls softphone customers through the
carrier endpoint, AMD() listens to them, and a softphone agent takes the humans.

Each test runs one campaign of its own with its own contacts (numbers unique to the run), and
starts it only once its customer's phone listens on the module's port: every dial reaches that
one phone. What the customer heard is its recording; what was dialled is seen from Asterisk's
side by an ARI application of the test's own, subscribed to the carrier endpoint (every channel
Asterisk makes there), and by the customer's phone (the INVITE's To).

- a human (a short "hello", then silence) is put through to the agent; a do-not-call number and
  one outside its calling window, ahead of it in the list, are never dialled; the agent's
  do-not-call disposition keeps the number from the next campaign that has it;
- a human with no agent in time hears the safe-harbor message within 2 s of its greeting's end;
- a machine (a long greeting, then a 1 kHz beep) gets the message after the beep;
- a busy phone and one that never answers are stored as such;
- an agentless campaign's human hears the reminder flow, presses the opt-out key, is on the
  do-not-call list at once and hears it confirmed;
- a preview contact shows on the agent's page (headless Chromium); the agent clicks Call, the
  agent's phone rings first, then the customer's, and they talk.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import re
import secrets
import subprocess
import urllib.error
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from ivr.testing.audio import find_prompt, load_wav, save_wav, speech_segments
from ivr.testing.softphone import CallReport, start_answerer

from .browser import chromium, log_in, text_of
from .helpers import PROMPTS, add_user, agent_phone, post, restarted_with, seconds, wait_for
from .running_app import RunningApp, sip_port

pytestmark = pytest.mark.e2e

PORT = sip_port()
RATE = 8000
QUEUES = """
pause_reasons: {"1": break}
agents:
  agent1001: {name: Minji Kim, endpoint: PJSIP/agent1001}
  agent1002: {name: John Smith, endpoint: PJSIP/agent1002}
queues:
  general:                      # what the demo flows' queue node needs of it
    members: [agent1001]
    ring_timeout: 8
    wrapup: 1
    max_wait: 300
    max_length: 20
    keys: {"1": voicemail, "2": callback}
    callback: {window: "00:00-00:00"}
  outbound:
    members: [agent1002]
    ring_timeout: 8
    wrapup: 1
    join_empty: true
"""


def campaigns_yaml(now: dt.datetime) -> str:
    """A window around now (UTC contacts are inside it; contacts in UTC+12 are not), no
    holidays (the run's date may be one), and the campaigns of the tests below."""
    start, end = (now.hour - 1) % 24, (now.hour + 3) % 24
    common = "mode: progressive, queue: outbound, timezone: UTC, attempts: 1"
    return f"""
rules:
  e2e:
    extends: kr
    window: "{start:02d}:00-{end:02d}:00"
    holidays: []
  e2e-patient:                  # time for the test's agent phone to answer
    extends: kr
    window: "{start:02d}:00-{end:02d}:00"
    holidays: []
    abandon: {{connect_seconds: 8}}
campaigns:
  e2e-human: {{{common}, rules: e2e-patient, ring_timeout: 15}}
  e2e-abandon: {{{common}, rules: e2e, ring_timeout: 15}}
  e2e-machine:
    {{{common}, rules: e2e, ring_timeout: 15,
      amd: {{on_machine: message, message: [outbound-machine-message]}}}}
  e2e-busy: {{{common}, rules: e2e, ring_timeout: 15}}
  e2e-preview: {{mode: preview, queue: outbound, timezone: UTC, attempts: 1, rules: e2e,
                 ring_timeout: 15}}
  e2e-reminder: {{mode: agentless, flow: reminder, timezone: UTC, attempts: 1, rules: e2e,
                  ring_timeout: 15, opt_out_key: "9", pacing: {{max_channels: 1}}}}
"""


ENV = {"IVR_CALLBACK_DIAL": f"PJSIP/carrier/sip:{{number}}@127.0.0.1:{PORT}"}
CAMPAIGNS = ("e2e-human", "e2e-abandon", "e2e-machine", "e2e-busy", "e2e-preview",
             "e2e-reminder")
AGENT_USER, AGENT_PASSWORD = "john", "preview password"


@pytest.fixture(scope="module")
def app(ivr_app: RunningApp) -> Iterator[RunningApp]:
    """The app restarted to dial customers to this module's port, with its queues and
    campaigns (queues first: the demo's campaigns name queues this file does not have)."""
    with restarted_with(ivr_app, {"queues.yaml": QUEUES, "campaigns.yaml": campaigns_yaml(
            dt.datetime.now(dt.UTC))}, ENV):
        try:
            yield ivr_app
        finally:
            for name in CAMPAIGNS:
                post(ivr_app, f"/campaigns/{name}/stop")
            for agent in ("agent1001", "agent1002"):
                post(ivr_app, f"/agents/{agent}/logout")


def number() -> str:
    """A number of this run only (an abandoned one is blocked for 72 hours)."""
    return f"1555{secrets.randbelow(10**7):07d}"  # not `random`: reseeded for every test


def import_list(app: RunningApp, campaign: str, rows: list[str]) -> dict[str, Any]:
    body = ("number,timezone,name,amount\n" + "".join(f"{r}\n" for r in rows)).encode()
    with app.open(f"/campaigns/{campaign}/contacts", "POST", body, "text/csv") as resp:
        assert resp.status == 201
        result: dict[str, Any] = json.loads(resp.read())
    return result


def attempts(app: RunningApp, campaign: str, num: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = app.get(f"/campaigns/{campaign}/attempts?number={num}")
    return found


def settled(app: RunningApp, campaign: str, num: str, timeout: float = 40.0
            ) -> dict[str, Any]:
    """The contact once done (its last attempt stored)."""
    def done() -> dict[str, Any] | None:
        rows = [c for c in app.get(f"/campaigns/{campaign}/contacts") if c["number"] == num]
        return rows[0] if rows and rows[0]["state"] == "done" else None
    wait_for(done, timeout, f"{num} never settled")
    found = done()
    assert found is not None
    return found


def invited(report: CallReport) -> list[str]:
    """The number in the To of every INVITE the phone received."""
    return [re.sub(r"^<?sip:([^@]*)@.*$", r"\1", str(e.data["to"]))
            for e in report.events if e.type == "incoming"]


class CarrierWatch:
    """Every channel Asterisk makes on the carrier endpoint, seen by an ARI application of the
    test's own (not the app's): what was dialled, from Asterisk's side."""

    def __init__(self, app: RunningApp) -> None:
        self.app = app
        self.name = f"e2e-watch-{secrets.token_hex(3)}"
        self.channels: dict[str, str] = {}
        """Channel id -> name, for every channel an event of the endpoint named."""

    async def __aenter__(self) -> CarrierWatch:
        rt = self.app.runtime
        key = f"{rt.ari_username}:{rt.ari_password}"
        self.session = aiohttp.ClientSession(headers={
            "Authorization": "Basic " + base64.b64encode(key.encode()).decode()})
        base = rt.ari_url.rstrip("/")
        self.ws = await self.session.ws_connect(
            f"{base.replace('http', 'ws', 1)}/ari/events?app={self.name}")
        async with self.session.post(f"{base}/ari/applications/{self.name}/subscription",
                                     params={"eventSource": "endpoint:PJSIP/carrier"}) as resp:
            assert resp.status == 200, await resp.text()
        self.reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        async for message in self.ws:
            event = json.loads(message.data)
            channel = event.get("channel")
            if isinstance(channel, dict) and "id" in channel:
                self.channels[channel["id"]] = channel.get("name", "")

    async def __aexit__(self, *exc: object) -> None:
        self.reader.cancel()
        await asyncio.gather(self.reader, return_exceptions=True)
        await self.ws.close()
        await self.session.close()

    def dialled(self) -> set[str]:
        """The attempts' channels among them (the dialler names each channel after its
        attempt): the carrier's calls to customers, not callers coming in."""
        return {cid for cid in self.channels if cid.startswith("ob-")}


@pytest.fixture
async def watch(app: RunningApp) -> AsyncIterator[CarrierWatch]:
    async with CarrierWatch(app) as it:
        yield it


@pytest.fixture(autouse=True)
def _clean(app: RunningApp) -> Iterator[None]:
    yield
    for name in CAMPAIGNS:
        post(app, f"/campaigns/{name}/stop")
    for agent in ("agent1001", "agent1002"):
        post(app, f"/agents/{agent}/logout")


def spoken(tmp_path: Path, name: str, text: str, *, beep_after: float | None = None) -> Path:
    """`text` said by espeak-ng at 8 kHz (then, for a machine, a 0.5 s 1 kHz beep), as WAV."""
    raw = tmp_path / f"{name}-raw.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(raw), text],
                   check=True, capture_output=True)
    out = tmp_path / f"{name}.wav"
    subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(out)],
                   check=True, capture_output=True)
    if beep_after is not None:
        voice = load_wav(out)
        pause = np.zeros(int(0.4 * RATE))
        beep = 0.3 * np.sin(2 * np.pi * 1000 * np.arange(int(0.5 * RATE)) / RATE)
        save_wav(out, np.concatenate([voice, pause, beep]))
    return out


def seconds_of(path: Path) -> float:
    return len(load_wav(path)) / RATE


async def test_a_human_reaches_the_agent_and_dnc_and_outside_window_numbers_are_never_dialled(
        app: RunningApp, watch: CarrierWatch, tmp_path: Path) -> None:
    dnc, night, human = number(), number(), number()
    with app.open(f"/dnc/{dnc}", "PUT", b'{"reason": "asked not to be called"}') as resp:
        assert resp.status == 201
    imported = import_list(app, "e2e-human", [f"{dnc},,Dee,10", f"{night},Etc/GMT-12,Nat,20",
                                              f"{human},,Hana,30"])
    assert (imported["added"], imported["rejected"]) == (3, [])
    hello = spoken(tmp_path, "hello", "Hello?")
    customer = await start_answerer(f"play-bg {hello}; wait-hangup 40",
                                    record=tmp_path / "customer-heard.wav", port=PORT,
                                    timeout=60)
    agent = await agent_phone(app, "agent1002", "wait 3; hangup",
                              record=tmp_path / "agent-heard.wav", timeout=60)
    try:
        post(app, "/agents/agent1002/login")
        started = post(app, "/campaigns/e2e-human/start")
        assert started["running"] is True
        report = await customer.result(60)
        await agent.result(30)
    finally:
        await customer.close()
        await agent.close()
    assert report.connected, report.error
    assert invited(report) == [human], "only the cleared number rang"
    contact = settled(app, "e2e-human", human)
    assert (contact["outcome"], contact["agent_id"]) == ("human", "agent1002")
    (attempt,) = attempts(app, "e2e-human", human)
    assert (attempt["result"], attempt["amd_status"], attempt["agent_id"]) == (
        "human", "HUMAN", "agent1002")
    assert attempt["connected_at"] is not None
    # What the gate refused is stored, with its reasons, and was never dialled.
    assert [(a["result"], a["reasons"]) for a in attempts(app, "e2e-human", dnc)] == [
        ("dnc", "dnc_internal")]
    assert [a["result"] for a in attempts(app, "e2e-human", night)] == ["outside_window"]
    # The agent's wrap-up: do not call. The number is on the internal list at once, and
    # another campaign with it in its list does not dial it.
    saved = post(app, "/agents/agent1002/wrapup", {"call_id": attempt["channel_id"],
                                                   "disposition": "do_not_call"})
    assert saved["disposition"] == "do_not_call"
    assert human in [entry["number"] for entry in app.get("/dnc")]
    assert attempts(app, "e2e-human", human)[0]["disposition"] == "do_not_call"
    import_list(app, "e2e-busy", [f"{human},,Hana,30"])
    post(app, "/campaigns/e2e-busy/start")
    assert settled(app, "e2e-busy", human, timeout=10)["outcome"] == "dnc_internal"
    report = app.get("/campaigns/e2e-human/report")
    assert (report["total"]["dialled"], report["total"]["connected"],
            sum(report["total"]["refused"].values())) == (1, 1, 2)
    assert 0 < report["queue_occupancy"] <= 1, "the agent was busy for part of the day"
    # The wallboard has the campaign's day: the human reached, the two refusals.
    (board,) = [c for c in app.get("/wallboard")["campaigns"] if c["name"] == "e2e-human"]
    assert (board["today"]["human"], board["today"]["refused"]) == (1, 2)
    # From Asterisk's side: one channel on the carrier, the human's attempt.
    await asyncio.sleep(0.5)
    assert watch.dialled() == {attempt["channel_id"]}


async def test_a_human_with_no_agent_hears_the_safe_harbor_within_2_s(
        app: RunningApp, tmp_path: Path) -> None:
    human = number()
    import_list(app, "e2e-abandon", [f"{human},,Hana,30"])
    hello = spoken(tmp_path, "hello", "Hello?")
    recording = tmp_path / "customer-heard.wav"
    customer = await start_answerer(f"play-bg {hello}; wait-hangup 40", record=recording,
                                    port=PORT, timeout=60)
    # The agent is free when the dialler decides, but its phone takes 10 s to answer.
    agent = await agent_phone(app, "agent1002", "wait-hangup 20", answer_after=10, timeout=60)
    try:
        post(app, "/agents/agent1002/login")
        post(app, "/campaigns/e2e-abandon/start")
        report = await customer.result(60)
    finally:
        await customer.close()
        await agent.close()
    assert report.connected, report.error
    contact = settled(app, "e2e-abandon", human)
    assert contact["outcome"] == "abandoned"
    (attempt,) = attempts(app, "e2e-abandon", human)
    assert (attempt["result"], attempt["amd_status"]) == ("abandoned", "HUMAN")
    harbor = find_prompt(recording, PROMPTS / "en" / "outbound-safe-harbor.wav")
    assert harbor, "the customer heard the whole safe-harbor message"
    greeting_end = seconds_of(hello)  # the customer's phone says it as the call is answered
    assert harbor[0].offset_s - greeting_end <= 2.0, (
        f"safe harbor {harbor[0].offset_s - greeting_end:.2f} s after the greeting")
    assert report.hangup_by == "remote"


async def test_a_machine_gets_the_message_after_the_beep(
        app: RunningApp, tmp_path: Path) -> None:
    machine = number()
    import_list(app, "e2e-machine", [f"{machine},,Max,40"])
    greeting = spoken(tmp_path, "greeting", "Hi, you have reached the Kim family. We cannot "
                      "come to the phone right now. Please leave your name and number after "
                      "the tone and we will call you back.", beep_after=0.4)
    recording = tmp_path / "machine-heard.wav"
    phone = await start_answerer(f"play-bg {greeting}; wait-hangup 45", record=recording,
                                 port=PORT, timeout=60)
    agent = await agent_phone(app, "agent1002", "wait-hangup 30", timeout=60)
    try:
        post(app, "/agents/agent1002/login")
        post(app, "/campaigns/e2e-machine/start")
        report = await phone.result(60)
    finally:
        await phone.close()
        await agent.close()
    assert report.connected, report.error
    contact = settled(app, "e2e-machine", machine)
    assert contact["outcome"] == "machine"
    (attempt,) = attempts(app, "e2e-machine", machine)
    assert (attempt["result"], attempt["amd_status"], attempt["detail"]) == (
        "machine", "MACHINE", "message left (tone)")
    assert attempt["agent_id"] == "", "no agent is rung for a machine"
    message = find_prompt(recording, PROMPTS / "en" / "outbound-machine-message.wav")
    assert message, "the machine recorded the whole message"
    beep_end = seconds_of(greeting)
    assert beep_end < message[0].offset_s < beep_end + 1.5, (
        f"message at {message[0].offset_s:.2f} s, the beep ended at {beep_end:.2f} s")
    before = load_wav(recording)[: int(beep_end * RATE)]
    assert not speech_segments(before), "nothing was played over the greeting"


async def test_busy_and_unanswered_numbers_are_stored_as_such(
        app: RunningApp, tmp_path: Path) -> None:
    busy, silent = number(), number()
    phone = await start_answerer(port=PORT, reject=486, timeout=30)
    agent = await agent_phone(app, "agent1002", "wait-hangup 60", timeout=90)
    try:
        post(app, "/agents/agent1002/login")
        import_list(app, "e2e-busy", [f"{busy},,Bo,1"])
        post(app, "/campaigns/e2e-busy/start")
        await phone.result(30)
        assert settled(app, "e2e-busy", busy)["outcome"] == "busy"
        phone = await start_answerer(port=PORT, answer_after=40, timeout=40)
        import_list(app, "e2e-busy", [f"{silent},,Si,2"])
        rang = await phone.result(50)
        assert invited(rang) == [silent]
        assert not rang.connected
        assert settled(app, "e2e-busy", silent)["outcome"] == "no_answer"
    finally:
        await phone.close()
        await agent.close()
    assert [a["result"] for a in attempts(app, "e2e-busy", busy)] == ["busy"]
    assert [a["result"] for a in attempts(app, "e2e-busy", silent)] == ["no_answer"]


def test_a_bad_list_is_refused_with_every_bad_row(app: RunningApp) -> None:
    body = b"number,name\nnot-a-number,x\n1234567890123456789,y\n"
    try:
        app.open("/campaigns/e2e-busy/contacts?strict=true", "POST", body, "text/csv")
        raise AssertionError("a bad list was taken")
    except urllib.error.HTTPError as exc:
        assert exc.code == 400
        refused = json.loads(exc.read())
    assert refused["imported"] is False
    assert [r["line"] for r in refused["rejected"]] == [2, 3]


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    yield from chromium()


@pytest.fixture(scope="module")
def agent_user(app: RunningApp) -> str:
    """An agent user for agent1002."""
    return add_user(app, AGENT_USER, AGENT_PASSWORD, "--role", "agent", "--agent", "agent1002")


async def test_an_agent_previews_a_contact_on_the_page_and_calls_it(
        app: RunningApp, browser: WebDriver, agent_user: str, tmp_path: Path) -> None:
    contact = number()
    import_list(app, "e2e-preview", [f"{contact},,Hana Lee,99000"])
    log_in(browser, app, agent_user, AGENT_PASSWORD)
    browser.find_element(By.ID, "ready").click()
    text_of(browser, "[data-test=state]", "^available")
    post(app, "/campaigns/e2e-preview/start")
    text_of(browser, "[data-test=preview-number]", contact)
    assert text_of(browser, "[data-test=preview-fields]", "amount: 99000")
    offer = app.get("/agents/agent1002/preview")
    assert (offer["number"], offer["name"], offer["withdrawn"]) == (contact, "Hana Lee", False)
    assert attempts(app, "e2e-preview", contact) == [], "nothing dialled before the click"

    customer = await start_answerer("wait-hangup 30", record=tmp_path / "customer.wav",
                                    port=PORT, timeout=60)
    agent = await agent_phone(app, "agent1002", "wait 4; hangup", timeout=60)
    try:
        browser.find_element(By.ID, "preview-accept").click()
        agent_report = await agent.result(40)
        report = await customer.result(40)
    finally:
        await customer.close()
        await agent.close()
    assert agent_report.connected and report.connected, (agent_report.error, report.error)
    assert invited(report) == [contact]
    # The customer is dialled once the agent answered (the agent's 200 OK; its ACK may reach
    # the agent's phone after the customer's INVITE left, so "confirmed" is no measure).
    assert agent_report.t0_monotonic is not None and report.t0_monotonic is not None
    agent_rang = next(e.t for e in agent_report.events if e.type == "incoming")
    customer_rang = next(e.t for e in report.events if e.type == "incoming")
    assert agent_report.t0_monotonic + agent_rang < report.t0_monotonic + customer_rang, (
        "the agent's phone first, then the customer's")
    assert text_of(browser, "[data-test=pop] [data-field=caller]", contact)
    (attempt,) = attempts(app, "e2e-preview", contact)
    assert (attempt["result"], attempt["agent_id"]) == ("human", "agent1002")
    assert not browser.find_element(By.ID, "preview").is_displayed()


async def test_an_agentless_contact_hears_the_reminder_and_opts_out_with_a_key(
        app: RunningApp, tmp_path: Path) -> None:
    contact = number()
    import_list(app, "e2e-reminder", [f"{contact},,Hana,30"])
    hello = spoken(tmp_path, "hello", "Hello?")
    recording = tmp_path / "customer-heard.wav"
    # Hello, AMD's silence, the reminder, and into the menu: then 9.
    into_menu = seconds_of(hello) + 1.5 + seconds("outbound-reminder") + 1.5
    customer = await start_answerer(
        f"play-bg {hello}; wait {into_menu:.1f}; dtmf 9; wait-hangup 20", record=recording,
        port=PORT, timeout=60)
    try:
        post(app, "/campaigns/e2e-reminder/start")  # no agent: none is needed
        report = await customer.result(60)
    finally:
        await customer.close()
    assert report.connected, report.error
    assert report.hangup_by == "remote", "the flow said goodbye and hung up"
    assert invited(report) == [contact]
    assert find_prompt(recording, PROMPTS / "en" / "outbound-reminder.wav")
    assert find_prompt(recording, PROMPTS / "en" / "outbound-opted-out.wav")
    assert contact in [entry["number"] for entry in app.get("/dnc")]
    settled(app, "e2e-reminder", contact)
    (attempt,) = attempts(app, "e2e-reminder", contact)
    assert (attempt["result"], attempt["amd_status"]) == ("human", "HUMAN")
    assert attempt["detail"].endswith("; opted out"), attempt["detail"]
