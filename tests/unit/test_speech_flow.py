"""The flow side of speech: which nodes listen, in which language, with which grammar; the
keypad fallback when a language has no engine; and the checker's speech rules."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from ivr.flow.check_speech import check_flow_speech, check_speech_node
from ivr.flow.dialog import CONFIRM_PHRASES
from ivr.flow.model import CollectNode, Escalation, Flow, HangupNode, MenuNode, MenuOption, PlayNode
from ivr.flow.runtime import SPEECH_UNAVAILABLE
from ivr.flow.types import Listen
from tests.unit.flowkit import ScriptedCaller, make_flow, run, says

END = HangupNode("end")
ESCALATION = Escalation(no_input=(says("ni"),), no_match=(says("nm"),), attempts=3,
                        fallback="end")


def speech_menu(**fields: Any) -> MenuNode:
    options = {"1": MenuOption("balance", {"en": ("balance", "account balance"),
                                            "ko": ("잔액",)}),
               "3": MenuOption("agent", {"en": ("agent",), "ko": ("상담원",)}),
               "9": MenuOption("end")}
    return MenuNode("m", **{"prompt": says("menu"), "options": options,
                            "escalation": ESCALATION, "confidence": 0.6, **fields})


def speech_flow(speech: dict[str, str], **fields: Any) -> Flow:
    flow = make_flow(speech_menu(**fields), PlayNode("balance", prompts=says("bal"), next="end"),
                     PlayNode("agent", prompts=says("agent"), next="end"), END,
                     languages=("en", "ko"))
    return dataclasses.replace(flow, speech=speech)


async def test_a_menu_with_phrases_listens_with_its_grammar_and_takes_what_is_heard() -> None:
    caller = ScriptedCaller(["3"])  # what the ears heard ("agent") arrives as its key
    state = await run(speech_flow({"en": "pocketsphinx"}), caller)
    (heard,) = caller.listens
    assert heard == Listen("en", "pocketsphinx",
                           phrases={"balance": "1", "account balance": "1", "agent": "3"},
                           confidence=0.6, node="m")
    assert state.path == ["m", "agent", "end"]
    assert SPEECH_UNAVAILABLE not in caller.played


async def test_speech_that_matched_nothing_is_a_no_match() -> None:
    caller = ScriptedCaller(["?", "1"])
    state = await run(speech_flow({"en": "pocketsphinx"}), caller)
    assert caller.named("no_match") == [{"node": "m", "key": "?", "attempt": 1}]
    assert caller.played[:3] == ["menu", "nm", "menu"]
    assert state.path == ["m", "balance", "end"]


async def test_a_language_without_an_engine_says_to_use_the_keypad_then_takes_keys() -> None:
    caller = ScriptedCaller(["1"], language="ko")
    state = await run(speech_flow({"en": "pocketsphinx"}), caller)
    assert caller.listens[0].engine == ""
    assert caller.named("speech_unavailable") == [{"node": "m", "language": "ko",
                                                   "engine": None}]
    assert caller.played[:2] == [SPEECH_UNAVAILABLE, "menu"]
    assert state.path == ["m", "balance", "end"]


async def test_the_keypad_hint_is_said_once_a_call() -> None:
    caller = ScriptedCaller(["?", "1"], language="ko")  # a wrong key: the menu again
    await run(speech_flow({"en": "pocketsphinx"}), caller)
    assert caller.played.count(SPEECH_UNAVAILABLE) == 1
    assert len(caller.named("speech_unavailable")) == 1


async def test_a_keys_only_menu_never_listens() -> None:
    keys_only = {k: MenuOption(o.target) for k, o in speech_menu().options.items()}
    caller = ScriptedCaller(["9"])
    await run(speech_flow({"en": "pocketsphinx"}, options=keys_only), caller)
    assert caller.listens == [] and SPEECH_UNAVAILABLE not in caller.played


def collect_flow(**fields: Any) -> Flow:
    node = CollectNode("c", prompt=says("enter"), store="acct", min_length=4, max_length=8,
                       next="end", escalation=ESCALATION, **fields)
    return dataclasses.replace(make_flow(node, END), speech={"en": "pocketsphinx"})


async def test_digits_by_voice_listen_for_a_digit_string_of_the_entry_s_lengths() -> None:
    caller = ScriptedCaller(list("1234#"))  # "one two three four" arrives as keys, then #
    state = await run(collect_flow(speech=True, confidence=0.7), caller)
    assert caller.listens == [Listen("en", "pocketsphinx", digits=(4, 8), terminator="#",
                                     confidence=0.7, node="c")]
    assert state.variables["acct"] == "1234"


async def test_a_secure_entry_is_never_taken_by_voice() -> None:
    caller = ScriptedCaller(list("1234#"))
    await run(collect_flow(speech=True, secure=True), caller)
    assert caller.listens == []


class TimelineCaller(ScriptedCaller):
    """Also notes when each listening starts and ends, between the prompts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeline: list[str] = []

    async def play(self, prompt_ids: Sequence[str], *, barge_in: bool,
                   secure: bool = False) -> None:
        self.timeline.extend(prompt_ids)
        await super().play(prompt_ids, barge_in=barge_in, secure=secure)

    @contextlib.asynccontextmanager
    async def listening(self, request: Listen) -> AsyncIterator[bool]:
        self.timeline.append(f"<{request.node}>")
        async with super().listening(request) as listening:
            yield listening
        self.timeline.append(f"</{request.node}>")


