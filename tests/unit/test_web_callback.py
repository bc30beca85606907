"""Callbacks' REST surface (ivr/app/web_callback.py) on a real Callbacks service and SQLite.

No dispatcher and no Asterisk: the Acd is built but not started and the ARI client refuses
every use, so this is what a CRM or a supervisor's tool sees: booking, listing, inspecting
(with every attempt), cancelling and moving callbacks, and keeping the do-not-call list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ivr.app.service import IvrService
from ivr.app.web_callback import add_routes
from ivr.ari import AriClient
from ivr.media.prompts import PromptLibrary
from ivr.services.acd.config_reader import parse_acd_config
from ivr.services.acd.engine import Acd
from ivr.services.acd.store import AcdStore
from ivr.services.callback.service import Callbacks
from ivr.services.callback.store import Attempt, Callback, CallbackStore
from ivr.services.db import connect
from ivr.services.users import Role, User

from .acd.fakes import FakeClock
from .web_users import Acting

QUEUES_YAML = """\
agents:
  a1: {name: Ann, endpoint: PJSIP/a1}
queues:
  sales:
    members: [a1]
    callback:
      window: "09:00-20:00"
      timezones: {"+1": America/New_York}
  care:
    members: [a1]
    priority: 3
"""

NOW = dt.datetime(2026, 11, 23, 1, 0, 0, tzinfo=dt.UTC)
"""10:00 in Seoul."""


@dataclass
class StandIn:
    """What web_callback reads of the service: its `callbacks`."""

    callbacks: Callbacks | None
    acd: None = None


class NoAri:
    """The ARI client: only serving a callback touches it, and nothing serves here."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the callbacks used the ARI client ({name}) in a REST test")


@dataclass
class Env:
    client: TestClient[web.Request, web.Application]
    svc: Callbacks
    clock: FakeClock
    acting: Acting

    async def call(self, method: str, path: str, expect: int, **kw: Any) -> Any:
        resp = await self.client.request(method, path, **kw)
        assert resp.status == expect, await resp.text()
        if resp.content_type == "application/json":
            return await resp.json()
        return await resp.text()

    async def book(self, queue: str = "sales", number: str = "01012345678",
                   **fields: Any) -> dict[str, Any]:
        self.clock.advance(1)  # each booked a second after the last: newest first is defined
        made: dict[str, Any] = await self.call("POST", "/callbacks", 201,
                                               json={"queue": queue, "number": number, **fields})
        return made

    async def ids(self, query: str = "") -> list[str]:
        return [cb["id"] for cb in await self.call("GET", f"/callbacks{query}", 200)]


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    db = await connect(f"sqlite:///{tmp_path}/t.db")
    await db.migrate()
    config = parse_acd_config(QUEUES_YAML)
    clock = FakeClock(NOW.timestamp())
    client = cast(AriClient, NoAri())
    acd = Acd(client, AcdStore(db), lambda: config, PromptLibrary(tmp_path / "no-prompts"),
              clock=clock)
    acd.sync_agents()
    svc = Callbacks(client, acd, CallbackStore(db), dial="PJSIP/{number}@trunk", clock=clock)
    acting = Acting()
    app = web.Application(middlewares=[acting.middleware()])
    add_routes(app, cast(IvrService, StandIn(svc)))
    test_client = TestClient(TestServer(app))
    await test_client.start_server()
    try:
        yield Env(test_client, svc, clock, acting)
    finally:
        await test_client.close()
        await svc.stop()
        await acd.stop()
        await db.close()


# -- booking ---------------------------------------------------------------------------------


async def test_book_and_read_back(env: Env) -> None:
    made = await env.book(number="+1 (212) 555-1234", language="en")
    assert made["id"].startswith("cb-")
    assert {k: made[k] for k in ("queue", "number", "timezone", "language", "source", "state",
                                 "attempts", "priority", "not_before", "outcome")} == {
        "queue": "sales", "number": "+12125551234", "timezone": "America/New_York",
        "language": "en", "source": "api", "state": "pending", "attempts": 0, "priority": 0,
        "not_before": None, "outcome": ""}
    # 10:00 in Seoul is 20:00 in New York, just closed: the first try is 09:00 there.
    assert made["next_attempt_at"] == "2026-11-23T14:00:00+00:00"
    assert made["created_at"] == "2026-11-23T01:00:01+00:00"
    assert made["id"] in env.svc.active

    got = await env.call("GET", f"/callbacks/{made['id']}", 200)
    assert got == {**made, "attempt_log": []}


