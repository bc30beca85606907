"""The ACD's REST and WebSocket surface (ivr/app/web_acd.py) on a real Acd and SQLite store.

No dispatcher and no Asterisk: the Acd is built but not started, and its agents are created by
`sync_agents()`, so everything here is what an agent's desktop or a supervisor's tool sees when
logging in, pausing, reading queues, KPIs and the queue log, and subscribing to screen pops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ivr.app.service import IvrService
from ivr.app.web_acd import add_routes
from ivr.ari import AriClient
from ivr.media.prompts import PromptLibrary
from ivr.services.acd.config_reader import parse_acd_config
from ivr.services.acd.desktop import IvrOrigin, ScreenPop
from ivr.services.acd.engine import Acd
from ivr.services.acd.queue_log import parse_lines
from ivr.services.acd.store import AcdStore
from ivr.services.db import connect

from .web_users import as_user

ROOT = Path(__file__).resolve().parents[2]

QUEUES_YAML = """\
pause_reasons:
  "1": break
  "2": lunch
agents:
  a1: {name: Ann, endpoint: PJSIP/a1}
  a2: {name: Bob, endpoint: PJSIP/a2}
queues:
  general:
    members: [a1, a2]
    max_wait: 60
    service_level: 30
"""


@dataclass
class StandIn:
    """What web_acd reads of the service: its `acd`."""

    acd: Acd | None


class NoAri:
    """The ARI client; only dispatching and ringing touch it, and neither runs here."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the ACD used the ARI client ({name}) in a REST test")


@dataclass
class Env:
    client: TestClient[web.Request, web.Application]
    acd: Acd


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    db = await connect(f"sqlite:///{tmp_path}/t.db")
    await db.migrate()
    config = parse_acd_config(QUEUES_YAML)
    acd = Acd(cast(AriClient, NoAri()), AcdStore(db), lambda: config,
              PromptLibrary(ROOT / "prompts"))
    acd.sync_agents()
    app = web.Application(middlewares=[as_user()])
    add_routes(app, cast(IvrService, StandIn(acd)))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Env(client, acd)
    finally:
        await client.close()
        await acd.stop()
        await db.close()


async def post(env: Env, path: str, expect: int = 200, **kw: Any) -> Any:
    resp = await env.client.post(path, **kw)
    assert resp.status == expect, await resp.text()
    return await resp.json() if expect == 200 else await resp.text()


async def get(env: Env, path: str, expect: int = 200) -> Any:
    resp = await env.client.get(path)
    assert resp.status == expect, await resp.text()
    if resp.content_type == "application/json":
        return await resp.json()
    return await resp.text()


def states(agents: list[dict[str, Any]]) -> dict[str, str]:
    return {a["id"]: a["state"] for a in agents}


# -- agents ----------------------------------------------------------------------------------


async def test_agents_start_logged_out(env: Env) -> None:
    agents = await get(env, "/agents")
    assert states(agents) == {"a1": "logged_out", "a2": "logged_out"}
    a1 = next(a for a in agents if a["id"] == "a1")
    assert (a1["name"], a1["endpoint"], a1["pause_reason"]) == ("Ann", "PJSIP/a1", None)
    assert (await get(env, "/agents/a2"))["state"] == "logged_out"
    assert "unknown agent 'zz'" in await get(env, "/agents/zz", 404)


async def test_login_pause_unpause_logout(env: Env) -> None:
    assert (await post(env, "/agents/a1/login"))["state"] == "available"
    paused = await post(env, "/agents/a1/pause", params={"reason": "1"})
    assert (paused["state"], paused["pause_reason"]) == ("paused", "break")
    assert env.acd.agents["a1"].pause_reason == "break"
    assert (await post(env, "/agents/a1/unpause"))["state"] == "available"
    assert (await post(env, "/agents/a1/pause", json={"reason": "2"}))["pause_reason"] == "lunch"
    # A reason that is no code is kept as text.
    await post(env, "/agents/a1/unpause")
    assert (await post(env, "/agents/a1/pause", json={"reason": "coaching"}))[
        "pause_reason"] == "coaching"
    assert (await post(env, "/agents/a1/logout"))["state"] == "logged_out"
    assert states(await get(env, "/agents")) == {"a1": "logged_out", "a2": "logged_out"}
    # Logging in or out twice is harmless.
    await post(env, "/agents/a2/login")
    assert (await post(env, "/agents/a2/login"))["state"] == "available"
    await post(env, "/agents/a2/logout")
    assert (await post(env, "/agents/a2/logout"))["state"] == "logged_out"


