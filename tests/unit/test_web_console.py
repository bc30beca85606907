"""The console's routes (ivr/app/web_console.py) on the real app router, with real stores on
SQLite: its files (public, no data, strict headers), the dispositions (all, or a queue's), the
wrap-up an agent saves for a call that was its own (and only then, with a code of the call's
queue), the record that shows it, and the caller's earlier contacts."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.app.metrics import Metrics
from ivr.app.service import IvrService
from ivr.app.web import build_app
from ivr.app.web_access import TABLE
from ivr.ari import AriClient
from ivr.flow.loader import load_flow
from ivr.media.prompts import PromptLibrary
from ivr.services.acd.config import DEFAULT_DISPOSITIONS
from ivr.services.acd.config_reader import parse_acd_config
from ivr.services.acd.engine import Acd
from ivr.services.acd.queue_log import QueueLogEvent
from ivr.services.acd.store import AcdStore
from ivr.services.db import Database, connect
from ivr.services.place import InFlow, InQueue, WithAgent
from ivr.services.records import CallRecord, CallRecordStore
from ivr.services.users import UserStore
from ivr.services.wrapups import WrapupStore

ROOT = Path(__file__).resolve().parents[2]
QUEUES = "agents:\n  a1: {name: Ann, endpoint: PJSIP/a1}\n  a2: {name: Bob, endpoint: PJSIP/a2}\n" \
         "queues:\n  general: {members: [a1, a2]}\n" \
         "  billing: {members: [a1], dispositions: [complaint, resolved]}\n"


class NoAri:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the ACD used the ARI client ({name})")


@dataclass
class StandIn:
    users: UserStore
    acd: Acd
    records: CallRecordStore
    wrapups: WrapupStore
    config: Any = None
    metrics: Metrics = field(default_factory=Metrics)
    running: None = None
    calls: dict[str, Any] = field(default_factory=dict)
    callbacks: None = None
    outbound: None = None
    messages: None = None
    mailboxes: None = None
    registry: Any = field(default_factory=lambda: SimpleNamespace(current=SimpleNamespace(
        flows={"demo": load_flow(ROOT / "flows" / "demo.yaml")})))

    def status(self) -> dict[str, object]:
        return {"ari_connected": True}


@dataclass
class Config:
    trace_dir: Path
    trusted_proxies: tuple[str, ...] = ()


@dataclass
class Env:
    client: TestClient[web.Request, web.Application]
    db: Database
    records: CallRecordStore
    tokens: dict[str, str]
    traces: Path
    service: StandIn

    async def call(self, method: str, path: str, who: str | None = None,
                   **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        resp = await self.client.request(method, path, headers=headers, **kw)
        text = await resp.text()
        return resp.status, (await resp.json() if resp.content_type == "application/json"
                             else text)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    db = await connect(f"sqlite:///{tmp_path}/t.db")
    await db.migrate()
    config = parse_acd_config(QUEUES)
    store = AcdStore(db)
    acd = Acd(cast(AriClient, NoAri()), store, lambda: config, PromptLibrary(ROOT / "prompts"))
    acd.sync_agents()
    users = UserStore(db)
    tokens = {}
    for name, role, extra in (("root", "admin", {}), ("ana", "agent", {"agent_id": "a1"}),
                              ("bob", "agent", {"agent_id": "a2"}),
                              ("sam", "supervisor", {"queues": ("general",)})):
        await users.add(name, role, "a long password", **extra)
        tokens[name] = await users.new_token(name)
    records = CallRecordStore(db)
    service = StandIn(users, acd, records, WrapupStore(db), Config(tmp_path / "traces"))
    app = build_app(cast(IvrService, service))
    client = TestClient(TestServer(app))
    await client.start_server()
    await store.append_log([QueueLogEvent(1_700_000_000.0, "call-1", "general", "PJSIP/a1",
                                          "CONNECT", ("3", "call-1", "2"))])
    now = dt.datetime.now(dt.UTC)
    await records.save(CallRecord(call_id="call-1", flow="bank", caller="01012345678",
                                  started_at=now - dt.timedelta(minutes=5), outcome="queue"))
    try:
        yield Env(client, db, records, tokens, tmp_path / "traces", service)
    finally:
        await client.close()
        await acd.stop()
        await db.close()


async def test_the_console_is_served_to_anyone_with_strict_headers(env: Env) -> None:
    resp = await env.client.get("/", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/console/"
    page = await env.client.get("/console/")
    assert page.status == 200 and page.content_type == "text/html"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    text = await page.text()
    assert "/console/console.js" in text and "http" not in text.split("<body>")[0]
    script = await env.client.get("/console/console.js")
    assert script.status == 200 and script.content_type == "text/javascript"
    for bad in ("/console/..%2Fweb.py", "/console/.hidden", "/console/web.py",
                "/console/nothing.js"):
        assert (await env.client.get(bad)).status == 404, bad


async def test_an_agent_wraps_up_its_own_call_and_the_record_shows_it(env: Env) -> None:
    status, codes = await env.call("GET", "/dispositions", "ana")
    assert status == 200 and codes[0] == {"code": "resolved", "label": "Resolved"}
    status, saved = await env.call("POST", "/agents/a1/wrapup", "ana", json={
        "call_id": "call-1", "disposition": "resolved", "notes": "  card reissued "})
    assert status == 200, saved
    assert (saved["disposition"], saved["notes"], saved["caller"]) == \
        ("resolved", "card reissued", "01012345678")
    status, record = await env.call("GET", "/records/call-1", "root")
    assert status == 200
    assert record["wrapup"]["disposition"] == "resolved"
    assert record["wrapup"]["agent_id"] == "a1"
    assert record["first_call_resolution"] is None  # the 7 days are not over
    status, again = await env.call("POST", "/agents/a1/wrapup", "ana", json={
        "call_id": "call-1", "disposition": "follow_up", "notes": "corrected"})
    assert status == 200 and again["disposition"] == "follow_up"


async def test_a_call_that_was_not_the_agents_cannot_be_wrapped_up(env: Env) -> None:
    status, text = await env.call("POST", "/agents/a2/wrapup", "bob", json={
        "call_id": "call-1", "disposition": "resolved", "notes": ""})
    assert status == 403 and "not agent a2's" in text
    status, _ = await env.call("POST", "/agents/a1/wrapup", "bob", json={
        "call_id": "call-1", "disposition": "resolved", "notes": ""})
    assert status == 403  # another agent's route altogether


@pytest.mark.parametrize(("body", "message"), [
    ({"call_id": "call-1", "disposition": "great"}, "disposition: one of resolved"),
    ({"call_id": "call-1", "disposition": "resolved", "notes": "x" * 2001}, "at most 2000"),
    ({"call_id": "call-1", "disposition": "resolved", "notes": 5}, "notes: text"),
    ({"disposition": "resolved"}, "call_id"),
    ([1], "call_id"),
])
async def test_a_bad_wrapup_is_a_400_that_says_why(env: Env, body: Any, message: str) -> None:
    status, text = await env.call("POST", "/agents/a1/wrapup", "ana", json=body)
    assert status == 400 and message in text


async def test_dispositions_are_the_configured_ones_or_a_queues_own(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    status, every = await env.call("GET", "/dispositions", "ana")
    assert status == 200 and [c["code"] for c in every] == list(DEFAULT_DISPOSITIONS)
    assert (await env.call("GET", "/dispositions?queue=general", "ana"))[1] == every
    status, billing = await env.call("GET", "/dispositions?queue=billing", "ana")
    assert status == 200 and billing == [{"code": "complaint", "label": "Complaint"},
                                         {"code": "resolved", "label": "Resolved"}]
    status, text = await env.call("GET", "/dispositions?queue=nowhere", "ana")
    assert status == 404 and "no queue 'nowhere'" in text
    reloaded = parse_acd_config(QUEUES + "dispositions:\n  resolved: Sorted out\n"
                                         "  complaint: Complaint\n  fraud: Fraud\n")
    monkeypatch.setattr(env.service.acd, "config", lambda: reloaded)  # as a reload swaps it
    assert [c["label"] for c in (await env.call("GET", "/dispositions", "ana"))[1]] == \
        ["Sorted out", "Complaint", "Fraud"]
    monkeypatch.setattr(env.service, "acd", None)
    status, defaults = await env.call("GET", "/dispositions?queue=billing", "ana")
    assert status == 200 and defaults == every


async def test_a_wrapup_takes_only_the_codes_of_the_calls_queue(env: Env) -> None:
    acd = env.service.acd
    ann = acd.agent("a1")
    ann.wrapup_of = ("billing", "call-1")  # the after-call work of a billing call
    status, text = await env.call("POST", "/agents/a1/wrapup", "ana", json={
        "call_id": "call-1", "disposition": "follow_up", "notes": ""})
    assert status == 400 and text == "disposition: one of complaint, resolved"
    status, saved = await env.call("POST", "/agents/a1/wrapup", "ana", json={
        "call_id": "call-1", "disposition": "complaint", "notes": ""})
    assert status == 200 and saved["disposition"] == "complaint"
    ann.wrapup_of = None  # wrap-up over: every code again
    status, _ = await env.call("POST", "/agents/a1/wrapup", "ana", json={
        "call_id": "call-1", "disposition": "follow_up", "notes": ""})
    assert status == 200
    live = SimpleNamespace(queue=acd.config().queues["billing"],
                           view=lambda now: {"caller": "01012345678"})
    acd.sessions["call-1"] = cast(Any, live)  # the call still in the billing queue
    try:
        status, text = await env.call("POST", "/agents/a1/wrapup", "ana", json={
            "call_id": "call-1", "disposition": "wrong_number", "notes": ""})
        assert status == 400 and "one of complaint, resolved" in text
    finally:
        del acd.sessions["call-1"]


async def test_the_agent_sees_the_callers_earlier_contacts(env: Env) -> None:
    store = WrapupStore(env.db)
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    await store.save("call-0", "a2", "follow_up", "asked about fees", "01012345678", earlier)
    await store.save("call-x", "a2", "resolved", "someone else", "0299999999", earlier)
    status, found = await env.call("GET", "/agents/a1/calls/call-1/history", "ana")
    assert status == 200
    assert [(c["call_id"], c["notes"]) for c in found] == [("call-0", "asked about fees")]
    assert (await env.call("GET", "/agents/a2/calls/call-1/history", "bob"))[0] == 403


async def test_first_call_resolution_counts_any_later_call_within_the_window(env: Env) -> None:
    store = WrapupStore(env.db)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    first = await store.save("old-1", "a1", "resolved", "", "0311112222", long_ago)
    assert await store.resolved_first_time(first) is True
    await env.records.save(CallRecord(call_id="old-2", flow="bank", caller="0311112222",
                                      started_at=long_ago + dt.timedelta(days=3)))
    assert await store.resolved_first_time(first) is False


async def test_call_records_are_searched_by_caller_outcome_and_date(env: Env) -> None:
    status, found = await env.call("GET", "/records?caller=01012345678&outcome=queue", "root")
    assert status == 200 and [r["call_id"] for r in found] == ["call-1"]
    status, found = await env.call("GET", "/records?since=2000-01-01&until=2000-01-02", "root")
    assert status == 200 and found == []
    assert (await env.call("GET", "/records?outcome=queue&flow=demo", "root"))[1] == []


@pytest.mark.parametrize(("query", "message"), [
    ("limit=ten", "limit: a whole number"), ("limit=-1", "limit: a whole number"),
    ("outcome=happy", "outcome: one of self_served"), ("since=yesterday", "since: an ISO"),
    ("until=2026-13-01", "until: an ISO"),
])
async def test_a_bad_search_is_a_400_that_says_why(env: Env, query: str, message: str) -> None:
    status, text = await env.call("GET", f"/records?{query}", "root")
    assert status == 400 and message in text


async def test_an_ended_calls_trace_is_read_back(env: Env) -> None:
    env.traces.mkdir()
    (env.traces / "call-1.jsonl").write_text('{"t": 0, "event": "start"}\n'
                                             '{"t": 1.5, "event": "hangup"}\n')
    status, trace = await env.call("GET", "/records/call-1/trace", "root")
    assert status == 200 and [e["event"] for e in trace] == ["start", "hangup"]
    assert (await env.call("GET", "/records/call-2/trace", "root"))[0] == 404
    assert (await env.call("GET", "/records/..%2Fsecret/trace", "root"))[0] == 404
    assert (await env.call("GET", "/records/call-1/trace", "ana"))[0] == 403


# -- property: whatever a client sends, the answer is never a 500 ------------------------------

QUERY_KEYS = ("limit", "since", "until", "hours", "caller", "outcome", "flow", "queue", "state",
              "heard", "reason")
NASTY = st.one_of(st.text(max_size=30), st.sampled_from(
    ["-1", "0", "1e309", "nan", "inf", "2026-13-40", "9" * 40, "../../etc/passwd", "%00", "",
     "2026-12-07T25:00", "true", "null", "[]", "{}"]))


OPERATIONS = sorted((method, path) for method, path in TABLE if not path.endswith("/events"))


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_no_request_to_any_route_answers_500(env: Env, method: str, path: str,
                                                  data: st.DataObject) -> None:
    """Every route of the access table (the OpenAPI document's), as an admin, with random path
    values, query parameters and JSON bodies: a 2xx or a 4xx, never a 500 (a 503 is a service
    that does not run in this test, and says so)."""
    for name in re.findall(r"{(\w+)}", path):
        value = data.draw(st.one_of(NASTY, st.sampled_from(["call-1", "a1", "general",
                                                             "heard", "login"])))
        path = path.replace("{" + name + "}", quote(value, safe="") or "x")
    query = data.draw(st.dictionaries(st.sampled_from(QUERY_KEYS), NASTY, max_size=4))
    body = data.draw(st.one_of(st.none(), st.dictionaries(
        st.sampled_from(["call_id", "disposition", "notes", "reason", "user", "password",
                         "queue", "number"]), st.one_of(NASTY, st.integers(), st.none()),
        max_size=4)))
    resp = await env.client.request(
        method, path, params=query, json=body,
        headers={"Authorization": f"Bearer {env.tokens['root']}"})
    assert resp.status != 500, (method, path, query, body, await resp.text())


async def test_a_supervisor_sees_the_records_of_its_queues_calls_only(env: Env) -> None:
    now = dt.datetime.now(dt.UTC)
    for call_id, queues in (("in-general", ["general"]), ("moved", ["billing", "general"]),
                            ("in-billing", ["billing"]), ("ivr-only", [])):
        await env.records.save(CallRecord(call_id=call_id, flow="bank", caller="0101",
                                          started_at=now, outcome="queue", queues=queues))
    status, found = await env.call("GET", "/records", "sam")
    assert status == 200 and sorted(r["call_id"] for r in found) == ["in-general", "moved"]
    assert (await env.call("GET", "/records/moved", "sam"))[1]["queues"] == ["billing",
                                                                            "general"]
    for path in ("/records/in-billing", "/records/ivr-only", "/records/in-billing/trace",
                 "/records?queue=billing"):
        assert (await env.call("GET", path, "sam"))[0] == 403, path
    status, found = await env.call("GET", "/records?queue=billing", "root")
    assert sorted(r["call_id"] for r in found) == ["in-billing", "moved"]


async def test_a_queue_filter_matches_the_queue_name_literally(env: Env) -> None:
    now = dt.datetime.now(dt.UTC)
    await env.records.save(CallRecord(call_id="x", flow="f", started_at=now, queues=["axb"]))
    await env.records.save(CallRecord(call_id="u", flow="f", started_at=now, queues=["a_b"]))
    assert [r.call_id for r in await env.records.list(queues={"a_b"})] == ["u"]
    assert await env.records.list(queues=set()) == []


def live_call(call_id: str, place: Any) -> Any:
    """What GET /calls and /calls/{id}/trace read of a live Call."""
    return SimpleNamespace(
        id=call_id, place=place, language="en", flow_state=SimpleNamespace(path=["main"]),
        channel=SimpleNamespace(caller=SimpleNamespace(number="0101")),
        line=SimpleNamespace(activity=SimpleNamespace(value="playing")),
        trace_log=SimpleNamespace(entries=[{"t": 0, "event": "start"}]))


async def test_a_supervisor_sees_the_live_calls_in_its_queues_only(env: Env) -> None:
    env.service.calls.update({
        "c-general": live_call("c-general", InQueue("general", 1)),
        "c-billing": live_call("c-billing", WithAgent("billing", "a1")),
        "c-menu": live_call("c-menu", InFlow("bank", "main"))})
    status, shown = await env.call("GET", "/calls", "sam")
    assert status == 200 and [c["id"] for c in shown] == ["c-general"]
    assert (await env.call("GET", "/calls/c-general/trace", "sam"))[0] == 200
    for other in ("c-billing", "c-menu"):
        assert (await env.call("GET", f"/calls/{other}/trace", "sam"))[0] == 403, other
    assert len((await env.call("GET", "/calls", "root"))[1]) == 3
