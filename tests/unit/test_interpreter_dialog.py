"""Interpreter: menu and collect (escalation, lengths, timeouts, confirm, secure masking)."""

from __future__ import annotations

import json
from typing import Any

from ivr.flow.model import (
    CollectNode,
    Escalation,
    HandoffNode,
    HangupNode,
    MenuNode,
    PlayNode,
    SetNode,
)
from tests.unit.flowkit import ScriptedCaller, make_flow, options, run, says

END = HangupNode("end")


def menu(**fields: Any) -> MenuNode:
    defaults: dict[str, Any] = {
        "prompt": says("menu"), "options": options({"1": "one", "*": "star"}),
        "escalation": Escalation(no_input=(says("ni-1"), says("ni-2")),
                                 no_match=(says("nm-1"), says("nm-2")),
                                 attempts=4, fallback="fb")}
    return MenuNode("m", **{**defaults, **fields})


def menu_flow(**fields: Any) -> Any:
    return make_flow(menu(**fields), PlayNode("one", prompts=says("one"), next="end"),
                     PlayNode("star", prompts=says("star"), next="end"),
                     PlayNode("fb", prompts=says("fb"), next="end"), END)


async def test_escalation_counts_each_kind_and_reprompt_replaces_the_prompt() -> None:
    caller = ScriptedCaller([None, "9", None, "*"])
    state = await run(menu_flow(reprompt=says("menu-short"), store="choice"), caller)
    assert caller.played == ["menu", "ni-1", "menu-short", "nm-1", "menu-short", "ni-2",
                             "menu-short", "star"]
    assert [(f["attempt"], f.get("key")) for f in caller.named("no_input")] == [(1, None),
                                                                                (3, None)]
    assert caller.named("no_match") == [{"node": "m", "key": "9", "attempt": 2}]
    assert caller.named("choice") == [{"node": "m", "key": "*", "attempt": 4}]
    assert state.variables == {"choice": "*"}
    assert all(play["barge_in"] for play in caller.plays[:-1])


async def test_the_last_handler_repeats_and_none_plays_after_the_last_failure() -> None:
    caller = ScriptedCaller([None, None, None, None])
    state = await run(menu_flow(), caller)
    assert caller.played == ["menu", "ni-1", "menu", "ni-2", "menu", "ni-2", "menu", "fb"]
    assert caller.named("attempts_exhausted") == [{"node": "m"}]
    assert state.path == ["m", "fb", "end"]
    assert [r["timeout"] for r in caller.reads] == [5.0] * 4


async def test_exhausted_without_a_fallback_is_an_error() -> None:
    caller = ScriptedCaller(["7"])
    state = await run(menu_flow(escalation=Escalation(attempts=1)), caller)
    assert state.outcome == "error" and caller.hung_up
    assert caller.played == ["menu"]


async def test_menu_without_barge_in_says_so_to_the_io() -> None:
    caller = ScriptedCaller(["1"])
    await run(menu_flow(barge_in=False), caller)
    assert caller.plays[0] == {"ids": ["menu"], "barge_in": False, "secure": False,
                               "language": "en"}


# --- collect ------------------------------------------------------------------------------


def collect(**fields: Any) -> CollectNode:
    defaults: dict[str, Any] = {
        "prompt": says("enter"), "store": "acct", "min_length": 4, "max_length": 6,
        "first_digit_timeout": 6.0, "inter_digit_timeout": 2.0, "next": "ok",
        "escalation": Escalation(no_input=(says("ni"),), no_match=(says("nm"),),
                                 attempts=3, fallback="fb")}
    return CollectNode("c", **{**defaults, **fields})


def collect_flow(*extra: Any, **fields: Any) -> Any:
    return make_flow(collect(**fields), *extra,
                     PlayNode("ok", prompts=says("ok", {"digits": "${acct}"}), next="end"),
                     PlayNode("fb", prompts=says("fb"), next="end"), END)


async def test_digits_until_the_terminator() -> None:
    caller = ScriptedCaller(list("1234#"))
    state = await run(collect_flow(), caller)
    assert state.variables == {"acct": "1234"}
    assert caller.named("collected") == [{"node": "c", "value": "1234", "length": 4,
                                          "ended": "terminator", "attempt": 1}]
    assert [r["timeout"] for r in caller.reads] == [6.0, 2.0, 2.0, 2.0, 2.0]


