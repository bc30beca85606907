"""The wallboard's routes (ivr/app/web_wallboard.py) on the real router, a real Acd and store:
a supervisor sees its queues only, the push comes within a second of a queue-log event, and
the colours follow the thresholds of queues.yaml."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ivr.app.metrics import Metrics
from ivr.app.service import IvrService
from ivr.app.web import build_app
from ivr.ari import AriClient
from ivr.media.prompts import PromptLibrary
from ivr.services.acd.config_reader import parse_acd_config
from ivr.services.acd.engine import Acd
from ivr.services.acd.store import AcdStore
from ivr.services.db import connect
from ivr.services.outbound.config_campaigns import parse_campaigns
from ivr.services.outbound.dialler import Dialler
from ivr.services.outbound.store import OutboundStore
from ivr.services.users import UserStore

ROOT = Path(__file__).resolve().parents[2]
QUEUES = """\
agents:
  a1: {name: Ann, endpoint: PJSIP/a1}
  a2: {name: Bob, endpoint: PJSIP/a2}
queues:
  general: {members: [a1], service_level: 20}
  vip: {members: [a2]}
wallboard:
  service_level: {amber: 0.9, red: 0.5}
"""
CAMPAIGNS = """
campaigns:
  renewals: {mode: progressive, queue: general, rules: kr, timezone: Asia/Seoul}
  vip-offers: {mode: preview, queue: vip, rules: kr, timezone: Asia/Seoul}
"""


class NoAri:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the ACD used the ARI client ({name})")


@dataclass
class StandIn:
    users: UserStore
    acd: Acd
    metrics: Metrics = field(default_factory=Metrics)
    running: None = None
    outbound: Dialler | None = None


@dataclass
class Env:
    client: TestClient[web.Request, web.Application]
    acd: Acd
    auth: dict[str, dict[str, str]]
    dialler: Dialler | None = None


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    db = await connect(f"sqlite:///{tmp_path}/t.db")
    await db.migrate()
    config = parse_acd_config(QUEUES)
    acd = Acd(cast(AriClient, NoAri()), AcdStore(db), lambda: config,
              PromptLibrary(ROOT / "prompts"))
    acd.sync_agents()
    users = UserStore(db)
    auth = {}
    for name, role, extra in (("sam", "supervisor", {"queues": ("general",)}),
                              ("rita", "reporting", {}), ("ana", "agent", {"agent_id": "a1"})):
        await users.add(name, role, "a long password", **extra)
        auth[name] = {"Authorization": f"Bearer {await users.new_token(name)}"}
    campaigns = parse_campaigns(CAMPAIGNS, acd=config)
    dialler = Dialler(cast(AriClient, NoAri()), acd, OutboundStore(db), lambda: campaigns,
                      dial="PJSIP/{number}")
    client = TestClient(TestServer(build_app(cast(IvrService,
                                                  StandIn(users, acd, outbound=dialler)))))
    await client.start_server()
    try:
        yield Env(client, acd, auth, dialler)
    finally:
        await client.close()
        await acd.stop()
        await db.close()


async def board(env: Env, who: str) -> dict[str, Any]:
    resp = await env.client.get("/wallboard", headers=env.auth[who])
    assert resp.status == 200, await resp.text()
    found: dict[str, Any] = await resp.json()
    return found


async def test_a_supervisor_sees_its_queues_and_their_agents(env: Env) -> None:
    mine = await board(env, "sam")
    assert [q["name"] for q in mine["queues"]] == ["general"]
    assert [a["id"] for a in mine["agents"]] == ["a1"]
    everything = await board(env, "rita")
    assert [q["name"] for q in everything["queues"]] == ["general", "vip"]
    resp = await env.client.get("/wallboard", headers=env.auth["ana"])
    assert resp.status == 403


async def test_the_campaigns_of_the_queues_are_on_the_board_with_their_day(env: Env) -> None:
    """The dialler counts each attempt as it stores it (outbound/board.py)."""
    assert env.dialler is not None
    now = time.time()
    for result in ("human", "human", "abandoned", "machine", "busy", "dnc"):
        env.dialler.today.count("renewals", result, now)
    (renewals,) = (await board(env, "sam"))["campaigns"]
    assert (renewals["name"], renewals["running"], renewals["queue"]) == (
        "renewals", False, "general")
    assert renewals["today"] == {"dialled": 5, "human": 3, "machine": 1, "abandoned": 1,
                                 "abandon_rate": 0.3333, "refused": 1}
    assert [c["name"] for c in (await board(env, "rita"))["campaigns"]] == [
        "renewals", "vip-offers"]


async def test_the_day_and_the_colours_come_from_the_queue_log(env: Env) -> None:
    acd = env.acd
    await acd.login("a1")
    await acd.log(acd.event("c1", "general", "NONE", "ENTERQUEUE", "", "555"),
                  acd.event("c1", "general", "PJSIP/a1", "CONNECT", "5", "x", "1"),
                  acd.event("c2", "general", "NONE", "ENTERQUEUE", "", "556"),
                  acd.event("c2", "general", "PJSIP/a1", "CONNECT", "45", "x", "1"))
    (general,) = (await board(env, "sam"))["queues"]
    assert (general["today"]["offered"], general["today"]["answered"]) == (2, 2)
    assert general["today"]["service_level"] == 0.5
    assert general["levels"]["service_level"] == "red"  # at or under red (0.5)
    assert general["today"]["average_speed_of_answer_s"] == 25
    assert general["agents"]["available"] == 1 and general["occupancy"] == 0.0


async def test_a_change_is_pushed_within_a_second(env: Env) -> None:
    acd = env.acd
    async with env.client.ws_connect("/wallboard/events", headers=env.auth["sam"]) as ws:
        first = await ws.receive_json(timeout=5)
        assert first["queues"][0]["today"]["offered"] == 0
        changed = time.monotonic()
        await acd.log(acd.event("c9", "general", "NONE", "ENTERQUEUE", "", "557"))
        while (pushed := await ws.receive_json(timeout=5))["queues"][0]["today"]["offered"] == 0:
            pass
        assert time.monotonic() - changed < 1.0
        assert pushed["queues"][0]["today"]["offered"] == 1
        await acd.log(acd.event("c8", "vip", "NONE", "ENTERQUEUE", "", "558"))  # not sam's
        assert all(q["name"] == "general" for q in pushed["queues"])


async def test_the_day_by_interval_with_its_staffing(env: Env) -> None:
    acd = env.acd
    events = []
    for n in range(30):
        cid = f"d{n}"
        events += [acd.event(cid, "general", "NONE", "ENTERQUEUE", "", "555"),
                   acd.event(cid, "general", "PJSIP/a1", "CONNECT", "10", "x", "1"),
                   acd.event(cid, "general", "PJSIP/a1", "COMPLETECALLER", "10", "180", "1")]
    await acd.log(*events)
    resp = await env.client.get("/queues/general/intervals", headers=env.auth["sam"])
    assert resp.status == 200
    (interval,) = await resp.json()
    assert (interval["offered"], interval["answered"]) == (30, 30)
    assert interval["average_handle_time_s"] == 180
    assert interval["agents_for_goal"] >= 6  # 30 calls of 3 minutes in 15 minutes: 6 erlangs
    assert (await env.client.get("/queues/vip/intervals", headers=env.auth["sam"])).status == 403
    assert (await env.client.get("/queues/general/intervals?since=soon",
                                 headers=env.auth["sam"])).status == 400