async def test_agent_action_errors(env: Env) -> None:
    assert "not logged in" in await post(env, "/agents/a1/pause", 409)
    assert env.acd.agents["a1"].state.value == "logged_out"
    assert "unknown agent 'zz'" in await post(env, "/agents/zz/login", 404)
    assert "unknown agent" in await post(env, "/agents/zz/pause", 404)
    assert "actions: login, logout, pause, unpause" in await post(env, "/agents/a1/dance", 404)
    assert env.acd.agents["a1"].state.value == "logged_out"


# -- queues ----------------------------------------------------------------------------------


async def test_queues(env: Env) -> None:
    [general] = await get(env, "/queues")
    assert general["name"] == "general"
    assert (general["waiting"], general["connected"], general["longest_wait_s"]) == ([], [], 0)
    assert general["members"] == ["a1", "a2"]
    assert general["agents"]["logged_out"] == 2
    assert set(general["agents"]) == {"logged_out", "available", "ringing", "on_call",
                                      "wrap_up", "paused"}

    await post(env, "/agents/a1/login")
    await post(env, "/agents/a2/login")
    await post(env, "/agents/a2/pause", params={"reason": "1"})
    general = await get(env, "/queues/general")
    assert general["waiting"] == []
    assert {k: v for k, v in general["agents"].items() if v} == {"available": 1, "paused": 1}
    assert "no such queue" in await get(env, "/queues/nope", 404)


async def test_queue_log_in_asterisk_format(env: Env) -> None:
    assert await get(env, "/queue_log") == ""
    await post(env, "/agents/a1/login")
    await post(env, "/agents/a1/pause", params={"reason": "1"})
    await post(env, "/agents/a1/unpause")
    await post(env, "/agents/a1/logout")
    resp = await env.client.get("/queue_log")
    assert resp.status == 200 and resp.content_type == "text/plain"
    text = await resp.text()
    lines = text.splitlines()
    assert [line.split("|")[1:] for line in lines] == [
        ["NONE", "general", "PJSIP/a1", "ADDMEMBER", ""],
        ["NONE", "general", "PJSIP/a1", "PAUSE", "break"],
        ["NONE", "general", "PJSIP/a1", "UNPAUSE", "break"],
        ["NONE", "general", "PJSIP/a1", "REMOVEMEMBER", ""]]
    now = time.time()
    assert all(now - 60 <= int(line.split("|")[0]) <= now for line in lines)
    assert [e.event for e in parse_lines(text)] == ["ADDMEMBER", "PAUSE", "UNPAUSE",
                                                    "REMOVEMEMBER"]
    assert await get(env, "/queue_log?queue=other") == ""
    assert await get(env, f"/queue_log?since={now + 3600}") == ""
    assert (await env.client.get("/queue_log?hours=x")).status == 400


# -- KPIs ------------------------------------------------------------------------------------

KPI_KEYS = {"queue", "start", "end", "offered", "answered", "abandoned", "service_level",
            "average_speed_of_answer_s", "average_handle_time_s", "abandonment_rate",
            "occupancy", "longest_wait_s", "service_level_s", "service_level_rule"}


async def test_queue_kpis(env: Env) -> None:
    await post(env, "/agents/a1/login")
    kpis = await get(env, "/queues/general/kpis")
    assert KPI_KEYS <= set(kpis)
    assert kpis["queue"] == "general"
    assert (kpis["offered"], kpis["answered"], kpis["abandoned"]) == (0, 0, 0)
    assert kpis["service_level"] is None and kpis["abandonment_rate"] is None
    assert kpis["service_level_s"] == 30  # the queue's own target
    assert kpis["end"] - kpis["start"] == pytest.approx(24 * 3600)
    assert kpis["live"]["name"] == "general"
    assert kpis["live"]["agents"]["available"] == 1

    window = await get(env, "/queues/general/kpis?since=1000&until=2000")
    assert (window["start"], window["end"]) == (1000, 2000)
    window = await get(env, "/queues/general/kpis?until=7200&hours=1")
    assert (window["start"], window["end"]) == (3600, 7200)


