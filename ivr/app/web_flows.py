"""The flows being served, for operations: `GET /flows` (name, version, nodes) and
`GET /flows/{name}/graph.svg` (the flow's picture, `ivr graph`'s, drawn by Graphviz). A
picture is drawn once per flow version and kept, so a page of them costs one `dot` run per
edit, not per view."""

from __future__ import annotations

import asyncio
import shutil

from aiohttp import web

from ..flow.graph import to_dot
from .service import IvrService

SERVICE_KEY = web.AppKey("flows_service", IvrService)
_drawn: dict[tuple[str, str], bytes] = {}


async def flows(request: web.Request) -> web.Response:
    current = request.app[SERVICE_KEY].registry.current.flows
    return web.json_response([{"name": f.name, "version": f.version, "nodes": len(f.nodes)}
                              for f in sorted(current.values(), key=lambda f: f.name)])


async def graph(request: web.Request) -> web.Response:
    flow = request.app[SERVICE_KEY].registry.current.flows.get(request.match_info["name"])
    if flow is None:
        raise web.HTTPNotFound(text="no such flow")
    key = (flow.name, flow.version)
    if key not in _drawn:
        binary = shutil.which("dot")
        if binary is None:
            raise web.HTTPServiceUnavailable(text="Graphviz is not installed")
        proc = await asyncio.create_subprocess_exec(
            binary, "-Tsvg", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        svg, err = await proc.communicate(to_dot(flow).encode())
        if proc.returncode:
            raise web.HTTPInternalServerError(text=f"Graphviz failed: {err.decode()[:200]}")
        _drawn[key] = svg
    return web.Response(body=_drawn[key], content_type="image/svg+xml",
                        headers={"Content-Security-Policy": "default-src 'none'; "
                                                            "style-src 'unsafe-inline'"})


def add_routes(app: web.Application, service: IvrService) -> None:
    app[SERVICE_KEY] = service
    app.router.add_get("/flows", flows)
    app.router.add_get("/flows/{name}/graph.svg", graph)
