"""The shipped scenarios (scenarios/) over real SIP: `ivr test --sip` against the e2e app.

The bank's scenarios are in test_scenarios_bank.py, so that two workers of a parallel run share
the calls. Run the way a tester runs them, through the command line, two calls at a time; the JUnit
report says which passed. A scenario that expects what the flow does not say must fail, with
what was expected and what was heard.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .running_app import RunningApp
from .scenario_runs import check_shipped_scenarios_pass, ivr_test

pytestmark = pytest.mark.e2e

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


def test_shipped_demo_scenarios_pass_over_sip(ivr_app: RunningApp, tmp_path: Path) -> None:
    check_shipped_scenarios_pass(ivr_app, tmp_path, "demo-*.yaml")


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
