"""The small REST surface: health and live calls, for operators and tests."""

from __future__ import annotations

from aiohttp import web

from .service import IvrService

SERVICE_KEY = web.AppKey("service", IvrService)


async def health(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    status = service.status()
    return web.json_response(status, status=200 if status["ari_connected"] else 503)


async def calls(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    return web.json_response([
        {"id": call.id, "caller": call.channel.caller.number, "state": call.state.value,
         "language": call.language, "path": call.flow_state.path}
        for call in service.calls.values()
    ])


async def call_trace(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    call = service.calls.get(request.match_info["call_id"])
    if call is None:
        raise web.HTTPNotFound(text="no such live call; ended calls are in the trace folder")
    return web.json_response(call.trace_log.entries)


def build_app(service: IvrService) -> web.Application:
    app = web.Application()
    app[SERVICE_KEY] = service
    app.router.add_get("/health", health)
    app.router.add_get("/calls", calls)
    app.router.add_get("/calls/{call_id}/trace", call_trace)
    return app
