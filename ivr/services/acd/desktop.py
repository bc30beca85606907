"""What an agent's desktop hears: the events sent over `GET /agents/{id}/events` (web_acd.py).

Each event is a frozen dataclass whose fields are exactly its JSON keys (with "type" first),
so a desktop developer can read the wire form off the class, and the published schema
(docs/desktop-events.schema.json) is checked against these classes by a unit test
(tests/unit/test_desktop_events.py). `Desktops.publish` takes nothing else: a message a sender
makes up cannot reach a desktop without a class, and so without the schema.

| type | when |
| --- | --- |
| agent_state | on connecting, and on every change of the agent |
| screen_pop | an agent is rung for a caller, or has answered for a callback (agent-first) |
| connected | the agent is bridged with the caller or the called-back customer |
| hold | the caller was put on hold, or taken off it |
| call_ended | that conversation ended |
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TypeAlias

from . import queue_log as ql
from .agents import Agent

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "EVENTS",
    "AgentStateEvent",
    "CallConnected",
    "CallEnded",
    "CallHold",
    "CallKind",
    "CallbackOrigin",
    "DesktopEvent",
    "Desktops",
    "HowEnded",
    "IvrInput",
    "IvrOrigin",
    "Json",
    "Origin",
    "OutboundOrigin",
    "OutboundTry",
    "PreviewOffer",
    "ScreenPop",
]

Json: TypeAlias = "str | int | float | bool | list[Json] | dict[str, Json] | None"

LISTENER_BACKLOG = 100
"""Events kept for a desktop that does not read: past that the oldest are dropped."""


class CallKind(enum.StrEnum):
    """What a screen pop is about."""

    CALL = "call"
    """A caller who came through the IVR and waits on the line."""
    CALLBACK = "callback"
    """A callback: agent-first, the agent is about to dial the customer; customer-first, the
    customer was called back and waits on the line."""
    OUTBOUND = "outbound"
    """A campaign's contact who answered and was put through to the agent (services/outbound)."""


class HowEnded(enum.StrEnum):
    """A call_ended's `how`. For a call the ACD queued, the queue_log verb that completed it;
    for an agent-first callback, `callback` (the attempt's result is in /callbacks/{id})."""

    COMPLETEAGENT = ql.COMPLETEAGENT
    COMPLETECALLER = ql.COMPLETECALLER
    TRANSFER = ql.TRANSFER
    CALLBACK = "callback"


@dataclass(frozen=True, slots=True)
class IvrOrigin:
    """A caller from a flow: what the IVR learnt, for its screen pop."""

    path: tuple[str, ...] = ()
    """The flow's nodes the caller went through."""
    account: str | None = None
    """The account number, only if the caller passed accounts.verify_pin in this call."""
    inputs: tuple[IvrInput, ...] = ()
    """What the caller keyed (or said) at each menu and entry, secure entries masked."""


@dataclass(frozen=True, slots=True)
class IvrInput:
    """One answer the caller gave the IVR: a menu's key or an entry's digits ("***" when the
    entry was secure: a PIN never reaches a desktop)."""

    node: str
    value: str


@dataclass(frozen=True, slots=True)
class CallbackOrigin:
    """A callback, for the screen pop of the agent who serves it."""

    callback: str
    """The callback's id (GET /callbacks/{id})."""
    source: str
    """Where it was asked for: queue (a key while waiting), node, voicemail, api."""
    message_id: str | None
    """The voicemail message it came from."""
    attempt: int
    """This attempt's number, from 1."""


@dataclass(frozen=True, slots=True)
class OutboundTry:
    """One earlier attempt to reach an outbound contact, for the agent's screen."""

    at: str
    """ISO 8601, UTC."""
    result: str


@dataclass(frozen=True, slots=True)
class OutboundOrigin:
    """A campaign's contact, for the screen pop of the agent it is put through to."""

    campaign: str
    contact: str
    """The contact's id (GET /campaigns/{campaign}/contacts)."""
    attempt: int
    """This attempt's number, from 1."""
    fields: Mapping[str, str]
    """The contact list's own columns for this contact (balance, due date...)."""
    history: tuple[OutboundTry, ...]
    """The earlier attempts of this campaign to the contact, oldest first."""


