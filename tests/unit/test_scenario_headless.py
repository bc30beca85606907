"""The headless runner: the shipped flows in the simulator, judged as a scenario says; a
scenario that expects what the flow does not say fails and reports what was heard."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ivr.app.paths import project_root
from ivr.flow.library import load_folder
from ivr.media.prompts import PromptLibrary
from ivr.testing.outcome import (
    ANSWER_LATENCY,
    KEY_SECONDS,
    PRESS_MARGIN,
    PROMPT_GAP,
    ScenarioResult,
    plan,
    prompt_seconds,
)
from ivr.testing.scenario import PromptRef, parse_scenario
from ivr.testing.scenario_cli import build_parser, dialplan_flows, main, run_one
from ivr.testing.scenario_report import failure_text

ROOT = project_root()
PROMPTS = PromptLibrary(ROOT / "prompts")
FLOWS = dict(load_folder(ROOT / "flows", PROMPTS).flows)


def args_for(tmp_path: Path, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    build_parser(parser, ROOT)
    return parser.parse_args([*extra, "--out", str(tmp_path / "out")])


async def run(text: str, tmp_path: Path) -> ScenarioResult:
    scenario = parse_scenario(text, str(tmp_path / "s.yaml"), PROMPTS)
    return await run_one(scenario, 0, args_for(tmp_path, "x"), FLOWS, PROMPTS,
                         dialplan_flows(ROOT / "asterisk-conf" / "extensions.conf"))


def read(path: str | None) -> str:
    return Path(path or "").read_text(encoding="utf-8")


READ_BACK = """\
dial: "101"
language: en
steps:
  - expect: [welcome, main-menu]
  - press: "1"
  - expect: [you-pressed, {said}]
    within: 5
  - expect-hangup: 5
end:
  hangup: ivr
  outcome: completed
  variables: {{key: "1"}}
  events: [{{event: choice, node: main_menu, key: "1"}}]
"""


async def test_a_scenario_that_matches_the_flow_passes(tmp_path: Path) -> None:
    result = await run(READ_BACK.format(said="digit-1"), tmp_path)
    assert result.ok, failure_text(result)
    assert result.runner == "headless"
    assert [s.label for s in result.steps] == [
        "expect [en/welcome, en/main-menu] within 15s", "press 1",
        "expect [en/you-pressed, en/digit-1] within 5s", "expect-hangup within 5s",
        "end: hangup by ivr", "end: outcome completed", "end: variable key = 1",
        "end: event event=choice, node=main_menu, key=1"]
    assert all(s.ok for s in result.steps)
    assert '"event": "choice"' in read(result.observed.trace)


async def test_a_scenario_that_expects_another_prompt_fails_saying_what_was_heard(
        tmp_path: Path) -> None:
    result = await run(READ_BACK.format(said="digit-2"), tmp_path)
    assert not result.ok
    [failed] = result.failures()
    assert failed.label == "expect [en/you-pressed, en/digit-2] within 5s"
    assert failed.line == 6
    assert failed.detail.startswith("en/digit-2 not heard whole after ")
    assert "heard after that: en/you-pressed @" in failed.detail
    assert "en/digit-1 @" in failed.detail and "en/goodbye @" in failed.detail
    text = failure_text(result)
    assert f"{tmp_path / 's.yaml'}:6: expect [en/you-pressed, en/digit-2]" in text
    assert "heard: en/welcome @0.0s, en/main-menu @" in text


async def test_a_time_limit_too_short_fails(tmp_path: Path) -> None:
    result = await run(READ_BACK.format(said="digit-1").replace("within: 5", "within: 0.5"),
                       tmp_path)
    [failed] = result.failures()
    assert "en/digit-1 heard at" in failed.detail and "later than" in failed.detail


async def test_a_caller_hanging_up_mid_menu_cuts_it(tmp_path: Path) -> None:
    result = await run("""\
dial: "101"
steps:
  - expect: [welcome]
  - expect-not: [main-menu]
  - wait: 1
  - hangup
end: {hangup: caller, outcome: abandoned}
""", tmp_path)
    assert result.ok, failure_text(result)
    assert result.observed.hangup_by == "caller"
    hangup_at = result.observed.hangup_at
    welcome = prompt_seconds(PROMPTS, PromptRef("welcome", "en"))
    assert hangup_at is not None and hangup_at < welcome + 2.0


async def test_what_the_simulator_cannot_do_fails_saying_so(tmp_path: Path) -> None:
    result = await run("""\
dial: "101"
steps:
  - expect: [welcome, main-menu]
  - say: {text: two}
  - hangup
end: {agent: true}
""", tmp_path)
    messages = {f.label: f.detail for f in result.failures()}
    assert messages["say 'two'"].startswith("the simulator hears no speech: give the say step")
    assert messages["end: agent True"] == ("the headless simulator has no agents: run this "
                                           "scenario with --sip")


async def test_a_say_with_keys_is_pressed_headless(tmp_path: Path) -> None:
    result = await run("""\
dial: "101"
steps:
  - expect: [welcome, main-menu]
  - say: {text: two, keys: "2"}
  - expect: [you-pressed, digit-2]
end: {variables: {key: "2"}}
""", tmp_path)
    assert result.ok, failure_text(result)


def test_the_plan_presses_after_the_expected_prompts_play() -> None:
    scenario = parse_scenario(
        'dial: "101"\nsteps:\n  - expect: [welcome, main-menu]\n  - press: "12"\n'
        '  - wait: 2\n  - hangup\n', "s.yaml")
    planned = plan(scenario, PROMPTS)
    heard = sum(prompt_seconds(PROMPTS, PromptRef(p, "en")) + PROMPT_GAP
                for p in ("welcome", "main-menu"))
    press = planned.steps[1]
    assert press.at == pytest.approx(ANSWER_LATENCY + heard + PRESS_MARGIN)
    assert press.seconds == pytest.approx(2 * KEY_SECONDS)
    assert planned.steps[2].at == pytest.approx(press.at + press.seconds)
    assert planned.end == pytest.approx(press.at + press.seconds + 2, abs=0.001)
    assert planned.hangup_wait is None


def test_the_dialplan_names_the_flows() -> None:
    extensions = dialplan_flows(ROOT / "asterisk-conf" / "extensions.conf")
    assert extensions["100"] == "bank" and extensions["101"] == "demo"
    assert extensions["102"] == "mailbox"


def test_ivr_test_runs_the_shipped_scenarios_headless(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    junit = tmp_path / "junit.xml"
    code = main(args_for(tmp_path, str(ROOT / "scenarios"), "-j", "3", "--junit", str(junit)))
    out = capsys.readouterr().out
    assert code == 0, out
    count = len(list((ROOT / "scenarios").glob("*.yaml")))
    assert out.splitlines()[-1].startswith(f"{count} passed, 0 failed in ")
    assert f'tests="{count}" failures="0"' in junit.read_text()


def test_ivr_test_refuses_broken_files_before_running(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("dial: '101'\nsteps:\n  - pres: '1'\n")
    assert main(args_for(tmp_path, str(bad))) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3:5: unknown key 'pres' in a step; did you mean 'press'?" in err
