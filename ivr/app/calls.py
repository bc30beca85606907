"""The live calls: each runs in a task of its own; when it ends, its trace and record are kept."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from ..ari import AriClient, channel_key
from ..ari.models import Channel
from ..flow.model import Flow
from ..flow.state import FlowContext, FlowState
from ..media.prompts import PromptLibrary
from ..services.seam import Handoffs
from .call import Call
from .ears import Ears

log = logging.getLogger(__name__)

Finished = Callable[[Call], Awaitable[None]]


class CallSupervisor:
    def __init__(self, client: AriClient, prompts: PromptLibrary, trace_dir: Path,
                 on_finished: Finished | None = None) -> None:
        self.client = client
        self.prompts = prompts
        self.trace_dir = trace_dir
        self.on_finished = on_finished
        self.calls: dict[str, Call] = {}
        self.finished_calls = 0
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, channel: Channel, flow: Flow, ctx: FlowContext, *,
              resumed: bool = False, handoffs: Handoffs | None = None,
              ears: Ears | None = None, state: FlowState | None = None) -> Call | None:
        """Take over a channel that entered the application. Synchronous on purpose: it runs in
        the ARI reader, and subscribing here means no event of the call can slip past it."""
        if channel.id in self.calls:
            return None
        events = self.client.subscribe(channel_key(channel.id))
        call = Call(channel, self.client.channels.handle(channel.id), events, flow,
                    self.prompts, ctx, resumed=resumed, handoffs=handoffs, ears=ears)
        if state is not None:
            call.flow_state = state
        self.calls[channel.id] = call
        task = asyncio.create_task(self._run(call), name=f"call-{channel.id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return call

    async def _run(self, call: Call) -> None:
        try:
            await call.run()
        finally:
            self.calls.pop(call.id, None)
            self.finished_calls += 1
            try:
                await call.trace_log.save(self.trace_dir)
            except OSError:
                log.exception("could not save the trace of %s", call.id)
            if self.on_finished is not None:
                await self.on_finished(call)

    async def stop(self) -> None:
        """Cancel every call (each releases what it owns) and wait for them."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
