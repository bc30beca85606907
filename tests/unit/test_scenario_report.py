"""The reports of `ivr test`: JUnit XML that parses and counts, an HTML page that needs nothing
else, and the SIP runner's reading of a call (recording, softphone report, trace) judged as the
headless one is, on a synthetic recording (no telephony)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np

from ivr.flow.loader import parse_flow
from ivr.media.prompts import PromptLibrary
from ivr.testing.audio import save_wav
from ivr.testing.outcome import Heard, Observed, ScenarioResult, judge, plan
from ivr.testing.report import CallReport, Event
from ivr.testing.scenario import PromptRef, parse_scenario
from ivr.testing.scenario_report import failure_text, html_report, junit_xml
from ivr.testing.script import script_to_text
from ivr.testing.sip import observe_call, script_of, variables_of

RATE = 8000
SCENARIO = """\
dial: "101"
steps:
  - expect: [hello, menu]
  - press: "1"
  - expect: [thanks]
    within: 4
  - expect-hangup: 3
end: {hangup: ivr}
"""


def prompts_in(folder: Path) -> PromptLibrary:
    """Three prompts of distinct noise, 1 s, 2 s and 1 s long."""
    (folder / "prompts.yaml").write_text(
        "hello: {en: Hello}\nmenu: {en: Press one}\nthanks: {en: Thank you}\n")
    (folder / "en").mkdir()
    rng = np.random.default_rng(7)
    for name, seconds in (("hello", 1.0), ("menu", 2.0), ("thanks", 1.0)):
        save_wav(folder / "en" / f"{name}.wav", 0.3 * rng.standard_normal(int(seconds * RATE)))
    return PromptLibrary(folder)


def result_of(ok: bool, tmp_path: Path) -> ScenarioResult:
    prompts = prompts_in(tmp_path)
    scenario = parse_scenario(SCENARIO if ok else SCENARIO.replace("[thanks]", "[hello]"),
                              "s.yaml", prompts)
    seen = Observed("sip", heard=[Heard(PromptRef("hello", "en"), 0.1, 1.1),
                                  Heard(PromptRef("menu", "en"), 1.2, 3.2),
                                  Heard(PromptRef("thanks", "en"), 4.2, 5.2)],
                    actions={1: 4.0}, hangup_by="ivr", hangup_at=5.4,
                    recording=str(tmp_path / "out" / "00-s.wav"),
                    trace=str(tmp_path / "out" / "00-s.trace.jsonl"))
    planned = plan(scenario, prompts)
    return ScenarioResult(scenario, "sip", judge(scenario, planned, seen), seen, 6.5)


def test_junit_xml_parses_and_counts(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    results = [result_of(True, tmp_path / "a"), result_of(False, tmp_path / "b")]
    suite = ET.fromstring(junit_xml(results))
    assert (suite.tag, suite.get("tests"), suite.get("failures")) == ("testsuite", "2", "1")
    first, second = list(suite)
    assert first.find("failure") is None
    failure = second.find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith("expect [en/hello] within 4s: en/hello not "
                                                  "heard whole after 4.0s")
    assert "recording: " in (failure.text or "")


def test_the_html_report_is_one_self_contained_page(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    results = [result_of(True, tmp_path / "a"), result_of(False, tmp_path / "b")]
    page = html_report(results, tmp_path)

    class Refs(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.refs: list[tuple[str, str]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.refs += [(tag, value or "") for name, value in attrs
                          if name in ("href", "src")]

    parser = Refs()
    parser.feed(page)
    external = [(tag, ref) for tag, ref in parser.refs if tag != "a"]
    assert external == [], "no stylesheet, script or image from elsewhere"
    links = {ref for _, ref in parser.refs}
    assert "a/out/00-s.wav" in links and "b/out/00-s.trace.jsonl" in links
    assert "1 passed, 1 failed" in page
    assert page.count('class="fail"') >= 2 and "en/hello not heard whole" in page


def test_failure_text_says_expected_heard_and_where_the_recording_is(tmp_path: Path) -> None:
    tmp_path.joinpath("x").mkdir()
    text = failure_text(result_of(False, tmp_path / "x"))
    assert text.splitlines()[:3] == [
        "FAIL s.yaml (s, sip)",
        "  s.yaml:5: expect [en/hello] within 4s",
        "    en/hello not heard whole after 4.0s; heard after that: en/thanks @4.2s"]
    assert "  heard: en/hello @0.1s, en/menu @1.2s, en/thanks @4.2s" in text
    assert f"  recording: {tmp_path / 'x' / 'out' / '00-s.wav'}" in text


def test_the_sip_runner_reads_a_call_as_the_headless_one_does(tmp_path: Path) -> None:
    prompts = prompts_in(tmp_path)
    scenario = parse_scenario(SCENARIO, "s.yaml", prompts)
    planned = plan(scenario, prompts)
    assert script_to_text(script_of(planned, {})) == "wait 4.5; dtmf 1; wait-hangup 5.1"

    def wav(name: str) -> np.ndarray:
        from ivr.testing.audio import load_wav
        return load_wav(tmp_path / "en" / f"{name}.wav")

    silence = np.zeros(int(0.2 * RATE))
    heard = np.concatenate([silence, wav("hello"), silence, wav("menu"),
                            np.zeros(int(1.5 * RATE)), wav("thanks"), silence])
    recording = tmp_path / "heard.wav"
    save_wav(recording, 0.5 * heard)
    report = CallReport(connected=True, ok=True, hangup_by="remote", events=[
        Event(0.0, "calling"), Event(0.4, "confirmed"), Event(0.5, "media-active"),
        Event(5.0, "dtmf-sent", {"digit": "1"}), Event(6.5, "disconnected", {"by": "remote"})])
    seen = observe_call(report, planned, scenario, prompts, recording)
    assert [(str(h.prompt), h.start) for h in seen.heard] == [
        ("en/hello", 0.2), ("en/menu", 1.4), ("en/thanks", 4.9)]
    assert seen.actions[1] == 4.5 and (seen.hangup_by, seen.hangup_at) == ("ivr", 6.0)
    assert all(step.ok for step in judge(scenario, planned, seen))


def test_variables_are_read_back_from_the_trace() -> None:
    flow = parse_flow("""\
