"""REST surface of voicemail: list a mailbox, download a message's audio, mark it heard,
delete it. Like the rest of the web surface it listens on 127.0.0.1 only."""

from __future__ import annotations

from aiohttp import web

from ..services.voicemail.store import Message, MessageStore
from .service import IvrService
from .web_access import queues_shown, require_queue
from .web_auth import current_user

SERVICE_KEY = web.AppKey("voicemail_service", IvrService)


def _store(request: web.Request) -> MessageStore:
    store = request.app[SERVICE_KEY].messages
    if store is None:
        raise web.HTTPServiceUnavailable(text="voicemail is not running")
    return store


async def list_messages(request: web.Request) -> web.Response:
    store = _store(request)
    heard_text = request.query.get("heard")
    heard = None if heard_text is None else heard_text.lower() in ("1", "true", "yes")
    try:
        limit = min(int(request.query.get("limit", "100")), 1000)
        found = await store.list(request.match_info.get("mailbox"), heard=heard, limit=limit,
                                 queues=queues_shown(current_user(request),
                                                     request.app[SERVICE_KEY].acd))
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    return web.json_response([m.as_json() for m in found])


async def _message(request: web.Request) -> Message:
    """The message in the path, once the user may see it (a supervisor: its queues')."""
    found = await _store(request).get(request.match_info["message_id"])
    if found is None:
        raise web.HTTPNotFound(text="no such message")
    require_queue(current_user(request), request.app[SERVICE_KEY].acd, found.queue)
    return found


async def message(request: web.Request) -> web.Response:
    return web.json_response((await _message(request)).as_json())


async def audio(request: web.Request) -> web.StreamResponse:
    store = _store(request)
    found = await _message(request)
    try:
        path = store.path(found)
    except ValueError as exc:  # a row whose file name is not one the store writes
        raise web.HTTPInternalServerError(text="message file name is invalid") from exc
    if not path.is_file():
        raise web.HTTPNotFound(text="the message's audio is missing")
    return web.FileResponse(path, headers={
        "Content-Type": "audio/wav",
        "Content-Disposition": f'attachment; filename="{found.id}.wav"'})


async def _may_change(request: web.Request) -> None:
    """A supervisor may change only its queues' messages: looked up for it alone (the change
    itself reads the message again, and answers the 404)."""
    if queues_shown(current_user(request), request.app[SERVICE_KEY].acd) is not None:
        await _message(request)


async def mark(request: web.Request) -> web.Response:
    heard = request.match_info["what"] == "heard"
    await _may_change(request)
    found = await _store(request).mark_heard(request.match_info["message_id"], heard)
    if found is None:
        raise web.HTTPNotFound(text="no such message")
    return web.json_response(found.as_json())


async def delete(request: web.Request) -> web.Response:
    await _may_change(request)
    if not await _store(request).delete(request.match_info["message_id"]):
        raise web.HTTPNotFound(text="no such message")
    return web.Response(status=204)


def add_routes(app: web.Application, service: IvrService) -> None:
    app[SERVICE_KEY] = service
    app.router.add_get("/messages", list_messages)
    app.router.add_get("/mailboxes/{mailbox}/messages", list_messages)
    app.router.add_get("/messages/{message_id}", message)
    app.router.add_get("/messages/{message_id}/audio", audio)
    app.router.add_post("/messages/{message_id}/{what:heard|unheard}", mark)
    app.router.add_delete("/messages/{message_id}", delete)