async def test_terminator_alone_is_a_no_match_when_a_digit_is_required() -> None:
    caller = ScriptedCaller(["#", *"5678#"])
    state = await run(collect_flow(), caller)
    assert caller.played[:3] == ["enter", "nm", "enter"]
    assert caller.named("no_match")[0] == {"node": "c", "attempt": 1, "reason": "too_short",
                                           "length": 0, "ended": "terminator"}
    assert state.variables == {"acct": "5678"}


async def test_terminator_alone_is_an_empty_value_when_none_is_required() -> None:
    caller = ScriptedCaller(["#"])
    state = await run(collect_flow(min_length=0), caller)
    assert state.variables == {"acct": ""} and state.path[-2:] == ["ok", "end"]


async def test_max_length_ends_the_entry_without_a_terminator() -> None:
    caller = ScriptedCaller([*"123456", "9"])
    state = await run(collect_flow(), caller)
    assert state.variables == {"acct": "123456"}
    assert caller.named("collected")[0]["ended"] == "max_length"
    assert len(caller.reads) == 6 and caller.keys == ["9"]  # the 7th key was not read


async def test_inter_digit_silence_ends_the_entry() -> None:
    caller = ScriptedCaller(["1", "2", "3", "4", None])
    state = await run(collect_flow(), caller)
    assert state.variables == {"acct": "1234"}
    assert caller.named("collected")[0]["ended"] == "timeout"
    assert [r["timeout"] for r in caller.reads] == [6.0, 2.0, 2.0, 2.0, 2.0]


async def test_too_short_then_nothing_then_fallback() -> None:
    caller = ScriptedCaller(["1", "2", None, None, "3", "#"])
    state = await run(collect_flow(), caller)
    assert [e for e, _ in caller.events if e in ("no_input", "no_match")] == [
        "no_match", "no_input", "no_match"]
    assert caller.played == ["enter", "nm", "enter", "ni", "enter", "fb"]
    assert "acct" not in state.variables and state.path[-2:] == ["fb", "end"]


async def test_readback_and_confirm_two_re_enters_without_an_invalid_prompt() -> None:
    flow = collect_flow(readback=says("you-entered", {"digits": "${acct}"}),
                        confirm=says("press-1-or-2"))
    caller = ScriptedCaller([*"1111#", "2", *"2222#", "1"])
    state = await run(flow, caller)
    assert caller.played == [
        "enter", "you-entered", "digit-1", "digit-1", "digit-1", "digit-1", "press-1-or-2",
        "enter", "you-entered", "digit-2", "digit-2", "digit-2", "digit-2", "press-1-or-2",
        "ok", "digit-2", "digit-2", "digit-2", "digit-2"]
    assert caller.named("confirm_rejected") == [{"node": "c", "attempt": 1}]
    assert caller.named("confirmed") == [{"node": "c", "attempt": 2}]
    assert state.variables == {"acct": "2222"}


async def test_unconfirmed_entries_use_up_attempts_and_leave_the_variable_as_it_was() -> None:
    flow = make_flow(SetNode("init", values={"acct": "'old'"}, next="c"),
                     collect(confirm=says("press-1-or-2")),
                     PlayNode("ok", prompts=says("ok"), next="end"),
                     PlayNode("fb", prompts=says("fb"), next="end"), END)
    caller = ScriptedCaller([*"1111#", "2", *"2222#", None, *"3333#", "7"])
    state = await run(flow, caller)
    assert [f.get("stage") for f in caller.named("no_input")] == ["confirm"]
    assert caller.named("no_match")[0]["key"] == "7"
    assert caller.played[-2:] == ["press-1-or-2", "fb"]
    assert state.variables == {"acct": "old"} and not state.secure_vars


async def test_a_terminator_after_a_full_entry_is_not_the_confirmation() -> None:
    caller = ScriptedCaller([*"123456", "#", "1"])
    state = await run(collect_flow(confirm=says("press-1-or-2")), caller)
    assert state.variables == {"acct": "123456"}
    assert caller.named("confirmed") == [{"node": "c", "attempt": 1}]
    assert not caller.named("no_match")


