"""The desktop's call controls over REST (ivr/app/web_call.py) on a running ACD with fake ARI
(tests/unit/acd/fakes.py): hold, back, transfer, and the 4xx for what cannot be done."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ivr.app import web_call
from ivr.app.service import IvrService
from ivr.services.acd.control import Hold
from ivr.services.acd.results import TransferredOut

from .acd.fakes import Rig
from .acd.session_helpers import caller, connected, join, queue_rig, rung
from .web_users import as_user

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[Client, Rig]]:
    async with queue_rig(tmp_path) as r:
        app = web.Application(middlewares=[as_user()])
        web_call.add_routes(app, cast(IvrService, SimpleNamespace(acd=r.acd, callbacks=None)))
        async with TestClient(TestServer(app)) as client:
            yield client, r


async def post(client: Client, path: str, body: Any = None) -> tuple[int, Any]:
    response = await client.post(path, json=body)
    text = await response.text()
    return response.status, (await response.json()) if response.status == 200 else text


async def test_hold_back_and_transfer_from_the_desktop(env: tuple[Client, Rig]) -> None:
    client, r = env
    await r.acd.login("a1")
    who = caller(r)
    task = join(r, who)
    await connected(r, who, await rung(r))
    assert await post(client, "/agents/a1/call/hold") == (
        200, {"call_id": "caller-1", "state": "held"})
    assert "caller-1" not in r.rest.bridges["acd-call-caller-1"]
    assert await post(client, "/agents/a1/call/unhold") == (
        200, {"call_id": "caller-1", "state": "talking"})
    assert "caller-1" in r.rest.bridges["acd-call-caller-1"]
    assert await post(client, "/agents/a1/call/transfer", {"to": "1234"}) == (
        200, {"call_id": "caller-1", "state": "transferred"})
    assert await task == TransferredOut("1234")


async def test_the_transfer_targets_are_every_queue_with_a_code(
        env: tuple[Client, Rig]) -> None:
    client, _ = env
    response = await client.get("/agents/a1/call/targets")
    assert await response.json() == [{"to": "2", "queue": "care"}]


@pytest.mark.parametrize(("path", "body", "status", "says"), [
    ("/agents/a1/call/hold", None, 409, "no queued call"),
    ("/agents/nobody/call/hold", None, 404, "nobody"),
    ("/agents/a1/call/transfer", {"to": "12#"}, 400, "0-9 and *"),
    ("/agents/a1/call/transfer", {"target": "2"}, 400, '"to"'),
    ("/agents/a1/call/transfer", [1], 400, '"to"'),
    ("/agents/a1/call/transfer", {"to": "2"}, 409, "no queued call"),
])
async def test_what_cannot_be_done_is_a_4xx_that_says_why(
        env: tuple[Client, Rig], path: str, body: Any, status: int, says: str) -> None:
    client, r = env
    await r.acd.login("a1")
    got, text = await post(client, path, body)
    assert got == status and says in text


async def test_an_agent_first_callbacks_call_takes_the_same_commands(tmp_path: Path) -> None:
    """No queued call, but the agent talks to a called-back customer (callback/talk.py)."""
    heard: list[object] = []

    class Talk:
        id = "cb-1"

        def command(self, command: object) -> Any:
            heard.append(command)
            done = asyncio.get_running_loop().create_future()
            done.set_result("held")
            return done

    async with queue_rig(tmp_path) as r:
        app = web.Application(middlewares=[as_user()])
        service = SimpleNamespace(acd=r.acd, callbacks=SimpleNamespace(talking={"a1": Talk()}))
        web_call.add_routes(app, cast(IvrService, service))
        async with TestClient(TestServer(app)) as client:
            assert await post(client, "/agents/a1/call/hold") == (
                200, {"call_id": "cb-1", "state": "held"})
            assert (await post(client, "/agents/a2/call/hold"))[0] == 409
    assert heard == [Hold()]