async def test_read_back_with_its_attempts(env: Env) -> None:
    made = await env.book()
    at = NOW + dt.timedelta(minutes=5)
    await env.svc.store.add_attempt(Attempt(made["id"], 1, at, at + dt.timedelta(seconds=30),
                                            "no_answer", "a1", "cb-ch-1", "no answer"))
    await env.svc.store.add_attempt(Attempt(made["id"], 2, at, at, "interrupted",
                                            detail="app restarted"))
    got = await env.call("GET", f"/callbacks/{made['id']}", 200)
    assert got["attempt_log"] == [
        {"attempt": 1, "started_at": "2026-11-23T01:05:00+00:00",
         "ended_at": "2026-11-23T01:05:30+00:00", "result": "no_answer", "agent_id": "a1",
         "channel_id": "cb-ch-1", "detail": "no answer"},
        {"attempt": 2, "started_at": "2026-11-23T01:05:00+00:00",
         "ended_at": "2026-11-23T01:05:00+00:00", "result": "interrupted", "agent_id": "",
         "channel_id": "", "detail": "app restarted"}]
    assert await env.call("GET", "/callbacks/cb-nosuch", 404) == "no such callback"


async def test_book_for_later(env: Env) -> None:
    made = await env.book(not_before="2026-11-23T15:00:00+09:00", timezone="Asia/Seoul")
    assert made["not_before"] == made["next_attempt_at"] == "2026-11-23T06:00:00+00:00"
    assert made["expires_at"] == "2026-11-24T06:00:00+00:00"
    assert made["timezone"] == "Asia/Seoul"
    assert (await env.book(queue="care"))["priority"] == 3


@pytest.mark.parametrize(("body", "message"), [
    ({"queue": "sales"}, "queue and number are required (text)"),
    ({"number": "01012345678"}, "queue and number are required (text)"),
    ({"queue": "sales", "number": 1012345678}, "queue and number are required (text)"),
    ({"queue": "sales", "number": "0101234", "not_before": "2026-11-23T15:00"},
     "not_before needs a UTC offset"),
    ({"queue": "sales", "number": "0101234", "not_before": "tomorrow"},
     "not_before must be an ISO 8601 time"),
    ({"queue": "sales", "number": "0101234", "timezone": 9}, "timezone must be text"),
    (["sales", "0101234"], "the body must be a JSON object"),
])
async def test_book_bad_requests(env: Env, body: Any, message: str) -> None:
    assert message in await env.call("POST", "/callbacks", 400, json=body)
    assert await env.svc.store.find() == []


async def test_book_a_body_that_is_not_json(env: Env) -> None:
    text = await env.call("POST", "/callbacks", 400, data="queue=sales",
                          headers={"Content-Type": "application/json"})
    assert text.startswith("the body is not JSON")


@pytest.mark.parametrize(("body", "reason"), [
    ({"queue": "nosuch", "number": "01012345678"}, "unknown_queue"),
    ({"queue": "sales", "number": "12"}, "bad_number"),
    ({"queue": "sales", "number": "+82 10-1234-5678"}, "dnc"),
    ({"queue": "sales", "number": "01012345678", "timezone": "Mars/Olympus"}, "bad_timezone"),
])
async def test_book_refused_with_its_reason(env: Env, body: dict[str, str], reason: str) -> None:
    await env.svc.store.dnc_add("+821012345678")
    refused = await env.call("POST", "/callbacks", 422, json=body)
    assert refused["reason"] == reason
    assert refused["error"]
    assert await env.svc.store.find() == []


async def test_dnc_refusal_says_which_number(env: Env) -> None:
    await env.svc.store.dnc_add("+821012345678")
    refused = await env.call("POST", "/callbacks", 422,
                             json={"queue": "sales", "number": "+82 10 1234 5678"})
    assert refused == {"reason": "dnc", "error": "+821012345678 is on the do-not-call list"}


# -- listing ---------------------------------------------------------------------------------


