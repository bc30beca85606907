"""Who may call which route: one table, read by the auth middleware and the OpenAPI document.

Every route of the app is a row: (method, path) -> a summary and, per role, a check of the
request. A role without a check may not call the route at all (403); a route missing from the
table is refused to everyone (a test checks that the table and the router agree), so a new
route is closed until someone says who may call it. `admin` may call every route that is not
public. Checks see the matched path (`agent_id`, `name`) and the query; a list route that
several roles may read filters what it returns with `visible_queues` / `visible_agents`.

What a role may do, in words:
- agent: itself only (its state, its actions, its screen-pop events) and the queues it serves;
- supervisor: the queues it supervises (`User.queues`), their KPIs and log, their agents, and
  the do-not-call list;
- reporting: reads queues, agents, KPIs, the queue log, live calls, call records and
  callbacks; changes nothing; no voicemail audio;
- admin: everything.
A supervisor also reaches the live calls, call records, callbacks and voicemail of its queues:
those routes let it in (`anyone`) and the handler, which knows the call's or message's queue,
filters a list with `queues_shown` or refuses one item of another queue with `require_queue`
(403). A call record knows the queues its call entered; a call in the IVR, before any queue,
is no supervisor's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from ..services.acd.engine import Acd
from ..services.users.model import Role, User

Check = Callable[[web.Request, User, Acd | None], bool]
"""May this user make this request? (the ACD for membership; None while it is not running)"""


def anyone(_request: web.Request, _user: User, _acd: Acd | None) -> bool:
    return True


def itself(request: web.Request, user: User, _acd: Acd | None) -> bool:
    return request.match_info.get("agent_id") == user.agent_id


def own_queue(request: web.Request, user: User, _acd: Acd | None) -> bool:
    return request.match_info.get("name") in user.queues


def own_queue_in_query(request: web.Request, user: User, _acd: Acd | None) -> bool:
    return request.query.get("queue") in user.queues


def serves_queue(request: web.Request, user: User, acd: Acd | None) -> bool:
    """The agent user is a member of the queue in the path."""
    if acd is None:
        return False
    queue = acd.config().queues.get(request.match_info.get("name", ""))
    return queue is not None and user.agent_id in {a.id for a in acd.config().agents_of(queue)}


def agent_of_own_queue(request: web.Request, user: User, acd: Acd | None) -> bool:
    """The agent in the path serves one of the supervisor's queues."""
    if acd is None:
        return False
    visible = visible_agents(user, acd)
    return visible is None or request.match_info.get("agent_id") in visible


def visible_queues(user: User, acd: Acd) -> set[str] | None:
    """The queues a list shows this user; None: all of them."""
    if user.role in (Role.ADMIN, Role.REPORTING):
        return None
    config = acd.config()
    if user.role is Role.SUPERVISOR:
        return set(user.queues) & set(config.queues)
    return {q.name for q in config.queues.values()
            if user.agent_id in {a.id for a in config.agents_of(q)}}


def visible_agents(user: User, acd: Acd) -> set[str] | None:
    """The agents a list shows this user; None: all of them."""
    if user.role in (Role.ADMIN, Role.REPORTING):
        return None
    if user.role is Role.AGENT:
        return {user.agent_id}
    config = acd.config()
    return {a.id for name in user.queues if (q := config.queues.get(name)) is not None
            for a in config.agents_of(q)}


def queues_shown(user: User, acd: Acd | None) -> set[str] | None:
    """The queues whose calls, records, callbacks and messages this user sees; None: all.
    Without a running ACD a supervisor still has the queues its user names."""
    if user.role in (Role.ADMIN, Role.REPORTING):
        return None
    if acd is not None:
        return visible_queues(user, acd)
    return set(user.queues) if user.role is Role.SUPERVISOR else set()


def require_queue(user: User, acd: Acd | None, *queues: str) -> None:
    """403 unless the user sees one of `queues` (the queues of the item asked for)."""
    shown = queues_shown(user, acd)
    if shown is not None and not shown.intersection(queues):
        raise web.HTTPForbidden(text="this belongs to a queue you do not supervise")


