"""The http node against a real local aiohttp server, through the real AiohttpClient."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ivr.flow.http import AiohttpClient, HttpError, PathError, lookup
from ivr.flow.interpreter import run_flow
from ivr.flow.model import HttpNode, PlayNode, SetNode
from ivr.flow.state import FlowState
from tests.unit.flowkit import ScriptedCaller, context, make_flow, run, says


class Backend:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.bodies: list[Any] = []
        app = web.Application()
        app.router.add_route("*", "/{name}", self.handle)
        self.server = TestServer(app)

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.hits[name] += 1
        if request.can_read_body:
            self.bodies.append(await request.json())
        if name == "balance":
            return web.json_response({"data": {"balance": 1500, "owner": "Kim",
                                               "accounts": [{"id": "a1"}, {"id": "a2"}]},
                                      "query": request.query.get("acct")})
        if name == "echo":
            return web.json_response({"got": self.bodies[-1], "method": request.method})
        if name == "slow":
            await asyncio.sleep(2.0)
        if name == "flaky" and self.hits[name] == 1:
            return web.json_response({"error": "busy"}, status=503)
        if name == "flaky":
            return web.json_response({"ok": True})
        if name == "fail":
            return web.json_response({"error": "boom"}, status=500)
        if name == "bad":
            return web.Response(text="<html>not json</html>")
        return web.json_response({"error": "nope"}, status=404)


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    b = Backend()
    await b.server.start_server()
    yield b
    await b.server.close()


@pytest.fixture
async def client() -> AsyncIterator[AiohttpClient]:
    c = AiohttpClient()
    yield c
    await c.close()


def http_flow(url: str, **fields: Any) -> Any:
    return make_flow(
        SetNode("init", values={"acct": "'12 34'", "pin": "'9999'"}, next="call"),
        HttpNode("call", url=url, next="ok", fallback="sorry", **fields),
        PlayNode("ok", prompts=says("ok")), PlayNode("sorry", prompts=says("sorry")),
        entry="init")


async def call(flow: Any, client: AiohttpClient) -> tuple[Any, ScriptedCaller, list[float]]:
    backoffs: list[float] = []

    async def sleep(seconds: float) -> None:
        backoffs.append(seconds)

    caller = ScriptedCaller()
    state = await run(flow, caller, http=client, sleep=sleep)
    return state, caller, backoffs


async def test_results_by_dotted_path(backend: Backend, client: AiohttpClient) -> None:
    flow = http_flow(backend.url("/balance") + "?acct=${acct}",
                     results={"balance": "data.balance", "owner": "data.owner",
                              "second": "data.accounts.1.id", "echoed": "query"})
    state, caller, backoffs = await call(flow, client)
    assert state.path[-1] == "ok"
    assert {k: state.variables[k] for k in ("balance", "owner", "second", "echoed")} == {
        "balance": 1500, "owner": "Kim", "second": "a2", "echoed": "12 34"}
    (trace,) = caller.named("http")
    assert (trace["method"], trace["status"], trace["attempt"]) == ("GET", 200, 1)
    assert "error" not in trace and backoffs == []


async def test_post_sends_the_body_from_expressions(backend: Backend,
                                                    client: AiohttpClient) -> None:
    flow = http_flow(backend.url("/echo"), method="post",
                     body={"account": "acct", "amount": "1000 * 2", "vip": "true"},
                     results={"sent": "got.amount", "how": "method"})
    state, _, _ = await call(flow, client)
    assert backend.bodies == [{"account": "12 34", "amount": 2000, "vip": True}]
    assert (state.variables["sent"], state.variables["how"]) == (2000, "POST")


async def test_timeout_is_retried_then_the_fallback(backend: Backend,
                                                    client: AiohttpClient) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    state, caller, backoffs = await call(
        http_flow(backend.url("/slow"), timeout=0.2, retries=2), client)
    assert loop.time() - started < 1.5
    assert backend.hits["slow"] == 3 and backoffs == [0.2, 0.4]
    assert [t["error"] for t in caller.named("http")] == ["timeout after 0.2s"] * 3
    assert state.path[-1] == "sorry" and state.outcome == "completed"
    (error,) = caller.named("error")
    assert error["node"] == "call" and error["fallback"] == "sorry"


async def test_a_5xx_is_retried_and_may_recover(backend: Backend, client: AiohttpClient) -> None:
    state, caller, _ = await call(
        http_flow(backend.url("/flaky"), retries=1, results={"ok": "ok"}), client)
    assert [t["status"] for t in caller.named("http")] == [503, 200]
    assert state.variables["ok"] is True and state.path[-1] == "ok"


async def test_a_500_fails_after_the_retries(backend: Backend, client: AiohttpClient) -> None:
    state, caller, _ = await call(http_flow(backend.url("/fail"), retries=1), client)
    assert backend.hits["fail"] == 2 and state.path[-1] == "sorry"
    assert [t["error"] for t in caller.named("http")] == ["status 500"] * 2


@pytest.mark.parametrize(("path", "results", "message"), [
    ("/missing", {}, "status 404"),
    ("/bad", {"x": "a"}, "not JSON"),
    ("/balance", {"x": "data.nothing"}, "no 'nothing'"),
    ("/balance", {"x": "data"}, "is an object"),
])
async def test_failures_a_retry_cannot_fix_go_straight_to_the_fallback(
    backend: Backend, client: AiohttpClient, path: str, results: dict[str, str], message: str
) -> None:
    state, caller, backoffs = await call(
        http_flow(backend.url(path), retries=3, results=results), client)
    assert sum(backend.hits.values()) == 1 and backoffs == []
    assert message in caller.named("http")[0]["error"]
    assert state.path[-1] == "sorry" and "x" not in state.variables


async def test_connection_refused_and_no_fallback_ends_the_call(client: AiohttpClient) -> None:
    flow = make_flow(HttpNode("call", url="http://127.0.0.1:9/none", retries=0, next="ok"),
                     PlayNode("ok", prompts=says("ok")))
    state, caller, _ = await call(flow, client)
    assert "connection failed" in caller.named("http")[0]["error"]
    assert state.outcome == "error" and caller.hung_up


async def test_secret_values_in_the_url_are_masked_in_traces(backend: Backend,
                                                              client: AiohttpClient) -> None:
    flow = http_flow(backend.url("/missing") + "?pin=${pin}", retries=0)
    # resume at the http node with `pin` secret, as a secure collect leaves it
    state = FlowState(node="call", flow="main", variables={"pin": "9999", "acct": "1"},
                      secure_vars={"pin"})
    caller = ScriptedCaller()
    await run_flow(flow, caller, context(flow, http=client), state)
    assert "pin=***" in caller.named("http")[0]["url"]
    assert "9999" not in repr(caller.events)
    assert state.path == ["call", "sorry"]


def test_lookup() -> None:
    data = {"a": {"b": [10, {"c": None}]}}
    assert lookup(data, "a.b.0") == 10 and lookup(data, "a.b.-1.c") is None
    with pytest.raises(PathError, match="out of range"):
        lookup(data, "a.b.5")
    with pytest.raises(PathError, match="array"):
        lookup(data, "a.b")


async def test_the_client_reports_an_empty_reply_as_none(client: AiohttpClient) -> None:
    async def empty(_: web.Request) -> web.Response:
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/", empty)
    server = TestServer(app)
    await server.start_server()
    url = str(server.make_url("/"))
    try:
        assert await client.request("GET", url, None, 1.0) == (204, None)
    finally:
        await server.close()
    with pytest.raises(HttpError) as info:  # the server is gone: connection refused
        await client.request("GET", url, None, 1.0)
    assert info.value.transient