Origin: TypeAlias = IvrOrigin | CallbackOrigin | OutboundOrigin


def _fields_json(event: DataclassInstance) -> dict[str, Json]:
    return {f.name: _wire(getattr(event, f.name)) for f in dataclasses.fields(event)}


def _wire(value: object) -> Json:
    """A field's value as JSON: enums as their text, tuples as lists."""
    if isinstance(value, enum.Enum):
        return _wire(value.value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, tuple | list):
        return [_wire(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _wire(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _fields_json(value)
    raise TypeError(f"no JSON form for {type(value).__name__}")


def _as_json(kind: str, event: DataclassInstance) -> dict[str, Json]:
    return {"type": kind, **_fields_json(event)}


@dataclass(frozen=True, slots=True)
class AgentStateEvent:
    """The agent's view (as GET /agents/{id} answers it), on connecting and on every change."""

    TYPE: ClassVar[str] = "agent_state"
    id: str
    name: str
    endpoint: str
    state: str
    pause_reason: str | None
    in_state_s: float
    calls_taken: int
    missed_in_row: int
    pending: str | None
    """'pause:<reason>' or 'logout' asked for during a call."""
    call: str | None
    skills: Mapping[str, int]

    @classmethod
    def of(cls, agent: Agent, now: float) -> AgentStateEvent:
        return cls(**agent.view(now))

    def to_json(self) -> dict[str, Json]:
        return _as_json(self.TYPE, self)


@dataclass(frozen=True, slots=True)
class ScreenPop:
    """Who is coming, sent to every agent rung for a caller (all of them with ring_all), or to
    the agent who answered for an agent-first callback. Every key is always there; what does
    not apply to the kind is null."""

    TYPE: ClassVar[str] = "screen_pop"
    kind: CallKind
    agent: str
    call_id: str
    """The caller's channel; for an agent-first callback, the callback's id."""
    queue: str
    caller: str
    """The caller's number, or the number called back."""
    caller_name: str
    """The caller's name as the call brought it (caller ID name), or the callback's contact
    name; "" when unknown."""
    language: str
    priority: int
    waited_s: float | None
    """Since the caller's place in the queue; null for an agent-first callback (nobody is on
    the line yet)."""
    path: tuple[str, ...] | None
    """IvrOrigin.path; null for a callback."""
    account: str | None
    """IvrOrigin.account; null for a callback."""
    inputs: tuple[IvrInput, ...] | None
    """IvrOrigin.inputs; null for a callback."""
    callback: str | None
    source: str | None
    message_id: str | None
    attempt: int | None
    """CallbackOrigin's fields (an outbound contact's attempt too); null for a call."""
    campaign: str | None
    contact: str | None
    fields: Mapping[str, str] | None
    history: tuple[OutboundTry, ...] | None
    """OutboundOrigin's fields; null for a call or a callback."""

    @classmethod
    def of(cls, origin: Origin, *, agent: str, call_id: str, queue: str, caller: str,
           caller_name: str, language: str, priority: int,
           waited_s: float | None) -> ScreenPop:
        ivr = origin if isinstance(origin, IvrOrigin) else None
        cb = origin if isinstance(origin, CallbackOrigin) else None
        out = origin if isinstance(origin, OutboundOrigin) else None
        kind = CallKind.CALL if ivr else CallKind.CALLBACK if cb else CallKind.OUTBOUND
        return cls(kind=kind, agent=agent,
                   call_id=call_id, queue=queue, caller=caller, caller_name=caller_name,
                   language=language,
                   priority=priority, waited_s=waited_s,
                   path=ivr.path if ivr else None, account=ivr.account if ivr else None,
                   inputs=ivr.inputs if ivr else None,
                   callback=cb.callback if cb else None, source=cb.source if cb else None,
                   message_id=cb.message_id if cb else None,
                   attempt=cb.attempt if cb else out.attempt if out else None,
                   campaign=out.campaign if out else None,
                   contact=out.contact if out else None,
                   fields=dict(out.fields) if out else None,
                   history=out.history if out else None)

    def to_json(self) -> dict[str, Json]:
        return _as_json(self.TYPE, self)


@dataclass(frozen=True, slots=True)
class CallConnected:
    """The agent is bridged with the caller (or the called-back customer)."""

    TYPE: ClassVar[str] = "connected"
    call_id: str
    queue: str

    def to_json(self) -> dict[str, Json]:
        return _as_json(self.TYPE, self)


@dataclass(frozen=True, slots=True)
class CallHold:
    """The caller of the agent's conversation was put on hold (held) or taken off it."""

    TYPE: ClassVar[str] = "hold"
    call_id: str
    held: bool

    def to_json(self) -> dict[str, Json]:
        return _as_json(self.TYPE, self)


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The conversation the agent was connected to ended (wrap-up follows)."""

    TYPE: ClassVar[str] = "call_ended"
    call_id: str
    how: HowEnded

    def to_json(self) -> dict[str, Json]:
        return _as_json(self.TYPE, self)


@dataclass(frozen=True, slots=True)
class PreviewOffer:
    """A preview campaign's contact offered to the agent, to accept (the agent's phone rings,
    then the customer's) or skip: POST /agents/{id}/preview/accept or /skip. `withdrawn` true:
    the offer is gone (the agent paused or logged out, the campaign stopped); its other fields
    are the offer's."""

    TYPE: ClassVar[str] = "preview"
    call_id: str
    """The attempt's id: the channel the customer will be dialled on."""
    campaign: str
    contact: str
    number: str
    name: str
    language: str
    fields: Mapping[str, str]
    history: tuple[OutboundTry, ...]
    attempt: int
    withdrawn: bool = False

    def to_json(self) -> dict[str, Json]:
        return _as_json(self.TYPE, self)


DesktopEvent: TypeAlias = (AgentStateEvent | ScreenPop | CallConnected | CallHold | CallEnded
                           | PreviewOffer)
EVENTS: tuple[type[DesktopEvent], ...] = (AgentStateEvent, ScreenPop, CallConnected, CallHold,
                                          CallEnded, PreviewOffer)
"""Every class of DesktopEvent (the schema test walks them)."""


class Desktops:
    """The desktops listening now, per agent (an agent may have more than one open)."""

    def __init__(self) -> None:
        self._listeners: dict[str, set[asyncio.Queue[DesktopEvent]]] = {}

    def listen(self, agent_id: str) -> asyncio.Queue[DesktopEvent]:
        queue: asyncio.Queue[DesktopEvent] = asyncio.Queue(maxsize=LISTENER_BACKLOG)
        self._listeners.setdefault(agent_id, set()).add(queue)
        return queue

    def unlisten(self, agent_id: str, queue: asyncio.Queue[DesktopEvent]) -> None:
        self._listeners.get(agent_id, set()).discard(queue)

    def publish(self, agent_id: str, event: DesktopEvent) -> None:
        for queue in list(self._listeners.get(agent_id, ())):
            if queue.full():  # a stuck desktop loses old news, never the latest
                queue.get_nowait()
            queue.put_nowait(event)


class Changes:
    """Wakes whoever watches the ACD as a whole (wallboards) when anything they show may have
    changed: a queue_log event or an agent's state. A watcher coalesces: however many changes
    came while it was busy, it wakes once."""

    def __init__(self) -> None:
        self._watchers: set[asyncio.Event] = set()

    def watch(self) -> asyncio.Event:
        event = asyncio.Event()
        self._watchers.add(event)
        return event

    def unwatch(self, event: asyncio.Event) -> None:
        self._watchers.discard(event)

    def notify(self) -> None:
        for event in self._watchers:
            event.set()
