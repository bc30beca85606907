"""The services that need the database, built once it is open, and the glue between them.

`open_services` is the one place that knows every service: it opens the stores, builds the
services on them, and registers each service's hand-off for calls (services/seam.py). What it
returns has no optional parts: a running app has all of them, so nothing downstream checks for
a missing service. A feature that is off is left out of `handoffs` (the call then declines the
hand-off and the flow goes on), not set to None.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..ari import AriClient
from ..flow.actions import Action
from ..media.prompts import PromptLibrary
from ..services.accounts import AccountStore, account_actions, open_account_store
from ..services.acd.engine import Acd
from ..services.acd.handoff import QueueHandoff
from ..services.acd.store import AcdStore
from ..services.callback.handoff import CallbackHandoff
from ..services.callback.service import Callbacks
from ..services.callback.store import CallbackStore
from ..services.db import Database, connect, redact_url
from ..services.outbound.dialler import Dialler
from ..services.outbound.store import OutboundStore
from ..services.records import CallRecordStore
from ..services.seam import Handoffs, handoffs
from ..services.users.store import UserStore
from ..services.voicemail.handoff import VoicemailHandoff
from ..services.voicemail.mailbox_menu import MailboxMenu
from ..services.voicemail.mailboxes import MailboxStore
from ..services.voicemail.notify import NewMessage, Notifier
from ..services.voicemail.playback import RecordingCopies
from ..services.voicemail.session import Voicemail
from ..services.voicemail.store import Message, MessageStore
from ..services.wrapups import WrapupStore
from .config import AppConfig
from .logs import call_id_var
from .message_work import message_media, route_message
from .trace import CallTrace

if TYPE_CHECKING:
    from .flows import FlowRegistry

log = logging.getLogger(__name__)


@dataclass
class Services:
    db: Database
    records: CallRecordStore
    accounts: AccountStore
    actions: dict[str, Action]
    messages: MessageStore
    voicemail: Voicemail
    mailboxes: MailboxStore
    mailbox_menu: MailboxMenu
    acd: Acd
    callbacks: Callbacks
    outbound: Dialler
    users: UserStore
    wrapups: WrapupStore
    handoffs: Handoffs

    async def close(self) -> None:
        await self.accounts.close()
        await self.db.close()


async def open_services(config: AppConfig, client: AriClient, prompts: PromptLibrary,
                        registry: FlowRegistry, notifier: Notifier) -> Services:
    """Open the database and every service on it (not yet started: see IvrService.start)."""
    db = await connect(config.database_url)
    applied = await db.migrate()
    log.info("database %s ready (migrations applied now: %s)",
             redact_url(config.database_url), applied or "none")
    accounts = open_account_store(db, config.accounts_url,
                                  token=config.accounts_token or None)
    messages = MessageStore(db, config.voicemail_dir)
    swept = await messages.sweep()
    if any(swept):
        log.warning("voicemail sweep: %d file(s) without a row, %d row(s) without a file",
                    *swept)
    copies = RecordingCopies(config.asterisk_recording_dir)
    mailboxes = MailboxStore(db)
    mailbox_menu = MailboxMenu(messages, mailboxes, prompts, copies,
                               trace_dir=config.trace_dir, new_trace=CallTrace,
                               bind_call_id=call_id_var.set)
    acd = Acd(client, AcdStore(db), lambda: registry.acd_config, prompts,
              log_file=config.queue_log)
    callbacks = Callbacks(
        client, acd, CallbackStore(db), dial=config.callback_dial,
        message_media=lambda message_id: message_media(messages, copies, message_id),
        rules=lambda: registry.campaigns.rules["callback"])
    voicemail = Voicemail(client, messages, on_saved=lambda message: announce_message(
        config, notifier, messages, callbacks, message))
    queues = QueueHandoff(acd)
    async def book_callback(queue: str, number: str, language: str) -> None:
        await callbacks.request(queue, number, language=language, source="campaign")

    outbound = Dialler(client, acd, OutboundStore(db), lambda: registry.campaigns,
                       dial=config.callback_dial, book_callback=book_callback)
    return Services(
        db=db, records=CallRecordStore(db), accounts=accounts,
        actions=account_actions(accounts), messages=messages, voicemail=voicemail,
        mailboxes=mailboxes, mailbox_menu=mailbox_menu, acd=acd, callbacks=callbacks,
        outbound=outbound, users=UserStore(db),
        wrapups=WrapupStore(db, dt.timedelta(days=config.fcr_days)),
        handoffs=handoffs(queues, VoicemailHandoff(voicemail),
                          CallbackHandoff(callbacks, queues.place_left)))


async def announce_message(config: AppConfig, notifier: Notifier, messages: MessageStore,
                           callbacks: Callbacks, message: Message) -> None:
    """A message was stored: notify (in the background: retries never hold anyone up), and
    make a message left for a queue a callback of that queue."""
    base = f"http://{config.http_host}:{config.http_port}"
    notifier.submit(NewMessage(
        id=message.id, mailbox=message.mailbox, caller=message.caller,
        language=message.language, created_at=message.created_at,
        duration_s=message.duration_s, audio_url=f"{base}/messages/{message.id}/audio",
        audio_path=messages.path(message)))
    if message.queue:
        await route_message(callbacks, message)
