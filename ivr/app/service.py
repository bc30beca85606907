"""The IVR process: connect to Asterisk, turn each new channel into a Call, keep count."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..ari import AriClient, Event, StasisStart, channel_key
from ..flow.http import AiohttpClient
from ..flow.interpreter import FlowContext
from ..media.prompts import PromptLibrary
from .call import Call
from .config import AppConfig
from .flows import FlowRegistry

log = logging.getLogger(__name__)


class IvrService:
    def __init__(self, config: AppConfig, client: AriClient | None = None,
                 reload_interval: float = 1.0) -> None:
        self.config = config
        self.client = client or AriClient(config.ari)
        self.prompts = PromptLibrary(config.prompts_dir)
        self.registry = FlowRegistry(config.flows_dir, self.prompts, reload_interval)
        self.registry.load_initial()
        if self.registry.get(config.default_flow) is None:
            raise ValueError(f"default flow {config.default_flow!r} is not in "
                             f"{config.flows_dir} ({sorted(self.registry.current.flows)})")
        self.http = AiohttpClient()
        self.calls: dict[str, Call] = {}
        self.finished_calls = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._watcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.client.on_unclaimed(self._on_unclaimed)
        await self.client.start(wait=30.0)
        info = await self.client.system.info()
        self._watcher = asyncio.create_task(self.registry.watch(), name="flow-watcher")
        log.info("serving flows %s on Asterisk %s", self.registry.versions(), info.version)

    async def stop(self) -> None:
        """Hang up calls still running (each cancels what it owns), then disconnect."""
        if self._watcher is not None:
            self._watcher.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, *([self._watcher] if self._watcher else []),
                             return_exceptions=True)
        await self.http.close()
        await self.client.close()

    def _on_unclaimed(self, event: Event) -> None:
        """Runs inside the reader: subscribe synchronously so no event of the call is lost."""
        if not isinstance(event, StasisStart):
            log.debug("unclaimed %s", event.type)
            return
        channel = event.channel
        if channel.id in self.calls:
            return
        flowset = self.registry.current
        wanted = event.args[0] if event.args else self.config.default_flow
        flow = flowset.flows.get(wanted)
        if flow is None:
            log.error("no flow named %r (dialplan Stasis argument); using %r", wanted,
                      self.config.default_flow)
            flow = flowset.flows[self.config.default_flow]
        events = self.client.subscribe(channel_key(channel.id))
        # The call keeps this flow set for its whole life: a reload never changes a call midway.
        ctx = FlowContext(flows=flowset.flows, http=self.http)
        call = Call(channel, self.client.channels.handle(channel.id), events, flow,
                    self.prompts, ctx, resumed=event.synthetic)
        self.calls[channel.id] = call
        task = asyncio.create_task(self._run_call(call), name=f"call-{channel.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_call(self, call: Call) -> None:
        try:
            await call.run()
        finally:
            self.calls.pop(call.id, None)
            self.finished_calls += 1
            try:
                await call.trace_log.save(self.config.trace_dir)
            except OSError:
                log.exception("could not save the trace of %s", call.id)

    def status(self) -> dict[str, Any]:
        return {
            "ari_connected": self.client.connected.is_set(),
            "ari_connections": self.client.connections,
            "flows": {"versions": self.registry.versions(), "reloads": self.registry.reloads,
                      "refused": self.registry.refused},
            "active_calls": len(self.calls),
            "call_tasks": len(self._tasks),
            "finished_calls": self.finished_calls,
            "subscriptions": len(self.client.router.subscribed_keys()),
        }
