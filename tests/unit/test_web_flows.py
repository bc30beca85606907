"""The flows over HTTP (ivr/app/web_flows.py): the list with versions, and each flow's picture
drawn by the real Graphviz, once per version."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ivr.app.metrics import Metrics
from ivr.app.service import IvrService
from ivr.app.web import build_app
from ivr.flow.loader import load_flow
from ivr.services.db import connect
from ivr.services.users import UserStore

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class StandIn:
    users: UserStore
    registry: Any
    acd: None = None
    metrics: Metrics = field(default_factory=Metrics)
    running: None = None


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[TestClient[web.Request,
                                                                    web.Application], dict]]:
    db = await connect(f"sqlite:///{tmp_path}/t.db")
    await db.migrate()
    users = UserStore(db)
    await users.add("ops", "reporting", "a long password")
    await users.add("ana", "agent", "a long password", agent_id="a1")
    auth = {name: {"Authorization": f"Bearer {await users.new_token(name)}"}
            for name in ("ops", "ana")}
    demo = load_flow(ROOT / "flows" / "demo.yaml")
    registry = SimpleNamespace(current=SimpleNamespace(flows={demo.name: demo}))
    test_client = TestClient(TestServer(build_app(cast(IvrService, StandIn(users, registry)))))
    await test_client.start_server()
    try:
        yield test_client, auth
    finally:
        await test_client.close()
        await db.close()


async def test_the_flows_and_their_pictures(client: tuple[Any, dict]) -> None:
    http, auth = client
    listed = await (await http.get("/flows", headers=auth["ops"])).json()
    assert [(f["name"], f["nodes"] > 3) for f in listed] == [("demo", True)]
    assert listed[0]["version"]
    picture = await http.get("/flows/demo/graph.svg", headers=auth["ops"])
    assert picture.status == 200 and picture.content_type == "image/svg+xml"
    svg = await picture.text()
    assert "<svg" in svg and "main_menu" in svg
    assert "default-src 'none'" in picture.headers["Content-Security-Policy"]
    assert (await http.get("/flows/nothing/graph.svg", headers=auth["ops"])).status == 404
    assert (await http.get("/flows", headers=auth["ana"])).status == 403
