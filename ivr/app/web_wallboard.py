"""The wallboard over HTTP: `GET /wallboard` (one snapshot) and `GET /wallboard/events` (a
WebSocket that pushes a snapshot PUSH_GAP_S after the ACD changes, so that what one change sets
off (a caller's entry, then its session) arrives in one snapshot, and every REFRESH_S anyway
so that waits and times in state keep counting). Beside the queues, `campaigns`: the outbound
campaigns of the same queues, their calls now and their day (services/outbound/board.py).
A supervisor sees the queues it supervises, reporting and admin all of them (web_access.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiohttp import WSMsgType, web

from ..services.acd.engine import Acd
from ..services.acd.wallboard import intraday, start_of_day, wallboard
from ..services.users.model import Role
from .service import IvrService
from .web_auth import current_user

SERVICE_KEY = web.AppKey("wallboard_service", IvrService)
PUSH_GAP_S = 0.2
REFRESH_S = 2.0


def _acd(request: web.Request) -> Acd:
    acd = request.app[SERVICE_KEY].acd
    if acd is None:
        raise web.HTTPServiceUnavailable(text="the ACD is not running")
    return acd


def _queues(request: web.Request) -> set[str] | None:
    user = current_user(request)
    return set(user.queues) if user.role is Role.SUPERVISOR else None


def _board(request: web.Request, acd: Acd, queues: set[str] | None) -> dict[str, Any]:
    """The ACD's board, and the outbound campaigns of the same queues beside it."""
    dialler = request.app[SERVICE_KEY].outbound
    return {**wallboard(acd, time.time(), queues=queues),
            "campaigns": dialler.board(queues) if dialler is not None else []}


async def snapshot(request: web.Request) -> web.Response:
    return web.json_response(_board(request, _acd(request), _queues(request)))


async def events(request: web.Request) -> web.WebSocketResponse:
    acd, queues = _acd(request), _queues(request)
    ws = web.WebSocketResponse(heartbeat=30.0)
    await ws.prepare(request)
    changed = acd.changes.watch()
    reader = asyncio.ensure_future(ws.receive())
    try:
        await ws.send_json(_board(request, acd, queues))
        while not ws.closed:
            waiter = asyncio.ensure_future(changed.wait())
            done, _ = await asyncio.wait({reader, waiter}, timeout=REFRESH_S,
                                         return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if reader in done:
                message = reader.result()
                if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                                    WSMsgType.ERROR):
                    break
                reader = asyncio.ensure_future(ws.receive())
            if changed.is_set():  # let what one change sets off settle, and coalesce
                await asyncio.sleep(PUSH_GAP_S)
            changed.clear()
            await ws.send_json(_board(request, acd, queues))
    except ConnectionResetError:
        pass
    finally:
        reader.cancel()
        acd.changes.unwatch(changed)
        with contextlib.suppress(ConnectionResetError):
            await ws.close()
    return ws


async def intervals(request: web.Request) -> web.Response:
    """?since= (epoch seconds; default local midnight): the queue's day by interval."""
    acd, name = _acd(request), request.match_info["name"]
    if name not in acd.config().queues:
        raise web.HTTPNotFound(text="no such queue")
    try:
        since = float(request.query.get("since", start_of_day(time.time())))
    except ValueError:
        raise web.HTTPBadRequest(text="since: epoch seconds") from None
    if since != since or since in (float("inf"), float("-inf")):
        raise web.HTTPBadRequest(text="since: epoch seconds")
    return web.json_response(intraday(acd, name, since))


def add_routes(app: web.Application, service: IvrService) -> None:
    app[SERVICE_KEY] = service
    app.router.add_get("/wallboard", snapshot)
    app.router.add_get("/wallboard/events", events)
    app.router.add_get("/queues/{name}/intervals", intervals)
