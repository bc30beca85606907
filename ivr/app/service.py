"""The IVR process, as a composition root: it builds the parts, connects them, starts and
stops them in order, and keeps nothing of its own beyond what `/health` reports.

The parts, each in a module of its own: the services on the database (wiring.py), the Stasis
route registry that gives each new channel to the entry that owns it (routes.py), the live
calls (calls.py), the reconciliation of what a previous process left behind (reconcile.py),
the schedules (schedules.py), and the flow registry with its hot reload (flows.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Coroutine, Mapping
from typing import Any

from ..ari import AriClient, AriError, ChannelHandle, StasisStart
from ..flow.http import AiohttpClient
from ..flow.state import FlowContext, FlowState
from ..media.prompts import PromptLibrary
from ..media.stream import is_listener_leg
from ..services.accounts import ACCOUNT_ACTION_SPECS
from ..services.acd.engine import Acd
from ..services.acd.features import FEATURE_ARG, run_feature_call
from ..services.acd.ringing import AGENT_ARG
from ..services.callback.leg import CALLBACK_ARG
from ..services.callback.service import Callbacks
from ..services.outbound.call import AMD_ARG, OUTBOUND_ARG
from ..services.outbound.dialler import Dialler
from ..services.records import CallRecordStore
from ..services.users.store import UserStore
from ..services.voicemail.mailbox_menu import MAILBOX_ARG
from ..services.voicemail.mailboxes import MailboxStore
from ..services.voicemail.notify import Notifier, NotifyConfig
from ..services.voicemail.store import MessageStore
from ..services.wrapups import WrapupStore
from .call import Call
from .calls import CallSupervisor
from .config import AppConfig
from .flows import FlowRegistry
from .metrics import Metrics
from .reconcile import Reconciler
from .records import record_of
from .routes import Route, StasisRoutes
from .schedules import run_schedule, voicemail_retention
from .speech_ears import SpeechEars
from .wiring import Services, open_services

log = logging.getLogger(__name__)


class IvrService:
    def __init__(self, config: AppConfig, client: AriClient | None = None,
                 reload_interval: float = 1.0) -> None:
        self.config = config
        self.client = client or AriClient(config.ari)
        self.prompts = PromptLibrary(config.prompts_dir)
        self.registry = FlowRegistry(config.flows_dir, self.prompts, reload_interval,
                                     actions=ACCOUNT_ACTION_SPECS)
        self.registry.load_initial()
        if self.registry.get(config.default_flow) is None:
            raise ValueError(f"default flow {config.default_flow!r} is not in "
                             f"{config.flows_dir} ({sorted(self.registry.current.flows)})")
        self.http = AiohttpClient()
        self.supervisor = CallSupervisor(self.client, self.prompts, config.trace_dir,
                                         on_finished=self._save_record)
        self.ears = SpeechEars(self.client, vosk_models=config.vosk_models,
                               workers=config.speech_workers, eager=config.speech_eager)
        self.metrics = Metrics()
        self.metrics.watch(self)
        self.ears.on_decision = self.metrics.speech_decided
        self.notifier = Notifier(NotifyConfig.from_env(os.environ))
        self.routes = StasisRoutes(self.client)
        self.running: Services | None = None
        """Everything on the database, once `start` opened it."""
        self.reconciler: Reconciler | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # what the web surface reads (None before start: it answers 503) -------------------------

    @property
    def records(self) -> CallRecordStore | None:
        return self.running.records if self.running else None

    @property
    def acd(self) -> Acd | None:
        return self.running.acd if self.running else None

    @property
    def callbacks(self) -> Callbacks | None:
        return self.running.callbacks if self.running else None

    @property
    def messages(self) -> MessageStore | None:
        return self.running.messages if self.running else None

    @property
    def outbound(self) -> Dialler | None:
        return self.running.outbound if self.running else None

    @property
    def mailboxes(self) -> MailboxStore | None:
        return self.running.mailboxes if self.running else None

    @property
    def users(self) -> UserStore | None:
        return self.running.users if self.running else None

    @property
    def wrapups(self) -> WrapupStore | None:
        return self.running.wrapups if self.running else None

    @property
    def calls(self) -> dict[str, Call]:
        return self.supervisor.calls

    # lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self.prewarm_speech()  # in the background: calls are answered while engines load
        running = self.running = await open_services(self.config, self.client, self.prompts,
                                                     self.registry, self.notifier)
        await running.mailbox_menu.sweep()
        retention = voicemail_retention(running.messages,
                                        self.config.voicemail_retention_days)
        if retention is not None:
            self._spawn(run_schedule(retention))
        self.reconciler = Reconciler(running.acd)
        await self.reconciler.load()
        await running.acd.start()
        await running.acd.load_handle_times()
        await running.callbacks.start()
        running.outbound.run_flow = self.agentless_flow
        await running.outbound.start()
        self._register_routes(running, self.reconciler)
        self.client.on_unclaimed(self.routes.on_unclaimed)
        await self.client.start(wait=30.0)
        self._spawn(self.reconciler.settle_parked())
        info = await self.client.system.info()
        self._spawn(self._watch_flows())
        self._spawn(self.metrics.sample_loop_lag())
        log.info("serving flows %s on Asterisk %s (Stasis routes %s)",
                 self.registry.versions(), info.version, self.routes.owners())

    def _register_routes(self, running: Services, reconciler: Reconciler) -> None:
        routes = self.routes
        routes.add(FEATURE_ARG, Route("agent feature code", lambda event, handle:
                                      run_feature_call(running.acd, event.channel, handle,
                                                       event.args)))
        routes.add(AGENT_ARG, Route("unclaimed agent leg", reconciler.agent_leg))
        routes.add(MAILBOX_ARG, Route("mailbox menu", lambda event, handle:
                                      running.mailbox_menu.run(event.channel, handle,
                                                               event.args[1:])))
        stray = Route("stray leg", self._stray_leg, subscribe=False)
        routes.add(CALLBACK_ARG, stray)
        # An outbound contact's channel is the dialler's from its dial on (subscribed then): one
        # that reaches the router was dialled by a process that is gone.
        routes.add(OUTBOUND_ARG, stray)
        routes.add(AMD_ARG, stray)
        routes.add_matcher(is_listener_leg, stray)
        routes.set_default(Route("flows", self._flow_call, subscribe=False))

    async def stop(self) -> None:
        """Hang up calls still running (each cancels what it owns), then disconnect."""
        running = self.running
        if running is not None:
            running.acd.stopping = True  # callers waiting in queues stay there for the next run
        await self.supervisor.stop()
        if running is not None:
            await running.callbacks.stop()
            await running.outbound.stop()
            await running.acd.stop()
        await self.routes.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if running is not None:
            await running.voicemail.stop()  # messages being kept are stored before we go
        await self.notifier.close()
        await self.http.close()
        await self.ears.aclose()
        await self.client.close()
        if running is not None:
            await running.close()

    # flows --------------------------------------------------------------------------------

    def prewarm_speech(self) -> None:
        """Open every engine named in a served flow's `speech:` (language -> engine), so that
        no caller waits for a model to load; engines already open or opening are left be."""
        self.ears.prewarm(sorted({(engine, language)
                                  for flow in self.registry.current.flows.values()
                                  for language, engine in flow.speech.items()}))

    async def reload_flows(self) -> bool:
        """Reload edited flows; a new engine or language some flow now names starts loading."""
        reloaded = await self.registry.reload_if_changed()
        if reloaded:
            self.prewarm_speech()
        return reloaded

    async def _watch_flows(self) -> None:
        while True:
            await asyncio.sleep(self.registry.poll_interval)
            await self.reload_flows()

    def _flow_call(self, event: StasisStart, handle: ChannelHandle) -> None:
        """The default route: the flow the Stasis argument names (or the default flow), or the
        place a caller parked by the previous process had. The supervisor subscribes to the
        channel itself, here in the reader, and owns the call's task."""
        del handle
        running = self.running
        assert running is not None and self.reconciler is not None  # routes come after start
        flowset = self.registry.current
        wanted = event.args[0] if event.args else self.config.default_flow
        flow = flowset.flows.get(wanted)
        if flow is None:
            log.error("no flow named %r (dialplan Stasis argument); using %r", wanted,
                      self.config.default_flow)
            flow = flowset.flows[self.config.default_flow]
        # The call keeps this flow set for its whole life: a reload never changes a call midway.
        ctx = FlowContext(flows=flowset.flows, http=self.http, actions=running.actions)
        resumed = self.reconciler.resume(event.channel.id, flowset.flows)
        state = None
        if resumed is not None:
            flow, state = resumed
        self.supervisor.start(event.channel, flow, ctx, resumed=event.synthetic,
                              handoffs=running.handoffs, ears=self.ears, state=state)

    async def agentless_flow(self, handle: ChannelHandle, flow_name: str,
                             variables: Mapping[str, str]) -> asyncio.Task[str]:
        """An agentless campaign's answered contact hears `flow_name` as a call of its own (its
        trace, record and hand-offs), the contact's fields as its variables; the task ends
        with the flow's outcome, and cancelling it ends the call (outbound/call.py's hook)."""
        running = self.running
        assert running is not None
        flowset = self.registry.current
        flow = flowset.flows.get(flow_name)
        if flow is None:
            raise LookupError(f"no flow {flow_name!r} for the agentless campaign")
        channel = await handle.get()
        ctx = FlowContext(flows=flowset.flows, http=self.http, actions=running.actions)
        call = self.supervisor.start(channel, flow, ctx, handoffs=running.handoffs,
                                     ears=self.ears, state=FlowState(variables=dict(variables)))
        task = next((t for t in self.supervisor.tasks if t.get_name() == f"call-{channel.id}"),
                    None)
        if call is None or task is None:
            raise RuntimeError(f"channel {channel.id} is already a call")

        async def outcome() -> str:
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                raise
            return call.flow_state.outcome or "ended"

        return asyncio.create_task(outcome())

    async def _stray_leg(self, event: StasisStart, handle: ChannelHandle) -> None:
        del event
        log.info("hanging up %s: the callback, contact or listener it served is gone", handle.id)
        with contextlib.suppress(AriError):
            await handle.hangup()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _save_record(self, call: Call) -> None:
        """A database that is down loses the record, never the call (which is over anyway)."""
        record = record_of(call)
        self.metrics.call_ended(record.outcome)
        if self.running is None:
            return
        try:
            await self.running.records.save(record)
        except Exception:
            log.exception("could not save the call record of %s", call.id)

    def status(self) -> dict[str, Any]:
        return {
            "ari_connected": self.client.connected.is_set(),
            "database": "open" if self.running is not None else "not open",
            "ari_connections": self.client.connections,
            "flows": {"versions": self.registry.versions(), "reloads": self.registry.reloads,
                      "refused": self.registry.refused},
            "active_calls": len(self.supervisor.calls),
            "call_tasks": len(self.supervisor.tasks),
            "finished_calls": self.supervisor.finished_calls,
            "subscriptions": len(self.client.router.subscribed_keys()),
            "speech": self.ears.status(),
        }