name: f
languages: [en]
entry: m
nodes:
  m: {type: menu, prompt: [menu], store: key, options: {"1": p}}
  p: {type: collect, prompt: [pin], store: pin, secure: true, next: s}
  s: {type: set, values: {served: "true"}, next: e}
  e: {type: hangup}
""")
    trace = [{"event": "choice", "node": "m", "key": "1"},
             {"event": "collected", "node": "p", "value": "***"},
             {"event": "set", "node": "s", "values": {"served": True}}]
    assert variables_of(trace, flow) == {"key": "1", "pin": "***", "served": "true"}


def test_a_hand_off_counts_by_its_event_or_by_where_the_service_put_the_caller() -> None:
    scenario = parse_scenario('dial: "100"\nsteps: [hangup]\nend: {queue: general, '
                              'voicemail: general}\n', "s.yaml")
    planned = plan(scenario, PromptLibrary(Path("/nonexistent")))

    def checks(events: list[dict[str, object]]) -> dict[str, str]:
        seen = Observed("sip", actions={0: 0.3}, events=list(events))
        return {s.label: s.detail for s in judge(scenario, planned, seen) if not s.ok}

    assert checks([{"event": "handoff", "kind": "queue", "target": "general"},
                   {"event": "handoff", "kind": "voicemail", "target": "general"}]) == {}
    # hung up while waiting: the handoff event never came, the place did
    assert checks([{"event": "place", "place": "in_queue", "queue": "general"},
                   {"event": "place", "place": "leaving_message", "mailbox": "general"}]) == {}
    assert checks([{"event": "place", "place": "in_queue", "queue": "billing"}]) == {
        "end: queue general": "the flow handed the caller to queue ['billing']",
        "end: voicemail general": "the flow never handed the caller to a voicemail"}