async def test_list_newest_first_by_state_and_queue(env: Env) -> None:
    first = (await env.book())["id"]
    second = (await env.book(queue="care"))["id"]
    third = (await env.book(number="0212345678"))["id"]
    await env.call("DELETE", f"/callbacks/{second}", 200)
    listed = await env.call("GET", "/callbacks", 200)
    assert [cb["id"] for cb in listed] == [third, second, first]
    assert {**listed[0], "attempt_log": []} == await env.call("GET", f"/callbacks/{third}", 200)
    assert await env.ids("?state=active") == [third, first]
    assert await env.ids("?state=pending") == [third, first]
    assert await env.ids("?state=cancelled") == [second]
    assert await env.ids("?state=pending,cancelled") == [third, second, first]
    assert await env.ids("?queue=care") == [second]
    assert await env.ids("?queue=sales&state=active") == [third, first]
    assert await env.ids("?queue=nobody") == []
    assert await env.call("GET", "/callbacks?state=pending,lost", 400) == "unknown state 'lost'"


# -- cancelling and moving -------------------------------------------------------------------


async def completed(env: Env) -> str:
    """A callback already served (a row as a previous process left it)."""
    cb = Callback(id="cb-done", queue="sales", number="01012345678", timezone="Asia/Seoul",
                  entered_at=NOW, next_attempt_at=NOW, expires_at=NOW + dt.timedelta(days=1),
                  created_at=NOW, updated_at=NOW, state="completed", outcome="answered")
    await env.svc.store.create(cb)
    return cb.id


async def test_cancel(env: Env) -> None:
    made = await env.book()
    env.clock.advance(30)
    cancelled = await env.call("DELETE", f"/callbacks/{made['id']}", 200)
    assert (cancelled["state"], cancelled["outcome"]) == ("cancelled", "cancelled")
    assert cancelled["updated_at"] == "2026-11-23T01:00:31+00:00"
    assert made["id"] not in env.svc.active
    stored = await env.call("GET", f"/callbacks/{made['id']}", 200)
    assert stored["state"] == "cancelled"
    other = await env.book()
    assert (await env.call("POST", f"/callbacks/{other['id']}/cancel", 200))["state"] == (
        "cancelled")
    assert (await env.call("DELETE", f"/callbacks/{made['id']}", 200))["state"] == (
        "cancelled"), "cancelling twice is no error"


async def test_cancel_a_final_or_unknown_callback(env: Env) -> None:
    done = await completed(env)
    assert await env.call("DELETE", f"/callbacks/{done}", 409) == (
        "callback is completed; only an active one is cancelled")
    assert (await env.call("GET", f"/callbacks/{done}", 200))["state"] == "completed"
    assert await env.call("DELETE", "/callbacks/cb-nosuch", 404) == "no such callback"


async def test_reschedule(env: Env) -> None:
    made = await env.book()
    moved = await env.call("POST", f"/callbacks/{made['id']}/reschedule", 200,
                           json={"not_before": "2026-11-24T15:00:00+09:00"})
    assert moved["not_before"] == moved["next_attempt_at"] == "2026-11-24T06:00:00+00:00"
    assert moved["expires_at"] == "2026-11-25T06:00:00+00:00"
    assert moved["state"] == "pending"
    assert (await env.call("GET", f"/callbacks/{made['id']}", 200))["not_before"] == (
        "2026-11-24T06:00:00+00:00")
    night = await env.call("POST", f"/callbacks/{made['id']}/reschedule", 200,
                           json={"not_before": "2026-11-24T22:30:00+09:00"})
    assert night["next_attempt_at"] == "2026-11-25T00:00:00+00:00", "09:00 the next morning"


async def test_reschedule_bad_requests(env: Env) -> None:
    made = await env.book()
    path = f"/callbacks/{made['id']}/reschedule"
    assert await env.call("POST", path, 400) == "not_before is required"
    assert await env.call("POST", path, 400, json={}) == "not_before is required"
    assert "needs a UTC offset" in await env.call("POST", path, 400,
                                                  json={"not_before": "2026-11-24T15:00"})
    assert (await env.call("GET", f"/callbacks/{made['id']}", 200))["not_before"] is None
    assert await env.call("POST", "/callbacks/cb-nosuch/reschedule", 404,
                          json={"not_before": "2026-11-24T15:00:00Z"}) == "no such callback"


