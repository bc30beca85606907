"""`ivr load` end to end, with callers that speak: five SIPp callers on the demo's menu (101)
each say "two" (a recorded human digit, tests/data/fsdd, CC BY-SA 4.0) after the menu, the app
hears it with pocketsphinx and reads the key back, and the report has the end of speech ->
answer figure from the packet capture. The traces show it was the speech that chose (not a
no-match prompt after it). Needs root (tcpdump) and the Debian packages sip-tester and tcpdump,
as `make test` installs them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.app.paths import project_root

from .helpers import FSDD, events, new_caller, seconds, wait_for
from .running_app import RunningApp

pytestmark = pytest.mark.e2e

CALLERS = 5


def traces_of(app: RunningApp, caller: str) -> list[list[dict[str, object]]]:
    out = []
    for file in sorted(app.trace_dir.glob("*.jsonl")):
        entries = [json.loads(line) for line in file.read_text().splitlines() if line]
        if entries and entries[0].get("caller") == caller:
            out.append(entries)
    return out


def test_callers_saying_two_get_the_read_back_and_an_end_of_speech_figure(
        ivr_app: RunningApp, tmp_path: Path) -> None:
    caller = new_caller()
    after_menu = seconds("welcome") + seconds("main-menu") + 0.8
    done = subprocess.run(
        [sys.executable, "-m", "ivr.app.cli", "load", "101", "--callers", str(CALLERS),
         "--calls", str(CALLERS), "--ramp", "1", "--say", str(FSDD / "2_jackson_0.wav"),
         "--key-wait", f"{after_menu:.1f}", "--caller-id", caller,
         "--target", ivr_app.runtime.sip_uri_host, "--work", str(tmp_path / "run"),
         "--json", str(tmp_path / "report.json")],
        cwd=project_root(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["attempted"], report["completed"], report["failed"]) == (CALLERS, CALLERS, 0)
    speech = report["steps_ms"]["speech end->prompt"]
    assert speech == report["steps_ms"]["say 1 (2_jackson_0.wav) end->prompt"]
    # The answer cannot come before the app's VAD has heard 600 ms without speech.
    assert 400 < speech["p50"] <= speech["max"] < 3000, speech
    assert "say 1 (2_jackson_0.wav) end->prompt n=    5" in done.stdout, done.stdout
    wait_for(lambda: len(traces_of(ivr_app, caller)) == CALLERS, 10, "a trace per call")
    traces = traces_of(ivr_app, caller)
    for trace in traces:
        assert [(e["keys"], e["accepted"]) for e in events(trace, "speech")] == [("2", True)]
        assert [e["key"] for e in events(trace, "choice")] == ["2"]
        assert not events(trace, "dtmf"), "the callers only spoke"
