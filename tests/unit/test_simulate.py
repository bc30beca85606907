"""The simulator: whole calls on a virtual clock, barge-in and type-ahead, transcripts, the CLI.

Prompts come from a temporary folder with the project's manifests and, where a test wants a
known length, a WAV file of silence; everything else lasts 0.06 s per character of its text.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import time
import wave
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.flow.library import load_folder
from ivr.flow.loader import parse_flow
from ivr.flow.model import CollectNode, Escalation, HoursNode, MenuNode, PlayNode, Schedule
from ivr.flow.simulate import (
    SECONDS_PER_CHAR,
    KeyScript,
    parse_keys,
    simulate,
)
from ivr.flow.simulate_cli import build_parser, main
from ivr.media.prompts import PromptLibrary
from tests.unit.fake_actions import (
    BALANCE,
    VERIFY_PIN,
    ActionError,
    answering,
    failing,
    pin_checker,
)
from tests.unit.flowkit import demo_flow, make_flow, options, says

ROOT = Path(__file__).resolve().parents[2]
SEOUL = ZoneInfo("Asia/Seoul")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=SEOUL)


def write_wav(path: Path, seconds: float, rate: int = 8000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\0\0" * int(seconds * rate))


@pytest.fixture
def prompts(tmp_path: Path) -> PromptLibrary:
    root = tmp_path / "prompts"
    root.mkdir()
    for manifest in (ROOT / "prompts").glob("*.yaml"):
        shutil.copy(manifest, root / manifest.name)
    write_wav(root / "en" / "welcome.wav", 2.0)
    write_wav(root / "en" / "main-menu.wav", 4.0)
    return PromptLibrary(root)


def text_seconds(prompts: PromptLibrary, prompt_id: str, language: str = "en") -> float:
    return round(len(prompts.text(prompt_id, language)) * SECONDS_PER_CHAR, 3)


async def test_a_whole_demo_call_in_virtual_time(prompts: PromptLibrary) -> None:
    flows = {"demo": demo_flow()}
    started = time.perf_counter()
    result = await simulate("demo", flows, prompts, ["2"])
    assert time.perf_counter() - started < 0.1
    assert result.outcome == "completed"
    assert result.played() == ["welcome", "main-menu", "you-pressed", "digit-2", "goodbye"]
    assert result.path == ["welcome", "main_menu", "read_back", "goodbye", "end"]
    assert result.keys() == ["2"] and result.variables == {"key": "2"}
    plays = result.of("play")
    assert [p["t"] for p in plays[:2]] == [0.0, 2.0]  # the welcome WAV lasts 2 s
    assert plays[1]["duration"] == 4.0
    assert plays[2]["duration"] == text_seconds(prompts, "you-pressed")  # no WAV: from text
    lines = result.lines()
    assert lines[:3] == ["→ node welcome",
                         '[en] 0.0s ▶ welcome  "Welcome to the I V R demonstration line."',
                         "→ node main_menu"]
    assert "       ⌨ 2" in lines and lines[-1].startswith("■ completed after ")
    assert "  · hangup by=ivr" in lines


async def test_silence_passes_the_timeouts_in_virtual_time(prompts: PromptLibrary) -> None:
    started = time.perf_counter()
    result = await simulate("demo", {"demo": demo_flow()}, prompts, [])
    assert time.perf_counter() - started < 0.1
    assert result.played() == ["welcome", "main-menu", "no-input", "main-menu", "no-input",
                               "main-menu", "goodbye"]
    assert result.duration > 3 * 5.0 + 2.0 + 3 * 4.0
    assert [e["waited"] for e in result.of("no_key")] == [5.0, 5.0, 5.0]
    assert "       ⌨ …  (no key in 5s)" in result.lines()


async def test_barge_in_cuts_the_prompt_and_the_key_skips_the_next(
        prompts: PromptLibrary) -> None:
    result = await simulate("demo", {"demo": demo_flow()}, prompts, ["1@1.5"])
    welcome = result.of("play")[0]
    assert (welcome["prompt"], welcome["stopped"]) == ("welcome", 1.5)
    assert result.of("skipped") == [{"t": 1.5, "event": "skipped", "prompt": "main-menu",
                                     "language": "en", "reason": "type-ahead"}]
    assert result.of("choice")[0]["key"] == "1"
    assert result.played() == ["welcome", "you-pressed", "digit-1", "goodbye"]
    assert "(cut by a key at 1.5s)" in result.lines()[1]


async def test_type_ahead_waits_through_a_prompt_without_barge_in(
        prompts: PromptLibrary) -> None:
    result = await simulate("demo", {"demo": demo_flow(barge_in=False)}, prompts, ["3@0.5"])
    welcome = result.of("play")[0]
    assert "stopped" not in welcome and welcome["duration"] == 2.0
    assert result.of("skipped")[0]["prompt"] == "main-menu"
    assert result.of("skipped")[0]["t"] == 2.0
    assert result.of("choice")[0]["key"] == "3"


async def test_a_key_during_the_menu_prompt_stops_it(prompts: PromptLibrary) -> None:
    result = await simulate("demo", {"demo": demo_flow()}, prompts, ["9@3", "1@10"])
    menu = result.of("play")[1]
    assert (menu["prompt"], menu["stopped"]) == ("main-menu", 1.0)  # started at 2.0
    assert result.of("no_match")[0]["key"] == "9"
    assert result.of("choice")[0]["key"] == "1"


async def test_a_secure_entry_never_appears_in_the_transcript(prompts: PromptLibrary) -> None:
    pin = "482915"
    flow = make_flow(
        CollectNode("pin", prompt=says("enter-account"), store="pin", secure=True,
                    readback=says("you-entered", {"digits": "${pin}"}),
                    confirm=says("confirm-1-2"), next="bye",
                    escalation=Escalation(attempts=2, fallback="bye")),
        PlayNode("bye", prompts=says("goodbye")))
    result = await simulate("main", {"main": flow}, prompts, [pin + "#", "1"])
    assert result.outcome == "completed" and result.variables == {"pin": "***"}
    dump = result.to_json() + "\n".join(result.lines())
    assert pin not in dump and "4829" not in dump
    assert result.keys() == ["***"] * 7 + ["1"]
    masked = [p for p in result.of("play") if p["prompt"] == "***"]
    assert len(masked) == len(pin) and all(p["text"] == "***" for p in masked)


async def test_a_terminator_typed_after_a_full_entry_leaves_the_menu_alone(
        prompts: PromptLibrary) -> None:
    flow = make_flow(
        CollectNode("acct", prompt=says("enter-account"), store="acct", max_length=4,
                    next="menu"),
        MenuNode("menu", prompt=says("main-menu"), options=options({"1": "bye"}),
                 escalation=Escalation(attempts=2, fallback="bye")),
        PlayNode("bye", prompts=says("goodbye")))
    result = await simulate("main", {"main": flow}, prompts, ["1234#@1", "1@9"])
    assert [e["key"] for e in result.of("key_forgiven")] == ["#"]
    assert not result.of("skipped") and not result.of("no_match")
    menu = next(p for p in result.of("play") if p["prompt"] == "main-menu")
    assert "stopped" not in menu, "the menu prompt was heard, not cut by the '#'"
    assert result.played()[-1] == "goodbye"


async def test_the_hours_node_sees_the_virtual_clock(prompts: PromptLibrary) -> None:
    schedule = Schedule(timezone="Asia/Seoul", weekly={"mon": (("09:00", "16:00"),)})
    flow = make_flow(
        PlayNode("long", prompts=says("main-menu", "main-menu", "main-menu"), next="when"),
        HoursNode("when", schedule=schedule, open="open", closed="closed"),
        PlayNode("open", prompts=says("welcome")), PlayNode("closed", prompts=says("goodbye")))
    before_four = datetime(2026, 11, 23, 15, 59, 55, tzinfo=SEOUL)
    result = await simulate("main", {"main": flow}, prompts, [], now=before_four)
    assert result.of("hours")[0]["status"] == "closed"  # 12 s of prompts later: 16:00:07
    assert result.of("hours")[0]["now"].startswith("2026-11-23T16:00:07")


async def test_a_caller_left_in_a_loop_hangs_up(prompts: PromptLibrary) -> None:
    flow = make_flow(MenuNode("m", prompt=says("main-menu"), options=options({"1": "m"}),
                              escalation=Escalation(attempts=1, fallback="m")))
    result = await simulate("main", {"main": flow}, prompts, ["1", "1"])
    assert result.outcome == "abandoned"
    assert result.of("hangup")[-1]["by"] == "caller"


async def test_handoffs_are_declined_unless_asked(prompts: PromptLibrary) -> None:
    from ivr.flow.model import HandoffNode

    flow = make_flow(HandoffNode("q", kind="queue", target="general", next="sorry"),
                     PlayNode("sorry", prompts=says("agent-unavailable")))
    declined = await simulate("main", {"main": flow}, prompts)
    assert declined.path == ["q", "sorry"] and declined.outcome == "completed"
    taken = await simulate("main", {"main": flow}, prompts, accept_handoff=True)
    assert taken.outcome == "handoff:queue" and not taken.of("hangup")


async def test_interactive_input_is_asked_for_when_the_script_runs_out(
        prompts: PromptLibrary) -> None:
    answers = iter(["", "9", "2", None])
    asked: list[str] = []

    async def ask() -> str | None:
        asked.append("?")
        return next(answers)

    result = await simulate("demo", {"demo": demo_flow()}, prompts, [], ask=ask)
    assert len(asked) == 3
    assert [e["event"] for e in result.events if e["event"] in ("no_input", "no_match",
                                                                "choice")] == [
        "no_input", "no_match", "choice"]


def test_key_scripts() -> None:
    assert parse_keys("1 2 - 1234# … 3@12.5") == ["1", "2", None, "1234#", None, "3@12.5"]
    script = KeyScript(["12", None, "4#@2", "*@1s"])
    assert list(script.untimed) == ["1", "2", None]
    assert [(k.at, k.key) for k in script.timed] == [(1.0, "*"), (2.0, "4"), (2.25, "#")]
    for bad in ("x", "1@soon", "@3"):
        with pytest.raises(ValueError):
            KeyScript([bad])


# --- the real flows -----------------------------------------------------------------------


async def test_the_bank_flow_in_english_with_branch_hours(prompts: PromptLibrary) -> None:
    flows = load_folder(ROOT / "flows", None).flows
    started = time.perf_counter()
    result = await simulate("bank", flows, prompts, ["2", "2", "1", "9", "3"], now=MONDAY_10)
    assert time.perf_counter() - started < 0.1
    assert result.path[:5] == ["choose_language", "english", "main_menu", "hours_menu",
                               "branch_hours"]
    assert result.path[5] == "hours_open"
    plays = result.of("play")
    assert [p["language"] for p in plays[:2]] == ["ko", "ko"]
    assert {p["language"] for p in plays[2:]} == {"en"}, "every prompt after the choice"
    assert result.of("language")[0]["language"] == "en"
    assert result.of("handoff_offered")[0]["kind"] == "queue"
    assert result.path[-2:] == ["agent_unavailable", "goodbye"]
    assert result.outcome == "completed"


async def test_the_bank_flow_on_a_holiday_in_korean(prompts: PromptLibrary) -> None:
    flows = load_folder(ROOT / "flows", None).flows
    christmas = datetime(2026, 12, 25, 11, 0, tzinfo=SEOUL)
    result = await simulate("bank", flows, prompts, ["1", "2", "1"], now=christmas)
    assert "hours_holiday" in result.path
    assert {p["language"] for p in result.of("play")} == {"ko"}


# --- the command line ---------------------------------------------------------------------


def cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    build_parser(parser, ROOT)
    return parser.parse_args(list(argv))


def test_cli_prints_the_transcript(prompts: PromptLibrary, capsys: pytest.CaptureFixture[str]
                                   ) -> None:
    code = main(cli("bank", "--input", "1 2 2", "--now", "2026-11-23T10:00+09:00",
                    "--prompts-dir", str(prompts.root), "--flows-dir", str(ROOT / "flows")))
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert re.match(r"flow bank v\S+ · language ko · caller ", out[0]), out[0]
    assert out[1] == "→ node choose_language"
    assert out[2].startswith('[ko] 0.0s ▶ bank-welcome  "')
    assert "       ⌨ 1" in out and "→ node branch_location" in out
    assert out[-1].startswith("■ ")


def test_cli_runs_a_file_and_prints_json(prompts: PromptLibrary, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    edited = tmp_path / "mine.yaml"
    edited.write_text((ROOT / "flows" / "demo.yaml").read_text().replace(
        '"1": {target: read_back', '"1": {target: goodbye'))
    code = main(cli(str(edited), "--input", "1", "--json", "--lang", "en",
                    "--prompts-dir", str(prompts.root), "--flows-dir", str(ROOT / "flows")))
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["flow"] == "demo"
    assert result["path"] == ["welcome", "main_menu", "goodbye", "end"]  # the edit, not flows/


def test_cli_refuses_an_unknown_flow_and_bad_keys(prompts: PromptLibrary,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(cli("nope", "--flows-dir", str(ROOT / "flows"))) == 2
    assert "no flow named 'nope'" in capsys.readouterr().err
    assert main(cli("demo", "--input", "1x", "--flows-dir", str(ROOT / "flows"),
                    "--prompts-dir", str(prompts.root))) == 2
    assert "keys are 0-9" in capsys.readouterr().err


BALANCE_FLOW = """
name: balance
languages: [ko, en]
entry: pin
nodes:
  pin:
    type: collect
    prompt: [enter-pin]
    store: pin
    secure: true
    max_length: 4
    no_input: [no-input]
    no_match: [invalid]
    fallback: bye
    next: verify
  verify:
    type: action
    action: accounts.verify_pin
    args: {account: "'12345678'", pin: pin}
    on: {ok: get_balance, wrong_pin: bye}
    fallback: down
  get_balance:
    type: action
    action: accounts.balance
    args: {account: "'12345678'"}
    results: {balance: balance, currency: currency}
    on: {ok: say_balance, unknown_account: bye}
    fallback: down
  say_balance:
    type: play
    prompts: [balance-is, {currency: "${balance}", unit: "${currency}"}, balance-is-end]
    next: bye
  down:
    type: play
    prompts: [service-unavailable]
    next: bye
  bye:
    type: hangup
    prompts: [goodbye]