async def test_a_terminator_after_a_full_entry_does_not_reach_the_next_node() -> None:
    """PIN "123456#" into a 6-digit entry: the '#' ends the entry, it is no menu choice."""
    flow = make_flow(collect(next="m"), menu(), PlayNode("one", prompts=says("one"), next="end"),
                     PlayNode("star", prompts=says("star"), next="end"),
                     PlayNode("fb", prompts=says("fb"), next="end"), END)
    caller = ScriptedCaller([*"123456", "#", "1"])
    state = await run(flow, caller)
    assert state.path == ["c", "m", "one", "end"]
    assert caller.events.count(("key_forgiven", {"key": "#", "within": 2.0})) == 1
    assert not caller.named("no_match")


async def test_only_a_full_entry_forgives_a_terminator() -> None:
    flow = make_flow(collect(next="m", terminator="*"), menu(options=options({"*": "star"})),
                     PlayNode("star", prompts=says("star"), next="end"),
                     PlayNode("fb", prompts=says("fb"), next="end"), END)
    full = ScriptedCaller([*"123456", "1", "*"])  # another key first: nothing forgiven
    assert (await run(flow, full)).path[-2:] == ["star", "end"]
    assert [e for e, _ in full.events].count("key_forgiven") == 0
    short = ScriptedCaller([*"1234", "*", "*"])  # the terminator ended it: the next is a key
    assert (await run(flow, short)).path == ["c", "m", "star", "end"]
    assert [e for e, _ in short.events].count("key_forgiven") == 0


# --- secure -------------------------------------------------------------------------------


async def test_a_secure_value_never_reaches_a_trace() -> None:
    """The PIN is read back to the caller, copied by `set`, sent to a service and quoted by a
    failing expression: not one trace entry, and no variable handed out, contains it."""
    pin = "987654"
    flow = make_flow(
        collect(store="pin", secure=True, max_length=8,
                readback=says("you-entered", {"digits": "${pin}"}),
                confirm=says("press-1-or-2"), next="copy"),
        SetNode("copy", values={"pin2": "pin", "size": "len(pin)", "other": "1 + 1"},
                next="agent"),
        HandoffNode("agent", kind="transfer", target="desk", next="bad"),
        SetNode("bad", values={"n": "int(pin + 'x')"}, next="end"),
        PlayNode("fb", prompts=says("fb"), next="end"), END)
    caller = ScriptedCaller([*pin, "#", "1"])
    state = await run(flow, caller)

    assert state.variables["pin"] == pin
    assert state.secure_vars == {"pin", "pin2", "size"}  # anything computed from it
    text = json.dumps(caller.events)
    assert pin not in text and "9876" not in text
    assert caller.named("collected")[0]["value"] == "***"
    assert caller.named("set")[0]["values"] == {"pin2": "***", "size": "***", "other": 2}
    assert "***" in caller.named("error")[0]["message"]  # int('***x') failed
    assert all(r["secure"] for r in caller.reads[:7]) and not caller.reads[7]["secure"]
    readback = [p for p in caller.plays if p["secure"]]
    assert [p["ids"] for p in readback] == [[f"digit-{d}" for d in pin]]
    ((request, variables),) = caller.handoffs
    assert variables["pin"] == "***" and variables["pin2"] == "***"
    assert request.inputs == (("c", "***"),)  # what an agent's screen shows of the entry
    assert state.outcome == "error"


async def test_a_hand_off_carries_the_callers_inputs_in_order_secure_ones_masked() -> None:
    flow = make_flow(
        MenuNode("m", prompt=says("menu"), options=options({"1": "acct", "2": "end"})),
        CollectNode("acct", prompt=says("acct"), store="acct", max_length=4, next="pin"),
        CollectNode("pin", prompt=says("pin"), store="pin", max_length=4, secure=True,
                    next="agent"),
        HandoffNode("agent", kind="transfer", target="desk", next="end"), END)
    caller = ScriptedCaller(["9", "1", *"1234", *"5678"])
    await run(flow, caller)
    ((request, _),) = caller.handoffs
    assert request.inputs == (("m", "1"), ("acct", "1234"), ("pin", "***"))
    assert request.path == ("m", "acct", "pin", "agent")
