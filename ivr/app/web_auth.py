"""Authentication for the whole HTTP surface: API tokens for machines, sessions for browsers.

Every request passes `auth_middleware`. It finds the route in the access table
(web_access.py); a public route goes through, any other needs a user:
- `Authorization: Bearer ivr_...`: an API token (`ivr user token NAME`), for scripts and tools;
- the `ivr_session` cookie, set by `POST /auth/login`: for the browser. A cookie is sent by the
  browser on its own, so a state-changing request (anything but GET/HEAD/OPTIONS) made with it
  must also carry the session's CSRF token in `X-CSRF-Token` (a synchronizer token: another
  site can make the browser send the cookie, not read the token), and a WebSocket opened with
  it must come from the app's own origin.
No user: 401. A user whose role may not make the request: 403, logged. Without a database
nobody can be authenticated: 503 (the public routes still answer).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from ..services.users.model import User
from ..services.users.store import LoginResult, UserStore
from .service import IvrService
from .web_access import access_of, canonical

log = logging.getLogger(__name__)

SERVICE_KEY = web.AppKey("auth_service", IvrService)
USER = web.RequestKey("ivr_user", User)
"""The request's key for the authenticated User (set by the middleware)."""
SESSION_COOKIE = "ivr_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_LOGIN_BODY = 4096

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def current_user(request: web.Request) -> User:
    user = request.get(USER)
    assert isinstance(user, User), "a route behind the middleware always has its user"
    return user


def _users(request: web.Request) -> UserStore:
    users = request.app[SERVICE_KEY].users
    if users is None:
        raise web.HTTPServiceUnavailable(text="no database: nobody can be authenticated now")
    return users


def _unauthorized(why: str) -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(text=why, headers={"WWW-Authenticate": 'Bearer realm="ivr"'})


async def _authenticate(request: web.Request, users: UserStore) -> tuple[User, str | None]:
    """(the user, the session's CSRF token, or None for a token); 401 when neither works."""
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("Authorization must be 'Bearer <token>'")
        user = await users.user_for_token(token.strip())
        if user is None:
            raise _unauthorized("unknown or revoked token")
        return user, None
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        session = await users.session(cookie)
        if session is None:
            raise _unauthorized("the session has ended: log in again")
        return session.user, session.csrf_token
    raise _unauthorized("log in (POST /auth/login) or send an API token")


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get(hdrs.ORIGIN)
    return origin is not None and urlsplit(origin).netloc == request.host


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.http_exception is not None:  # no such route (404/405): say so
        return await handler(request)
    access = access_of(request)
    if access is None:
        log.error("refused %s %s: the route is not in the access table", request.method,
                  canonical(request))
        raise web.HTTPForbidden(text="this route is not in the access table")
    if access.public:
        return await handler(request)
    user, csrf = await _authenticate(request, _users(request))
    if csrf is not None:
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), csrf.encode()):
                raise web.HTTPForbidden(text=f"{CSRF_HEADER} missing or wrong (GET /auth/me "
                                             "gives this session's)")
        if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket" and \
                not _same_origin(request):
            raise web.HTTPForbidden(text="a WebSocket on a session must come from this origin")
    if not access.allows(request, user, request.app[SERVICE_KEY].acd):
        log.warning("forbidden: %s (%s) %s %s", user.name, user.role.value, request.method,
                    request.path)
        why = ("it is another agent's or another queue's" if user.role in access.roles else
               f"it is for {', '.join(['admin', *(r.value for r in access.roles)])} only")
        raise web.HTTPForbidden(text=f"{user.role.value} {user.name} may not "
                                     f"{request.method} {request.path}: {why}")
    request[USER] = user
    return await handler(request)


async def _credentials(request: web.Request) -> tuple[str, str]:
    if request.content_length is not None and request.content_length > MAX_LOGIN_BODY:
        raise web.HTTPRequestEntityTooLarge(MAX_LOGIN_BODY, request.content_length)
    body: Any
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as exc:
            raise web.HTTPBadRequest(text=f"the body is not JSON: {exc}") from exc
    else:
        body = dict(await request.post())
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='send {"user": ..., "password": ...}')
    name, password = body.get("user"), body.get("password")
    if not isinstance(name, str) or not isinstance(password, str) or not name or not password:
        raise web.HTTPBadRequest(text='send {"user": ..., "password": ...}, both strings')
    return name, password


def _cookie_secure(request: web.Request) -> bool:
    """Secure, unless the request came over plain HTTP with no TLS proxy in front (the
    development default on 127.0.0.1); behind the documented proxy the header says https."""
    return request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"


def client_address(request: web.Request) -> str:
    """Who sent the request: the peer, or, when the peer is a trusted proxy
    (IVR_TRUSTED_PROXIES), the last address its X-Forwarded-For adds that is not a trusted
    proxy too (the ones before it are whatever the client wrote, so never believed)."""
    trusted = [ipaddress.ip_network(p, strict=False)
               for p in request.app[SERVICE_KEY].config.trusted_proxies]

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in trusted)

    peer = request.remote or "unknown"
    if not is_trusted(peer):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", ()))
            .split(",") if h.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a proxy that forwards garbage: count the proxy
    return peer


async def login(request: web.Request) -> web.Response:
    name, password = await _credentials(request)
    remote = client_address(request)
    result, session = await _users(request).login(name, password, remote)
    if result is LoginResult.RATE_LIMITED:
        log.warning("login refused (too many failures): %r from %s", name[:64], remote)
        raise web.HTTPTooManyRequests(text="too many failed logins: try again later",
                                      headers={"Retry-After": "900"})
    if session is None:
        log.warning("login failed: %r from %s", name[:64], remote)
        raise _unauthorized("wrong user name or password")
    log.info("login: %s (%s) from %s", session.user.name, session.user.role.value, remote)
    response = web.json_response({**_me(session.user), "csrf_token": session.csrf_token,
                                  "expires_at": session.expires_at.isoformat()})
    response.set_cookie(SESSION_COOKIE, session.id, httponly=True, samesite="Strict",
                        secure=_cookie_secure(request), path="/",
                        max_age=int(_users(request).session_ttl.total_seconds()))
    return response


async def logout(request: web.Request) -> web.Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await _users(request).end_session(cookie)
    response = web.json_response({"logged_out": current_user(request).name})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    user = current_user(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    session = await _users(request).session(cookie) if cookie and \
        not request.headers.get(hdrs.AUTHORIZATION) else None
    return web.json_response({**_me(user),
                              "csrf_token": session.csrf_token if session else None})


def _me(user: User) -> dict[str, object]:
    return {"user": user.name, "role": user.role.value, "agent_id": user.agent_id or None,
            "queues": list(user.queues)}


def add_routes(app: web.Application, service: IvrService) -> None:
    app[SERVICE_KEY] = service
    app.router.add_post("/auth/login", login)
    app.router.add_post("/auth/logout", logout)
    app.router.add_get("/auth/me", me)
