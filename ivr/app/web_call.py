"""An agent's desktop controlling the call it is on: `POST /agents/{agent_id}/call/hold`,
`.../unhold` and `.../transfer` ({"to": a queue's transfer code or an extension}).

The ACD does the work (services/acd/control.py): the command is queued to the conversation,
which answers once it is done, so the reply says what really happened: 200 with the call's
new state, 409 when the agent is on neither a queued call nor an agent-first callback (or
the call ended meanwhile, or Asterisk refused), 400 for a target a phone could not key.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from ..services.acd.control import (
    CallCommand,
    CallControlError,
    Hold,
    Transfer,
    Unhold,
    check_target,
)
from ..services.acd.engine import AgentError
from ..services.acd.session import QueueSession, conversation_of
from ..services.callback.talk import AgentFirstTalk
from .service import IvrService

SERVICE_KEY = web.AppKey("call_control_service", IvrService)
ANSWER_WITHIN = 10.0
"""Seconds a command may take (a transfer logs, hangs up the agent's leg, requeues)."""


async def _command(request: web.Request, command: CallCommand) -> web.Response:
    acd = request.app[SERVICE_KEY].acd
    if acd is None:
        raise web.HTTPServiceUnavailable(text="the ACD is not running")
    agent_id = request.match_info["agent_id"]
    try:
        acd.agent(agent_id)
    except AgentError as exc:
        raise web.HTTPNotFound(text=str(exc)) from exc
    try:
        talk = _talk_of(request.app[SERVICE_KEY], agent_id)
        call_id = talk.id
        state = await asyncio.wait_for(talk.command(command), ANSWER_WITHIN)
    except CallControlError as exc:
        raise web.HTTPConflict(text=str(exc)) from exc
    except TimeoutError as exc:
        raise web.HTTPGatewayTimeout(text=f"call {call_id}: no answer from the call within "
                                          f"{ANSWER_WITHIN:g} s") from exc
    return web.json_response({"call_id": call_id, "state": state})


def _talk_of(service: IvrService, agent_id: str) -> QueueSession | AgentFirstTalk:
    """The agent's queued call, else its agent-first callback's; CallControlError if none."""
    assert service.acd is not None
    try:
        return conversation_of(service.acd, agent_id)
    except CallControlError:
        found = service.callbacks.talking.get(agent_id) if service.callbacks else None
        if found is None:
            raise
        return found


async def hold(request: web.Request) -> web.Response:
    return await _command(request, Hold())


async def unhold(request: web.Request) -> web.Response:
    return await _command(request, Unhold())


async def transfer(request: web.Request) -> web.Response:
    body: object = None
    with contextlib.suppress(ValueError):
        body = await request.json()
    if not isinstance(body, dict) or "to" not in body:
        raise web.HTTPBadRequest(text='send {"to": a queue\'s transfer code or an extension}')
    try:
        target = check_target(body["to"])
    except CallControlError as exc:
        raise web.HTTPBadRequest(text=f"to: {exc}") from exc
    return await _command(request, Transfer(target))


async def targets(request: web.Request) -> web.Response:
    """The queues an agent may transfer to (those with a transfer code), as its phone could:
    every such queue, not only the agent's own; any other target is an extension."""
    acd = request.app[SERVICE_KEY].acd
    if acd is None:
        raise web.HTTPServiceUnavailable(text="the ACD is not running")
    return web.json_response([{"to": q.transfer_code, "queue": q.name}
                              for q in acd.config().queues.values() if q.transfer_code])


def add_routes(app: web.Application, service: IvrService) -> None:
    app[SERVICE_KEY] = service
    app.router.add_get("/agents/{agent_id}/call/targets", targets)
    app.router.add_post("/agents/{agent_id}/call/hold", hold)
    app.router.add_post("/agents/{agent_id}/call/unhold", unhold)
    app.router.add_post("/agents/{agent_id}/call/transfer", transfer)
