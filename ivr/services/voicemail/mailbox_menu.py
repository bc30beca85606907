"""Hearing one's messages by phone (extension 102), like Asterisk's VoiceMailMain.

The dialplan sends the call to the application as `Stasis(ivr,mailbox[,<language>])`. The
caller picks a language (1 Korean, 2 English; none: Korean) unless the dialplan named one, keys
the mailbox number and '#', then the PIN and '#'. Three failed logins, or a locked mailbox,
end in goodbye. Then: "you have N new and M saved messages", and each message, new ones first,
newest first within each: its envelope (number, caller, when received), its recording, and
the options 1 replay, 2 next, 3 delete, 4 keep as new, * the options again, # goodbye. A key
pressed during the envelope or the recording cuts it and counts as the choice. A message
becomes heard once its recording has played (to the end, or until a key cut it); a caller who
hangs up in the middle of it leaves it new.

The PIN is never logged or traced: keys are read here, and only what they meant is traced.
The call runs as one task that owns the channel's subscription, a pump task and the dialogue
task; a hangup ends the pump, which cancels the dialogue (and the playback copy it holds), so
nothing of the call outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ...ari import AriError, ChannelHandle, NotInStasis, ResourceGone
from ...ari.models import Channel
from ...media.entry import EntryRules, read_entry
from ...media.line import Line
from ...media.prompts import PromptLibrary
from ...media.say import SayError, say
from .mailboxes import MailboxStore
from .playback import PlaybackUnavailable, RecordingCopies
from .store import Message, MessageStore

log = logging.getLogger(__name__)

MAILBOX_ARG = "mailbox"
LANGUAGES = {"1": "ko", "2": "en"}
DEFAULT_LANGUAGE = "ko"
LOGIN_ATTEMPTS = 3
SILENT_TURNS = 3
"""Times the options are offered without a key before the menu says goodbye."""
HANGUP_GRACE = 0.5
"""Seconds after goodbye before hanging up, so its end is heard."""
MAX_MESSAGES = 1000
NEXT, EXIT = "next", "exit"


class Trace(Protocol):
    """Where the call's events go (app.trace.CallTrace)."""

    def add(self, event: str, **fields: Any) -> None: ...

    async def save(self, folder: Path) -> Path: ...