async def test_reschedule_a_final_callback(env: Env) -> None:
    done = await completed(env)
    assert await env.call("POST", f"/callbacks/{done}/reschedule", 409,
                          json={"not_before": "2026-11-24T15:00:00Z"}) == (
        "callback is completed; only a pending one is moved")
    made = await env.book()
    await env.call("DELETE", f"/callbacks/{made['id']}", 200)
    assert await env.call("POST", f"/callbacks/{made['id']}/reschedule", 409,
                          json={"not_before": "2026-11-24T15:00:00Z"}) == (
        "callback is cancelled; only a pending one is moved")


# -- the do-not-call list --------------------------------------------------------------------


async def test_dnc_put_list_delete(env: Env) -> None:
    assert await env.call("GET", "/dnc", 200) == []
    added = await env.call("PUT", "/dnc/+82 10-1234-5678", 201, json={"reason": "asked"})
    assert added == {"number": "+821012345678"}
    assert await env.call("POST", "/dnc/0212345678", 201) == {"number": "0212345678"}
    assert "not a phone number" in await env.call("PUT", "/dnc/abc", 400)
    listed = await env.call("GET", "/dnc", 200)
    assert [(d["number"], d["reason"]) for d in listed] == [("+821012345678", "asked"),
                                                             ("0212345678", "")]
    assert dt.datetime.fromisoformat(listed[0]["added_at"]).tzinfo is not None
    refused = await env.call("POST", "/callbacks", 422,
                             json={"queue": "sales", "number": "+821012345678"})
    assert refused["reason"] == "dnc"

    assert await env.call("DELETE", "/dnc/+82-10-1234-5678", 204) == ""
    assert await env.call("DELETE", "/dnc/+821012345678", 404) == "not on the list"
    assert [d["number"] for d in await env.call("GET", "/dnc", 200)] == ["0212345678"]
    await env.book(number="+821012345678")


async def test_dnc_put_again_changes_the_reason(env: Env) -> None:
    await env.call("PUT", "/dnc/0212345678", 201, json={"reason": "first"})
    await env.call("PUT", "/dnc/02-1234-5678", 201, json={"reason": "second"})
    assert [(d["number"], d["reason"]) for d in await env.call("GET", "/dnc", 200)] == [
        ("0212345678", "second")]


# -- not running -----------------------------------------------------------------------------


async def test_every_route_answers_503_without_callbacks(tmp_path: Path) -> None:
    app = web.Application(middlewares=[Acting().middleware()])
    add_routes(app, cast(IvrService, StandIn(None)))
    async with TestClient(TestServer(app)) as client:
        for method, path in [("GET", "/callbacks"), ("POST", "/callbacks"),
                             ("GET", "/callbacks/cb-1"), ("DELETE", "/callbacks/cb-1"),
                             ("POST", "/callbacks/cb-1/reschedule"), ("GET", "/dnc"),
                             ("PUT", "/dnc/0212345678"), ("DELETE", "/dnc/0212345678")]:
            kw: dict[str, Any] = {}
            if method == "POST":
                kw["json"] = {"queue": "sales", "number": "0101234",
                              "not_before": "2026-11-24T15:00:00Z"}
            resp = await client.request(method, path, **kw)
            assert resp.status == 503, (method, path, await resp.text())
            assert await resp.text() == "callbacks are not running"


async def test_a_supervisor_reaches_the_callbacks_of_its_queues_only(env: Env) -> None:
    sales, care = await env.book("sales"), await env.book("care")
    env.acting.user = User("sam", Role.SUPERVISOR, queues=("sales",))
    assert await env.ids() == [sales["id"]]
    assert await env.ids("?queue=sales") == [sales["id"]]
    await env.call("GET", "/callbacks?queue=care", 403)
    await env.call("GET", f"/callbacks/{care['id']}", 403)
    await env.call("POST", f"/callbacks/{care['id']}/cancel", 403)
    await env.call("DELETE", f"/callbacks/{care['id']}", 403)
    await env.call("POST", f"/callbacks/{care['id']}/reschedule", 403,
                   json={"not_before": "2026-11-24T10:00+09:00"})
    await env.call("POST", "/callbacks", 403, json={"queue": "care", "number": "0212345678"})
    assert (await env.call("GET", f"/callbacks/{care['id']}", 403)) is not None
    assert (await env.svc.store.get(care["id"])).state == "pending"  # type: ignore[union-attr]
    assert (await env.call("POST", f"/callbacks/{sales['id']}/cancel", 200))["state"] \
        == "cancelled"
