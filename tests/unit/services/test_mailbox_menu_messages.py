"""Listening to a mailbox (voicemail/mailbox_menu.py) once logged in: new messages first,
newest first, each heard one marked heard; delete and keep-new; a key during a recording cuts it
and is the choice; replay, an invalid key and * repeating the options; no messages, silence;
a message Asterisk cannot play; a hang-up mid-message leaving it new; and the envelope said
before each message, in both languages. On the fake ARI with real stores (mailbox_menu_rig.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.services.voicemail import mailbox_menu
from ivr.services.voicemail.mailbox_menu import envelope
from ivr.services.voicemail.playback import RecordingCopies
from ivr.services.voicemail.store import Message

from .mailbox_menu_rig import RecordingsLast, RecordingsMissing, Rig, is_heard, menu_rig, save


@pytest.fixture
async def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    async with menu_rig(tmp_path, monkeypatch) as it:
        yield it


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
