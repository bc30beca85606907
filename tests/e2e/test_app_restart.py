"""The app dies mid-call and comes back: reconciliation picks the caller up again.

Asterisk keeps the channel in the Stasis application while no WebSocket is connected, and
sends no event for it when the new process connects; only the reconciliation after connecting
(list the application's channels, adopt the unknown ones) can find the caller.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ivr.testing.softphone import place_call_subprocess

from .helpers import events, heard, new_caller, played
from .running_app import RunningApp

pytestmark = pytest.mark.e2e


def test_call_in_progress_is_adopted_after_an_app_restart(
    ivr_app: RunningApp, tmp_path: Path
) -> None:
    assert ivr_app.restart is not None
    caller = new_caller()
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(place_call_subprocess, "101", "wait 9; dtmf 2; wait-hangup 25",
                           record=tmp_path / "heard.wav", caller=caller)
        time.sleep(1.5)  # the welcome is playing
        ivr_app.restart()
        report = call.result(timeout=60)

    assert report.ok, report.error
    assert report.hangup_by == "remote", "the adopted call must be finished by the IVR"
    trace = ivr_app.trace_for_caller(caller)
    assert trace[0]["event"] == "start" and trace[0]["resumed"] is True
    assert events(trace, "answered")[0]["already_up"] is True, "an adopted call is not re-answered"
    assert events(trace, "choice")[0]["key"] == "2"
    assert played(trace)[-3:] == ["you-pressed", "digit-2", "goodbye"]
    sequence = heard(tmp_path / "heard.wav")
    assert sequence.count("welcome") == 2, "first process, then the adopting one"
    assert sequence[-3:] == ["you-pressed", "digit-2", "goodbye"]
    assert ivr_app.get("/health")["ari_connected"]
