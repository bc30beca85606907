"""Voicemail end to end: a caller of the bank demo presses 4, hears the greeting and the beep,
speaks (the softphone plays a WAV), and the message is stored: a file that holds what was said,
about as long as it was said, and its row in the database. A caller who hangs up mid-message
keeps the message. Then the mailbox's owner dials 102, logs in with the mailbox number and PIN,
hears the message itself and deletes it; three wrong PINs hear no message at all.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ivr.services.db import connect
from ivr.services.voicemail.store import MessageStore
from ivr.testing.audio import (
    HEARD_WHOLE,
    find_prompt,
    heard_sequence,
    is_silent,
    load_wav,
)
from ivr.testing.softphone import place_call, place_call_subprocess

from .helpers import (
    PROMPTS,
    TO_VOICEMAIL,
    events,
    expect_events,
    new_caller,
    place_of,
    places,
    seconds,
    spoken,
)
from .running_app import RunningApp

pytestmark = pytest.mark.e2e


def message_of(app: RunningApp, caller: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in app.get("/mailboxes/general/messages"):
            if message["caller"] == caller:
                return dict(message)
        time.sleep(0.2)
    raise AssertionError(f"no message from {caller}; log: {app.log_lines()[-20:]}")


def audio_of(app: RunningApp, message_id: str, into: Path) -> np.ndarray:
    with app.open(f"/messages/{message_id}/audio") as resp:
        assert resp.headers["Content-Type"] == "audio/wav"
        into.write_bytes(resp.read())
    return load_wav(into)


def test_caller_leaves_a_message_and_sends_it(ivr_app: RunningApp, tmp_path: Path) -> None:
    said, sentence = spoken(tmp_path)
    said_s = len(load_wav(said)) / 8000
    caller = new_caller()
    greeting = seconds("vm-greeting") + 1.5  # then the beep
    script = "; ".join([
        TO_VOICEMAIL, f"wait {greeting:.1f}", f"play {said}", "wait 0.5", "dtmf #",
        "wait 1.5", "dtmf 3",            # review: send
        "wait-hangup 20",
    ])
    report = place_call_subprocess("100", script, record=tmp_path / "heard.wav", caller=caller,
                                   timeout=10)
    assert report.ok, report.error

    message = message_of(ivr_app, caller)
    assert message["mailbox"] == "general" and message["language"] == "en"
    assert message["heard"] is False
    assert said_s - 1.0 <= message["duration_s"] <= said_s + 2.5
    audio = audio_of(ivr_app, message["id"], tmp_path / "message.wav")
    assert not is_silent(audio)
    assert len(find_prompt(audio, sentence, threshold=0.8)) == 2, "both sentences recorded"
    stored = ivr_app.flows_dir.parent / "voicemail" / "general" / f"{message['id']}.wav"
    assert stored.read_bytes() == (tmp_path / "message.wav").read_bytes()
    with sqlite3.connect(ivr_app.database()) as db:
        rows = db.execute("SELECT mailbox, caller, heard FROM voicemail_messages WHERE id = ?",
                          (message["id"],)).fetchall()
    assert rows == [("general", caller, 0)]

    trace = ivr_app.trace_for_caller(caller)
    assert [e["choice"] for e in events(trace, "voicemail_review")] == ["send"]
    heard = heard_sequence(tmp_path / "heard.wav",
                           {p: PROMPTS / "en" / f"{p}.wav"
                            for p in ("vm-greeting", "vm-review", "vm-sent")},
                           threshold=HEARD_WHOLE)
    # The review prompt was cut short by the key (barge-in); the others were heard whole.
    assert [name for name, _ in heard] == ["vm-greeting", "vm-sent"]
    assert [e["prompt"] for e in events(trace, "barge_in")][-1] == "vm-review"
    assert report.hangup_by == "remote", "the IVR ends the call after the confirmation"
    records = [r for r in ivr_app.get("/records") if r["caller"] == caller]
    assert [r["outcome"] for r in records] == ["voicemail"]


async def test_caller_who_hangs_up_mid_message_keeps_it(ivr_app: RunningApp,
                                                       tmp_path: Path) -> None:
    said, sentence = spoken(tmp_path, "goodbye")  # the first one fits in the 5 s said
    caller = new_caller()
    greeting = seconds("vm-greeting") + 1.5
    call = asyncio.create_task(place_call(
        "100", f"{TO_VOICEMAIL}; wait {greeting:.1f}; play-bg {said}; wait 5; hangup",
        caller=caller, timeout=10))
    await place_of(ivr_app, caller, "leaving_message", mailbox="general", recording=False)
    await place_of(ivr_app, caller, "leaving_message", mailbox="general", recording=True)
    report = await call
    assert report.ok, report.error
    trace = ivr_app.trace_for_caller(caller)
    assert places(trace) == ["in_flow", "leaving_message", "leaving_message", "ended"]
    expect_events(trace, happen=["voicemail_recording", "hangup", "end"],
                  never=["voicemail_review", "error", "queue_enter"])
    message = message_of(ivr_app, caller)
    assert 3.0 <= message["duration_s"] <= 6.5
    audio = audio_of(ivr_app, message["id"], tmp_path / "message.wav")
    assert find_prompt(audio, sentence, threshold=0.8), "what was said before hanging up"
    records = [r for r in ivr_app.get("/records") if r["caller"] == caller]
    assert [r["outcome"] for r in records] == ["voicemail"]


def test_messages_can_be_marked_heard_and_deleted(ivr_app: RunningApp, tmp_path: Path) -> None:
    said, _ = spoken(tmp_path)
    caller = new_caller()
    greeting = seconds("vm-greeting") + 1.5
    report = place_call_subprocess(
        "100", f"{TO_VOICEMAIL}; wait {greeting:.1f}; play-bg {said}; wait 3; hangup",
        caller=caller, timeout=10)
    assert report.ok, report.error
    message = message_of(ivr_app, caller)

    def call(method: str, path: str) -> tuple[int, Any]:
        with ivr_app.open(path, method) as resp:
            body = resp.read()
            return resp.status, json.loads(body) if body else None

    status, marked = call("POST", f"/messages/{message['id']}/heard")
    assert status == 200 and marked["heard"] is True
    unheard = ivr_app.get("/mailboxes/general/messages?heard=false")
    assert message["id"] not in [m["id"] for m in unheard]
    assert call("DELETE", f"/messages/{message['id']}")[0] == 204
    stored = ivr_app.flows_dir.parent / "voicemail" / "general" / f"{message['id']}.wav"
    assert not stored.exists()
    with pytest.raises(urllib.error.HTTPError) as gone:
        call("GET", f"/messages/{message['id']}")
    assert gone.value.code == 404


def prompts_heard(recording: Path, names: list[str]) -> list[str]:
    """Those of `names` heard whole, in order (prompts cut by a key are not heard whole)."""
    sequence = heard_sequence(recording, {n: PROMPTS / "en" / f"{n}.wav" for n in names},
                              threshold=HEARD_WHOLE)
    return [name for name, _ in sequence]


MAILBOX_LOGIN = "wait 1.5; dtmf 2; wait 1.5; dtmf {number}#; wait 1.5; dtmf {pin}#"
"""Extension 102: English, then the mailbox number and the PIN, each into its prompt."""


def test_the_owner_dials_in_hears_the_message_and_deletes_it(
        ivr_app: RunningApp, tmp_path: Path) -> None:
    said, sentence = spoken(tmp_path, "queue-timeout")
    caller = new_caller()
    greeting = seconds("vm-greeting") + 1.5
    left = place_call_subprocess(
        "100", f"{TO_VOICEMAIL}; wait {greeting:.1f}; play {said}; wait 0.5; dtmf #; "
        "wait 1.5; dtmf 3; wait-hangup 20", caller=caller, timeout=10)
    assert left.ok, left.error
    message = message_of(ivr_app, caller)
    stored = audio_of(ivr_app, message["id"], tmp_path / "message.wav")

    # The newest new message comes first: summary, envelope, then the recording, then the
    # options; 3 deletes it, # leaves at once.
    owner = new_caller()
    listen = message["duration_s"] + 30
    report = place_call_subprocess(
        "102", "; ".join([MAILBOX_LOGIN.format(number="500", pin="1234"), f"wait {listen:.1f}",
                          "dtmf 3", "wait 3", "dtmf #", "wait-hangup 20"]),
        record=tmp_path / "heard.wav", caller=owner, timeout=10)
    assert report.ok, report.error
    assert report.hangup_by == "remote", "the IVR says goodbye and hangs up"

    heard = load_wav(tmp_path / "heard.wav")
    assert len(find_prompt(heard, sentence, threshold=0.8)) == 2, "both sentences heard"
    played = find_prompt(heard, stored, threshold=0.8)
    assert len(played) == 1, "the message itself, once"
    menu = prompts_heard(tmp_path / "heard.wav",
                         ["vm-you-have", "vm-message-options", "vm-deleted", "goodbye"])
    assert menu[:2] == ["vm-you-have", "vm-message-options"] and menu[-1] == "goodbye"
    assert "vm-deleted" in menu
    assert played[0].offset_s < find_prompt(heard, load_wav(
        PROMPTS / "en" / "vm-deleted.wav"), threshold=HEARD_WHOLE)[0].offset_s

    trace = ivr_app.trace_for_caller(owner)
    assert [e["outcome"] for e in events(trace, "login")] == ["ok"]
    assert events(trace, "message")[0]["id"] == message["id"], "newest new message first"
    played_first = events(trace, "played")[0]
    assert (played_first["id"], played_first["outcome"]) == (message["id"], "done")
    assert [e["id"] for e in events(trace, "deleted")] == [message["id"]]
    assert all(value != "1234" for entry in trace for value in entry.values())

    assert message["id"] not in [m["id"] for m in ivr_app.get("/messages?limit=1000")]
    with pytest.raises(urllib.error.HTTPError) as gone:
        ivr_app.open(f"/messages/{message['id']}")
    assert gone.value.code == 404
    assert not (ivr_app.flows_dir.parent / "voicemail" / "general"
                / f"{message['id']}.wav").exists()
    assert ivr_app.wait_idle()["subscriptions"] == 0


def test_three_wrong_pins_hear_goodbye_and_no_message(
        ivr_app: RunningApp, tmp_path: Path) -> None:
    number, pin, wrong = "5907", "904817", ("731596", "318042", "620975")
    database = f"sqlite:///{ivr_app.database()}"
    subprocess.run([sys.executable, "-m", "ivr.app.cli", "mailbox", "set", "e2e-wrong",
                    "--number", number, "--pin", "-", "--url", database],
                   input=f"{pin}\n", text=True, check=True, capture_output=True)
    said, sentence = spoken(tmp_path, "queue-timeout")

    async def leave() -> str:  # as a message left earlier, by another process
        async with await connect(database) as db:
            store = MessageStore(db, ivr_app.flows_dir.parent / "voicemail")
            return (await store.save("e2e-wrong", said.read_bytes(), caller="5551000")).id

    message_id = asyncio.run(leave())
    retry = seconds("vm-login-incorrect") + 1.0
    caller = new_caller()
    report = place_call_subprocess(
        "102", "; ".join([
            "wait 1.5; dtmf 2",
            *(f"wait 1.5; dtmf {number}#; wait 1.5; dtmf {guess}#; wait {retry:.1f}"
              for guess in wrong),
            "wait-hangup 15"]),
        record=tmp_path / "heard.wav", caller=caller, timeout=10)
    assert report.ok, report.error
    assert report.hangup_by == "remote"

    heard = prompts_heard(tmp_path / "heard.wav",
                          ["vm-login-incorrect", "goodbye", "vm-you-have",
                           "vm-message-options"])
    assert heard == ["vm-login-incorrect"] * 3 + ["goodbye"]
    assert not find_prompt(load_wav(tmp_path / "heard.wav"), sentence, threshold=0.8)
    trace = ivr_app.trace_for_caller(caller)
    assert [e["outcome"] for e in events(trace, "login")] == ["wrong"] * 3
    assert not events(trace, "message") and not events(trace, "played")
    assert trace[-1]["outcome"] == "login_failed" and trace[-1]["hangup_by"] == "ivr"
    log_text = "\n".join(ivr_app.log_lines())
    for digits in (pin, *wrong):
        assert digits not in json.dumps(trace) and digits not in log_text

    assert ivr_app.get(f"/messages/{message_id}")["heard"] is False
    with sqlite3.connect(ivr_app.database()) as db:
        rows = db.execute("SELECT failed_attempts, locked_until FROM voicemail_mailboxes"
                          " WHERE mailbox = 'e2e-wrong'").fetchall()
    assert rows == [(3, None)], "counted, not yet locked (that takes 5)"
    assert ivr_app.wait_idle()["subscriptions"] == 0