@dataclass(frozen=True)
class Access:
    summary: str
    roles: Mapping[Role, Check] = field(default_factory=dict)
    public: bool = False
    """Anyone, logged in or not (health, the login itself, the API document)."""
    query: Mapping[str, str] = field(default_factory=dict)
    """The query parameters the route reads: name -> what it means (the OpenAPI document
    lists them; a unit test finds every one the handler reads here)."""
    body: str = ""
    """The JSON body the route reads, in words ("" when it reads none)."""

    def allows(self, request: web.Request, user: User, acd: Acd | None) -> bool:
        if user.role is Role.ADMIN:
            return True
        check = self.roles.get(user.role)
        return check is not None and check(request, user, acd)


A, S, R = Role.AGENT, Role.SUPERVISOR, Role.REPORTING
READ: dict[Role, Check] = {R: anyone}
SEEN: dict[Role, Check] = {S: anyone, R: anyone}
"""Reporting reads all of it; a supervisor its queues' part (the handler filters)."""
SUPERVISED: dict[Role, Check] = {S: anyone}
"""A supervisor, on its queues' items only (the handler checks); not reporting."""

WINDOW = {"since": "start, epoch seconds (default: `hours` before `until`)",
          "until": "end, epoch seconds (default: now)",
          "hours": "the window's length back from `until` (default 24)"}
"""The time window of the KPI and queue-log routes (web_acd._window)."""
MESSAGES = {"heard": "true: the heard only; false: the unheard only",
            "limit": "at most this many (default 100, up to 1000)"}

