"""Callbacks as a hand-off service: a flow's `callback` node, through the call seam."""

from __future__ import annotations

from collections.abc import Callable

from ...flow.types import DECLINED, TAKEN, HandoffKind, HandoffRequest, HandoffResult
from ..acd.store import EntryRow
from ..place import BookingCallback
from ..seam import CallerLeg
from .booking import book_callback
from .service import Callbacks

PlaceLeft = Callable[[str, str], EntryRow | None]
"""(call id, queue) -> the place the caller just left in that queue (acd.handoff.QueueHandoff)."""


class CallbackHandoff:
    """The caller confirms a number and a time, the promise is stored, the IVR says goodbye.
    Asked for from inside a queue (key 2 while waiting, or a limit that routed here), the
    callback keeps the place the caller had."""

    kind = HandoffKind.CALLBACK

    def __init__(self, callbacks: Callbacks, place_left: PlaceLeft) -> None:
        self.callbacks = callbacks
        self.place_left = place_left

    async def take(self, leg: CallerLeg, request: HandoffRequest) -> HandoffResult:
        place = self.place_left(leg.id, request.target)
        leg.move(BookingCallback(request.target))
        booked = await book_callback(self.callbacks, leg, request.target, place=place,
                                     source="queue" if place else "node")
        if booked is None:
            return DECLINED
        await leg.hangup()
        return TAKEN

    def call_ended(self, call_id: str) -> None:
        """The booked callback is stored; nothing is kept per call here."""
