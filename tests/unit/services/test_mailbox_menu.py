"""The dial-in mailbox menu (voicemail/mailbox_menu.py) on the fake ARI, with real stores.

The real AriClient talks HTTP and WebSocket to tests/fakeari.py; the menu is started from the
unclaimed-StasisStart handler exactly as the service does it (subscribed in the reader). The
messages and mailboxes live in SQLite in tmp_path; the "Asterisk recordings folder" is a
folder of tmp_path, so the test sees the copies the menu makes for playback.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import logging
import shutil
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ivr.app.config import AppConfig
from ivr.app.service import IvrService
from ivr.app.trace import CallTrace
from ivr.ari import AriClient, Event, StasisStart, channel_key
from ivr.media.prompts import PromptLibrary
from ivr.services.db import Database, connect
from ivr.services.voicemail import mailbox_menu
from ivr.services.voicemail.mailbox_menu import MailboxMenu, Timeouts, envelope
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


@pytest.fixture
async def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
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


async def test_new_messages_first_newest_first_and_played_ones_become_heard(rig: Rig) -> None:
    older = await save(rig, ago=dt.timedelta(hours=2))
    newer = await save(rig, ago=dt.timedelta(hours=1))
    saved = await save(rig, caller="", ago=dt.timedelta(days=3), heard=True)
    elsewhere = await save(rig, mailbox="sales")
    channel = await rig.dial("en")
    await rig.login(channel)
    for turn in (1, 2):
        await rig.at(channel, "vm-message-options", turn)
        await rig.keys(channel, "2")
    await rig.at(channel, "vm-message-options", 3)
    await rig.keys(channel, "#")
    await rig.ended(channel)

    heard = rig.heard(channel)
    assert heard[:7] == ["vm-login-mailbox", "vm-you-have", "num-2", "vm-new-and", "num-1",
                         "vm-saved-messages", "vm-message"], "the PIN was typed ahead"
    assert heard.count("recording") == 3 and heard[-1] == "goodbye"
    assert "vm-no-more" not in heard, "# left before the end"
    trace = rig.trace(channel)
    assert [e["id"] for e in trace if e["event"] == "message"] == [newer.id, older.id,
                                                                  saved.id]
    assert next(e for e in trace if e["event"] == "login")["mailbox"] == "general"
    assert trace[-1]["event"] == "end" and trace[-1]["hangup_by"] == "ivr"
    assert [await is_heard(rig, m) for m in (older, newer, saved, elsewhere)] == \
        [True, True, True, False]
    assert rig.hung_up_by_ivr(channel)
    assert not list(rig.recordings.iterdir()), "every playback copy is removed"
    assert not rig.client.router.subscribed_keys()


async def test_delete_and_keep_new(rig: Rig) -> None:
    first = await save(rig, ago=dt.timedelta(minutes=5))
    second = await save(rig, ago=dt.timedelta(minutes=10))
    channel = await rig.dial("en")
    await rig.login(channel)
    await rig.at(channel, "vm-message-options", 1)
    await rig.keys(channel, "3")
    await rig.at(channel, "vm-message-options", 2)
    await rig.keys(channel, "4")
    await rig.ended(channel)

    assert await rig.messages.get(first.id) is None
    assert not rig.messages.path(first).exists()
    assert await is_heard(rig, second) is False, "4 keeps it new although it was played"
    heard = rig.heard(channel)
    after = heard.index("vm-deleted")
    assert heard[after + 1:after + 3] == ["vm-message", "num-2"], "then the next message"
    assert heard[-3:] == ["vm-kept-new", "vm-no-more", "goodbye"]


async def test_a_key_during_the_recording_cuts_it_and_is_the_choice(rig: Rig) -> None:
    message = await save(rig, seconds=2.0)
    rig.fake.durations = RecordingsLast(10.0)
    channel = await rig.dial("en")
    await rig.login(channel)
    playing = await rig.fake.wait_until(lambda: next(
        (p for p in rig.fake.playbacks.values()
         if p.media_uri.startswith("recording:") and p.state == "playing"), None))
    name = playing.media_uri.removeprefix("recording:")
    copy = rig.recordings / f"{name}.wav"
    assert copy.read_bytes() == rig.messages.path(message).read_bytes()
    await rig.keys(channel, "3")
    await rig.ended(channel)

    assert rig.fake.requests_to("DELETE", f"/playbacks/{playing.id}"), "playback stopped"
    assert await rig.messages.get(message.id) is None
    heard = rig.heard(channel)
    assert "vm-message-options" not in heard, "the key was the choice: no options needed"
    assert heard[-3:] == ["vm-deleted", "vm-no-more", "goodbye"]
    assert not copy.exists()


async def test_replay_then_invalid_key_then_star_repeats_the_options(rig: Rig) -> None:
    await save(rig)
    channel = await rig.dial("en")
    await rig.login(channel)
    await rig.at(channel, "vm-message-options", 1)
    await rig.keys(channel, "1")
    await rig.at(channel, "vm-message-options", 2)
    await rig.keys(channel, "9")
    await rig.at(channel, "invalid")
    await rig.at(channel, "vm-message-options", 3)
    await rig.keys(channel, "*")
    await rig.at(channel, "vm-message-options", 4)
    await rig.keys(channel, "#")
    await rig.ended(channel)
    assert rig.heard(channel).count("recording") == 2
    options = [e["key"] for e in rig.trace(channel) if e["event"] == "option"]
    assert options == ["1", "9", "*", "#"]


async def test_three_failed_logins_end_in_goodbye_without_a_message(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    await save(rig)
    channel = await rig.dial("en")
    with caplog.at_level(logging.DEBUG):
        for attempt in (1, 2, 3):
            await rig.at(channel, "vm-login-mailbox", attempt)
            await rig.keys(channel, "500#13579#" if attempt < 3 else f"501#{PIN}#")
        await rig.ended(channel)

    heard = rig.heard(channel)
    assert heard.count("vm-login-incorrect") == 3 and heard[-1] == "goodbye"
    assert "recording" not in heard and "vm-you-have" not in heard
    box = await rig.mailboxes.get("general")
    assert box is not None and box.failed_attempts == 2, "the unknown number cost nothing"
    trace = rig.trace(channel)
    assert [e["outcome"] for e in trace if e["event"] == "login"] == ["wrong"] * 3
    assert trace[-1]["outcome"] == "login_failed"
    assert PIN not in caplog.text and "13579" not in caplog.text
    assert rig.hung_up_by_ivr(channel)


async def test_a_locked_mailbox_is_refused(rig: Rig) -> None:
    locking = MailboxStore(rig.db, max_failures=1)
    assert (await locking.verify("500", "0000")).outcome == "locked"
    await save(rig)
    channel = await rig.dial("en")
    await rig.login(channel)
    await rig.ended(channel)
    assert rig.heard(channel) == ["vm-login-mailbox", "vm-locked", "goodbye"]
    assert rig.trace(channel)[-1]["outcome"] == "locked"


async def test_hanging_up_mid_message_leaves_it_new_and_nothing_behind(rig: Rig) -> None:
    message = await save(rig)
    rig.fake.durations = RecordingsLast(10.0)
    channel = await rig.dial("en")
    await rig.login(channel)
    await rig.fake.wait_until(lambda: list(rig.recordings.iterdir()))
    await rig.fake.hangup_from_caller(channel.id)
    await rig.ended(channel)

    assert await is_heard(rig, message) is False
    assert not list(rig.recordings.iterdir())
    assert not rig.client.router.subscribed_keys()
    assert not rig.hung_up_by_ivr(channel)
    assert rig.trace(channel)[-1]["hangup_by"] == "caller"


async def test_the_caller_picks_the_language_unless_the_dialplan_did(rig: Rig) -> None:
    korean = await rig.dial(state="Ring", channel_id="ko-call")
    await rig.at(korean, "choose-language", language="ko")
    await rig.keys(korean, "1")
    await rig.at(korean, "vm-login-mailbox", language="ko")
    await rig.fake.hangup_from_caller(korean.id)
    await rig.ended(korean)
    assert rig.fake.requests_to("POST", "/channels/ko-call/answer")

    english = await rig.dial(channel_id="en-call")
    await rig.at(english, "choose-language", language="ko")
    await rig.keys(english, "2")
    await rig.at(english, "vm-login-mailbox", language="en")
    await rig.fake.hangup_from_caller(english.id)

    silent = await rig.dial(channel_id="silent-call")
    await rig.at(silent, "vm-login-mailbox", language="ko")  # nobody chose: Korean
    await rig.fake.hangup_from_caller(silent.id)
    assert not rig.fake.requests_to("POST", "/channels/en-call/answer"), "already up"


async def test_no_messages_then_goodbye_and_silence_ends_the_menu(rig: Rig) -> None:
    channel = await rig.dial("en", channel_id="empty")
    await rig.login(channel)
    await rig.ended(channel)
    assert rig.heard(channel) == ["vm-login-mailbox", "vm-no-messages", "goodbye"]

    await save(rig)
    quiet = await rig.dial("en", channel_id="quiet")
    await rig.login(quiet)
    await rig.ended(quiet)
    heard = rig.heard(quiet)
    assert heard.count("vm-message-options") == mailbox_menu.SILENT_TURNS
    assert heard[-1] == "goodbye" and "vm-no-more" not in heard


async def test_a_message_asterisk_cannot_play_is_said_so_and_stays_new(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    message = await save(rig)
    rig.fake.missing_media = RecordingsMissing()
    channel = await rig.dial("en", channel_id="missing")
    await rig.login(channel)
    await rig.at(channel, "vm-message-options")
    await rig.keys(channel, "#")
    await rig.ended(channel)
    assert "vm-play-failed" in rig.heard(channel)
    assert await is_heard(rig, message) is False
    assert "IVR_ASTERISK_RECORDING_DIR" in caplog.text

    rig.menu.copies = RecordingCopies(None)
    nowhere = await rig.dial("en", channel_id="nowhere")
    await rig.login(nowhere)
    await rig.at(nowhere, "vm-play-failed")
    await rig.keys(nowhere, "#")
    await rig.ended(nowhere)
    assert "recording" not in rig.heard(nowhere)
    assert await is_heard(rig, message) is False


def _message(caller: str, created_at: dt.datetime) -> Message:
    return Message(id="m", mailbox="general", caller=caller, language="en",
                   created_at=created_at, duration_s=1.0, heard=False, heard_at=None,
                   file="general/m.wav", size_bytes=0, call_id="", queue="")


def test_the_envelope_in_both_languages() -> None:
    kst = dt.timezone(dt.timedelta(hours=9))
    today = dt.datetime.now(kst).replace(hour=14, minute=5, second=0, microsecond=0)
    assert envelope(_message("5551234", today), 2, "en", kst) == [
        "vm-message", "num-2", "vm-from", "digit-5", "digit-5", "digit-5", "digit-1",
        "digit-2", "digit-3", "digit-4", "vm-received", "vm-today", "num-2", "word-oh",
        "num-5", "time-pm"]
    earlier = dt.datetime(2026, 11, 20, 5, 30, tzinfo=dt.UTC)  # 14:30 in Seoul
    assert envelope(_message("anonymous", earlier), 1, "ko", kst) == [
        "num-1", "vm-message", "vm-received", "num-2000", "num-20", "num-6", "date-year",
        "month-11", "day-20", "time-pm", "hour-2", "num-30", "time-minute"]


async def test_the_service_routes_extension_102_and_cleans_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailbox_menu, "HANGUP_GRACE", 0.0)
    fake = FakeAri(playback_duration=0.01)
    await fake.start()
    flows = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", flows)
    config = AppConfig(ari=fake.config(), flows_dir=flows, default_flow="bank",
                       prompts_dir=fake_prompts(tmp_path / "prompts"),
                       trace_dir=tmp_path / "traces",
                       database_url=f"sqlite:///{tmp_path / 'ivr.db'}",
                       voicemail_dir=tmp_path / "voicemail",
                       asterisk_recording_dir=tmp_path / "recording")
    service = IvrService(config, reload_interval=3600)
    await service.start()
    try:
        assert service.mailboxes is not None
        await service.mailboxes.set("general", number="500", pin=PIN)
        channel = fake.add_channel("svc-call")
        await fake.emit_stasis_start(channel, "mailbox", "en")
        await fake.wait_for_playback(channel.id, "sound:ivr/en/vm-login-mailbox")
        assert not service.calls, "not a flow call"
        assert channel_key(channel.id) in service.client.router.subscribed_keys()
        await fake.hangup_from_caller(channel.id)
        trace = tmp_path / "traces" / "svc-call.jsonl"
        await fake.wait_until(trace.exists)  # written last, once the call let go of all
        assert service.status()["subscriptions"] == 0
    finally:
        await service.stop()
        await fake.close()
