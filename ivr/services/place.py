"""Where a caller is, as a checked state machine: the one answer the trace, the call record,
`GET /calls` and an agent's desktop all read.

A call is always in exactly one `Place`: answering, in a node of a flow, waiting in a queue,
ringing an agent, talking to one, leaving a message, booking a callback, being transferred, or
ended. The services that hold the caller move it (`Whereabouts.move`); the moves a call may make
are declared in `MOVES`, so a service that, say, connects a caller who was never queued is a
bug: it raises where `strict` (tests) and is logged otherwise (production keeps the call going).

Every accepted move is one `PlaceChanged` event handed to the listeners (the call's trace; the
desktop notifier later). Places are frozen dataclasses: a new position in the queue is a new
place of the same kind, which is a move too.
"""

from __future__ import annotations

import enum
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

log = logging.getLogger(__name__)


class PlaceKind(enum.StrEnum):
    ANSWERING = "answering"
    IN_FLOW = "in_flow"
    IN_QUEUE = "in_queue"
    RINGING_AGENT = "ringing_agent"
    WITH_AGENT = "with_agent"
    LEAVING_MESSAGE = "leaving_message"
    BOOKING_CALLBACK = "booking_callback"
    TRANSFERRING = "transferring"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Answering:
    """The channel entered the application; the IVR has not answered yet."""

    kind: ClassVar[PlaceKind] = PlaceKind.ANSWERING


@dataclass(frozen=True, slots=True)
class InFlow:
    """The IVR walks a flow with the caller. The node itself changes too often to be a move:
    the call fills it in when it is asked (`Call.place`), the trace has every `node` event."""

    flow: str
    node: str = ""
    kind: ClassVar[PlaceKind] = PlaceKind.IN_FLOW


@dataclass(frozen=True, slots=True)
class InQueue:
    queue: str
    position: int
    kind: ClassVar[PlaceKind] = PlaceKind.IN_QUEUE


@dataclass(frozen=True, slots=True)
class RingingAgent:
    queue: str
    agents: tuple[str, ...]
    kind: ClassVar[PlaceKind] = PlaceKind.RINGING_AGENT


@dataclass(frozen=True, slots=True)
class WithAgent:
    queue: str
    agent: str
    kind: ClassVar[PlaceKind] = PlaceKind.WITH_AGENT


@dataclass(frozen=True, slots=True)
class LeavingMessage:
    mailbox: str
    recording: bool = False
    """False during the greeting, True once a take is being recorded (the call then counts as
    voicemail however it ends)."""
    kind: ClassVar[PlaceKind] = PlaceKind.LEAVING_MESSAGE


@dataclass(frozen=True, slots=True)
class BookingCallback:
    queue: str
    kind: ClassVar[PlaceKind] = PlaceKind.BOOKING_CALLBACK


@dataclass(frozen=True, slots=True)
class Transferring:
    target: str
    kind: ClassVar[PlaceKind] = PlaceKind.TRANSFERRING


@dataclass(frozen=True, slots=True)
class Ended:
    how: str
    """Who or what ended it: caller, ivr, agent, transfer, service."""
    kind: ClassVar[PlaceKind] = PlaceKind.ENDED


Place = (Answering | InFlow | InQueue | RingingAgent | WithAgent | LeavingMessage
         | BookingCallback | Transferring | Ended)

_K = PlaceKind
MOVES: dict[PlaceKind, frozenset[PlaceKind]] = {
    # a leg the app dialled out (a callback's customer) goes from its answer to a queue
    _K.ANSWERING: frozenset({_K.IN_FLOW, _K.IN_QUEUE, _K.ENDED}),
    _K.IN_FLOW: frozenset({_K.IN_QUEUE, _K.LEAVING_MESSAGE, _K.BOOKING_CALLBACK,
                           _K.TRANSFERRING, _K.ENDED}),
    # a resumed wait may find its call already bridged (WITH_AGENT); a key or a limit gives
    # the caller back to the flow; position changes are moves within IN_QUEUE
    _K.IN_QUEUE: frozenset({_K.IN_QUEUE, _K.RINGING_AGENT, _K.WITH_AGENT, _K.IN_FLOW,
                            _K.ENDED}),
    _K.RINGING_AGENT: frozenset({_K.RINGING_AGENT, _K.IN_QUEUE, _K.WITH_AGENT, _K.IN_FLOW,
                                 _K.ENDED}),
    # an agent's transfer to another queue queues the caller again
    _K.WITH_AGENT: frozenset({_K.IN_QUEUE, _K.TRANSFERRING, _K.ENDED}),
    _K.LEAVING_MESSAGE: frozenset({_K.LEAVING_MESSAGE, _K.IN_FLOW, _K.ENDED}),
    _K.BOOKING_CALLBACK: frozenset({_K.IN_FLOW, _K.ENDED}),
    _K.TRANSFERRING: frozenset({_K.ENDED}),
    _K.ENDED: frozenset(),
}
"""The moves a call may make: from a kind of place, the kinds it may go to."""


class IllegalMove(Exception):
    """A service moved a caller in a way MOVES does not allow: a bug in that service."""


@dataclass(frozen=True, slots=True)
class PlaceChanged:
    """One accepted move. `at` is wall-clock seconds (the trace stamps its own time)."""

    call_id: str
    previous: Place
    place: Place
    at: float

    def fields(self) -> dict[str, Any]:
        """The event as trace fields: `place` (kind), `from` (kind) and the place's data."""
        return {"place": self.place.kind.value, "from": self.previous.kind.value,
                **view(self.place)}


def view(place: Place) -> dict[str, Any]:
    """A place as JSON: its kind's data (the kind itself is the caller's business)."""
    return {key: list(value) if isinstance(value, tuple) else value
            for key, value in asdict(place).items()}


Listener = Callable[[PlaceChanged], None]

STRICT_ENV = "IVR_STRICT_PLACES"
"""Set to 1 (the test suites do, and pass it to the app they start): an illegal move raises."""


def strict_by_default() -> bool:
    return os.environ.get(STRICT_ENV, "") == "1"


@dataclass
class Whereabouts:
    """The checked place of one call, its history, and who hears of every move."""

    call_id: str
    strict: bool = field(default_factory=strict_by_default)
    """Raise IllegalMove (tests); False logs it and makes the move anyway (production)."""
    place: Place = field(default_factory=Answering)
    history: list[Place] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self.history.append(self.place)

    def move(self, place: Place) -> None:
        """Go to `place`; the same place again is no move and tells nobody."""
        previous = self.place
        if place == previous:
            return
        if place.kind not in MOVES[previous.kind]:
            message = (f"call {self.call_id}: illegal move {previous.kind.value} -> "
                       f"{place.kind.value} ({view(previous)} -> {view(place)})")
            if self.strict:
                raise IllegalMove(message)
            log.error("%s", message)
        self.place = place
        self.history.append(place)
        event = PlaceChanged(self.call_id, previous, place, self.clock())
        for listener in list(self.listeners):
            listener(event)

    def ever(self, kind: PlaceKind) -> bool:
        return any(place.kind is kind for place in self.history)

    def been(self, predicate: Callable[[Place], bool]) -> bool:
        return any(predicate(place) for place in self.history)

    @property
    def ended(self) -> bool:
        return self.place.kind is PlaceKind.ENDED
