"""Real SIP calls into the demo flow on extension 100, through the project's Asterisk 22.

Each test states what the caller must hear and what must happen, and what must not.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ivr.testing.audio import is_silent
from ivr.testing.softphone import place_call_subprocess

from .helpers import events, heard, new_caller, played, seconds
from .running_app import RunningApp

pytestmark = pytest.mark.e2e


def test_key_pressed_during_menu_is_read_back(ivr_app: RunningApp, tmp_path: Path) -> None:
    caller = new_caller()
    press_at = seconds("welcome") + 1.5  # one and a half seconds into the menu prompt
    report = place_call_subprocess(
        "101", f"wait {press_at:.1f}; dtmf 1; wait-hangup 20",
        record=tmp_path / "heard.wav", caller=caller,
    )
    assert report.ok and report.connected, report.error
    assert report.hangup_by == "remote", "the IVR must end the call after goodbye"
    assert not is_silent(tmp_path / "heard.wav")

    trace = ivr_app.trace_for_caller(caller)
    assert played(trace) == ["welcome", "main-menu", "you-pressed", "digit-1", "goodbye"]
    assert [e["digit"] for e in events(trace, "dtmf")] == ["1"]
    assert events(trace, "barge_in") == [
        {**events(trace, "barge_in")[0], "prompt": "main-menu"}
    ], "the key must stop the menu prompt"
    assert events(trace, "choice")[0]["key"] == "1"
    assert not events(trace, "no_input") and not events(trace, "no_match")
    assert trace[-1]["event"] == "end" and trace[-1]["hangup_by"] == "ivr"

    sequence = heard(tmp_path / "heard.wav")
    assert sequence == ["welcome", "you-pressed", "digit-1", "goodbye"], (
        "the menu prompt was cut by the key, so it is not heard whole"
    )


def test_wrong_key_gets_invalid_then_the_right_key_works(
    ivr_app: RunningApp, tmp_path: Path
) -> None:
    caller = new_caller()
    menu_at = seconds("welcome") + 1.0
    second_at = seconds("invalid") + 1.0  # into the menu prompt played again
    report = place_call_subprocess(
        "101", f"wait {menu_at:.1f}; dtmf 9; wait {second_at:.1f}; dtmf 3; wait-hangup 20",
        record=tmp_path / "heard.wav", caller=caller,
    )
    assert report.ok, report.error
    trace = ivr_app.trace_for_caller(caller)
    assert [e["key"] for e in events(trace, "no_match")] == ["9"]
    assert events(trace, "choice")[0]["key"] == "3"
    assert played(trace) == ["welcome", "main-menu", "invalid", "main-menu", "you-pressed",
                             "digit-3", "goodbye"]
    sequence = heard(tmp_path / "heard.wav")
    assert sequence == ["welcome", "invalid", "you-pressed", "digit-3", "goodbye"], (
        "both menu prompts were cut by keys; a wrong key must not be read back"
    )


def test_no_key_reprompts_then_says_goodbye(ivr_app: RunningApp, tmp_path: Path) -> None:
    caller = new_caller()
    report = place_call_subprocess(
        "101", "wait-hangup 60", record=tmp_path / "heard.wav", caller=caller, timeout=10
    )
    assert report.ok, report.error
    assert report.hangup_by == "remote"
    trace = ivr_app.trace_for_caller(caller)
    assert [e["attempt"] for e in events(trace, "no_input")] == [1, 2, 3]
    assert events(trace, "attempts_exhausted")
    assert not events(trace, "choice") and not events(trace, "dtmf")
    assert played(trace) == ["welcome", "main-menu", "no-input", "main-menu", "no-input",
                             "main-menu", "goodbye"]
    assert heard(tmp_path / "heard.wav") == played(trace)


def test_caller_hanging_up_mid_prompt_leaves_nothing_behind(
    ivr_app: RunningApp, tmp_path: Path
) -> None:
    caller = new_caller()
    report = place_call_subprocess("101", "wait 1.2; hangup", caller=caller)
    assert report.ok and report.hangup_by == "local"

    trace = ivr_app.trace_for_caller(caller)
    assert played(trace) == ["welcome"]
    assert not events(trace, "played"), "the welcome must not have finished"
    hangup = events(trace, "hangup")
    assert [h["by"] for h in hangup] == ["caller"], "the IVR must not hang up a gone caller"
    assert trace[-1]["event"] == "end" and trace[-1]["hangup_by"] == "caller"

    status = ivr_app.wait_idle()
    assert status["active_calls"] == 0 and status["call_tasks"] == 0
    assert status["subscriptions"] == 0
    deadline = time.monotonic() + 5
    while ivr_app.ari("/channels") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ivr_app.ari("/channels") == [], "Asterisk must hold no channel of the call"


def test_unknown_extension_is_refused_before_the_app(ivr_app: RunningApp) -> None:
    caller = new_caller()
    before = ivr_app.get("/health")["finished_calls"]
    report = place_call_subprocess("999", "hangup", caller=caller, timeout=10)
    assert not report.connected
    assert report.status_code == 404
    time.sleep(0.5)
    assert ivr_app.get("/health")["finished_calls"] == before, "no call may reach the IVR"
