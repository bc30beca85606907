"""Voicemail end to end: a caller of the bank demo presses 4, hears the greeting and the beep,
speaks (the softphone plays a WAV), and the message is stored: a file that holds what was said,
about as long as it was said, and its row in the database. A caller who hangs up mid-message
keeps the message.
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ivr.app.paths import project_root
from ivr.testing.audio import find_prompt, heard_sequence, is_silent, load_wav, save_wav
from ivr.testing.softphone import place_call_subprocess

from .conftest import RunningApp
from .test_demo_call import events, new_caller

pytestmark = pytest.mark.e2e

PROMPTS = project_root() / "prompts"
TO_VOICEMAIL = "wait 1.5; dtmf 2; wait 1.5; dtmf 4"
"""English, then 4 (leave a message) in the bank's main menu."""


def seconds(prompt: str, language: str = "en") -> float:
    return len(load_wav(PROMPTS / language / f"{prompt}.wav")) / 8000


def message_of(app: RunningApp, caller: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in app.get("/mailboxes/general/messages"):
            if message["caller"] == caller:
                return dict(message)
        time.sleep(0.2)
    raise AssertionError(f"no message from {caller}; log: {app.log_lines()[-20:]}")


def audio_of(app: RunningApp, message_id: str, into: Path) -> np.ndarray:
    with urllib.request.urlopen(f"{app.base_url}/messages/{message_id}/audio",
                                timeout=5) as resp:
        assert resp.headers["Content-Type"] == "audio/wav"
        into.write_bytes(resp.read())
    return load_wav(into)


def spoken(tmp_path: Path, prompt: str = "branch-location") -> tuple[Path, np.ndarray]:
    """What the caller says: a sentence twice with a pause."""
    one = load_wav(PROMPTS / "en" / f"{prompt}.wav")
    voice = np.concatenate([one, np.zeros(4000), one])
    path = tmp_path / "said.wav"
    save_wav(path, voice)
    return path, one


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
                            for p in ("vm-greeting", "vm-review", "vm-sent")}, threshold=0.9)
    # The review prompt was cut short by the key (barge-in); the others were heard whole.
    assert [name for name, _ in heard] == ["vm-greeting", "vm-sent"]
    assert [e["prompt"] for e in events(trace, "barge_in")][-1] == "vm-review"
    assert report.hangup_by == "remote", "the IVR ends the call after the confirmation"
    records = [r for r in ivr_app.get("/records") if r["caller"] == caller]
    assert [r["outcome"] for r in records] == ["voicemail"]


def test_caller_who_hangs_up_mid_message_keeps_it(ivr_app: RunningApp, tmp_path: Path) -> None:
    said, sentence = spoken(tmp_path, "goodbye")  # the first one fits in the 5 s said
    caller = new_caller()
    greeting = seconds("vm-greeting") + 1.5
    report = place_call_subprocess(
        "100", f"{TO_VOICEMAIL}; wait {greeting:.1f}; play-bg {said}; wait 5; hangup",
        caller=caller, timeout=10)
    assert report.ok, report.error
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
        request = urllib.request.Request(ivr_app.base_url + path, method=method)
        with urllib.request.urlopen(request, timeout=5) as resp:
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
