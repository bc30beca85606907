"""Queues as a hand-off service: a flow's `queue` node, through the call seam."""

from __future__ import annotations

import asyncio
from typing import assert_never

from ...flow.expr import Value
from ...flow.types import DECLINED, TAKEN, HandoffKind, HandoffRequest, HandoffResult, routed
from ..seam import CallerLeg, EndedBy
from .desktop import IvrInput, IvrOrigin
from .engine import Acd
from .results import Left, QueueResult, Served, TransferredOut, UnknownQueue
from .store import EntryRow
from .waiting import QueueRequest, wait


def handoff_result(result: QueueResult) -> HandoffResult:
    """A queue wait as the flow's hand-off answers it: taken once an agent had the call (also
    when the agent transferred it out of the IVR: the flow is over), the outcome the node routes
    with `on`, or declined (its `next`) when the queue does not exist."""
    match result:
        case Served() | TransferredOut():
            return TAKEN
        case Left(outcome=outcome):
            return routed(outcome)
        case UnknownQueue():
            return DECLINED
        case _:
            assert_never(result)


def _text(value: Value) -> str | None:
    """A flow value as the text a desktop shows (an account kept as a number too)."""
    return None if value is None else str(value)


class QueueHandoff:
    """The caller waits in the queue (music, announcements, agents rung) until an agent takes
    the call (TAKEN) or the wait ends with an outcome for the flow (`timeout`, `full`, a key's
    outcome...). An app that stops meanwhile leaves the caller in the queue for the next one:
    the channel is the service's then, and the call must not hang it up."""

    kind = HandoffKind.QUEUE

    def __init__(self, acd: Acd) -> None:
        self.acd = acd
        self._left: dict[str, EntryRow] = {}
        """Call id -> the place its caller last left a queue with, until the call ends."""

    async def take(self, leg: CallerLeg, request: HandoffRequest) -> HandoffResult:
        priority = request.number("priority")
        queue_request = QueueRequest(
            queue=request.target, priority=int(priority) if priority is not None else None,
            max_wait=request.number("max_wait"), flow=request.flow, node=request.node,
            variables=request.variables,
            screen=IvrOrigin(path=request.path,
                             account=_text(request.authenticated.get("account")),
                             inputs=tuple(IvrInput(node, value)
                                          for node, value in request.inputs)))
        try:
            result = await wait(self.acd, leg, queue_request)
        except asyncio.CancelledError:
            if self.acd.stopping:
                leg.ended_by(EndedBy.SERVICE)  # parked: the next process takes the caller back
            raise
        if isinstance(result, Left) and result.place is not None:
            self._left[leg.id] = result.place
        return handoff_result(result)

    def place_left(self, call_id: str, queue: str) -> EntryRow | None:
        """The place this call's caller just left in `queue`, if it left one there."""
        place = self._left.get(call_id)
        return place if place is not None and place.queue == queue else None

    def call_ended(self, call_id: str) -> None:
        self._left.pop(call_id, None)