class _NoTrace:
    def add(self, event: str, **fields: Any) -> None:
        log.debug(event, extra={"fields": fields})

    async def save(self, folder: Path) -> Path:
        return folder


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds the menu waits for keys."""

    language: float = 4.0
    first_digit: float = 6.0
    between_digits: float = 4.0
    option: float = 5.0


class MailboxMenu:
    """The service: what every mailbox call needs. `run` is one call."""

    def __init__(self, messages: MessageStore, mailboxes: MailboxStore,
                 prompts: PromptLibrary, copies: RecordingCopies, *,
                 trace_dir: Path | None = None,
                 new_trace: Callable[[str], Trace] | None = None,
                 bind_call_id: Callable[[str], object] | None = None,
                 timezone: dt.tzinfo | None = None, timeouts: Timeouts | None = None) -> None:
        self.messages = messages
        self.mailboxes = mailboxes
        self.prompts = prompts
        self.copies = copies
        self.trace_dir = trace_dir
        self.new_trace = new_trace or (lambda _: _NoTrace())
        self.bind_call_id = bind_call_id
        """Called in the call's own task with the channel id (app.logs.call_id_var.set), so
        every log line of the call carries it."""
        self.timezone = timezone
        """For the time a message was received; None: this machine's."""
        self.timeouts = timeouts or Timeouts()

    async def sweep(self) -> None:
        """At start: playback copies a crashed process left behind."""
        await self.copies.sweep()

    async def run(self, channel: Channel, handle: ChannelHandle, args: Sequence[str]) -> None:
        """The whole call. `handle.events` must be subscribed already (in the ARI reader, as
        the StasisStart is routed), so no key or hangup can slip past; it is closed here."""
        events = handle.events
        if events is None:
            raise ValueError("subscribe to the channel before running the mailbox menu")
        if self.bind_call_id is not None:
            self.bind_call_id(channel.id)
        trace = self.new_trace(channel.id)
        # The menu traces what keys and plays meant (a PIN; `played`: a message heard whole),
        # so the line's own events stay out of its trace.
        line = Line(handle, events, self.prompts, DEFAULT_LANGUAGE, trace_keys=False)
        trace.add("start", caller=channel.caller.number, channel=channel.name,
                  service=MAILBOX_ARG)
        call = MailboxCall(self, line, trace)
        pump = asyncio.create_task(line.pump(), name=f"pump-{channel.id}")
        dialogue = asyncio.create_task(call.run(channel.state, args),
                                       name=f"mailbox-{channel.id}")
        try:
            await asyncio.wait({pump, dialogue}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (dialogue, pump):
                task.cancel()
            failed, _ = await asyncio.gather(dialogue, pump, return_exceptions=True)
            if isinstance(failed, Exception) and not isinstance(failed,
                                                                ResourceGone | NotInStasis):
                log.error("mailbox menu on %s failed", channel.id, exc_info=failed)
                call.outcome = call.outcome or "error"
            hung_up = line.gone.is_set() or isinstance(failed, ResourceGone | NotInStasis)
            if not hung_up:
                with contextlib.suppress(AriError):
                    await handle.hangup()
            events.close()
            trace.add("end", outcome=call.outcome or "abandoned",
                      hangup_by="caller" if hung_up else "ivr")
            if self.trace_dir is not None:
                try:
                    await trace.save(self.trace_dir)
                except OSError:
                    log.exception("could not save the trace of %s", channel.id)


class MailboxCall:
    """One caller in the menu: login, then the messages."""

    def __init__(self, menu: MailboxMenu, line: Line, trace: Trace) -> None:
        self.menu = menu
        self.line = line
        self.trace = trace
        self.outcome = ""
        self.heard: set[str] = set()
        """Messages marked heard during this call."""
        timeouts = menu.timeouts
        self.login_rules = EntryRules(
            max_length=10, first_timeout=timeouts.first_digit,
            inter_digit=timeouts.between_digits, overflow=True, restart="*")
        """Mailbox number and PIN: up to '#' or a pause, '*' starts over; an entry longer than
        ten keys comes back too long (never cut into a valid one), its '#' still consumed."""

    async def run(self, channel_state: str, args: Sequence[str]) -> None:
        if channel_state != "Up":
            await self.line.handle.answer()
        await self._choose_language(args[0] if args else "")
        mailbox = await self._login()
        if mailbox is not None:
            await self._messages(mailbox)
        await self.line.play(["goodbye"], barge_in=False)
        await asyncio.sleep(HANGUP_GRACE)

    async def _choose_language(self, given: str) -> None:
        if given in LANGUAGES.values():
            self.line.language = given
        else:
            await self.line.play(["choose-language"], barge_in=True)
            key = await self.line.read_digit(self.menu.timeouts.language)
            self.line.language = LANGUAGES.get(key or "", DEFAULT_LANGUAGE)
        self.trace.add("language", language=self.line.language)

    async def _login(self) -> str | None:
        """The mailbox name, or None (after telling the caller why)."""
        for attempt in range(1, LOGIN_ATTEMPTS + 1):
            await self.line.play(["vm-login-mailbox"], barge_in=True)
            number = (await read_entry(self.line, self.login_rules)).digits
            await self.line.play(["vm-login-pin"], barge_in=True)
            pin = (await read_entry(self.line, self.login_rules, secure=True)).digits
            login = await self.menu.mailboxes.verify(number, pin)
            if login.outcome == "ok":
                self.trace.add("login", outcome="ok", mailbox=login.mailbox, attempt=attempt)
                return login.mailbox
            self.trace.add("login", outcome=login.outcome, attempt=attempt)
            if login.outcome == "locked":
                self.outcome = "locked"
                await self.line.play(["vm-locked"], barge_in=True)
                return None
            await self.line.play(["vm-login-incorrect"], barge_in=True)
        self.outcome = "login_failed"
        return None

    async def _messages(self, mailbox: str) -> None:
        store = self.menu.messages
        new = await store.list(mailbox, heard=False, limit=MAX_MESSAGES)
        saved = await store.list(mailbox, heard=True, limit=MAX_MESSAGES)
        self.outcome = "listened"
        self.trace.add("messages", new=len(new), saved=len(saved))
        if not new and not saved:
            await self.line.play(["vm-no-messages"], barge_in=True)
            return
        language = self.line.language
        await self.line.play(["vm-you-have", *say("number", str(len(new)), language),
                              "vm-new-and", *say("number", str(len(saved)), language),
                              "vm-saved-messages"], barge_in=True)
        for index, listed in enumerate([*new, *saved], 1):
            message = await store.get(listed.id)
            if message is None:  # deleted meanwhile (REST, another caller, retention)
                continue
            if await self._message(message, index) == EXIT:
                return
        await self.line.play(["vm-no-more"], barge_in=True)

    async def _message(self, message: Message, index: int) -> str:
        """Envelope, recording, options: NEXT or EXIT."""
        self.trace.add("message", id=message.id, index=index, heard=message.heard)
        if await self.line.play(envelope(message, index, self.line.language,
                                         self.menu.timezone), barge_in=True):
            await self._play(message)
        silent = 0
        while True:
            if not self.line.typed_ahead():
                await self.line.play(["vm-message-options"], barge_in=True)
            key = await self.line.read_digit(self.menu.timeouts.option)
            if key is None:
                silent += 1
                if silent >= SILENT_TURNS:
                    return EXIT
                continue
            silent = 0
            self.trace.add("option", key=key, id=message.id)
            if key == "1":
                await self._play(message)
            elif key == "2":
                return NEXT
            elif key == "3":
                await self.menu.messages.delete(message.id)
                self.trace.add("deleted", id=message.id)
                await self.line.play(["vm-deleted"], barge_in=True)
                return NEXT
            elif key == "4":
                await self.menu.messages.mark_heard(message.id, False)
                self.heard.discard(message.id)
                self.trace.add("kept_new", id=message.id)
                await self.line.play(["vm-kept-new"], barge_in=True)
                return NEXT
            elif key == "#":
                return EXIT
            elif key != "*":
                await self.line.play(["invalid"], barge_in=True)

    async def _play(self, message: Message) -> None:
        """The recording itself (see playback.py); heard once it has played."""
        try:
            async with self.menu.copies.staged(self.menu.messages.path(message)) as name:
                played = await self.line.play_media(f"recording:{name}")
            if played == "failed":
                log.error("Asterisk could not play message %s from %s: is that the folder "
                          "Asterisk records into (IVR_ASTERISK_RECORDING_DIR)?", message.id,
                          self.menu.copies.folder)
        except (ResourceGone, NotInStasis):
            raise
        except (PlaybackUnavailable, ValueError, AriError) as exc:
            log.error("message %s cannot be played: %s", message.id, exc)
            played = "failed"
        self.trace.add("played", id=message.id, outcome=played)
        if played == "failed":
            await self.line.play(["vm-play-failed"], barge_in=True)
            return
        if not message.heard and message.id not in self.heard:
            await self.menu.messages.mark_heard(message.id)
            self.heard.add(message.id)


def envelope(message: Message, index: int, language: str,
             timezone: dt.tzinfo | None = None) -> list[str]:
    """'Message 2, from 5 5 5 1 2 3 4, received today at 2:05 p.m.' as prompt ids: the date
    too when it was not today, both in `timezone` (None: this machine's); no 'from' when the
    caller is unknown or not digits."""
    number = say("number", str(index), language)
    ids = ["vm-message", *number] if language == "en" else [*number, "vm-message"]
    if message.caller:
        with contextlib.suppress(SayError):
            ids += ["vm-from", *say("digits", message.caller, language)]
    received = message.created_at.astimezone(timezone)
    when = say("time", f"{received:%H:%M}", language)
    if received.date() == dt.datetime.now(received.tzinfo).date():
        when = ["vm-today", *when]
    else:
        when = [*say("date", received.date().isoformat(), language), *when]
    return [*ids, "vm-received", *when]
