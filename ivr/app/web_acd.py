"""REST and WebSocket surface of the ACD: queues, agents, KPIs, the queue log, screen pops.

Agents log in, out, pause and unpause here as from their phone's feature codes; a desktop
subscribes to `/agents/{id}/events` for its screen pops. Who may call what is the access table's
(web_access.py); the lists here show each user only its queues and agents.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time

from aiohttp import WSMsgType, web

from ..services.acd.desktop import AgentStateEvent, DesktopEvent
from ..services.acd.engine import Acd, AgentError
from ..services.acd.queue_log import format_line
from ..services.acd.reporting import forecast, queue_kpis, queue_view
from .service import IvrService
from .web_access import visible_agents, visible_queues
from .web_auth import current_user

SERVICE_KEY = web.AppKey("acd_service", IvrService)


def _acd(request: web.Request) -> Acd:
    acd = request.app[SERVICE_KEY].acd
    if acd is None:
        raise web.HTTPServiceUnavailable(text="the ACD is not running")
    return acd


def _window(request: web.Request, *, ordered: bool = False) -> tuple[float, float]:
    """?since=&until= (epoch seconds) or ?hours= back from now; default the last 24 hours."""
    try:
        until = float(request.query.get("until", time.time()))
        hours = float(request.query.get("hours", "24"))
        since = float(request.query.get("since", until - hours * 3600))
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"bad time window: {exc}") from exc
    if not (math.isfinite(since) and math.isfinite(until)):
        raise web.HTTPBadRequest(text="bad time window: since and until must be finite")
    if ordered and since > until:
        raise web.HTTPBadRequest(text="bad time window: since is after until")
    return since, until


async def queues(request: web.Request) -> web.Response:
    acd = _acd(request)
    shown = visible_queues(current_user(request), acd)
    return web.json_response([queue_view(acd, q) for q in acd.config().queues.values()
                              if shown is None or q.name in shown])


async def queue(request: web.Request) -> web.Response:
    acd = _acd(request)
    found = acd.config().queues.get(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound(text="no such queue")
    return web.json_response(queue_view(acd, found))


async def kpis(request: web.Request) -> web.Response:
    acd = _acd(request)
    name = request.match_info.get("name")
    queue = acd.config().queues.get(name) if name is not None else None
    if name is not None and queue is None:
        raise web.HTTPNotFound(text="no such queue")
    since, until = _window(request, ordered=True)
    found = await queue_kpis(acd, name, since, until)
    result = found.as_dict()
    if queue is not None:
        result["live"] = queue_view(acd, queue)
        result["erlang_c"] = forecast(found, len(acd.staffed(queue)))
    return web.json_response(result)


async def queue_log(request: web.Request) -> web.Response:
    """The log in Asterisk's queue_log format, for reporting tools that read it."""
    acd = _acd(request)
    since, until = _window(request)
    events = await acd.store.log_events(since=since, until=until,
                                        queue=request.query.get("queue"))
    return web.Response(text="".join(format_line(e) + "\n" for e in events),
                        content_type="text/plain")


async def agents(request: web.Request) -> web.Response:
    acd = _acd(request)
    now = time.time()
    shown = visible_agents(current_user(request), acd)
    return web.json_response([a.view(now) for a in acd.agents.values()
                              if shown is None or a.id in shown])


async def agent(request: web.Request) -> web.Response:
    acd = _acd(request)
    try:
        found = acd.agent(request.match_info["agent_id"])
    except AgentError as exc:
        raise web.HTTPNotFound(text=str(exc)) from exc
    return web.json_response(found.view(time.time()))


async def agent_action(request: web.Request) -> web.Response:
    acd = _acd(request)
    agent_id, action = request.match_info["agent_id"], request.match_info["action"]
    reason = request.query.get("reason", "")
    if request.can_read_body:
        with contextlib.suppress(ValueError):
            body = await request.json()
            if isinstance(body, dict) and body.get("reason") is not None:
                reason = str(body["reason"])
    try:
        if action == "login":
            found = await acd.login(agent_id)
        elif action == "logout":
            found = await acd.logout(agent_id)
        elif action == "pause":
            found = await acd.pause(agent_id, acd.config().pause_reasons.get(reason, reason))
        elif action == "unpause":
            found = await acd.unpause(agent_id)
        else:
            raise web.HTTPNotFound(text="actions: login, logout, pause, unpause")
    except AgentError as exc:
        status = 404 if "unknown agent" in str(exc) else 409
        return web.Response(status=status, text=str(exc))
    return web.json_response(found.view(time.time()))


async def agent_events(request: web.Request) -> web.WebSocketResponse:
    """Screen pops and state changes of one agent, as JSON messages (desktop.py; their schema
    is docs/desktop-events.schema.json), while connected."""
    acd = _acd(request)
    agent_id = request.match_info["agent_id"]
    try:
        current = acd.agent(agent_id)
    except AgentError as exc:
        raise web.HTTPNotFound(text=str(exc)) from exc
    ws = web.WebSocketResponse(heartbeat=30.0)
    await ws.prepare(request)
    inbox = acd.desktops.listen(agent_id)
    try:
        await _send(ws, AgentStateEvent.of(current, time.time()))
        reader = asyncio.ensure_future(ws.receive())
        while not ws.closed:
            getter = asyncio.ensure_future(inbox.get())
            done, _ = await asyncio.wait({reader, getter}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                await _send(ws, getter.result())
            else:
                getter.cancel()
            if reader in done:
                message = reader.result()
                if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                                    WSMsgType.ERROR):
                    break
                reader = asyncio.ensure_future(ws.receive())
        reader.cancel()
    finally:
        acd.desktops.unlisten(agent_id, inbox)
        await ws.close()
    return ws


async def _send(ws: web.WebSocketResponse, event: DesktopEvent) -> None:
    await ws.send_json(event.to_json())


def add_routes(app: web.Application, service: IvrService) -> None:
    app[SERVICE_KEY] = service
    app.router.add_get("/queues", queues)
    app.router.add_get("/queues/{name}", queue)
    app.router.add_get("/queues/{name}/kpis", kpis)
    app.router.add_get("/kpis", kpis)
    app.router.add_get("/queue_log", queue_log)
    app.router.add_get("/agents", agents)
    app.router.add_get("/agents/{agent_id}", agent)
    app.router.add_get("/agents/{agent_id}/events", agent_events)
    app.router.add_post("/agents/{agent_id}/{action}", agent_action)
