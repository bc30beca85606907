"""Getting into a mailbox (voicemail/mailbox_menu.py): the caller picks the language
unless the dialplan did; three failed logins end in goodbye with no message heard and the PIN
in no log or trace; a locked mailbox is refused; and the service routes extension 102 to the
menu and cleans up after it. On the fake ARI with real stores (mailbox_menu_rig.py).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.app.config import AppConfig
from ivr.app.service import IvrService
from ivr.ari import channel_key
from ivr.services.voicemail import mailbox_menu
from ivr.services.voicemail.mailboxes import MailboxStore
from tests.fakeari import FakeAri
from tests.unit.fake_prompts import fake_prompts

from .mailbox_menu_rig import PIN, ROOT, Rig, menu_rig, save


@pytest.fixture
async def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    async with menu_rig(tmp_path, monkeypatch) as it:
        yield it


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
    assert not [e for e in trace if e["event"] in ("play", "played", "dtmf")], \
        "the menu's trace says what things meant: `played` is a message heard, never a prompt"
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
