"""What the dial-in mailbox menu's tests share (test_mailbox_menu_messages.py,
test_mailbox_menu_login.py): a Rig that dials the menu and reads what the caller heard, and
messages saved into the mailbox.

The real AriClient talks HTTP and WebSocket to tests/fakeari.py; the menu is started from the
unclaimed-StasisStart handler exactly as the service does it (subscribed in the reader). The
messages and mailboxes live in SQLite in tmp_path; the "Asterisk recordings folder" is a
folder of tmp_path, so the test sees the copies the menu makes for playback. `menu_rig` sets it
up; each test module's `rig` fixture enters it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ivr.app.trace import CallTrace
from ivr.ari import AriClient, Event, StasisStart, channel_key
from ivr.media.prompts import PromptLibrary
from ivr.services.db import Database, connect
from ivr.services.voicemail import mailbox_menu
from ivr.services.voicemail.mailbox_menu import MailboxMenu, Timeouts
from ivr.services.voicemail.mailboxes import MailboxStore
from ivr.services.voicemail.playback import RecordingCopies
from ivr.services.voicemail.store import Message, MessageStore
from tests.fakeari import FakeAri, FakeChannel
from tests.unit.fake_prompts import fake_prompts

ROOT = Path(__file__).resolve().parents[3]
PIN = "97531"
"""Digits that appear nowhere else in a call (ids, callers, times), so a leak shows."""
CALLER = "5550002"


def wav(seconds: float, tone: int = 1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(tone.to_bytes(2, "little") * int(seconds * 8000))
    return buf.getvalue()


class RecordingsLast(dict[str, float]):
    """FakeAri's playback durations: every `recording:` plays `seconds` (names are random)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def get(self, key: str, default: Any = None) -> Any:
        return self.seconds if key.startswith("recording:") else super().get(key, default)


class RecordingsMissing(set[str]):
    """FakeAri's missing media: Asterisk cannot find any `recording:`."""

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str) and item.startswith("recording:")


@dataclass
class Rig:
    fake: FakeAri
    client: AriClient
    db: Database
    messages: MessageStore
    mailboxes: MailboxStore
    menu: MailboxMenu
    recordings: Path
    traces: Path
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    async def dial(self, *args: str, caller: str = "01099998888", state: str = "Up",
                   channel_id: str = "mbx-call") -> FakeChannel:
        channel = self.fake.add_channel(channel_id, caller_number=caller, state=state)
        await self.fake.emit_stasis_start(channel, mailbox_menu.MAILBOX_ARG, *args)
        await self.fake.wait_until(lambda: self.tasks.get(channel.id))
        return channel

    async def keys(self, channel: FakeChannel, digits: str) -> None:
        for digit in digits:
            await self.fake.send_dtmf(channel.id, digit)

    async def at(self, channel: FakeChannel, prompt: str, occurrence: int = 1,
                 language: str = "en") -> None:
        await self.fake.wait_for_playback(channel.id, f"sound:ivr/{language}/{prompt}",
                                          occurrence)

    async def login(self, channel: FakeChannel, pin: str = PIN) -> None:
        await self.at(channel, "vm-login-mailbox")
        await self.keys(channel, f"500#{pin}#")

    async def ended(self, channel: FakeChannel) -> None:
        await asyncio.wait_for(self.tasks[channel.id], 5.0)

    def heard(self, channel: FakeChannel) -> list[str]:
        """What was played, in order: prompt ids, and 'recording' for a message."""
        return ["recording" if m.startswith("recording:vmplay-") else m.rpartition("/")[2]
                for m in self.fake.played_media(channel.id)]

    def trace(self, channel: FakeChannel) -> list[dict[str, Any]]:
        text = (self.traces / f"{channel.id}.jsonl").read_text(encoding="utf-8")
        assert PIN not in text
        return [json.loads(line) for line in text.splitlines()]

    def hung_up_by_ivr(self, channel: FakeChannel) -> bool:
        return bool(self.fake.requests_to("DELETE", f"/channels/{channel.id}"))


@asynccontextmanager
async def menu_rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    """The menu started from the unclaimed-StasisStart handler on a started FakeAri, mailbox
    general (number 500, PIN) set; on exit, calls still running are cancelled, all closed."""
    monkeypatch.setattr(mailbox_menu, "HANGUP_GRACE", 0.0)
    fake = FakeAri(playback_duration=0.01)
    await fake.start()
    client = AriClient(fake.config())
    db = await connect(f"sqlite:///{tmp_path / 'ivr.db'}")
    await db.migrate()
    messages = MessageStore(db, tmp_path / "voicemail")
    mailboxes = MailboxStore(db)
    await mailboxes.set("general", number="500", pin=PIN)
    recordings = tmp_path / "recording"
    recordings.mkdir()
    menu = MailboxMenu(messages, mailboxes, PromptLibrary(fake_prompts(tmp_path / "prompts")),
                       RecordingCopies(recordings), trace_dir=tmp_path / "traces",
                       new_trace=CallTrace,
                       timeouts=Timeouts(language=0.3, first_digit=1.0, between_digits=0.5,
                                         option=0.2))
    rig = Rig(fake, client, db, messages, mailboxes, menu, recordings, tmp_path / "traces")

    def on_unclaimed(event: Event) -> None:  # as IvrService._on_unclaimed does it
        if isinstance(event, StasisStart) and event.args[:1] == (mailbox_menu.MAILBOX_ARG,):
            handle = client.channels.handle(event.channel.id)
            handle.events = client.subscribe(channel_key(event.channel.id))
            rig.tasks[event.channel.id] = asyncio.create_task(
                menu.run(event.channel, handle, event.args[1:]))

    client.on_unclaimed(on_unclaimed)
    await client.start()
    yield rig
    for task in rig.tasks.values():
        task.cancel()
    await asyncio.gather(*rig.tasks.values(), return_exceptions=True)
    await client.close()
    await db.close()
    await fake.close()


async def save(rig: Rig, *, caller: str = CALLER, ago: dt.timedelta = dt.timedelta(hours=1),
               heard: bool = False, mailbox: str = "general", seconds: float = 1.0) -> Message:
    message = await rig.messages.save(mailbox, wav(seconds), caller=caller,
                                      created_at=dt.datetime.now(dt.UTC) - ago)
    if heard:
        await rig.messages.mark_heard(message.id)
    return message


async def is_heard(rig: Rig, message: Message) -> bool | None:
    found = await rig.messages.get(message.id)
    return None if found is None else found.heard