async def test_all_queues_kpis(env: Env) -> None:
    kpis = await get(env, "/kpis")
    assert KPI_KEYS <= set(kpis)
    assert kpis["queue"] is None
    assert kpis["service_level_s"] == 20  # no queue: the default target
    assert "live" not in kpis


async def test_kpis_errors(env: Env) -> None:
    assert "bad time window" in await get(env, "/kpis?since=yesterday", 400)
    assert "bad time window" in await get(env, "/queues/general/kpis?until=x", 400)
    assert "no such queue" in await get(env, "/queues/nope/kpis", 404)


@pytest.mark.parametrize("query", ["since=inf", "hours=-5", "since=2000&until=1000",
                                   "since=nan", "until=inf"])
async def test_kpis_refuse_a_window_that_is_no_window(env: Env, query: str) -> None:
    resp = await env.client.get(f"/kpis?{query}")
    assert resp.status == 400, (resp.status, await resp.text())


async def test_a_null_pause_reason_is_no_reason(env: Env) -> None:
    await post(env, "/agents/a1/login")
    paused = await post(env, "/agents/a1/pause", json={"reason": None})
    assert paused["pause_reason"] is None  # the view shows "" as None


async def test_no_acd_is_503() -> None:
    app = web.Application(middlewares=[as_user()])
    add_routes(app, cast(IvrService, StandIn(None)))
    async with TestClient(TestServer(app)) as client:
        for path in ("/agents", "/queues", "/kpis", "/queue_log"):
            resp = await client.get(path)
            assert resp.status == 503, path


# -- screen pops -----------------------------------------------------------------------------


async def until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def screen_pop(agent: str, call_id: str = "c1", caller: str = "01012345678") -> ScreenPop:
    return ScreenPop.of(IvrOrigin(path=("main_menu", "agent")), agent=agent, call_id=call_id,
                        queue="general", caller=caller, caller_name="", language="en", priority=0,
                        waited_s=3.0)


async def test_agent_events(env: Env) -> None:
    ws = await env.client.ws_connect("/agents/a1/events")
    first = await ws.receive_json(timeout=5)
    assert (first["type"], first["id"], first["state"]) == ("agent_state", "a1", "logged_out")
    assert len(env.acd.desktops._listeners["a1"]) == 1

    pop = screen_pop("a1")
    env.acd.desktops.publish("a1", pop)
    env.acd.desktops.publish("a2", screen_pop("a2", caller="not for a1"))
    assert await ws.receive_json(timeout=5) == pop.to_json()

    await post(env, "/agents/a1/login")
    state = await ws.receive_json(timeout=5)
    assert (state["type"], state["id"], state["state"]) == ("agent_state", "a1", "available")
    await post(env, "/agents/a1/pause", params={"reason": "1"})
    state = await ws.receive_json(timeout=5)
    assert (state["state"], state["pause_reason"]) == ("paused", "break")

    await ws.close()
    await until(lambda: not env.acd.desktops._listeners.get("a1"))


async def test_two_desktops_of_one_agent_both_get_events(env: Env) -> None:
    one = await env.client.ws_connect("/agents/a2/events")
    two = await env.client.ws_connect("/agents/a2/events")
    for ws in (one, two):
        assert (await ws.receive_json(timeout=5))["type"] == "agent_state"
    env.acd.desktops.publish("a2", screen_pop("a2", "c1"))
    for ws in (one, two):
        assert await ws.receive_json(timeout=5) == screen_pop("a2", "c1").to_json()
    await one.close()
    await until(lambda: len(env.acd.desktops._listeners["a2"]) == 1)
    env.acd.desktops.publish("a2", screen_pop("a2", "c2"))
    assert (await two.receive_json(timeout=5))["call_id"] == "c2"
    await two.close()
    await until(lambda: not env.acd.desktops._listeners["a2"])


async def test_agent_events_for_an_unknown_agent(env: Env) -> None:
    resp = await env.client.get("/agents/zz/events")
    assert resp.status == 404
    assert not env.acd.desktops._listeners
