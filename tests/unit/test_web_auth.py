"""Access control over the whole HTTP surface (web_auth.py, web_access.py, openapi.py), on the
real app router, a real UserStore and a real Acd on SQLite; no Asterisk (nothing here rings).

The table, the router and the OpenAPI document must agree; every route but the public ones
refuses an anonymous request; each role reaches what the table gives it and nothing else.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ivr.app.metrics import Metrics
from ivr.app.openapi import document, routes
from ivr.app.service import IvrService
from ivr.app.web import build_app
from ivr.app.web_access import TABLE
from ivr.ari import AriClient
from ivr.media.prompts import PromptLibrary
from ivr.services.acd.config_reader import parse_acd_config
from ivr.services.acd.engine import Acd
from ivr.services.acd.store import AcdStore
from ivr.services.db import Database, connect
from ivr.services.users import LoginLimit, UserStore

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"

QUEUES_YAML = """\
agents:
  a1: {name: Ann, endpoint: PJSIP/a1}
  a2: {name: Bob, endpoint: PJSIP/a2}
  a3: {name: Cy, endpoint: PJSIP/a3}
queues:
  general: {members: [a1, a2]}
  vip: {members: [a3]}
"""


class NoAri:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the ACD used the ARI client ({name}) in a REST test")


@dataclass
class StandIn:
    """What the web surface reads of the service (no records, voicemail or callbacks: those
    routes answer 503 once a request is let through, which is all these tests need)."""

    users: UserStore
    acd: Acd
    records: None = None
    messages: None = None
    mailboxes: None = None
    callbacks: None = None
    calls: dict[str, Any] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)
    running: None = None
    config: Any = field(default_factory=lambda: SimpleNamespace(trusted_proxies=()))

    def status(self) -> dict[str, object]:
        return {"ari_connected": True}


@dataclass
class Env:
    client: TestClient[web.Request, web.Application]
    users: UserStore
    app: web.Application
    tokens: dict[str, str]
    service: StandIn

    async def call(self, method: str, path: str, who: str | None = None,
                   **kw: Any) -> tuple[int, str]:
        headers = dict(kw.pop("headers", {}))
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        resp = await self.client.request(method, path, headers=headers, **kw)
        return resp.status, await resp.text()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    db: Database = await connect(f"sqlite:///{tmp_path}/t.db")
    await db.migrate()
    config = parse_acd_config(QUEUES_YAML)
    acd = Acd(cast(AriClient, NoAri()), AcdStore(db), lambda: config,
              PromptLibrary(ROOT / "prompts"))
    acd.sync_agents()
    users = UserStore(db, limit=LoginLimit(per_user=3, per_remote=50))
    tokens = {}
    for name, role, extra in (("root", "admin", {}), ("ana", "agent", {"agent_id": "a1"}),
                              ("sam", "supervisor", {"queues": ("general",)}),
                              ("rita", "reporting", {})):
        await users.add(name, role, PASSWORD, **extra)
        tokens[name] = await users.new_token(name, "tests")
    service = StandIn(users, acd)
    app = build_app(cast(IvrService, service))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Env(client, users, app, tokens, service)
    finally:
        await client.close()
        await acd.stop()
        await db.close()


EXAMPLES = {"what": "heard", "action": "login", "agent_id": "a1", "name": "general"}


def concrete(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: EXAMPLES.get(m.group(1), "x1"), path)


# -- the table, the router and the document agree ---------------------------------------------


async def test_every_route_is_in_the_access_table_and_the_document(env: Env) -> None:
    served = set(routes(env.app))
    assert served == set(TABLE), (served - set(TABLE), set(TABLE) - served)
    doc = document(env.app)
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == served


_READS_QUERY = re.compile(r"""query(?:\.get\(|\[)["'](\w+)["']|_when\(request, ["'](\w+)["']""")
_READS_BODY = re.compile(
    r"request\.json\(\)|_body\(request\)|_credentials\(request\)|request\.content\.read\(")
_CALLS = re.compile(r"\b(_\w+)\(request")


def _source_of(handler: Any) -> str:
    """The handler's source and that of its module's helpers it hands the request to (one
    level: `_window(request)`, `_when(request, "since")`, `_body(request)`)."""
    module = inspect.getmodule(handler)
    source = inspect.getsource(handler)
    helpers = [getattr(module, name) for name in set(_CALLS.findall(source))
               if callable(getattr(module, name, None))]
    return source + "".join(inspect.getsource(h) for h in helpers)


async def test_the_document_lists_every_query_parameter_and_body_a_route_reads(
        env: Env) -> None:
    for route in env.app.router.routes():
        if route.method in ("HEAD", "OPTIONS") or route.resource is None:
            continue
        info = route.resource.get_info()
        path = re.sub(r"{(\w+)(?::[^}]*)?}", r"{\1}",
                      str(info.get("formatter") or info.get("path")))
        access = TABLE[(route.method, path)]
        source = _source_of(route.handler)
        read = {a or b for a, b in _READS_QUERY.findall(source)}
        assert read == set(access.query), (route.method, path)
        assert bool(_READS_BODY.search(source)) == bool(access.body), (route.method, path)
    operation = document(env.app)["paths"]["/records"]["get"]
    assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} >= {
        "caller", "queue", "since"}


async def test_the_document_is_served_and_says_who_may_call_what(env: Env) -> None:
    resp = await env.client.get("/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    assert doc["paths"]["/health"]["get"]["security"] == []
    agent_action = doc["paths"]["/agents/{agent_id}/{action}"]["post"]
    assert agent_action["x-roles"] == ["admin", "agent", "supervisor"]
    assert [p["name"] for p in agent_action["parameters"]] == ["agent_id", "action", "reason"]
    assert agent_action["parameters"][1]["schema"]["enum"] == ["login", "logout", "pause",
                                                                "unpause"]


async def test_anonymous_requests_are_refused_on_every_route_but_the_public_ones(
        env: Env) -> None:
    doc = document(env.app)
    checked = 0
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            status, text = await env.call(method.upper(), concrete(path))
            if op.get("security") == []:
                assert status not in (401, 403), (method, path, status, text)
            else:
                assert status == 401, (method, path, status, text)
                checked += 1
    assert checked >= 30


async def test_an_unknown_route_is_still_a_404(env: Env) -> None:
    assert (await env.call("GET", "/no/such/thing"))[0] == 404


# -- tokens ---------------------------------------------------------------------------------------


async def test_a_token_authenticates_and_a_bad_one_does_not(env: Env) -> None:
    assert (await env.call("GET", "/agents", "root"))[0] == 200
    bad = {"Authorization": "Bearer ivr_not-a-token"}
    assert (await env.call("GET", "/agents", headers=bad))[0] == 401
    basic = {"Authorization": "Basic cm9vdDp4"}
    status, text = await env.call("GET", "/agents", headers=basic)
    assert status == 401 and "Bearer" in text


async def test_a_disabled_user_and_a_revoked_token_stop_working_at_once(env: Env) -> None:
    await env.users.set_disabled("rita", True)
    assert (await env.call("GET", "/kpis", "rita"))[0] == 401
    await env.users.set_disabled("rita", False)
    assert (await env.call("GET", "/agents", "rita"))[0] == 200
    await env.users.revoke_tokens("rita")
    assert (await env.call("GET", "/agents", "rita"))[0] == 401


# -- roles ----------------------------------------------------------------------------------------


async def test_an_agent_acts_on_itself_only(env: Env) -> None:
    assert (await env.call("GET", "/agents/a1", "ana"))[0] == 200
    assert (await env.call("POST", "/agents/a1/login", "ana"))[0] == 200
    status, text = await env.call("GET", "/agents/a2", "ana")
    assert status == 403 and text == "agent ana may not GET /agents/a2: it is another agent's " \
        "or another queue's"
    status, text = await env.call("GET", "/records", "ana")
    assert text == "agent ana may not GET /records: it is for admin, supervisor, reporting only"
    assert (await env.call("POST", "/agents/a2/login", "ana"))[0] == 403
    assert (await env.call("GET", "/agents/a2/events", "ana"))[0] == 403
    resp = await env.client.get("/agents", headers={"Authorization": f"Bearer {env.tokens['ana']}"})
    assert [a["id"] for a in await resp.json()] == ["a1"]
    resp = await env.client.get("/queues", headers={"Authorization": f"Bearer {env.tokens['ana']}"})
    assert [q["name"] for q in await resp.json()] == ["general"]
    assert (await env.call("GET", "/queues/vip", "ana"))[0] == 403
    for path in ("/records", "/calls", "/kpis", "/queue_log", "/dnc", "/messages", "/callbacks",
                 "/metrics"):
        assert (await env.call("GET", path, "ana"))[0] == 403, path


async def test_a_supervisor_reaches_its_queues_and_their_agents_only(env: Env) -> None:
    auth = {"Authorization": f"Bearer {env.tokens['sam']}"}
    resp = await env.client.get("/queues", headers=auth)
    assert [q["name"] for q in await resp.json()] == ["general"]
    resp = await env.client.get("/agents", headers=auth)
    assert sorted(a["id"] for a in await resp.json()) == ["a1", "a2"]
    assert (await env.call("GET", "/queues/general/kpis", "sam"))[0] == 200
    assert (await env.call("GET", "/queues/vip/kpis", "sam"))[0] == 403
    assert (await env.call("GET", "/queue_log?queue=general", "sam"))[0] == 200
    assert (await env.call("GET", "/queue_log?queue=vip", "sam"))[0] == 403
    assert (await env.call("GET", "/queue_log", "sam"))[0] == 403
    assert (await env.call("POST", "/agents/a2/login", "sam"))[0] == 200
    assert (await env.call("POST", "/agents/a3/login", "sam"))[0] == 403
    assert (await env.call("PUT", "/dnc/0212345678", "sam"))[0] != 403
    assert (await env.call("GET", "/records", "sam"))[0] == 503  # let through: no database


async def test_reporting_reads_and_changes_nothing(env: Env) -> None:
    for path in ("/agents", "/queues", "/kpis", "/queue_log", "/agents/a3", "/metrics"):
        assert (await env.call("GET", path, "rita"))[0] == 200, path
    assert (await env.call("GET", "/records", "rita"))[0] == 503  # let through: no database
    for method, path in (("POST", "/agents/a1/login"), ("PUT", "/dnc/0212345678"),
                         ("POST", "/callbacks"), ("DELETE", "/messages/x1"),
                         ("GET", "/messages/x1/audio")):
        assert (await env.call(method, path, "rita"))[0] == 403, path


# -- browser sessions ------------------------------------------------------------------------------


async def login(env: Env, user: str, password: str = PASSWORD) -> tuple[int, Any]:
    resp = await env.client.post("/auth/login", json={"user": user, "password": password})
    return resp.status, (await resp.json() if resp.status == 200 else await resp.text())


async def test_a_session_cookie_with_its_csrf_token(env: Env) -> None:
    resp = await env.client.post("/auth/login", json={"user": "ana", "password": PASSWORD})
    assert resp.status == 200
    body = await resp.json()
    assert body["role"] == "agent" and body["agent_id"] == "a1" and body["csrf_token"]
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    me = await env.client.get("/auth/me")
    assert (await me.json())["csrf_token"] == body["csrf_token"]
    refused = await env.client.post("/agents/a1/login")
    assert refused.status == 403 and "X-CSRF-Token" in await refused.text()
    wrong = await env.client.post("/agents/a1/login", headers={"X-CSRF-Token": "guess"})
    assert wrong.status == 403
    done = await env.client.post("/agents/a1/login",
                                 headers={"X-CSRF-Token": body["csrf_token"]})
    assert done.status == 200
    out = await env.client.post("/auth/logout", headers={"X-CSRF-Token": body["csrf_token"]})
    assert out.status == 200
    assert (await env.client.get("/agents/a1")).status == 401


async def test_the_cookie_is_secure_behind_a_tls_proxy(env: Env) -> None:
    resp = await env.client.post("/auth/login", json={"user": "ana", "password": PASSWORD},
                                 headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in resp.headers["Set-Cookie"]


async def test_a_session_websocket_from_another_origin_is_refused(env: Env) -> None:
    assert (await login(env, "ana"))[0] == 200
    with pytest.raises(Exception, match="403"):
        await env.client.ws_connect("/agents/a1/events",
                                    headers={"Origin": "http://evil.example"})
    ws = await env.client.ws_connect("/agents/a1/events",
                                     headers={"Origin": f"http://{env.client.host}:"
                                                        f"{env.client.port}"})
    assert (await ws.receive_json())["type"]
    await ws.close()


async def test_a_new_password_ends_the_sessions(env: Env) -> None:
    assert (await login(env, "ana"))[0] == 200
    assert (await env.client.get("/agents/a1")).status == 200
    await env.users.set_password("ana", "another long one")
    assert (await env.client.get("/agents/a1")).status == 401


async def test_wrong_logins_are_refused_then_rate_limited(env: Env,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    status, text = await login(env, "ana", "wrong password")
    assert status == 401 and "wrong user name or password" in text
    status, text = await login(env, "nobody", "wrong password")
    assert status == 401 and "wrong user name or password" in text  # unknown: same answer
    assert (await login(env, "ana", "wrong again!"))[0] == 401
    assert (await login(env, "ana", "third time..."))[0] == 401
    status, text = await login(env, "ana")  # right, but too late
    assert status == 429 and "too many" in text
    assert (await login(env, "sam"))[0] == 200  # another user is not locked out
    assert "login failed: 'ana'" in caplog.text
    assert "wrong password" not in caplog.text  # what was typed is never logged


@pytest.mark.parametrize("body", [{"user": "ana"}, {"user": 1, "password": 2}, [1, 2], "x"])
async def test_a_bad_login_body_is_a_400(env: Env, body: Any) -> None:
    resp = await env.client.post("/auth/login", json=body)
    assert resp.status == 400 and "user" in await resp.text()
    resp = await env.client.post("/auth/login", data=b"{not json",
                                 headers={"Content-Type": "application/json"})
    assert resp.status == 400


async def test_behind_a_trusted_proxy_the_forwarded_address_is_the_clients(
        env: Env, caplog: pytest.LogCaptureFixture) -> None:
    tries = iter(range(10))

    async def fail_from(forwarded: str) -> None:
        """A wrong login as a new user each time (the per-user limit stays out of it)."""
        resp = await env.client.post("/auth/login",
                                     json={"user": f"rita{next(tries)}", "password": "no!"},
                                     headers={"X-Forwarded-For": forwarded})
        assert resp.status == 401

    await fail_from("203.0.113.9")  # the peer (127.0.0.1) is no trusted proxy: ignored
    assert "from 127.0.0.1" in caplog.text and "203.0.113.9" not in caplog.text
    env.service.config = SimpleNamespace(trusted_proxies=("127.0.0.0/8",))
    caplog.clear()
    await fail_from("203.0.113.9")
    assert "'rita1' from 203.0.113.9" in caplog.text
    caplog.clear()
    await fail_from("10.6.6.6, 198.51.100.7, 127.0.0.1")  # what the client wrote comes first
    assert "'rita2' from 198.51.100.7" in caplog.text and "10.6.6.6" not in caplog.text
    caplog.clear()
    await fail_from("not an address")
    assert "'rita3' from 127.0.0.1" in caplog.text