def confirmed_entry(**fields: Any) -> Flow:
    return collect_flow(speech=True, readback=says("you-said"), confirm=says("yes-or-no"),
                        **fields)


async def test_a_spoken_entry_is_confirmed_by_a_spoken_yes_not_by_more_digits() -> None:
    caller = TimelineCaller([*"1234#", "1"])  # "one two three four", then "yes"
    state = await run(confirmed_entry(), caller)
    entry, confirm = caller.listens
    assert entry.digits == (4, 8)
    assert confirm == Listen("en", "pocketsphinx", phrases=CONFIRM_PHRASES["en"],
                             confidence=0.5, node="c.confirm")
    assert {confirm.phrases[word] for word in ("yes", "correct", "one")} == {"1"}
    assert {confirm.phrases[word] for word in ("no", "wrong", "two")} == {"2"}
    assert caller.timeline == ["<c>", "enter", "</c>",
                               "<c.confirm>", "you-said", "yes-or-no", "</c.confirm>"]
    assert state.variables["acct"] == "1234"
    assert caller.named("confirmed")


async def test_a_spoken_no_takes_the_digits_again_and_keys_still_work() -> None:
    caller = TimelineCaller([*"1234#", "2", *"5678#", "1"])
    state = await run(confirmed_entry(), caller)
    assert [listen.node for listen in caller.listens] == ["c", "c.confirm"] * 2
    assert caller.named("confirm_rejected") and state.variables["acct"] == "5678"
    assert "nm" not in caller.played, "a caller who says no is not told the choice was invalid"


async def test_an_entry_without_confirm_listens_only_for_digits() -> None:
    caller = TimelineCaller(list("1234#"))
    await run(collect_flow(speech=True, readback=says("you-said")), caller)
    assert caller.timeline == ["<c>", "enter", "</c>", "you-said"]


async def test_a_spoken_entry_in_a_language_without_an_engine_takes_keys_silently() -> None:
    flow = dataclasses.replace(confirmed_entry(), languages=("en", "ko"))
    caller = TimelineCaller([*"1234#", "1"], language="ko")
    state = await run(flow, caller)
    assert caller.listens == [] and SPEECH_UNAVAILABLE not in caller.played
    assert state.variables["acct"] == "1234"


# -- checker rules ---------------------------------------------------------------------------


def test_checker_speech_rules() -> None:
    flow = speech_flow({"en": "pocketsphinx", "ja": "vosk"})
    assert check_flow_speech(flow) == [(("speech", "ja"), "speech engine for 'ja', which is "
                                        "not one of this flow's languages (en, ko)", "error")]
    findings = check_speech_node(flow, flow.nodes["m"])
    assert [(path, severity) for path, _, severity in findings] == [((), "warning")]
    assert "listens in 'ko', but the flow names no speech engine" in findings[0][1]

    twice = speech_menu(options={"1": MenuOption("a", {"en": ("Agent",)}),
                                 "2": MenuOption("b", {"en": ("agent",), "fr": ("agent",)})})
    found = check_speech_node(dataclasses.replace(flow, speech={"en": "x", "ko": "y"}), twice)
    assert [(p, s) for p, _, s in found] == [(("options", "2", "phrases", "en"), "error"),
                                             (("options", "2", "phrases", "fr"), "error")]
    assert "'agent' is a phrase of option '1' too" in found[0][1]

    secure = collect_flow(speech=True, secure=True)
    assert check_speech_node(secure, secure.nodes["c"])[0][2] == "error"
    no_engine = dataclasses.replace(collect_flow(speech=True), speech={})
    assert check_speech_node(no_engine, no_engine.nodes["c"])[0][2] == "warning"
    assert check_speech_node(confirmed_entry(), confirmed_entry().nodes["c"]) == []
    japanese = dataclasses.replace(confirmed_entry(), languages=("en", "ja"),
                                   speech={"en": "pocketsphinx", "ja": "vosk"})
    assert check_speech_node(japanese, japanese.nodes["c"]) == [
        (("confirm",), "no spoken yes/no is known in 'ja': the confirmation takes keys only in "
                       "it", "warning")]


@pytest.mark.parametrize("engine", ["pocketsphinx", "vosk"])
def test_the_schema_and_loader_read_speech(tmp_path: Path, engine: str) -> None:
    from ivr.flow.loader import load_flow

    path = tmp_path / "f.yaml"
    path.write_text(f"""name: f
languages: [en]
speech: {{en: {engine}}}
entry: m
nodes:
  m:
    type: menu
    prompt: [menu]
    confidence: 0.7
    options:
      "1": {{target: c, phrases: {{en: [balance]}}}}
  c:
    type: collect
    prompt: [menu]
    store: n
    speech: true
    next: m
""")
    flow = load_flow(path)
    assert flow.speech == {"en": engine}
    menu = flow.nodes["m"]
    assert isinstance(menu, MenuNode) and menu.confidence == 0.7
    assert menu.grammar("en") == {"balance": "1"}
    entry = flow.nodes["c"]
    assert isinstance(entry, CollectNode) and entry.speech
