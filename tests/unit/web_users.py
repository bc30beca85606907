"""For REST tests of one part of the surface without the login machinery: a middleware that
makes every request a given user's, as web_auth's middleware does once it has checked them."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Middleware

from ivr.app.web_auth import USER, Handler
from ivr.services.users import Role, User

ADMIN = User("admin", Role.ADMIN)


def as_user(user: User = ADMIN) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request[USER] = user
        return await handler(request)

    return middleware


class Acting:
    """The user every request is made as, switched by the test (`acting.user = ...`)."""

    def __init__(self, user: User = ADMIN) -> None:
        self.user = user

    def middleware(self) -> Middleware:
        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            request[USER] = self.user
            return await handler(request)

        return middleware


SUPERVISOR_OF_GENERAL = User("sam", Role.SUPERVISOR, queues=("general",))
