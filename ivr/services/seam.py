"""The one seam between a call and the services that take it over.

A flow's `handoff` node becomes a `HandoffRequest` (flow/types.py). The call looks the request's
kind up in its `Handoffs` (a mapping built once by the app's wiring) and gives the service
itself as a `CallerLeg`: the caller's channel and line, the place it is in, and nothing else.
The call imports no service and a service writes no flag into the call: it moves the caller
(`leg.move(InQueue(...))`), says who ended the call when it does (`leg.ended_by(...)`), and
answers a `HandoffResult`. A feature that is off is simply absent from the mapping: the call
then declines the hand-off and the flow goes on at the node's `next`.

When the call is over, every service in the mapping is told (`call_ended`), so a service that
remembers something per call (the place a caller left in a queue, for the callback it may book
next) forgets it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ..ari import ChannelHandle
from ..flow.types import HandoffKind, HandoffRequest, HandoffResult
from ..media.line import Line
from .place import Place, Whereabouts


class EndedBy(enum.StrEnum):
    """Who ended a call, as the call record keeps it."""

    CALLER = "caller"
    IVR = "ivr"
    AGENT = "agent"
    TRANSFER = "transfer"
    """Taken out of the application into the dialplan (a blind transfer)."""
    SERVICE = "service"
    """A service kept the channel when the flow ended and let it go without saying how."""


class CallerLeg(Protocol):
    """What a service may use of the caller's call while it holds it."""

    id: str
    caller: str
    caller_name: str
    """The caller ID name the call brought ("" when none): an agent's screen shows it."""
    language: str
    handle: ChannelHandle

    async def play(self, prompt_ids: Sequence[str], *, barge_in: bool,
                   secure: bool = False) -> None: ...

    async def read_digit(self, timeout: float, *, secure: bool = False) -> str | None: ...

    def forgive(self, key: str, within: float) -> None: ...

    def discard_typeahead(self) -> None:
        """Forget keys pressed so far (the # that ended a recording is not a review choice)."""

    async def hangup(self) -> None:
        """Hang up from the IVR's side, after a grace that lets the last prompt be heard."""

    def trace(self, event: str, **fields: Any) -> None: ...

    def move(self, place: Place) -> None:
        """Where the caller is now (checked: see place.MOVES)."""

    def ended_by(self, who: EndedBy) -> None:
        """Who ends the call, said just before the service ends it (the first one said wins)."""


class LegOnLine:
    """A CallerLeg on the line engine and a checked place: the part every leg the app drives
    shares (an IVR call, a callback's customer leg). Subclasses set `line` and `whereabouts`;
    who ended the leg is the line's (the pump sees the caller go, the line's hangup is the IVR,
    a service says the rest)."""

    line: Line
    whereabouts: Whereabouts

    @property
    def hangup_by(self) -> str:
        return self.line.ended_by

    async def play(self, prompt_ids: Sequence[str], *, barge_in: bool,
                   secure: bool = False) -> None:
        await self.line.play(prompt_ids, barge_in=barge_in, secure=secure)

    async def read_digit(self, timeout: float, *, secure: bool = False) -> str | None:
        return await self.line.read_digit(timeout, secure=secure)

    def forgive(self, key: str, within: float) -> None:
        self.line.forgive(key, within)

    def discard_typeahead(self) -> None:
        self.line.discard_typeahead()

    async def hangup(self) -> None:
        await self.line.hangup()

    def move(self, place: Place) -> None:
        self.whereabouts.move(place)

    def ended_by(self, who: EndedBy) -> None:
        self.line.ended_by = self.line.ended_by or who.value


class Handoff(Protocol):
    """A service that takes calls from flows (one per HandoffKind)."""

    kind: HandoffKind

    async def take(self, leg: CallerLeg, request: HandoffRequest) -> HandoffResult:
        """Serve the caller. Runs inside the caller's flow task: the caller hanging up cancels
        it, and the service must release what it holds in its `finally`."""

    def call_ended(self, call_id: str) -> None:
        """The call is over: forget anything kept about it."""


Handoffs = Mapping[HandoffKind, Handoff]


def handoffs(*services: Handoff) -> dict[HandoffKind, Handoff]:
    """The registry for calls; two services for one kind is a wiring bug."""
    registry: dict[HandoffKind, Handoff] = {}
    for service in services:
        if service.kind in registry:
            raise ValueError(f"two services take {service.kind.value} hand-offs")
        registry[service.kind] = service
    return registry
