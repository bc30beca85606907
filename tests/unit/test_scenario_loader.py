"""Scenario files: the shipped ones load, and a broken file says file:line:col and what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.app.paths import project_root
from ivr.media.prompts import PromptLibrary
from ivr.testing.scenario import (
    End,
    Expect,
    ExpectHangup,
    ExpectNot,
    Hangup,
    Press,
    PromptRef,
    Say,
    ScenarioError,
    Wait,
    find_scenarios,
    load_scenario,
    parse_scenario,
)

PROMPTS = PromptLibrary(project_root() / "prompts")
SCENARIOS = project_root() / "scenarios"

GOOD = """\
name: a good one
dial: "101"
caller: "5550001"
language: en
steps:
  - expect: [welcome, ko/bank-welcome]
    within: 12
  - expect-not: invalid
  - press: "12#"
  - say: {text: two, keys: "2"}
  - wait: 1.5
  - expect-hangup: 4
end:
  hangup: ivr
  outcome: completed
  queue: general
  agent: true
  variables: {key: 1, served: yes}
  events:
    - {event: choice, key: "1"}
"""


def test_a_good_file_becomes_the_model() -> None:
    scenario = parse_scenario(GOOD, "good.yaml", PROMPTS)
    assert (scenario.name, scenario.dial, scenario.caller, scenario.language) == (
        "a good one", "101", "5550001", "en")
    assert scenario.flow is None
    assert scenario.steps == (
        Expect((PromptRef("welcome", "en"), PromptRef("bank-welcome", "ko")), 12.0, 6),
        ExpectNot((PromptRef("invalid", "en"),), 8),
        Press("12#", 9),
        Say(text="two", keys="2", line=10),
        Wait(1.5, 11),
        ExpectHangup(4.0, 12),
    )
    assert scenario.end == End(hangup="ivr", outcome="completed", queue="general", agent=True,
                               variables={"key": "1", "served": "true"},
                               events=({"event": "choice", "key": "1"},), line=13)
    assert scenario.prompts() == [PromptRef("welcome", "en"), PromptRef("bank-welcome", "ko"),
                                  PromptRef("invalid", "en")]


def test_defaults_the_name_from_the_file_and_hangup_as_a_word() -> None:
    scenario = parse_scenario('dial: "100"\nsteps: [hangup]\n', "scenarios/short-one.yaml")
    assert scenario.name == "short-one" and scenario.language == "en"
    assert scenario.steps == (Hangup(2),) and scenario.end == End()


def test_every_shipped_scenario_loads_with_its_prompts_checked() -> None:
    files = find_scenarios([SCENARIOS])
    assert len(files) >= 6
    loaded = [load_scenario(path, PROMPTS) for path in files]
    assert {s.dial for s in loaded} == {"100", "101"}
    assert {s.language for s in loaded if s.dial == "100"} == {"en", "ko"}


BROKEN = [
    ("dail: '101'\nsteps: [hangup]\n",
     ["x.yaml:1:1: unknown key 'dail' in a scenario; did you mean 'dial'?",
      "x.yaml:1:1: a scenario needs 'dial'"]),
    ("dial: '101'\nsteps:\n  - expect: [welcome, welcom]\n",
     ["x.yaml:3:23: no prompt 'welcom' in language 'en'; did you mean 'welcome'?"]),
    ("dial: '101'\nsteps:\n  - expect: [ko/no-such-prompt]\n",
     ["x.yaml:3:14: no prompt 'no-such-prompt' in language 'ko'"]),
    ("dial: '101'\nsteps:\n  - press: 1x\n",
     ["x.yaml:3:5: keys are 0-9 * # A-D, not '1x'"]),
    ("dial: '101'\nsteps:\n  - press: '1'\n    within: 3\n",
     ["x.yaml:4:5: 'within' belongs to an expect step, not 'press'"]),
    ("dial: '101'\nsteps:\n  - hangup\n  - press: '1'\n",
     ["x.yaml:3:5: hangup ends the call: it must be the last step"]),
    ("dial: '101'\nsteps:\n  - pres: '1'\n",
     ["x.yaml:3:5: unknown key 'pres' in a step; did you mean 'press'?",
      "x.yaml:3:5: a step does one thing"]),
    ("dial: '101'\nsteps:\n  - {press: '1', wait: 2}\n",
     ["x.yaml:3:5: a step does one thing (one of expect, expect-not, press, say, wait, "
      "hangup, expect-hangup); this one has press, wait"]),
    ("dial: '101'\nsteps:\n  - say: {text: hi, wav: a.wav}\n",
     ["x.yaml:3:5: say needs exactly one of 'text' and 'wav'"]),
    ("dial: '101'\nsteps:\n  - wait: soon\n",
     ["x.yaml:3:5: wait must be a number of seconds >= 0, not 'soon'"]),
    ("dial: '101'\nsteps: [hangup]\nend:\n  outcome: complete\n  hangup: nobody\n",
     ["x.yaml:4:3: outcome is one of completed, abandoned, self_served, error, queue, "
      "voicemail, callback, transfer, not 'complete'; did you mean 'completed'?",
      "x.yaml:5:3: hangup is ivr or caller, not 'nobody'"]),
    ("dial: '101'\ndial: '100'\nsteps: [hangup]\n",
     ["x.yaml:2:1: duplicate key 'dial' (first on line 1); YAML keeps only the last"]),
    ("dial: '101'\nsteps:\n  - expect: [welcome\n",
     ["x.yaml:4:1: YAML syntax error"]),
    ("dial: '101'\nsteps: []\n", ["x.yaml:2:1: steps is a non-empty list"]),
    ("- dial\n", ["x.yaml:1:1: a scenario is a mapping with at least 'dial' and 'steps'"]),
]


@pytest.mark.parametrize(("text", "expected"), BROKEN)
def test_a_broken_file_says_where_and_what(text: str, expected: list[str]) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "x.yaml", PROMPTS)
    lines = str(caught.value).splitlines()
    for want in expected:
        assert any(line.startswith(want) for line in lines), (want, lines)


def test_a_say_wav_is_found_beside_the_file(tmp_path: Path) -> None:
    (tmp_path / "hello.wav").write_bytes(b"")
    path = tmp_path / "s.yaml"
    path.write_text("dial: '101'\nsteps:\n  - say: {wav: hello.wav}\n  - say: {wav: gone.wav}\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value) == f"{path}:4:11: no such WAV file: {tmp_path / 'gone.wav'}"


def test_find_scenarios_takes_files_and_folders_once(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.yaml").write_text("")
    (tmp_path / "notes.txt").write_text("")
    found = find_scenarios([tmp_path / "b.yaml", tmp_path])
    assert found == [tmp_path / "b.yaml", tmp_path / "sub" / "a.yaml"]