"""


async def test_a_won_balance_is_read_in_won_to_an_english_caller(
        prompts: PromptLibrary) -> None:
    flows = {"balance": parse_flow(BALANCE_FLOW)}
    actions = {"accounts.verify_pin": pin_checker("4321"),
               "accounts.balance": answering(BALANCE, "ok", balance="1234500", currency="KRW")}
    result = await simulate("balance", flows, prompts, ["4321"], language="en", actions=actions)
    assert result.outcome == "completed"
    assert result.path == ["pin", "verify", "get_balance", "say_balance", "bye"]
    heard = " ".join(e["text"] for e in result.of("play"))
    assert "one million two hundred thirty four thousand five hundred won" in heard
    assert "dollar" not in heard
    lines = result.lines()
    assert "  ⚙ accounts.verify_pin → ok" in lines and "  ⚙ accounts.balance → ok" in lines
    dump = result.to_json() + "\n".join(lines)
    assert "4321" not in dump and result.variables["pin"] == "***"


async def test_a_dollar_balance_in_korean_and_a_backend_that_is_down(
        prompts: PromptLibrary) -> None:
    flows = {"balance": parse_flow(BALANCE_FLOW)}
    actions = {"accounts.verify_pin": pin_checker("4321"),
               "accounts.balance": answering(BALANCE, "ok", balance="2500.75", currency="USD")}
    result = await simulate("balance", flows, prompts, ["4321"], language="ko", actions=actions)
    heard = " ".join(e["text"] for e in result.of("play"))
    assert "이천 오백 달러 칠십 오 센트" in heard
    down = {"accounts.verify_pin": failing(VERIFY_PIN, ActionError("db down")),
            "accounts.balance": actions["accounts.balance"]}
    result = await simulate("balance", flows, prompts, ["4321"], language="ko", actions=down)
    assert result.path == ["pin", "verify", "down", "bye"]
    assert "! action accounts.verify_pin failed in verify: db down" in result.lines()
    without = await simulate("balance", flows, prompts, ["4321"], language="ko")
    assert without.path == ["pin", "verify", "down", "bye"]  # no actions: the fallback
