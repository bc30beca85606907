"""The shipped scenarios (scenarios/) over real SIP: `ivr test --sip` against the e2e app.

Run the way a tester runs them, through the command line, two calls at a time; the JUnit
report says which passed. A scenario that expects what the flow does not say must fail, with
what was expected and what was heard.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ivr.app.paths import project_root

from .running_app import RunningApp

pytestmark = pytest.mark.e2e

SCENARIOS = project_root() / "scenarios"


def ivr_test(app: RunningApp, out: Path, *paths: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "ivr.app.cli", "test", "--sip", "--app", app.base_url,
               "--traces", str(app.trace_dir), "--out", str(out), "-j", "2",
               "--junit", str(out / "junit.xml"), "--html", str(out / "report.html"),
               *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


def test_shipped_scenarios_pass_over_sip(ivr_app: RunningApp, tmp_path: Path) -> None:
    files = sorted(SCENARIOS.glob("*.yaml"))
    assert len(files) >= 6
    done = ivr_test(ivr_app, tmp_path, SCENARIOS)
    assert done.returncode == 0, done.stdout + done.stderr
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    assert suite.get("tests") == str(len(files)) and suite.get("failures") == "0"
    assert {case.get("classname") for case in suite} == {"scenarios.sip"}
    report = (tmp_path / "report.html").read_text()
    assert "<script" not in report and "stylesheet" not in report
    recordings = sorted(tmp_path.glob("*-*.wav"))
    assert len([r for r in recordings if ".say" not in r.name]) == len(files)
    for recording in recordings:
        assert f'href="{recording.name}"' in report
    assert len(list(tmp_path.glob("*.trace.jsonl"))) == len(files)


WRONG = """\
name: the demo reads back a key it was not given
dial: "101"
caller: "5550109999"
language: en
steps:
  - expect: [welcome, main-menu]
  - press: "1"
  - expect: [you-pressed, digit-2]
    within: 6
  - hangup
end:
  hangup: caller
"""


def test_a_wrong_scenario_fails_saying_what_was_heard(ivr_app: RunningApp,
                                                      tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(WRONG)
    done = ivr_test(ivr_app, tmp_path / "out", wrong)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"FAIL {wrong}" in done.stdout
    assert f"{wrong}:8: expect [en/you-pressed, en/digit-2] within 6s" in done.stdout
    assert "en/digit-2 not heard whole after" in done.stdout
    heard = next(line for line in done.stdout.splitlines() if line.startswith("  heard: "))
    assert "en/welcome" in heard and "en/you-pressed" in heard, heard
    assert "en/digit-2" not in heard, "only the prompts said are found in the recording"
    recording = tmp_path / "out" / "00-wrong.wav"
    assert f"recording: {recording}" in done.stdout and recording.is_file()
    assert "0 passed, 1 failed" in done.stdout
    suite = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    assert suite.get("failures") == "1"
