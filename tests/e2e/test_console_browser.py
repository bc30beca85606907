"""The agent desktop in a real headless Chromium (Debian's chromium and chromium-driver, driven
by Selenium), on the real app and Asterisk: an agent logs in on the page and goes ready, a
softphone caller verifies an account in the bank flow and asks for an agent, the page pops the
call (account, path, never the PIN), the agent wraps it up, and the call record has it. Also,
on the running app: every route of its own OpenAPI document but the public ones refuses an
anonymous request, and the agent's session cannot reach another agent or a supervisor's data.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from ivr.testing.audio import HEARD_WHOLE, find_prompt, is_silent, load_wav
from ivr.testing.softphone import place_call

from .acd_queues import queue_log
from .browser import chromium, log_in, text_of
from .helpers import (
    PROMPTS,
    STEP,
    TO_AGENT,
    add_account,
    add_user,
    agent_phone,
    new_caller,
    place_of,
    post,
    seconds,
    voice,
)
from .running_app import RunningApp

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("acd_agents_logged_out")]

AGENT_USER, AGENT_PASSWORD = "minji", "desktop password"
SUPERVISOR_USER = "jiwoo"


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    yield from chromium()


@pytest.fixture(scope="module")
def agent_user(acd: RunningApp) -> str:
    """An agent user for agent1002, added with `ivr user` as an operator would."""
    return add_user(acd, AGENT_USER, AGENT_PASSWORD, "--role", "agent", "--agent", "agent1002")


@pytest.fixture(scope="module")
def supervisor_user(acd: RunningApp) -> str:
    return add_user(acd, SUPERVISOR_USER, AGENT_PASSWORD, "--role", "supervisor", "--queues",
                    "general")


def shows_rows(driver: WebDriver, table: str, rows: int) -> None:
    """Wait until the page shows the table `[data-test=table]` with `rows` rows."""
    def shown(d: WebDriver) -> bool:
        return bool(d.execute_script(
            "const t = document.querySelector(arguments[0]);"
            "return t && t.offsetParent !== null && t.querySelectorAll('tbody tr').length"
            " === arguments[1]", f"[data-test={table}]", rows))

    WebDriverWait(driver, 10, poll_frequency=0.05).until(shown)


def fetch_status(driver: WebDriver, path: str) -> int:
    """What the page's own session gets for `path` (fetch, same origin, the cookie)."""
    return int(driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(r => done(r.status));", path))


def fetch_json(driver: WebDriver, path: str) -> object:
    """What the page's own session reads at `path`, as JSON."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.json()).then(done);",
        path)


async def test_an_agent_takes_a_call_on_the_desktop_and_wraps_it_up(
        acd: RunningApp, browser: WebDriver, agent_user: str, tmp_path: Path) -> None:
    await asyncio.to_thread(add_account, acd, "17320508", "2718", "KRW", "123000")
    log_in(browser, acd, agent_user, AGENT_PASSWORD)
    text_of(browser, "[data-test=state]", "logged_out")
    browser.find_element(By.ID, "ready").click()
    text_of(browser, "[data-test=state]", "^available")
    assert acd.get("/agents/agent1002")["state"] == "available"

    phone = await agent_phone(acd, "agent1002", "wait 3; hangup", timeout=60)
    caller = new_caller()
    script = "; ".join([
        STEP, "dtmf 2", STEP, "dtmf 1", STEP, "dtmf 17320508#", STEP, "dtmf 1",
        STEP, "dtmf 2718#",           # verified: the balance is said
        "wait 10", "dtmf 0",          # then 0 for an agent
        "wait-hangup 30",
    ])
    try:
        report = await place_call("100", script, caller=caller, timeout=10,
                                  caller_name="Hong Gildong")
        assert report.ok, report.error
        agent_report = await phone.result()
    finally:
        await phone.close()
    assert agent_report.ok, agent_report.error

    pop = browser.find_element(By.CSS_SELECTOR, "[data-test=pop]")
    assert text_of(browser, "[data-test=pop] [data-field=caller]", caller)
    assert pop.find_element(By.CSS_SELECTOR, "[data-field=account]").text == "17320508"
    path = pop.find_element(By.CSS_SELECTOR, "[data-field=path]").text
    assert "verify_pin" in path and path.endswith("agent")
    assert pop.find_element(By.CSS_SELECTOR, "[data-field=queue]").text == "general"
    assert pop.find_element(By.CSS_SELECTOR, "[data-field=caller_name]").text == "Hong Gildong"
    keys = pop.find_element(By.CSS_SELECTOR, "[data-test=inputs]").text
    assert "17320508" in keys and re.search(r"pin\w*: \*\*\*", keys), keys
    assert "2718" not in browser.page_source, "the PIN never reaches the desktop"
    assert not browser.find_element(By.ID, "tabs").is_displayed(), "no operations tabs"
    text_of(browser, "[data-test=state]", "^(wrap_up|available)")

    wrapup = browser.find_element(By.ID, "wrapup")
    Select(wrapup.find_element(By.NAME, "disposition")).select_by_value("follow_up")
    wrapup.find_element(By.NAME, "notes").send_keys("asked for a new card; call back Monday")
    browser.save_screenshot(str(tmp_path / "desktop.png"))
    wrapup.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    text_of(browser, "[data-test=wrapup-saved]", "saved")

    (call_id,) = [r["call_id"] for r in acd.get("/records?limit=50") if r["caller"] == caller]
    record = acd.get(f"/records/{call_id}")
    assert record["wrapup"]["disposition"] == "follow_up"
    assert record["wrapup"]["notes"] == "asked for a new card; call back Monday"
    assert record["wrapup"]["agent_id"] == "agent1002"

    # the same session reaches this agent and nothing beyond it
    assert fetch_status(browser, "/agents/agent1002") == 200
    for path in ("/agents/agent1001", "/queues/billing/kpis", "/records", "/calls", "/kpis",
                 "/metrics", "/messages"):
        assert fetch_status(browser, path) == 403, path

    # operations find the call by its caller, with its wrap-up and its trace
    log_in(browser, acd, "e2e-admin", "e2e admin password", role="admin")
    browser.find_element(By.CSS_SELECTOR, "#tabs [data-tab=calls]").click()
    search = browser.find_element(By.ID, "search")
    search.find_element(By.NAME, "caller").send_keys(caller)
    search.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    text_of(browser, f"#record-rows tr[data-call='{call_id}']", caller)
    browser.find_element(By.CSS_SELECTOR, f"#record-rows tr[data-call='{call_id}']").click()
    assert "follow_up" in text_of(browser, "#record [data-field=wrapup]", "agent1002")
    text_of(browser, "#trace-rows", "queue_connected")
    browser.find_element(By.CSS_SELECTOR, "#tabs [data-tab=flows]").click()
    WebDriverWait(browser, 10, poll_frequency=0.05).until(lambda d: d.execute_script(
        "const i = [...document.querySelectorAll('#flow-list img')];"
        "return i.length >= 2 && i.every(x => x.complete && x.naturalWidth > 0)"))
    for tab, table, api in (("callbacks", "callbacks", "/callbacks"),
                            ("voicemail", "messages", "/messages?limit=200")):
        browser.find_element(By.CSS_SELECTOR, f"#tabs [data-tab={tab}]").click()
        shows_rows(browser, table, len(acd.get(api)))
    browser.find_element(By.CSS_SELECTOR, "#tabs [data-tab=health]").click()
    text_of(browser, "[data-test=health]", "Asterisk \\(ARI\\)connected")


async def test_the_wallboard_shows_a_caller_waiting_then_answered_within_a_second(
        acd: RunningApp, browser: WebDriver, supervisor_user: str, tmp_path: Path) -> None:
    log_in(browser, acd, supervisor_user, AGENT_PASSWORD, role="supervisor")
    general = "[data-test=queues] tr[data-queue=general]"
    text_of(browser, f"{general} [data-field=waiting]", r"^\d+$")
    assert not browser.find_elements(By.CSS_SELECTOR, "tr[data-queue=billing]"), \
        "a supervisor sees its own queues only"
    # the demo's outbound campaign of general is on the board; billing's is not
    text_of(browser, "[data-test=campaigns] tr[data-campaign=card-payment] [data-field=running]",
            "^(yes|no)$")
    assert not browser.find_elements(By.CSS_SELECTOR, "tr[data-campaign=billing-follow-up]")
    answered = int(text_of(browser, f"{general} [data-field=answered]", r"^\d+$"))

    phone = await agent_phone(acd, "agent1001", "wait 2; hangup", timeout=60)
    try:
        post(acd, "/agents/agent1001/login")
        post(acd, "/agents/agent1001/pause", {"reason": "1"})
        caller = new_caller()
        call = asyncio.create_task(place_call("100", f"{TO_AGENT}; wait-hangup 40",
                                              caller=caller, timeout=10))
        await place_of(acd, caller, "in_queue", queue="general")
        shown = time.monotonic()
        text_of(browser, f"{general} [data-field=waiting]", "^1$", timeout=1.0)
        waiting_s = time.monotonic() - shown
        browser.save_screenshot(str(tmp_path / "wallboard.png"))
        post(acd, "/agents/agent1001/unpause")
        await place_of(acd, caller, "with_agent", queue="general", agent="agent1001")
        shown = time.monotonic()
        text_of(browser, f"{general} [data-field=answered]", f"^{answered + 1}$", timeout=1.0)
        text_of(browser, f"{general} [data-field=waiting]", "^0$", timeout=0.2)
        answered_s = time.monotonic() - shown
        report = await call
        await phone.result()
    finally:
        await phone.close()
    assert report.ok, report.error
    browser.execute_script("document.querySelector(arguments[0]).click()",  # rows are replaced
                           f"{general} td.link")                          # on every push
    shows_rows(browser, "intraday", len(acd.get("/queues/general/intervals")))
    # the supervisor of general finds this call's record among its queues' and nothing else
    records = fetch_json(browser, "/records?limit=200")
    assert isinstance(records, list) and caller in [r["caller"] for r in records]
    assert all("general" in r["queues"] for r in records), "only its queue's records"
    assert fetch_status(browser, "/records?queue=billing") == 403
    print(f"wallboard: waiting shown {waiting_s:.3f} s, answered {answered_s:.3f} s after the "
          "API showed them")


async def test_the_agent_holds_the_caller_and_transfers_it_from_the_page(
        acd: RunningApp, browser: WebDriver, agent_user: str, tmp_path: Path) -> None:
    """Hold takes the caller out to music (they stop hearing the agent, and hear it again
    once taken back), then a blind transfer to billing's code queues them for agent1001."""
    log_in(browser, acd, agent_user, AGENT_PASSWORD)
    browser.find_element(By.ID, "ready").click()
    text_of(browser, "[data-test=state]", "^available")
    agent_says = voice(tmp_path, "en", "goodbye", repeats=30)
    first = await agent_phone(acd, "agent1002", f"play-bg {agent_says}; wait-hangup 60",
                              timeout=60)
    second = await agent_phone(acd, "agent1001", "wait 2; hangup", timeout=60)
    caller = new_caller()
    try:
        post(acd, "/agents/agent1001/login")
        call = asyncio.create_task(place_call(
            "100", f"{TO_AGENT}; wait-hangup 60", record=tmp_path / "caller.wav",
            caller=caller, timeout=10))
        with_agent = await place_of(acd, caller, "with_agent", queue="general",
                                    agent="agent1002")
        call_id = str(with_agent["id"])
        bridge = f"/bridges/acd-call-{call_id}"
        await asyncio.to_thread(text_of, browser, "[data-test=call-state]", "^talking$")
        await asyncio.sleep(4)
        browser.find_element(By.ID, "hold").click()
        await asyncio.to_thread(text_of, browser, "[data-test=call-state]", "^held$")
        assert call_id not in acd.ari(bridge)["channels"], "held: out of the conversation"
        await asyncio.sleep(6)
        browser.find_element(By.ID, "unhold").click()
        await asyncio.to_thread(text_of, browser, "[data-test=call-state]", "^talking$")
        assert call_id in acd.ari(bridge)["channels"]
        await asyncio.sleep(5)
        targets = browser.find_elements(By.CSS_SELECTOR, "#transfer-targets option")
        assert ("2", "queue billing") in [
            (o.get_attribute("value"), o.get_attribute("textContent")) for o in targets]
        browser.find_element(By.ID, "transfer-to").send_keys("2")
        browser.find_element(By.ID, "transfer").click()
        await place_of(acd, caller, "with_agent", queue="billing", agent="agent1001")
        report = await call
        transferring, answering = await first.result(), await second.result()
    finally:
        await first.close()
        await second.close()
    assert report.ok and transferring.ok and answering.ok, (
        report.error, transferring.error, answering.error)
    text_of(browser, "[data-test=call-state]", "^ended$")

    trace = acd.trace_for_caller(caller)
    at = {e["event"]: float(e["t"]) for e in trace
          if e["event"] in ("answered", "queue_hold", "queue_unhold")}
    held_from, held_to = at["queue_hold"] - at["answered"], at["queue_unhold"] - at["answered"]
    heard = load_wav(tmp_path / "caller.wav")
    said = [m.offset_s for m in find_prompt(heard, load_wav(PROMPTS / "en" / "goodbye.wav"),
                                            threshold=HEARD_WHOLE)]
    length = seconds("goodbye")
    assert any(s + length < held_from for s in said), "the agent was heard before the hold"
    assert any(s > held_to for s in said), "and again once taken back"
    assert not [s for s in said if held_from - 0.3 < s < held_to - length + 0.3], \
        f"the agent was heard on hold: {said} within {held_from:.1f}-{held_to:.1f} s"
    music = heard[int((held_from + 1.0) * 8000):int((held_to - 0.5) * 8000)]
    assert not is_silent(music), "no music on hold"
    lines = [line for line in queue_log(acd, call_id) if line[4] in ("CONNECT", "TRANSFER")]
    assert [(line[2], line[4]) for line in lines] == [
        ("general", "CONNECT"), ("general", "TRANSFER"), ("billing", "CONNECT")]


def test_every_documented_route_refuses_an_anonymous_request(ivr_app: RunningApp) -> None:
    with urllib.request.urlopen(ivr_app.base_url + "/openapi.json", timeout=5) as resp:
        document = json.loads(resp.read())
    refused = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if operation.get("security") == []:
                continue
            concrete = path
            for parameter in operation["parameters"]:
                value = parameter["schema"].get("enum", ["x1"])[0]
                concrete = concrete.replace("{" + parameter["name"] + "}", value)
            url = ivr_app.base_url + concrete
            request = urllib.request.Request(url, method=method.upper())
            with pytest.raises(urllib.error.HTTPError) as refusal:
                urllib.request.urlopen(request, timeout=5)
            assert refusal.value.code == 401, (method, path)
            refused += 1
    assert refused >= 30
