"""Editing a flow while calls run: new calls get the edit, calls in progress keep their version,
a broken edit is refused with the checker's message and the last good version keeps serving."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ivr.testing.softphone import place_call_subprocess

from .helpers import events, new_caller, played, seconds
from .running_app import RunningApp

pytestmark = pytest.mark.e2e


def wait_for(ivr_app: RunningApp, key: str, value: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while ivr_app.get("/health")["flows"][key] < value:
        assert time.monotonic() < deadline, f"{key} never reached {value}"
        time.sleep(0.1)


def test_edit_during_a_call(ivr_app: RunningApp, tmp_path: Path) -> None:
    demo = ivr_app.flows_dir / "demo.yaml"
    original = demo.read_text()
    health = ivr_app.get("/health")["flows"]
    reloads, refused = health["reloads"], health["refused"]
    edited = original.replace('version: "1"', 'version: "2"').replace(
        '"1": {target: read_back', '"1": {target: goodbye'
    )
    assert edited != original
    press_at = seconds("welcome") + 1.5
    old_caller, new_caller_id = new_caller(), new_caller()
    try:
        with ThreadPoolExecutor(1) as pool:
            in_progress = pool.submit(
                place_call_subprocess, "101", f"wait {press_at:.1f}; dtmf 1; wait-hangup 20",
                caller=old_caller,
            )
            time.sleep(1.0)  # the call has started on version 1
            demo.write_text(edited)
            wait_for(ivr_app, "reloads", reloads + 1)
            fresh = place_call_subprocess(
                "101", f"wait {press_at:.1f}; dtmf 1; wait-hangup 20", caller=new_caller_id
            )
            old = in_progress.result(timeout=60)
        assert old.ok and fresh.ok, (old.error, fresh.error)

        before = ivr_app.trace_for_caller(old_caller)
        after = ivr_app.trace_for_caller(new_caller_id)
        assert before[0]["version"] == "1" and after[0]["version"] == "2"
        assert "you-pressed" in played(before), "the call in progress finishes on version 1"
        assert "you-pressed" not in played(after), "a new call gets the edit"
        assert events(after, "choice")[0]["key"] == "1"

        broken = edited.replace('version: "2"', 'version: "3"').replace(
            '"2": {target: read_back', '"2": {target: nowhere'
        )
        assert broken != edited
        demo.write_text(broken)
        wait_for(ivr_app, "refused", refused + 1)
        line = next(i for i, row in enumerate(broken.splitlines(), 1)
                    if '"2": {target: nowhere' in row)
        refusals = [json.loads(row) for row in ivr_app.log_lines() if '"refused: ' in row]
        assert any(f"demo.yaml:{line}:" in r["msg"] and "nowhere" in r["msg"]
                   and "main_menu" in r["msg"] for r in refusals), refusals
        assert ivr_app.get("/health")["flows"]["versions"]["demo"] == "2"

        later = new_caller()
        report = place_call_subprocess("101", "wait 1; hangup", caller=later)
        assert report.ok
        assert ivr_app.trace_for_caller(later)[0]["version"] == "2", "last good version serves"
    finally:
        demo.write_text(original)
        wait_for(ivr_app, "reloads", reloads + 2)
