"""One call: a channel in Stasis on a line, its flow, and the checked place of its caller.

The call owns two tasks: the line's pump (the channel's ordered events) and the flow. A hangup
seen by the pump cancels the flow; when either ends, everything the call owns is cancelled and
released, so a caller who hangs up mid-prompt leaves nothing behind.

The call knows no service. A flow's hand-off is looked up by kind in the `Handoffs` the wiring
built (services/seam.py); the service gets the call as a `CallerLeg`, moves its caller through
the places it holds it in (services/place.py), and answers a typed result. What the call record
needs to know (did the caller reach an agent, leave a message?) is read from the places the
caller went through, never from flags a service wrote into the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from ..ari import AriError, ChannelHandle, NotInStasis, ResourceGone, Subscription
from ..ari.models import Channel
from ..flow.interpreter import run_flow
from ..flow.model import Flow
from ..flow.state import FlowContext, FlowState
from ..flow.types import DECLINED, Disposition, HandoffKind, HandoffRequest, HandoffResult, Listen
from ..media.line import Line, LineGone
from ..media.prompts import PromptLibrary
from ..services.place import (
    Ended,
    InFlow,
    LeavingMessage,
    Place,
    PlaceChanged,
    PlaceKind,
    Whereabouts,
)
from ..services.seam import EndedBy, Handoffs, LegOnLine
from .ears import Ears
from .logs import call_id_var
from .trace import CallTrace

log = logging.getLogger(__name__)

class Call(LegOnLine):
    """The CallIO of a flow and, while a service holds the caller, its CallerLeg."""

    def __init__(
        self,
        channel: Channel,
        handle: ChannelHandle,
        events: Subscription,
        flow: Flow,
        prompts: PromptLibrary,
        ctx: FlowContext,
        *,
        resumed: bool = False,
        handoffs: Handoffs | None = None,
        ears: Ears | None = None,
    ) -> None:
        self.id = channel.id
        self.call_id = channel.id
        self.caller = channel.caller.number
        self.caller_name = channel.caller.name
        self.ctx = ctx
        self.channel = channel
        self.handle = handle
        self.events = events
        self.flow = flow
        self.prompts = prompts
        self.resumed = resumed
        self.trace_log = CallTrace(channel.id)
        self.flow_state = FlowState()
        self.line = Line(handle, events, prompts, flow.default_language, trace=self.trace)
        self.whereabouts = Whereabouts(channel.id)
        """Where the caller is; an illegal move raises in tests, else is logged
        (place.STRICT_ENV)."""
        self.whereabouts.listeners.append(self._moved)
        self.handoffs: Handoffs = handoffs or {}
        self.ears = ears
        self.taken_by: HandoffKind | None = None
        """The service that kept the call when its flow ended (it owns the channel then)."""

    # what the caller's call is ---------------------------------------------------------------

    @property
    def language(self) -> str:
        return self.line.language

    @language.setter
    def language(self, value: str) -> None:
        self.line.language = value

    @property
    def place(self) -> Place:
        """Where the caller is now; in a flow, at the node the interpreter is running."""
        place = self.whereabouts.place
        if isinstance(place, InFlow):
            return InFlow(self.flow_state.flow or place.flow, self.flow_state.node or "")
        return place

    @property
    def reached_agent(self) -> bool:
        """An agent answered: the call counts as handed to the queue however it ends."""
        return self.whereabouts.ever(PlaceKind.WITH_AGENT)

    @property
    def left_message(self) -> bool:
        """A recording was made for a mailbox: the call counts as voicemail however it ends."""
        return self.whereabouts.been(lambda p: isinstance(p, LeavingMessage) and p.recording)

    def trace(self, event: str, **fields: Any) -> None:
        self.trace_log.add(event, **fields)

    def _moved(self, change: PlaceChanged) -> None:
        self.trace("place", **change.fields())

    # CallIO (play, read_digit, forgive, hangup: LegOnLine), and what only a flow needs -------

    def heard(self, keys: str, **fields: Any) -> None:
        self.line.heard(keys, **fields)

    def speech_started(self) -> None:
        self.line.speech_started()

    async def handoff(self, request: HandoffRequest) -> HandoffResult:
        """The service for the request's kind takes the caller; one that is not there (a
        feature turned off; transfer has none yet) declines. The wait runs in the flow task, so
        a hangup cancels it. A caller given back goes on in the flow."""
        service = self.handoffs.get(request.kind)
        if service is None:
            self.trace("handoff_unavailable", node=request.node, kind=request.kind.value,
                       target=request.target)
            return DECLINED
        result = await service.take(self, request)
        if result.disposition is Disposition.TAKEN:
            self.taken_by = request.kind
        elif not self.whereabouts.ended:
            self.move(InFlow(self.flow.name))
        return result

    @contextlib.asynccontextmanager
    async def listening(self, request: Listen) -> AsyncIterator[bool]:
        """While a node waits, what the caller says comes in as keys (see CallIO.listening);
        without ears (no speech configured) or an engine for the language: keys only."""
        if self.ears is None or not request.engine:
            yield False
            return
        async with self.ears.listen(self, request, self.heard) as listening:
            yield listening

    # lifecycle --------------------------------------------------------------------------

    async def run(self) -> None:
        call_id_var.set(self.id)
        self.trace("start", caller=self.channel.caller.number, channel=self.channel.name,
                   flow=self.flow.name, version=self.flow.version, resumed=self.resumed)
        pump = asyncio.create_task(self.line.pump(), name=f"pump-{self.id}")
        flow_task: asyncio.Task[FlowState] | None = None
        try:
            already_up = self.channel.state == "Up"
            if not already_up:
                await self.handle.answer()
            self.trace("answered", already_up=already_up)
            self.move(InFlow(self.flow.name))
            flow_task = asyncio.create_task(
                run_flow(self.flow, self, self.ctx, self.flow_state), name=f"flow-{self.id}"
            )
            await asyncio.wait({pump, flow_task}, return_when=asyncio.FIRST_COMPLETED)
            if flow_task.done() and not flow_task.cancelled():
                if isinstance(flow_task.exception(), ResourceGone | NotInStasis):
                    self.ended_by(EndedBy.CALLER)  # gone before its events came
                self._log_flow_error(flow_task)
        except (ResourceGone, NotInStasis):
            self.ended_by(EndedBy.CALLER)
        except AriError as exc:
            log.warning("ARI error, ending call: %s", exc)
        finally:
            await self._finish(pump, flow_task)

    async def _finish(self, pump: asyncio.Task[None],
                      flow_task: asyncio.Task[FlowState] | None) -> None:
        for task in (flow_task, pump):
            if task is not None and not task.done():
                task.cancel()
        for task in (flow_task, pump):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if not self.line.gone.is_set() and not self.hangup_by and self.taken_by is None:
            await self.hangup()  # a service that took the call owns the channel now
        self.events.close()
        if self.line.unread():  # pressed but never read: counted, not shown
            self.trace("unread_dtmf", count=self.line.unread())
        ended_by = self.hangup_by or (EndedBy.SERVICE.value if self.taken_by
                                      else EndedBy.CALLER.value)
        self.move(Ended(ended_by))
        self.trace("end", outcome=self.flow_state.outcome or "abandoned",
                   hangup_by=ended_by, path=self.flow_state.path)
        for service in self.handoffs.values():
            service.call_ended(self.id)

    def _log_flow_error(self, task: asyncio.Task[FlowState]) -> None:
        exc = task.exception()
        if exc is None or isinstance(exc, LineGone | ResourceGone | NotInStasis):
            return
        log.error("flow failed", exc_info=exc)
        self.flow_state.outcome = self.flow_state.outcome or "error"
        self.trace("error", error=type(exc).__name__)
