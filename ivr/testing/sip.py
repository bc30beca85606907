"""The SIP runner: a scenario as a real call, with the project's pjsua2 softphone.

One softphone subprocess per call (as `ivr call` does), running a script made from the plan
(waits, keys, speech, hang-up). What the caller heard is found in the recording with the
project's audio matching (`heard_sequence`, prompts heard whole); what the app did is read from
the app itself: the call's id from `GET /calls` while it is live, its call record from
`GET /records/{id}`, and its trace from the app's trace folder (`<IVR_TRACE_DIR>/<id>.jsonl`).
Variables are read back from the trace (set nodes, the menus' and entries' `store`); results of
actions are not traced, so they cannot be checked over SIP.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..flow.model import CollectNode, Flow, MenuNode
from ..media.prompts import PromptLibrary
from .audio import HEARD_WHOLE, heard_sequence
from .outcome import Heard, Observed, Plan, as_text, prompt_seconds
from .report import CallReport
from .scenario import ExpectHangup, Hangup, Press, Say, Scenario
from .script import Dtmf, Play, Step, WaitHangup
from .script import Hangup as HangupStep
from .script import Wait as WaitStep
from .softphone import SoftphoneError, place_call

RUNNER = "sip"
POLL_S = 0.2
RECORD_WAIT_S = 10.0


@dataclass(frozen=True)
class SipTarget:
    """Where the call goes and where the app that answers it is read."""

    app: str
    """The app's base URL (http://127.0.0.1:8090)."""
    traces: Path
    """The app's trace folder (IVR_TRACE_DIR)."""
    host: str = "127.0.0.1"
    """The SIP server (Asterisk), host[:port]."""
    out: Path = Path("ivr-test-results")
    """Where recordings and traces are kept for the report."""
    token: str = field(default="", repr=False)
    """An API token for the app's REST (`ivr user token NAME`; a reporting user's will do)."""


def script_of(planned: Plan, speech: Mapping[int, Path]) -> list[Step]:
    """The softphone's script: each action at its planned time, then hang up (or wait for
    the IVR to)."""
    steps: list[Step] = []
    now = 0.0

    def wait_until(at: float) -> None:
        nonlocal now
        if at - now > 0.005:
            steps.append(WaitStep(round(at - now, 3)))
            now = at

    for index, item in enumerate(planned.steps):
        step = item.step
        if isinstance(step, Press):
            wait_until(item.at)
            steps.append(Dtmf(step.keys))
            now += item.seconds
        elif isinstance(step, Say):
            wait_until(item.at)
            wav = speech.get(index) or step.wav
            assert wav is not None, "say steps are given a WAV before the call"
            steps.append(Play(wav))
            now += item.seconds
        elif isinstance(step, Hangup):
            wait_until(item.at)
            steps.append(HangupStep())
            return steps
        elif isinstance(step, ExpectHangup):  # a second more than allowed: judged afterwards
            steps.append(WaitHangup(round(item.at - now + step.within + 1.0, 3)))
            return steps
    wait_until(planned.end)
    steps.append(HangupStep())
    return steps


def observe_call(report: CallReport, planned: Plan, scenario: Scenario,
                 prompts: PromptLibrary, recording: Path) -> Observed:
    """The caller's side of the call: what it heard, when it acted, who hung up."""
    seen = Observed(RUNNER, recording=str(recording))
    media = report.event("media-active")
    zero = media.t if media is not None else (report.connect_s or 0.0)
    if not report.connected:
        seen.error = f"the call was not connected: {report.error or report.status_code}"
        return seen
    if recording.is_file():
        files = {str(ref): prompts.wav_path(ref.id, ref.language) for ref in scenario.prompts()}
        refs = {str(ref): ref for ref in scenario.prompts()}
        for name, offset in heard_sequence(recording, files, threshold=HEARD_WHOLE):
            ref = refs[name]
            seen.heard.append(Heard(ref, offset, round(offset + prompt_seconds(prompts, ref), 3)))
    digits = [e.t - zero for e in report.events_of("dtmf-sent")]
    plays = [e.t - zero for e in report.events_of("play-started")]
    hangups = [e.t - zero for e in report.events_of("hangup-sent")]
    for index, item in enumerate(planned.steps):
        step = item.step
        if isinstance(step, Press) and len(digits) >= len(step.keys):
            seen.actions[index] = round(digits[0], 3)
            del digits[:len(step.keys)]
        elif isinstance(step, Say) and plays:
            seen.actions[index] = round(plays.pop(0), 3)
        elif isinstance(step, Hangup) and hangups:
            seen.actions[index] = round(hangups[0], 3)
        elif not isinstance(step, Press | Say | Hangup | ExpectHangup):
            seen.actions[index] = item.at  # waits and expectations take no action
    gone = report.event("disconnected")
    if gone is not None:
        seen.hangup_at = round(gone.t - zero, 3)
        seen.hangup_by = "caller" if report.hangup_by == "local" else "ivr"
    return seen


