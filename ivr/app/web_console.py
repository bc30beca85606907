"""The browser console's own routes: its files, the dispositions, an agent's wrap-up and the
caller's earlier contacts. The rest of what the console shows comes from the routes every
client uses (agents, queues, the screen-pop WebSocket), under the same access table.

The dispositions are queues.yaml's (services/acd/config_dispositions.py), read through
`acd.config()` at each request rather than kept here, so a reload applies at once; a wrap-up
is held to the codes of the call's queue.

The console is plain HTML, CSS and one ES module (ivr/app/console/), served from here: no build
step and nothing fetched from elsewhere, so it works on a machine without internet and there is
no toolchain to keep up to date; it is small enough that a framework would be most of its code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from ..services.acd.config import DEFAULT_DISPOSITIONS
from ..services.acd.engine import AgentError
from ..services.wrapups import WrapupError, WrapupStore, check_wrapup
from .service import IvrService

SERVICE_KEY = web.AppKey("console_service", IvrService)
FILES = Path(__file__).with_name("console")
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
         ".svg": "image/svg+xml"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; img-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _service(request: web.Request) -> IvrService:
    return request.app[SERVICE_KEY]


async def console_file(request: web.Request) -> web.Response:
    name = request.match_info.get("name") or "index.html"
    path = FILES / name
    if "/" in name or name.startswith(".") or path.suffix not in TYPES or not path.is_file():
        raise web.HTTPNotFound(text="no such console file")
    return web.Response(body=path.read_bytes(), content_type=TYPES[path.suffix],
                        charset="utf-8", headers=SECURITY_HEADERS)


async def console_root(_request: web.Request) -> web.Response:
    raise web.HTTPFound("/console/")


async def dispositions(request: web.Request) -> web.Response:
    """queues.yaml's codes, or with `?queue=NAME` that queue's; read from the ACD's config at
    each request, so a reload shows at once. Without the ACD: the default codes."""
    acd = _service(request).acd
    queue = request.query.get("queue") or None
    if acd is None:
        found = DEFAULT_DISPOSITIONS
    else:
        config = acd.config()
        if queue is not None and queue not in config.queues:
            raise web.HTTPNotFound(text=f"no queue {queue!r} (queues: {', '.join(config.queues)})")
        found = config.dispositions_of(queue)
    return web.json_response([{"code": c, "label": label} for c, label in found.items()])


def _codes_of_call(service: IvrService, agent_id: str, call_id: str) -> Mapping[str, str]:
    """The codes of the call's queue: the one it waits or talks in while it is live, else the
    one whose after-call work the agent is doing for it, else every configured code (the
    defaults without the ACD)."""
    acd = service.acd
    if acd is None:
        return DEFAULT_DISPOSITIONS
    if service.outbound is not None:  # a campaign's contact: the campaign's codes
        codes = service.outbound.dispositions_of(call_id, acd.config().dispositions)
        if codes is not None:
            return codes
    entry = acd.sessions.get(call_id)
    queue = entry.queue.name if entry is not None else None
    if queue is None:
        with contextlib.suppress(AgentError):
            wrapping = acd.agent(agent_id).wrapup_of
            if wrapping is not None and wrapping[1] == call_id:
                queue = wrapping[0]
    return acd.config().dispositions_of(queue)


def _wrapups(service: IvrService) -> WrapupStore:
    if service.wrapups is None:
        raise web.HTTPServiceUnavailable(text="no database")
    return service.wrapups


async def _callers_number(service: IvrService, agent_id: str, call_id: str) -> str:
    """The caller of `call_id`, once it is sure the call is or was this agent's: its call now,
    the one it is wrapping up, or one the queue log shows connected to it; 403 otherwise."""
    acd = service.acd
    if acd is None:
        raise web.HTTPServiceUnavailable(text="the ACD is not running")
    try:
        agent = acd.agent(agent_id)
    except AgentError as exc:
        raise web.HTTPNotFound(text=str(exc)) from exc
    mine = call_id in (agent.call_id, agent.wrapup_of[1] if agent.wrapup_of else None) \
        or await acd.store.connected(call_id, agent.interface)
    if not mine:
        raise web.HTTPForbidden(text=f"call {call_id} was not agent {agent_id}'s")
    entry = acd.sessions.get(call_id)
    if entry is not None:
        return str(entry.view(time.time()).get("caller") or "")
    record = await service.records.get(call_id) if service.records is not None else None
    return record.caller if record is not None else ""


async def wrapup(request: web.Request) -> web.Response:
    service = _service(request)
    agent_id = request.match_info["agent_id"]
    body: object = None
    with contextlib.suppress(ValueError):
        body = await request.json()
    if not isinstance(body, dict) or not isinstance(body.get("call_id"), str):
        raise web.HTTPBadRequest(text='send {"call_id": ..., "disposition": ..., "notes": ...}')
    allowed = _codes_of_call(service, agent_id, body["call_id"])
    try:
        disposition, notes = check_wrapup(body.get("disposition"), body.get("notes", ""), allowed)
    except WrapupError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    caller = await _callers_number(service, agent_id, body["call_id"])
    saved = await _wrapups(service).save(body["call_id"], agent_id, disposition, notes, caller)
    if service.outbound is not None:
        await service.outbound.dispositioned(body["call_id"], agent_id, disposition)
    return web.json_response(saved.as_json())


async def history(request: web.Request) -> web.Response:
    """The earlier wrapped-up contacts of this call's caller, for the agent taking it."""
    service = _service(request)
    agent_id, call_id = request.match_info["agent_id"], request.match_info["call_id"]
    caller = await _callers_number(service, agent_id, call_id)
    found = await _wrapups(service).earlier_contacts(caller, dt.datetime.now(dt.UTC))
    return web.json_response([w.as_json() for w in found if w.call_id != call_id])


def add_routes(app: web.Application, service: IvrService) -> None:
    """Before the ACD's routes: `/agents/{agent_id}/wrapup` must win over `{action}`."""
    app[SERVICE_KEY] = service
    app.router.add_get("/", console_root)
    app.router.add_get("/console/", console_file)
    app.router.add_get("/console/{name}", console_file)
    app.router.add_get("/dispositions", dispositions)
    app.router.add_post("/agents/{agent_id}/wrapup", wrapup)
    app.router.add_get("/agents/{agent_id}/calls/{call_id}/history", history)
