"""The IVR process: connect to Asterisk, turn each new channel into a Call, keep count."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
from collections.abc import Coroutine
from typing import Any

from ..ari import AriClient, AriError, ChannelHandle, Event, StasisStart, channel_key
from ..flow.actions import Action
from ..flow.http import AiohttpClient
from ..flow.interpreter import FlowContext, FlowState
from ..media.prompts import PromptLibrary
from ..media.stream import is_listener_leg
from ..services.accounts import (
    ACCOUNT_ACTION_SPECS,
    AccountStore,
    account_actions,
    open_account_store,
)
from ..services.acd.engine import Acd
from ..services.acd.features import FEATURE_ARG, run_feature_call
from ..services.acd.restart import forget_gone
from ..services.acd.ringing import AGENT_ARG
from ..services.acd.session import QueueSession
from ..services.acd.store import AcdStore, EntryRow
from ..services.callback.leg import CALLBACK_ARG
from ..services.callback.service import Callbacks
from ..services.callback.store import CallbackStore
from ..services.db import Database, connect, redact_url
from ..services.records import CallRecordStore
from ..services.voicemail.mailbox_menu import MAILBOX_ARG, MailboxMenu
from ..services.voicemail.mailboxes import MailboxStore
from ..services.voicemail.notify import NewMessage, Notifier, NotifyConfig
from ..services.voicemail.playback import RecordingCopies
from ..services.voicemail.session import Voicemail
from ..services.voicemail.store import Message, MessageStore
from .call import Call
from .calls import CallSupervisor
from .config import AppConfig
from .flows import FlowRegistry
from .logs import call_id_var
from .message_work import message_media, route_message
from .records import record_of
from .speech_ears import SpeechEars
from .trace import CallTrace

log = logging.getLogger(__name__)

ORPHAN_GRACE = 3.0
"""Seconds an unclaimed agent leg may wait for its caller's wait to adopt it after a restart."""


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
        self._watcher: asyncio.Task[None] | None = None
        self.db: Database | None = None
        self.records: CallRecordStore | None = None
        self.actions: dict[str, Action] = {}
        self.accounts: AccountStore | None = None
        self.acd: Acd | None = None
        self.messages: MessageStore | None = None
        self.voicemail: Voicemail | None = None
        self.mailboxes: MailboxStore | None = None
        self.mailbox_menu: MailboxMenu | None = None
        self.callbacks: Callbacks | None = None
        self.ears = SpeechEars(self.client, vosk_models=config.vosk_models,
                               workers=config.speech_workers)
        self.notifier = Notifier(NotifyConfig.from_env(os.environ))
        self.parked: dict[str, EntryRow] = {}
        """Callers a previous process left in a queue, by channel: resumed at their node."""
        self._side_tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.prewarm_speech()  # in the background: calls are answered while engines load
        self.db = await connect(self.config.database_url)
        applied = await self.db.migrate()
        log.info("database %s ready (migrations applied now: %s)",
                 redact_url(self.config.database_url), applied or "none")
        self.records = CallRecordStore(self.db)
        self.accounts = open_account_store(self.db, self.config.accounts_url,
                                           token=self.config.accounts_token or None)
        self.actions = account_actions(self.accounts)
        self.messages = MessageStore(self.db, self.config.voicemail_dir)
        swept = await self.messages.sweep()
        if any(swept):
            log.warning("voicemail sweep: %d file(s) without a row, %d row(s) without a file",
                        *swept)
        self.voicemail = Voicemail(self.client, self.messages, on_saved=self._announce_message)
        self.mailboxes = MailboxStore(self.db)
        self.mailbox_menu = MailboxMenu(
            self.messages, self.mailboxes, self.prompts,
            RecordingCopies(self.config.asterisk_recording_dir),
            trace_dir=self.config.trace_dir, new_trace=CallTrace, bind_call_id=call_id_var.set)
        await self.mailbox_menu.sweep()
        self._spawn(self._retention())
        store = AcdStore(self.db)
        self.acd = Acd(self.client, store, lambda: self.registry.acd_config, self.prompts,
                       log_file=self.config.queue_log)
        self.parked = {row.channel_id: row for row in await store.entries()}
        await self.acd.start()
        await self.acd.load_handle_times()
        messages, copies = self.messages, RecordingCopies(self.config.asterisk_recording_dir)
        self.callbacks = Callbacks(
            self.client, self.acd, CallbackStore(self.db), dial=self.config.callback_dial,
            message_media=lambda message_id: message_media(messages, copies, message_id))
        await self.callbacks.start()
        self.client.on_unclaimed(self._on_unclaimed)
        await self.client.start(wait=30.0)
        self._spawn(self._settle_parked())
        info = await self.client.system.info()
        self._watcher = asyncio.create_task(self._watch_flows(), name="flow-watcher")
        log.info("serving flows %s on Asterisk %s", self.registry.versions(), info.version)

    async def stop(self) -> None:
        """Hang up calls still running (each cancels what it owns), then disconnect."""
        if self._watcher is not None:
            self._watcher.cancel()
        if self.acd is not None:
            self.acd.stopping = True  # callers waiting in queues stay there for the next run
        await self.supervisor.stop()
        if self.callbacks is not None:
            await self.callbacks.stop()
        if self.acd is not None:
            await self.acd.stop()
        for task in list(self._side_tasks):
            task.cancel()
        await asyncio.gather(*self._side_tasks, return_exceptions=True)
        if self.voicemail is not None:
            await self.voicemail.stop()  # messages being kept are stored before we go
        await self.notifier.close()
        if self._watcher is not None:
            await asyncio.gather(self._watcher, return_exceptions=True)
        await self.http.close()
        await self.ears.aclose()
        await self.client.close()
        if self.accounts is not None:
            await self.accounts.close()
        if self.db is not None:
            await self.db.close()

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

    @property
    def calls(self) -> dict[str, Call]:
        return self.supervisor.calls

    def _on_unclaimed(self, event: Event) -> None:
        """Runs inside the reader: the supervisor subscribes before the next event is routed."""
        if not isinstance(event, StasisStart):
            log.debug("unclaimed %s", event.type)
            return
        if event.args and event.args[0] in (FEATURE_ARG, AGENT_ARG):
            self._agent_channel(event)
            return
        if event.args and event.args[0] == MAILBOX_ARG and self.mailbox_menu is not None:
            handle = self.client.channels.handle(event.channel.id)
            handle.events = self.client.subscribe(channel_key(event.channel.id))
            self._spawn(self.mailbox_menu.run(event.channel, handle, event.args[1:]))
            return
        if (event.args and event.args[0] == CALLBACK_ARG) or is_listener_leg(event):
            log.info("hanging up %s: the callback or listener it served is gone",
                     event.channel.id)
            self._spawn(self._hang_up(self.client.channels.handle(event.channel.id)))
            return
        flowset = self.registry.current
        wanted = event.args[0] if event.args else self.config.default_flow
        flow = flowset.flows.get(wanted)
        if flow is None:
            log.error("no flow named %r (dialplan Stasis argument); using %r", wanted,
                      self.config.default_flow)
            flow = flowset.flows[self.config.default_flow]
        # The call keeps this flow set for its whole life: a reload never changes a call midway.
        ctx = FlowContext(flows=flowset.flows, http=self.http, actions=self.actions)
        parked = self.parked.pop(event.channel.id, None)
        state = None
        if parked is not None and parked.flow in flowset.flows and \
                parked.node in flowset.flows[parked.flow].nodes:
            flow = flowset.flows[parked.flow]
            state = FlowState(node=parked.node, variables=dict(parked.variables),
                              flow=flow.name)
            log.info("caller %s resumes its place in queue %s", event.channel.id, parked.queue)
        self.supervisor.start(event.channel, flow, ctx, resumed=event.synthetic, acd=self.acd,
                              voicemail=self.voicemail, callbacks=self.callbacks,
                              ears=self.ears,
                              state=state)

    def _agent_channel(self, event: StasisStart) -> None:
        """A feature code from an agent's phone, or an agent leg the ACD dialled that no wait
        claims (its caller is gone, or it was bridged before a restart and is adopted soon)."""
        handle = self.client.channels.handle(event.channel.id)
        if self.acd is None:
            return
        if event.args[0] == FEATURE_ARG:
            handle.events = self.client.subscribe(channel_key(event.channel.id))
            self._spawn(run_feature_call(self.acd, event.channel, handle, event.args))
        else:
            self._spawn(self._drop_orphan(handle, event.args[1] if len(event.args) > 1 else ""))

    async def _announce_message(self, message: Message) -> None:
        if self.messages is None:
            return
        base = f"http://{self.config.http_host}:{self.config.http_port}"
        self.notifier.submit(NewMessage(  # in the background: retries never hold anyone up
            id=message.id, mailbox=message.mailbox, caller=message.caller,
            language=message.language, created_at=message.created_at,
            duration_s=message.duration_s, audio_url=f"{base}/messages/{message.id}/audio",
            audio_path=self.messages.path(message)))
        if message.queue and self.callbacks is not None:
            await route_message(self.callbacks, message)

    async def _retention(self) -> None:
        """Old messages go, hourly (IVR_VOICEMAIL_RETENTION_DAYS; 0 keeps them)."""
        days = self.config.voicemail_retention_days
        while days > 0 and self.messages is not None:
            cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
            try:
                removed = await self.messages.delete_older_than(cutoff)
                if removed:
                    log.info("voicemail retention: %d message(s) older than %g days removed",
                             removed, days)
            except Exception:
                log.exception("voicemail retention failed")
            await asyncio.sleep(3600)

    async def _settle_parked(self) -> None:
        """Callers left in a queue come back with the reconnection's StasisStarts; those that
        have not after a grace hung up while no process ran."""
        await asyncio.sleep(ORPHAN_GRACE * 3)
        lost = list(self.parked.values())
        self.parked.clear()
        if self.acd is not None and lost:
            await forget_gone(self.acd, lost)

    async def _hang_up(self, handle: ChannelHandle) -> None:
        with contextlib.suppress(AriError):
            await handle.hangup()

    async def _drop_orphan(self, handle: ChannelHandle, caller_id: str) -> None:
        """Hang up an agent leg unless the caller's session took it back (adopted after a
        restart). Only a QueueSession adopts one: a callback's agent leg left over is
        dropped."""
        await asyncio.sleep(ORPHAN_GRACE)
        session = self.acd.sessions.get(caller_id) if self.acd else None
        if isinstance(session, QueueSession) and session.agent_channel is not None \
                and session.agent_channel.id == handle.id:
            return
        log.info("hanging up agent leg %s: no caller waits for it", handle.id)
        with contextlib.suppress(AriError):
            await handle.hangup()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _save_record(self, call: Call) -> None:
        """A database that is down loses the record, never the call (which is over anyway)."""
        if self.records is None:
            return
        try:
            await self.records.save(record_of(call))
        except Exception:
            log.exception("could not save the call record of %s", call.id)

    def status(self) -> dict[str, Any]:
        return {
            "ari_connected": self.client.connected.is_set(),
            "ari_connections": self.client.connections,
            "flows": {"versions": self.registry.versions(), "reloads": self.registry.reloads,
                      "refused": self.registry.refused},
            "active_calls": len(self.supervisor.calls),
            "call_tasks": len(self.supervisor.tasks),
            "finished_calls": self.supervisor.finished_calls,
            "subscriptions": len(self.client.router.subscribed_keys()),
            "speech": self.ears.status(),
        }
