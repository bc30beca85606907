"""The IVR process: connect to Asterisk, turn each new channel into a Call, keep count."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..ari import AriClient, Event, StasisStart, channel_key
from ..flow.loader import load_flow
from ..flow.model import Flow
from ..media.prompts import PromptLibrary
from .call import Call
from .config import AppConfig

log = logging.getLogger(__name__)


class IvrService:
    def __init__(self, config: AppConfig, client: AriClient | None = None) -> None:
        self.config = config
        self.client = client or AriClient(config.ari)
        self.flow: Flow = load_flow(config.flow_path)
        self.prompts = PromptLibrary(config.prompts_dir)
        self.calls: dict[str, Call] = {}
        self.finished_calls = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.client.on_unclaimed(self._on_unclaimed)
        await self.client.start(wait=30.0)
        info = await self.client.system.info()
        log.info("serving flow %s v%s on Asterisk %s", self.flow.name, self.flow.version,
                 info.version)

    async def stop(self) -> None:
        """Hang up calls still running (each cancels what it owns), then disconnect."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.client.close()

    def _on_unclaimed(self, event: Event) -> None:
        """Runs inside the reader: subscribe synchronously so no event of the call is lost."""
        if not isinstance(event, StasisStart) or event.channel.id in self.calls:
            if not isinstance(event, StasisStart):
                log.debug("unclaimed %s", event.type)
            return
        channel = event.channel
        events = self.client.subscribe(channel_key(channel.id))
        call = Call(channel, self.client.channels.handle(channel.id), events, self.flow,
                    self.prompts, resumed=event.synthetic)
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
            "flow": {"name": self.flow.name, "version": self.flow.version},
            "active_calls": len(self.calls),
            "call_tasks": len(self._tasks),
            "finished_calls": self.finished_calls,
            "subscriptions": len(self.client.router.subscribed_keys()),
        }
