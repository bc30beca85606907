"""The HTTP surface: health, live calls and records here; the ACD, voicemail, callbacks, the
logins and the API document in web_*.py and openapi.py. Every route is behind the access
table (web_access.py), checked by the middleware in web_auth.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

from aiohttp import web

from ..services.place import view
from ..services.records import OUTCOMES, CallRecord
from . import openapi, web_auth, web_call, web_console, web_flows, web_wallboard
from .call import Call
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .service import IvrService
from .web_access import queues_shown, require_queue
from .web_acd import add_routes
from .web_auth import current_user
from .web_callback import add_routes as add_callback_routes
from .web_outbound import add_routes as add_outbound_routes
from .web_voicemail import add_routes as add_voicemail_routes

SERVICE_KEY = web.AppKey("service", IvrService)


async def health(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    status = service.status()
    return web.json_response(status, status=200 if status["ari_connected"] else 503)


def _shown(request: web.Request) -> set[str] | None:
    return queues_shown(current_user(request), request.app[SERVICE_KEY].acd)


def _queue_of(call: Call) -> str:
    """The queue the caller is in now (waiting, rung for, with its agent); "" elsewhere."""
    return str(view(call.place).get("queue") or "")


async def calls(request: web.Request) -> web.Response:
    """Every live call; a supervisor's, those in its queues now."""
    service = request.app[SERVICE_KEY]
    shown = _shown(request)
    return web.json_response([call_view(call) for call in service.calls.values()
                              if shown is None or _queue_of(call) in shown])


def call_view(call: Call) -> dict[str, object]:
    """A live call: `state` is the kind of place its caller is in (in_flow, in_queue,
    ringing_agent, with_agent, leaving_message, booking_callback, transferring), `place` that
    place's data (flow and node, queue and position, agent...), `line` what the line does."""
    place = call.place
    return {"id": call.id, "caller": call.channel.caller.number, "state": place.kind.value,
            "place": view(place), "line": call.line.activity.value,
            "language": call.language, "path": call.flow_state.path}


async def call_trace(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    call = service.calls.get(request.match_info["call_id"])
    if call is None:
        raise web.HTTPNotFound(text="no such live call; ended calls are in the trace folder")
    require_queue(current_user(request), service.acd, _queue_of(call))
    return web.json_response(call.trace_log.entries)


def _when(request: web.Request, name: str) -> dt.datetime | None:
    """?since= / ?until=: an ISO date or date-time (UTC unless it says otherwise)."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name}: an ISO date or date-time such as 2026-12-07 "
                                      f"or 2026-12-07T09:30, not {raw[:40]!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


async def records(request: web.Request) -> web.Response:
    """Search: ?caller= &outcome= &flow= &queue= &since= &until= &limit= (newest first, up
    to 1000); a supervisor's, only calls that entered its queues."""
    service = request.app[SERVICE_KEY]
    if service.records is None:
        raise web.HTTPServiceUnavailable(text="no database")
    raw_limit = request.query.get("limit", "100")
    if not raw_limit.isdigit():
        raise web.HTTPBadRequest(text=f"limit: a whole number, not {raw_limit[:20]!r}")
    outcome = request.query.get("outcome") or None
    if outcome is not None and outcome not in OUTCOMES:
        raise web.HTTPBadRequest(text=f"outcome: one of {', '.join(OUTCOMES)}")
    queues = _shown(request)
    if queue := request.query.get("queue"):
        require_queue(current_user(request), service.acd, queue)
        queues = {queue}
    found = await service.records.list(
        limit=min(int(raw_limit), 1000), since=_when(request, "since"),
        until=_when(request, "until"), flow=request.query.get("flow") or None,
        caller=request.query.get("caller") or None, outcome=outcome, queues=queues)
    return web.json_response([_record_json(r) for r in found])


async def record_trace(request: web.Request) -> web.Response:
    """An ended call's trace, as the app saved it (the trace folder's <call_id>.jsonl)."""
    service = request.app[SERVICE_KEY]
    call_id = request.match_info["call_id"]
    if not call_id.replace(".", "").replace("-", "").isalnum():
        raise web.HTTPNotFound(text="no such trace")
    if _shown(request) is not None:  # a supervisor: only if the record says its queue
        found = await service.records.get(call_id) if service.records is not None else None
        require_queue(current_user(request), service.acd, *(found.queues if found else ()))
    path = service.config.trace_dir / f"{call_id}.jsonl"
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    except FileNotFoundError:
        raise web.HTTPNotFound(text="no saved trace for this call (still live, or "
                                    "kept elsewhere)") from None
    return web.json_response([json.loads(line) for line in text.splitlines() if line])


async def record(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    if service.records is None:
        raise web.HTTPServiceUnavailable(text="no database")
    found = await service.records.get(request.match_info["call_id"])
    if found is None:
        raise web.HTTPNotFound(text="no such call record")
    require_queue(current_user(request), service.acd, *found.queues)
    result = _record_json(found)
    wrapped = await service.wrapups.get(found.call_id) if service.wrapups else None
    result["wrapup"] = wrapped.as_json() if wrapped else None
    result["first_call_resolution"] = \
        await service.wrapups.resolved_first_time(wrapped) if service.wrapups and wrapped \
        else None
    return web.json_response(result)


def _record_json(rec: CallRecord) -> dict[str, object]:
    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "call_id": rec.call_id, "flow": rec.flow, "flow_version": rec.flow_version,
        "caller": rec.caller, "language": rec.language, "started_at": iso(rec.started_at),
        "answered_at": iso(rec.answered_at), "ended_at": iso(rec.ended_at), "path": rec.path,
        "keys": rec.keys, "outcome": rec.outcome, "hangup_by": rec.hangup_by,
        "queues": rec.queues,
        "ring_s": rec.ring_s, "ivr_s": rec.ivr_s, "total_s": rec.total_s,
    }


async def metrics(request: web.Request) -> web.Response:
    """Prometheus' text format (metrics.py); the database probe runs once per scrape."""
    service = request.app[SERVICE_KEY]
    await service.metrics.probe_database(service)
    return web.Response(body=service.metrics.render(),
                        headers={"Content-Type": METRICS_CONTENT_TYPE})


def build_app(service: IvrService) -> web.Application:
    app = web.Application(middlewares=[web_auth.auth_middleware])
    app[SERVICE_KEY] = service
    web_auth.add_routes(app, service)
    openapi.add_routes(app)
    web_console.add_routes(app, service)
    web_call.add_routes(app, service)
    web_wallboard.add_routes(app, service)
    web_flows.add_routes(app, service)
    app.router.add_get("/health", health)
    app.router.add_get("/calls", calls)
    app.router.add_get("/calls/{call_id}/trace", call_trace)
    app.router.add_get("/records", records)
    app.router.add_get("/records/{call_id}", record)
    app.router.add_get("/records/{call_id}/trace", record_trace)
    app.router.add_get("/metrics", metrics)
    add_routes(app, service)
    add_voicemail_routes(app, service)
    add_callback_routes(app, service)
    add_outbound_routes(app, service)
    return app