class AppRefused(PermissionError):
    """The app answered 401 or 403: no token, or one whose user may not read calls and records."""


def _get(target: SipTarget, path: str) -> Any:
    request = urllib.request.Request(target.app.rstrip("/") + path)
    if target.token:
        request.add_header("Authorization", f"Bearer {target.token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise AppRefused(f"the app refused GET {path} ({exc.code}): give ivr test an API "
                             "token of a reporting or admin user (--token or IVR_API_TOKEN; "
                             "ivr user token NAME)") from None
        return None


async def _watch_calls(target: SipTarget, caller: str, before: set[str], found: list[str]) -> None:
    """Poll GET /calls for the new call from `caller` (its id names its trace and record)."""
    while not found:
        try:
            calls = await asyncio.to_thread(_get, target, "/calls") or []
        except OSError:  # the app restarting: the record is looked up by caller instead
            calls = []
        found += [c["id"] for c in calls if c.get("caller") == caller and c["id"] not in before]
        await asyncio.sleep(POLL_S)


async def _record(target: SipTarget, call_id: str | None, caller: str,
                  since: float) -> dict[str, Any] | None:
    """The call record: by id, else the newest of this caller that started after the dial."""
    deadline = time.monotonic() + RECORD_WAIT_S
    while time.monotonic() < deadline:
        if call_id is not None:
            record = await asyncio.to_thread(_get, target, f"/records/{call_id}")
            if record:
                return dict(record)
        else:
            for record in await asyncio.to_thread(_get, target, "/records?limit=50") or []:
                if record.get("caller") == caller and _epoch(record["started_at"]) >= since:
                    return dict(record)
        await asyncio.sleep(POLL_S)
    return None


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


async def _trace(folder: Path, call_id: str) -> list[dict[str, Any]] | None:
    deadline = time.monotonic() + RECORD_WAIT_S
    path = folder / f"{call_id}.jsonl"
    while time.monotonic() < deadline:
        if path.is_file():
            return [json.loads(line) for line in path.read_text().splitlines() if line]
        await asyncio.sleep(POLL_S)
    return None


def variables_of(trace: list[dict[str, Any]], flow: Flow | None) -> dict[str, str]:
    """The flow's variables as the trace shows them: set nodes' values, and the key or digits
    a menu or entry stored (masked when secure)."""
    out: dict[str, str] = {}
    for event in trace:
        node = flow.nodes.get(str(event.get("node", ""))) if flow is not None else None
        if event["event"] == "set":
            out.update({k: as_text(v) for k, v in event.get("values", {}).items()})
        elif event["event"] == "choice" and isinstance(node, MenuNode) and node.store:
            out[node.store] = as_text(event.get("key"))
        elif event["event"] == "collected" and isinstance(node, CollectNode):
            out[node.store] = as_text(event.get("value"))
    return out


async def run_sip(scenario: Scenario, planned: Plan, prompts: PromptLibrary,
                  target: SipTarget, speech: Mapping[int, Path], flow: Flow | None,
                  stem: str) -> Observed:
    """Place the scenario's call and read back what happened on both sides."""
    started = time.monotonic()
    target.out.mkdir(parents=True, exist_ok=True)
    recording = target.out / f"{stem}.wav"
    try:
        before = {c["id"] for c in await asyncio.to_thread(_get, target, "/calls") or []}
    except AppRefused as exc:
        return Observed(RUNNER, error=str(exc))
    except (urllib.error.URLError, OSError) as exc:
        return Observed(RUNNER, error=f"the app at {target.app} does not answer: {exc}")
    found: list[str] = []
    watcher = asyncio.create_task(_watch_calls(target, scenario.caller, before, found))
    dialled = time.time() - 1.0
    try:
        report = await place_call(f"{scenario.dial}@{target.host}",
                                  script_of(planned, speech), record=recording,
                                  caller=scenario.caller, timeout=15)
    except SoftphoneError as exc:
        return Observed(RUNNER, error=f"the softphone failed: {exc}")
    finally:
        watcher.cancel()
    # the audio matching takes seconds of CPU: off the loop, so other calls' polling goes on
    seen = await asyncio.to_thread(observe_call, report, planned, scenario, prompts, recording)
    if seen.error is not None:
        return seen
    record = await _record(target, found[0] if found else None, scenario.caller, dialled)
    if record is None:
        seen.error = f"no call record from caller {scenario.caller} at {target.app}/records"
        return seen
    seen.outcome = str(record.get("outcome"))
    trace = await _trace(target.traces, str(record["call_id"]))
    if trace is None:
        seen.error = f"no trace {record['call_id']}.jsonl in {target.traces}"
        return seen
    kept = target.out / f"{stem}.trace.jsonl"
    shutil.copyfile(target.traces / f"{record['call_id']}.jsonl", kept)
    seen.trace = str(kept)
    seen.events = trace
    seen.variables = variables_of(trace, flow)
    seen.seconds = round(time.monotonic() - started, 3)
    return seen

