"""The OpenAPI 3.1 document of the HTTP surface, made from the router and the access table.

Made, not written: every route the app serves is in it, with who may call it (`x-roles`) and
how to authenticate, so the document cannot drift from what the app does. A test compares the
document, the router and the access table (tests/unit/test_web_auth.py).
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from .web_access import PATH_VALUES, TABLE, Access

_PARAM = re.compile(r"{(\w+)(?::[^}]*)?}")


def routes(app: web.Application) -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves (HEAD and OPTIONS left out)."""
    found = []
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS") or route.resource is None:
            continue
        info = route.resource.get_info()
        path = str(info.get("formatter") or info.get("path") or "")
        found.append((route.method, _PARAM.sub(r"{\1}", path)))
    return sorted(set(found))


def _operation(method: str, path: str, access: Access) -> dict[str, Any]:
    roles = ["admin", *(role.value for role in access.roles)]
    op: dict[str, Any] = {
        "summary": access.summary,
        "operationId": f"{method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
        "parameters": [{"name": name, "in": "path", "required": True,
                        "schema": {"type": "string", **({"enum": list(PATH_VALUES[name])}
                                                         if name in PATH_VALUES else {})}}
                       for name in _PARAM.findall(path)],
        "responses": {"200": {"description": "done"},
                      "400": {"description": "bad input: the text says what is wrong"},
                      "404": {"description": "no such thing"}},
    }
    op["parameters"] += [{"name": name, "in": "query", "required": False,
                          "schema": {"type": "string"}, "description": text}
                         for name, text in access.query.items()]
    if access.body:
        op["requestBody"] = {"description": access.body, "required": False, "content": {
            "application/json": {"schema": {"type": "object"}}}}
    if access.public:
        op["security"] = []
    else:
        op["x-roles"] = roles
        op["responses"] |= {"401": {"description": "not logged in, or the token is unknown"},
                            "403": {"description": "this role may not (or CSRF token missing)"}}
    if method not in ("GET", "HEAD"):
        op["responses"]["409"] = {"description": "not possible in the current state"}
    return op


def document(app: web.Application, version: str = "0") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path in routes(app):
        access = TABLE.get((method, path))
        if access is None:
            continue  # refused to everyone; the unit test makes sure there is none
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, access)
    return {
        "openapi": "3.1.0",
        "info": {"title": "ivr", "version": version,
                 "description": "The IVR and contact center's REST and WebSocket API. Every "
                                "operation lists the roles that may call it in x-roles; "
                                "admin may call all of them."},
        "components": {"securitySchemes": {
            "token": {"type": "http", "scheme": "bearer",
                      "description": "an API token from `ivr user token NAME`"},
            "session": {"type": "apiKey", "in": "cookie", "name": "ivr_session",
                        "description": "from POST /auth/login; state-changing requests also "
                                       "send the session's X-CSRF-Token header"}}},
        "security": [{"token": []}, {"session": []}],
        "paths": paths,
    }


def add_routes(app: web.Application) -> None:
    async def serve(request: web.Request) -> web.Response:
        return web.json_response(document(request.app))

    app.router.add_get("/openapi.json", serve)
