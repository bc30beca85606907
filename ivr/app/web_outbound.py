"""REST surface of outbound campaigns: list and inspect them, start and stop them, import a
contact list (CSV, as `ivr campaign import`), read the attempts and the report; and an agent's
preview offer, accepted or skipped. A supervisor reaches the campaigns of the queues it
supervises; reporting reads them all; an agent its own offer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from ..services.acd.reporting import queue_kpis
from ..services.outbound.campaign import CampaignConfig
from ..services.outbound.contacts_csv import ContactListError, parse_contacts
from ..services.outbound.dialler import CampaignNotFound, Dialler
from ..services.outbound.previews import PreviewError
from ..services.outbound.report import campaign_report
from .service import IvrService
from .web_access import queues_shown, require_queue
from .web_auth import current_user

SERVICE_KEY = web.AppKey("outbound_service", IvrService)
MAX_LIST_BYTES = 20 * 1024 * 1024


def _dialler(request: web.Request) -> Dialler:
    dialler = request.app[SERVICE_KEY].outbound
    if dialler is None:
        raise web.HTTPServiceUnavailable(text="the outbound dialler is not running")
    return dialler


def _campaign(request: web.Request) -> tuple[Dialler, CampaignConfig]:
    dialler = _dialler(request)
    name = request.match_info["campaign"]
    try:
        campaign = dialler.campaign(name)
    except CampaignNotFound:
        raise web.HTTPNotFound(text=f"no campaign {name!r} in campaigns.yaml") from None
    require_queue(current_user(request), request.app[SERVICE_KEY].acd, campaign.queue)
    return dialler, campaign


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else value


async def _summary(dialler: Dialler, campaign: CampaignConfig) -> dict[str, Any]:
    decision = dialler.last.get(campaign.name)
    return {
        "name": campaign.name, "mode": campaign.mode, "queue": campaign.queue,
        "rules": campaign.rules, "running": campaign.name in dialler.running,
        "contacts": await dialler.store.states(campaign.name),
        "in_flight": sum(c.campaign == campaign.name for c in dialler.calls.values()),
        "pacing": None if decision is None else {
            "dial": decision.dial, "reason": decision.reason, "ratio": round(decision.ratio, 3)},
    }


async def list_campaigns(request: web.Request) -> web.Response:
    dialler = _dialler(request)
    shown = queues_shown(current_user(request), request.app[SERVICE_KEY].acd)
    return web.json_response([await _summary(dialler, c)
                              for c in dialler.campaigns().campaigns.values()
                              if shown is None or c.queue in shown])


async def get_campaign(request: web.Request) -> web.Response:
    dialler, campaign = _campaign(request)
    return web.json_response(await _summary(dialler, campaign))


async def run_campaign(request: web.Request) -> web.Response:
    dialler, campaign = _campaign(request)
    action = request.match_info["run"]
    if action not in ("start", "stop"):
        raise web.HTTPNotFound(text="start or stop")
    await dialler.set_running(campaign.name, action == "start", current_user(request).name)
    return web.json_response(await _summary(dialler, campaign))


async def list_attempts(request: web.Request) -> web.Response:
    dialler, campaign = _campaign(request)
    number = request.query.get("number")
    rows = await dialler.store.attempts(campaign.name, number)
    return web.json_response([{k: _iso(v) for k, v in row.items()} for row in rows])


def _time(text: str | None, name: str, default: dt.datetime) -> dt.datetime:
    if text is None:
        return default
    try:
        when = dt.datetime.fromtimestamp(float(text), dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise web.HTTPBadRequest(text=f"{name} must be epoch seconds") from None
    return when


async def get_report(request: web.Request) -> web.Response:
    dialler, campaign = _campaign(request)
    until = _time(request.query.get("until"), "until", dialler.now())
    since = _time(request.query.get("since"), "since", until - dt.timedelta(hours=24))
    try:
        interval = float(request.query.get("interval", "3600"))
    except ValueError:
        raise web.HTTPBadRequest(text="interval must be seconds") from None
    if not since < until or not 60 <= interval <= 31 * 86400:
        raise web.HTTPBadRequest(text="since must come before until, and the interval be "
                                      "60 s to 31 days")
    rows = await dialler.store.attempts_between(campaign.name, since, until)
    report = campaign_report(rows, since, until, dt.timedelta(seconds=interval))
    # The agents' side: their occupancy in the campaign's queue over the span (busy of
    # staffed time, inbound calls included: a blended agent's day is one day).
    occupancy = None
    if campaign.queue and campaign.queue in dialler.acd.config().queues:
        kpis = await queue_kpis(dialler.acd, campaign.queue, since.timestamp(),
                                until.timestamp())
        occupancy = kpis.occupancy
    return web.json_response({"campaign": campaign.name, "queue": campaign.queue or None,
                              "queue_occupancy": occupancy, **report})


async def list_contacts(request: web.Request) -> web.Response:
    dialler, campaign = _campaign(request)
    rows = await dialler.store.contacts(campaign.name, limit=1000)
    return web.json_response([{k: _iso(v) for k, v in row.items()} for row in rows])


async def import_contacts(request: web.Request) -> web.Response:
    """The body is the CSV file itself (text/csv). 400 with every bad row when ?strict=true
    and a row is bad, or when the file itself cannot be read; else the good rows are imported
    (once: a re-import adds nothing) and the bad ones listed."""
    dialler, campaign = _campaign(request)
    data = await request.content.read(MAX_LIST_BYTES + 1)
    if len(data) > MAX_LIST_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_LIST_BYTES, actual_size=len(data))
    languages = request.app[SERVICE_KEY].prompts.languages()
    try:
        parsed = parse_contacts(data, campaign, languages)
    except ContactListError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    rejected = [{"line": r.line, "reason": r.reason} for r in parsed.rejected]
    if parsed.rejected and request.query.get("strict") == "true":
        return web.json_response({"imported": False, "rejected": rejected}, status=400)
    result = await dialler.store.import_contacts(campaign.name, parsed,
                                                 request.query.get("file", ""))
    return web.json_response({"imported": True, "id": result.id, "added": result.added,
                              "present": result.present, "rejected": rejected,
                              "seen_before": result.seen_before}, status=201)


def _agent(request: web.Request) -> str:
    agent_id = request.match_info["agent_id"]
    acd = request.app[SERVICE_KEY].acd
    if acd is None or agent_id not in acd.agents:
        raise web.HTTPNotFound(text=f"no agent {agent_id!r}")
    return agent_id


async def get_preview(request: web.Request) -> web.Response:
    """The contact offered to the agent now, or null."""
    dialler, agent_id = _dialler(request), _agent(request)
    offer = dialler.previews.offer_of(agent_id)
    return web.json_response(None if offer is None else offer.event.to_json())


async def answer_preview(request: web.Request) -> web.Response:
    dialler, agent_id = _dialler(request), _agent(request)
    what = request.match_info["answer"]
    if what not in ("accept", "skip"):
        raise web.HTTPNotFound(text="accept or skip")
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("call_id"), str):
        raise web.HTTPBadRequest(text='send {"call_id": the offer\'s call_id}')
    try:
        if what == "skip":
            await dialler.previews.skip(agent_id, body["call_id"])
            return web.json_response({"skipped": body["call_id"]})
        task = await dialler.previews.accept(agent_id, body["call_id"])
    except PreviewError as exc:
        raise web.HTTPConflict(text=str(exc)) from None
    if task is None:
        raise web.HTTPConflict(text="the compliance gate refuses this number now; the offer "
                                    "is withdrawn")
    return web.json_response({"accepted": body["call_id"]}, status=202)


def add_routes(app: web.Application, service: IvrService) -> None:
    app[SERVICE_KEY] = service
    app.router.add_get("/campaigns", list_campaigns)
    app.router.add_get("/campaigns/{campaign}", get_campaign)
    app.router.add_post("/campaigns/{campaign}/contacts", import_contacts)
    app.router.add_get("/campaigns/{campaign}/contacts", list_contacts)
    app.router.add_get("/campaigns/{campaign}/attempts", list_attempts)
    app.router.add_get("/campaigns/{campaign}/report", get_report)
    app.router.add_post("/campaigns/{campaign}/{run}", run_campaign)
    app.router.add_get("/agents/{agent_id}/preview", get_preview)
    app.router.add_post("/agents/{agent_id}/preview/{answer}", answer_preview)