TABLE: dict[tuple[str, str], Access] = {
    ("GET", "/health"): Access("Whether the app is up and connected to Asterisk", public=True),
    ("GET", "/openapi.json"): Access("This API, as an OpenAPI 3.1 document", public=True),
    ("POST", "/auth/login"): Access("Log in: a session cookie and its CSRF token", public=True,
                                    body='{"user": name, "password": text}'),
    ("POST", "/auth/logout"): Access("End this session", {A: anyone, S: anyone, R: anyone}),
    ("GET", "/auth/me"): Access("Who is logged in, and this session's CSRF token",
                                {A: anyone, S: anyone, R: anyone}),
    ("GET", "/"): Access("The web console (a redirect to /console/)", public=True),
    ("GET", "/console/"): Access("The web console's page", public=True),
    ("GET", "/console/{name}"): Access("The web console's files (no data in them)",
                                       public=True),
    ("GET", "/dispositions"): Access("The disposition codes of a wrap-up",
                                     {A: anyone, S: anyone, R: anyone},
                                     query={"queue": "only the codes of this queue's calls"}),
    ("POST", "/agents/{agent_id}/wrapup"): Access(
        "Save the disposition and notes of a call the agent took", {A: itself},
        body='{"call_id": the call, "disposition": a code, "notes": text}'),
    ("GET", "/agents/{agent_id}/calls/{call_id}/history"): Access(
        "The earlier contacts of the caller of a call the agent takes", {A: itself}),
    ("GET", "/wallboard"): Access("The wallboard: queues live and today, agents, colours",
                                  {S: anyone, R: anyone}),
    ("GET", "/wallboard/events"): Access("The wallboard, pushed as it changes (WebSocket)",
                                         {S: anyone, R: anyone}),
    ("GET", "/flows"): Access("The flows served, with their versions", {S: anyone, R: anyone}),
    ("GET", "/flows/{name}/graph.svg"): Access("A flow's picture (SVG)",
                                               {S: anyone, R: anyone}),
    ("GET", "/metrics"): Access("Prometheus metrics (text format)", READ),
    ("GET", "/calls"): Access("Live calls and where each caller is", SEEN),
    ("GET", "/calls/{call_id}/trace"): Access("A live call's trace", SEEN),
    ("GET", "/records"): Access("Call records, newest first: by caller, outcome, flow, "
                                "queue, date", SEEN,
                                query={"caller": "the caller's number", "outcome": "one of "
                                       "the outcomes", "flow": "a flow's name",
                                       "queue": "calls that entered this queue",
                                       "since": "started at or after (ISO date or time)",
                                       "until": "started before (ISO date or time)",
                                       "limit": "at most this many (default 100, up to "
                                                "1000)"}),
    ("GET", "/records/{call_id}"): Access("One call record", SEEN),
    ("GET", "/records/{call_id}/trace"): Access("An ended call's saved trace", SEEN),
    ("GET", "/queues"): Access("Queues, live", {A: anyone, S: anyone, R: anyone}),
    ("GET", "/queues/{name}"): Access("One queue, live",
                                      {A: serves_queue, S: own_queue, R: anyone}),
    ("GET", "/queues/{name}/kpis"): Access("A queue's KPIs over a window",
                                           {S: own_queue, R: anyone}, query=WINDOW),
    ("GET", "/queues/{name}/intervals"): Access(
        "A queue's day by 15 minutes, with the agents Erlang C says each needed",
        {S: own_queue, R: anyone},
        query={"since": "the day's start, epoch seconds (default: today's, local time)"}),
    ("GET", "/kpis"): Access("KPIs of every queue over a window", READ, query=WINDOW),
    ("GET", "/queue_log"): Access("The queue log, in Asterisk's queue_log format",
                                  {S: own_queue_in_query, R: anyone},
                                  query={**WINDOW, "queue": "one queue's lines (and NONE's)"}),
    ("GET", "/agents"): Access("Agents and their states", {A: anyone, S: anyone, R: anyone}),
    ("GET", "/agents/{agent_id}"): Access("One agent",
                                          {A: itself, S: agent_of_own_queue, R: anyone}),
    ("GET", "/agents/{agent_id}/events"): Access(
        "An agent's screen pops and state changes (WebSocket)",
        {A: itself, S: agent_of_own_queue}),
    ("GET", "/agents/{agent_id}/call/targets"): Access(
        "The queues the agent may blind-transfer to, with their transfer codes",
        {A: itself, S: agent_of_own_queue}),
    ("POST", "/agents/{agent_id}/call/hold"): Access(
        "Put the caller the agent talks to on hold (music; out of the conversation)",
        {A: itself, S: agent_of_own_queue}),
    ("POST", "/agents/{agent_id}/call/unhold"): Access(
        "Take the agent's caller off hold, back into the conversation",
        {A: itself, S: agent_of_own_queue}),
    ("POST", "/agents/{agent_id}/call/transfer"): Access(
        "Blind-transfer the agent's caller: to a queue (its transfer code) or an extension",
        {A: itself, S: agent_of_own_queue},
        body='{"to": a queue\'s transfer code or an extension, 1-20 of 0-9 and *}'),
    ("POST", "/agents/{agent_id}/{action}"): Access(
        "Log an agent in or out, pause or unpause it", {A: itself, S: agent_of_own_queue},
        query={"reason": "pause: a reason code of queues.yaml or text"},
        body='pause: {"reason": ...}, which wins over ?reason='),
    ("GET", "/messages"): Access("Voicemail messages", SUPERVISED, query=MESSAGES),
    ("GET", "/mailboxes/{mailbox}/messages"): Access("A mailbox's messages", SUPERVISED,
                                                     query=MESSAGES),
    ("GET", "/messages/{message_id}"): Access("One voicemail message", SUPERVISED),
    ("GET", "/messages/{message_id}/audio"): Access("A message's audio (WAV)", SUPERVISED),
    ("POST", "/messages/{message_id}/{what}"): Access("Mark a message heard or unheard",
                                                      SUPERVISED),
    ("DELETE", "/messages/{message_id}"): Access("Delete a message and its audio", SUPERVISED),
    ("GET", "/callbacks"): Access("Callback requests", SEEN,
                                  query={"state": "active, or states separated by commas",
                                         "queue": "one queue's"}),
    ("POST", "/callbacks"): Access("Book a callback", SUPERVISED,
                                   body='{"queue", "number", "language"?, "not_before"? (ISO '
                                        'time with offset), "timezone"? (IANA name)}'),
    ("GET", "/callbacks/{callback_id}"): Access("One callback request and its attempts", SEEN),
    ("DELETE", "/callbacks/{callback_id}"): Access("Cancel a callback", SUPERVISED),
    ("POST", "/callbacks/{callback_id}/cancel"): Access("Cancel a callback", SUPERVISED),
    ("POST", "/callbacks/{callback_id}/reschedule"): Access("Move a callback's next attempt",
                                                            SUPERVISED,
                                                            body='{"not_before": ISO time '
                                                                 'with offset}'),
    ("GET", "/dnc"): Access("The do-not-call list", {S: anyone, R: anyone}),
    ("PUT", "/dnc/{number}"): Access("Add a number to the do-not-call list", {S: anyone},
                                     body='{"reason"?: text}'),
    ("POST", "/dnc/{number}"): Access("Add a number to the do-not-call list", {S: anyone},
                                      body='{"reason"?: text}'),
    ("DELETE", "/dnc/{number}"): Access("Take a number off the do-not-call list",
                                        {S: anyone}),
    # outbound: a supervisor, the campaigns of its queues (the handler checks the queue)
    ("GET", "/campaigns"): Access("Outbound campaigns: mode, queue, running, contacts by "
                                  "state, the last pacing decision", SEEN),
    ("GET", "/campaigns/{campaign}"): Access("One outbound campaign", SEEN),
    ("POST", "/campaigns/{campaign}/contacts"): Access(
        "Import a contact list into the campaign (the body is the CSV file)", SUPERVISED,
        query={"strict": "true: any bad row and nothing is imported (400)",
               "file": "the file's name, kept with the import"},
        body="the CSV file: number, then optional timezone/region, language, name, consent "
             "columns and custom fields"),
    ("GET", "/campaigns/{campaign}/contacts"): Access("The campaign's contacts and their "
                                                      "states", SEEN),
    ("GET", "/campaigns/{campaign}/attempts"): Access(
        "The campaign's attempts, newest first, or one number's", SEEN,
        query={"number": "one number's attempts, oldest first"}),
    ("GET", "/campaigns/{campaign}/report"): Access(
        "A campaign's figures per interval: dials, refusals, results, connected, abandoned "
        "and its rate, talk, dispositions", SEEN,
        query={"since": "start, epoch seconds (default: 24 h before until)",
               "until": "end, epoch seconds (default: now)",
               "interval": "seconds per interval (default 3600)"}),
    ("POST", "/campaigns/{campaign}/{run}"): Access("Start or stop dialling a campaign",
                                                    SUPERVISED),
    ("GET", "/agents/{agent_id}/preview"): Access(
        "The preview campaign's contact offered to the agent now, or null",
        {A: itself, S: agent_of_own_queue}),
    ("POST", "/agents/{agent_id}/preview/{answer}"): Access(
        "Accept the offered contact (the agent's phone rings, then the customer's) or skip "
        "it", {A: itself, S: agent_of_own_queue}, body='{"call_id": the offer\'s call_id}'),
}


PATH_VALUES: dict[str, tuple[str, ...]] = {
    "what": ("heard", "unheard"),
    "action": ("login", "logout", "pause", "unpause"),
    "run": ("start", "stop"),
    "answer": ("accept", "skip"),
}
"""Path parameters that take one of a few values (the OpenAPI document lists them)."""


def canonical(request: web.Request) -> str:
    """The matched route's path template (`/agents/{agent_id}`), whatever regex it has."""
    route = request.match_info.route
    resource = route.resource
    if resource is None:
        return request.path
    info = resource.get_info()
    return str(info.get("formatter") or info.get("path") or request.path)


def access_of(request: web.Request) -> Access | None:
    method = "GET" if request.method == "HEAD" else request.method
    return TABLE.get((method, canonical(request)))
