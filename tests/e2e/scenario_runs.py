"""Running `ivr test --sip` as a tester does, for the scenario modules (test_scenarios*.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from ivr.app.paths import project_root

from .running_app import RunningApp

SCENARIOS = project_root() / "scenarios"


def ivr_test(app: RunningApp, out: Path, *paths: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "ivr.app.cli", "test", "--sip", "--app", app.base_url,
               "--traces", str(app.trace_dir), "--out", str(out), "-j", "2",
               "--junit", str(out / "junit.xml"), "--html", str(out / "report.html"),
               *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "IVR_API_TOKEN": app.token})


def check_shipped_scenarios_pass(app: RunningApp, tmp_path: Path, pattern: str) -> None:
    """The shipped scenarios matching `pattern` all pass over SIP, with every report."""
    files = sorted(SCENARIOS.glob(pattern))
    assert len(files) >= 3
    done = ivr_test(app, tmp_path, *files)
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
