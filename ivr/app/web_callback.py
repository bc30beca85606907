"""REST surface of callbacks: list, inspect (with every attempt), book, cancel, reschedule;
and the do-not-call list. 127.0.0.1 only, like the rest of the web surface."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from aiohttp import web

from ..services.callback.service import CallbackRefused, Callbacks
from ..services.callback.store import ACTIVE, CallbackState, normalize_number
from .service import IvrService
from .web_access import queues_shown, require_queue
from .web_auth import current_user

SERVICE_KEY = web.AppKey("callback_service", IvrService)


def _callbacks(request: web.Request) -> Callbacks:
    callbacks = request.app[SERVICE_KEY].callbacks
    if callbacks is None:
        raise web.HTTPServiceUnavailable(text="callbacks are not running")
    return callbacks


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except json.JSONDecodeError as exc:
        raise web.HTTPBadRequest(text=f"the body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return data


def _when(text: Any, field: str) -> dt.datetime:
    """An ISO 8601 time with its offset (a time without one is ambiguous: refused)."""
    try:
        when = dt.datetime.fromisoformat(str(text))
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"{field} must be an ISO 8601 time") from exc
    if when.tzinfo is None:
        raise web.HTTPBadRequest(text=f"{field} needs a UTC offset, e.g. 2026-11-23T15:00+09:00")
    return when.astimezone(dt.UTC)


async def list_callbacks(request: web.Request) -> web.Response:
    state = request.query.get("state", "")
    names = [] if state == "active" else [s for s in state.split(",") if s]
    unknown = [s for s in names if s not in {known.value for known in CallbackState}]
    if unknown:
        raise web.HTTPBadRequest(text=f"unknown state {unknown[0]!r}")
    states = ACTIVE if state == "active" else tuple(CallbackState(s) for s in names)
    callbacks = _callbacks(request)
    queue = request.query.get("queue")
    shown = queues_shown(current_user(request), request.app[SERVICE_KEY].acd)
    if queue is not None:
        _may(request, queue)
    found = await callbacks.store.find(states=states, queue=queue)
    return web.json_response([cb.as_json() for cb in found
                              if shown is None or cb.queue in shown])


def _may(request: web.Request, queue: str) -> None:
    """403 unless the user sees `queue` (a supervisor: one of its own)."""
    require_queue(current_user(request), request.app[SERVICE_KEY].acd, queue)


async def _callback_queue(request: web.Request) -> None:
    """403 when the callback in the path is of a queue the user does not supervise; a
    callback that does not exist is left to the handler's own 404. Looked up only for a
    user whose reach is by queue: the change itself reads the callback again."""
    callbacks = _callbacks(request)
    if queues_shown(current_user(request), request.app[SERVICE_KEY].acd) is None:
        return
    cb = await callbacks.store.get(request.match_info["callback_id"])
    if cb is not None:
        _may(request, cb.queue)


async def get_callback(request: web.Request) -> web.Response:
    callbacks = _callbacks(request)
    cb = await callbacks.store.get(request.match_info["callback_id"])
    if cb is None:
        raise web.HTTPNotFound(text="no such callback")
    _may(request, cb.queue)
    attempts = await callbacks.store.attempts(cb.id)
    return web.json_response({**cb.as_json(), "attempt_log": [a.as_json() for a in attempts]})


async def create_callback(request: web.Request) -> web.Response:
    data = await _body(request)
    if not isinstance(data.get("queue"), str) or not isinstance(data.get("number"), str):
        raise web.HTTPBadRequest(text="queue and number are required (text)")
    _may(request, data["queue"])
    if data.get("timezone") and not isinstance(data["timezone"], str):
        raise web.HTTPBadRequest(text="timezone must be text (an IANA name, e.g. Asia/Seoul)")
    not_before = _when(data["not_before"], "not_before") if data.get("not_before") else None
    try:
        cb = await _callbacks(request).request(
            data["queue"], data["number"], language=str(data.get("language", "")),
            source="api", not_before=not_before, timezone=data.get("timezone") or None)
    except CallbackRefused as exc:
        raise web.HTTPUnprocessableEntity(
            text=json.dumps({"reason": exc.reason, "error": str(exc)}),
            content_type="application/json") from exc
    return web.json_response(cb.as_json(), status=201)


async def cancel_callback(request: web.Request) -> web.Response:
    await _callback_queue(request)
    cb = await _callbacks(request).cancel(request.match_info["callback_id"])
    if cb is None:
        raise web.HTTPNotFound(text="no such callback")
    if cb.state is not CallbackState.CANCELLED:
        raise web.HTTPConflict(text=f"callback is {cb.state}; only an active one is cancelled")
    return web.json_response(cb.as_json())


async def reschedule_callback(request: web.Request) -> web.Response:
    data = await _body(request)
    if not data.get("not_before"):
        raise web.HTTPBadRequest(text="not_before is required")
    await _callback_queue(request)
    cb = await _callbacks(request).reschedule(request.match_info["callback_id"],
                                              _when(data["not_before"], "not_before"))
    if cb is None:
        raise web.HTTPNotFound(text="no such callback")
    if cb.state is not CallbackState.PENDING:
        raise web.HTTPConflict(text=f"callback is {cb.state}; only a pending one is moved")
    return web.json_response(cb.as_json())


async def list_dnc(request: web.Request) -> web.Response:
    return web.json_response(await _callbacks(request).store.dnc_list())


async def add_dnc(request: web.Request) -> web.Response:
    data = await _body(request)
    if len(normalize_number(request.match_info["number"]).lstrip("+")) < 3:
        raise web.HTTPBadRequest(text="not a phone number (digits, optionally after +)")
    number = await _callbacks(request).store.dnc_add(request.match_info["number"],
                                                     str(data.get("reason", "")))
    return web.json_response({"number": number}, status=201)


async def remove_dnc(request: web.Request) -> web.Response:
    if not await _callbacks(request).store.dnc_remove(request.match_info["number"]):
        raise web.HTTPNotFound(text="not on the list")
    return web.Response(status=204)


def add_routes(app: web.Application, service: IvrService) -> None:
    app[SERVICE_KEY] = service
    app.router.add_get("/callbacks", list_callbacks)
    app.router.add_post("/callbacks", create_callback)
    app.router.add_get("/callbacks/{callback_id}", get_callback)
    app.router.add_delete("/callbacks/{callback_id}", cancel_callback)
    app.router.add_post("/callbacks/{callback_id}/cancel", cancel_callback)
    app.router.add_post("/callbacks/{callback_id}/reschedule", reschedule_callback)
    app.router.add_get("/dnc", list_dnc)
    app.router.add_put("/dnc/{number}", add_dnc)
    app.router.add_post("/dnc/{number}", add_dnc)
    app.router.add_delete("/dnc/{number}", remove_dnc)
