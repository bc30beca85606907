"""Interpreter: the nodes that do not wait for keys, subflows, and the run-time error policy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ivr.flow.interpreter import MAX_SUBFLOW_DEPTH, run_flow
from ivr.flow.model import (
    BranchNode,
    Condition,
    GotoNode,
    HandoffNode,
    HangupNode,
    HoursNode,
    LanguageNode,
    PlayNode,
    ReturnNode,
    Schedule,
    SetNode,
    SubflowNode,
)
from ivr.flow.state import FlowState
from tests.unit.flowkit import ScriptedCaller, context, make_flow, run, says


def bye(node_id: str = "bye") -> HangupNode:
    return HangupNode(node_id, prompts=says("goodbye"))


async def test_set_evaluates_in_order_and_branch_takes_the_first_true_condition() -> None:
    flow = make_flow(
        SetNode("init", values={"tries": "2", "tier": "'gold'", "more": "tries + 1"},
                next="route"),
        BranchNode("route", conditions=(
            Condition("tries > 5", "many"),
            Condition("tier in ['gold', 'platinum'] and more == 3", "vip"),
            Condition("true", "never")), otherwise="many"),
        PlayNode("vip", prompts=says("vip-${tier}", {"number": "${more}"}), next="bye"),
        PlayNode("many", prompts=says("many"), next="bye"),
        PlayNode("never", prompts=says("never"), next="bye"),
        bye(),
    )
    caller = ScriptedCaller()
    state = await run(flow, caller)
    assert state.variables == {"tries": 2, "tier": "gold", "more": 3}
    assert caller.played == ["vip-gold", "number:3:en", "goodbye"]
    assert caller.named("branch") == [{"node": "route", "taken": 1, "target": "vip"}]
    assert caller.named("set")[0]["values"] == {"tries": 2, "tier": "gold", "more": 3}
    assert state.path == ["init", "route", "vip", "bye"] and state.outcome == "completed"


async def test_branch_else_and_builtin_variables() -> None:
    flow = make_flow(
        BranchNode("route", conditions=(Condition("caller == '000'", "x"),),
                   otherwise="show"),
        SetNode("show", values={"who": "caller + '/' + language + '/' + flow + '/' + call_id"},
                next="bye"),
        bye(),
    )
    caller = ScriptedCaller()
    state = await run(flow, caller)
    assert state.variables["who"] == "01099998888/en/main/call-1"
    assert caller.named("branch")[0]["taken"] == "else"


async def test_goto_and_falling_off_the_end_completes_and_hangs_up() -> None:
    flow = make_flow(GotoNode("start", target="last"), PlayNode("last", prompts=says("x")))
    caller = ScriptedCaller()
    state = await run(flow, caller)
    assert state.path == ["start", "last"]
    assert state.outcome == "completed" and caller.hung_up


async def test_hangup_plays_its_prompts_first() -> None:
    caller = ScriptedCaller()
    state = await run(make_flow(bye()), caller)
    assert caller.plays == [{"ids": ["goodbye"], "barge_in": False, "secure": False,
                             "language": "en"}]
    assert caller.hung_up and state.outcome == "completed"


async def test_language_switch_makes_every_later_prompt_follow() -> None:
    flow = make_flow(
        PlayNode("hello", prompts=says("welcome", {"number": "7"}), next="pick"),
        SetNode("pick", values={"lang": "'en'"}, next="to_en"),
        LanguageNode("to_en", language="${lang}", next="after"),
        PlayNode("after", prompts=says("welcome", {"currency": "1500"}), next="bye"),
        bye(),
        languages=("ko", "en"),
    )
    caller = ScriptedCaller(language="ko")
    state = await run(flow, caller)
    assert caller.language == "en"
    assert [p["language"] for p in caller.plays] == ["ko", "en", "en"]
    assert caller.played == ["welcome", "number:7:ko", "welcome", "currency:1500:en",
                             "goodbye"]
    assert caller.named("language") == [{"node": "to_en", "language": "en", "previous": "ko"}]
    assert state.outcome == "completed"


async def test_an_undeclared_language_is_an_error_and_the_caller_keeps_theirs() -> None:
    flow = make_flow(LanguageNode("to_ja", language="ja", next="after"),
                     PlayNode("after", prompts=says("welcome"), next="bye"), bye(),
                     languages=("ko", "en"))
    caller = ScriptedCaller(language="ko")
    state = await run(flow, caller)
    assert caller.language == "ko" and caller.plays[0]["language"] == "ko"
    assert "ja" in caller.named("error")[0]["message"]
    assert state.outcome == "completed"


async def test_hours_routes_on_the_injected_clock() -> None:
    schedule = Schedule(timezone="Asia/Seoul", weekly={"mon": (("09:00", "16:00"),)},
                        holidays=("2026-12-28",))
    flow = make_flow(HoursNode("when", schedule=schedule, open="o", closed="c", holiday="h"),
                     bye("o"), bye("c"), bye("h"))

    async def at(moment: datetime) -> list[str]:
        state = await run(flow, ScriptedCaller(), now=lambda: moment)
        return state.path

    assert await at(datetime(2026, 11, 23, 1, 0, tzinfo=UTC)) == ["when", "o"]  # 10:00 KST
    assert await at(datetime(2026, 11, 23, 8, 0, tzinfo=UTC)) == ["when", "c"]  # 17:00 KST
    assert await at(datetime(2026, 12, 28, 1, 0, tzinfo=UTC)) == ["when", "h"]


async def test_handoff_declined_goes_on_at_next() -> None:
    flow = make_flow(
        SetNode("init", values={"account": "'12345'"}, next="agent"),
        HandoffNode("agent", kind="queue", target="vip-${account}",
                    options={"priority": "5"}, next="sorry"),
        PlayNode("sorry", prompts=says("agent-unavailable"), next="bye"), bye())
    caller = ScriptedCaller()
    state = await run(flow, caller)
    ((node, variables),) = caller.handoffs
    assert (node.kind, node.target, node.options) == ("queue", "vip-12345", {"priority": "5"})
    assert variables == {"account": "12345"}
    assert caller.named("handoff") == [{"node": "agent", "kind": "queue",
                                        "target": "vip-12345", "taken": False,
                                        "outcome": ""}]
    assert state.path == ["init", "agent", "sorry", "bye"] and state.outcome == "completed"


async def test_handoff_taken_ends_the_flow_without_hanging_up() -> None:
    flow = make_flow(HandoffNode("vm", kind="voicemail", target="general", next="bye"), bye())
    caller = ScriptedCaller(accept_handoff=True)
    state = await run(flow, caller)
    assert state.outcome == "handoff:voicemail" and not caller.hung_up
    assert state.path == ["vm"]


# --- subflows -----------------------------------------------------------------------------


def auth_flow() -> Any:
    return make_flow(
        SetNode("check", values={"ok": "len(account) == 6", "greeting": "'hi ' + account"},
                next="say"),
        PlayNode("say", prompts=says("checking", {"digits": "${account}"}), next="done"),
        ReturnNode("done"),
        name="auth", params=("account",))


async def test_subflow_gets_params_in_its_own_scope_and_returns_values() -> None:
    flow = make_flow(
        SetNode("init", values={"acct": "'123456'", "local": "1"}, next="call"),
        SubflowNode("call", flow="auth", params={"account": "acct"},
                    returns={"verified": "ok", "nothing": "not_set_there"}, next="after"),
        BranchNode("after", conditions=(Condition("verified and local == 1", "yes"),),
                   otherwise="no"),
        bye("yes"), bye("no"))
    caller = ScriptedCaller()
    state = await run(flow, caller, auth_flow())
    assert state.path == ["init", "call", "auth:check", "auth:say", "auth:done", "after", "yes"]
    assert state.variables == {"acct": "123456", "local": 1, "verified": True, "nothing": None}
    assert "greeting" not in state.variables  # the subflow's own variable stays there
    assert caller.played[:7] == ["checking", "digit-1", "digit-2", "digit-3", "digit-4",
                                 "digit-5", "digit-6"]
    assert caller.named("subflow") == [{"node": "call", "flow": "auth", "depth": 1}]
    assert caller.named("return")[0]["flow"] == "auth"
    assert state.frames == [] and state.outcome == "completed"


async def test_subflow_cannot_see_the_callers_variables() -> None:
    sub = make_flow(SetNode("peek", values={"x": "local"}), name="peek")
    flow = make_flow(SetNode("init", values={"local": "1"}, next="call"),
                     SubflowNode("call", flow="peek", next="bye"), bye())
    caller = ScriptedCaller()
    state = await run(flow, caller, sub)
    assert state.outcome == "error" and caller.hung_up
    assert caller.named("error")[0]["node"] == "peek:peek"
    assert "'local' is not set" in caller.named("error")[0]["message"]


async def test_missing_param_and_unknown_flow_are_errors() -> None:
    for node in (SubflowNode("call", flow="auth", next="bye"),
                 SubflowNode("call", flow="nope", next="bye")):
        caller = ScriptedCaller()
        state = await run(make_flow(node, bye()), caller, auth_flow())
        assert state.outcome == "error"
        assert caller.named("error")[0]["node"] == "call"


async def test_recursion_stops_at_the_depth_limit() -> None:
    loop = make_flow(SubflowNode("again", flow="loop", next="end"), ReturnNode("end"),
                     name="loop")
    caller = ScriptedCaller()
    state = await run(loop, caller)
    assert state.outcome == "error" and caller.hung_up
    assert len(caller.named("subflow")) == MAX_SUBFLOW_DEPTH
    assert f"deeper than {MAX_SUBFLOW_DEPTH}" in caller.named("error")[0]["message"]


async def test_hangup_inside_a_subflow_ends_the_call() -> None:
    sub = make_flow(HangupNode("stop"), name="sub")
    flow = make_flow(SubflowNode("call", flow="sub", next="bye"), bye())
    caller = ScriptedCaller()
    state = await run(flow, caller, sub)
    assert state.path == ["call", "sub:stop"] and state.outcome == "completed"


async def test_return_in_the_main_flow_ends_the_call() -> None:
    caller = ScriptedCaller()
    state = await run(make_flow(ReturnNode("r")), caller)
    assert state.outcome == "completed" and caller.hung_up


# --- the error policy ---------------------------------------------------------------------


async def test_an_expression_error_without_fallback_hangs_up_politely() -> None:
    flow = make_flow(SetNode("bad", values={"x": "1 / 0"}, next="bye"), bye())
    caller = ScriptedCaller()
    state = await run(flow, caller)
    assert state.outcome == "error" and caller.hung_up and caller.played == []
    (error,) = caller.named("error")
    assert error["node"] == "bad" and "division by zero" in error["message"]


async def test_an_unset_variable_in_a_prompt_is_an_error() -> None:
    flow = make_flow(PlayNode("p", prompts=says("hello-${nobody}"), next="bye"), bye())
    caller = ScriptedCaller()
    state = await run(flow, caller)
    assert state.outcome == "error"
    assert "'nobody' is not set" in caller.named("error")[0]["message"]


async def test_a_value_that_cannot_be_said_is_an_error() -> None:
    flow = make_flow(PlayNode("p", prompts=says({"number": "boom"}), next="bye"), bye())
    caller = ScriptedCaller()
    assert (await run(flow, caller)).outcome == "error"
    assert "cannot say" in caller.named("error")[0]["message"]


async def test_branch_without_a_true_condition_or_else_and_set_of_a_builtin() -> None:
    for node in (BranchNode("b", conditions=(Condition("false", "bye"),)),
                 SetNode("s", values={"language": "'en'"}, next="bye")):
        caller = ScriptedCaller()
        assert (await run(make_flow(node, bye()), caller)).outcome == "error"


async def test_a_missing_target_and_a_silent_loop_end_the_call() -> None:
    caller = ScriptedCaller()
    state = await run(make_flow(GotoNode("g", target="nowhere")), caller)
    assert state.outcome == "error" and "nowhere" in caller.named("error")[0]["message"]

    caller = ScriptedCaller()
    state = await run(make_flow(GotoNode("a", target="b"), GotoNode("b", target="a")), caller)
    assert state.outcome == "error" and "loop" in caller.named("error")[0]["message"]
    assert caller.hung_up


async def test_a_finished_state_is_returned_as_is() -> None:
    done = FlowState(outcome="completed")
    caller = ScriptedCaller()
    assert await run_flow(make_flow(bye()), caller, context(), done) is done
    assert caller.events == [] and not caller.hung_up


async def test_a_loop_of_silent_plays_is_caught_too() -> None:
    """Empty prompt lists play nothing, so they do not count as talking to the caller."""
    flow = make_flow(SetNode("init", values={"nothing": "''"}, next="a"),
                     PlayNode("a", prompts=says("${nothing}"), next="a"))
    caller = ScriptedCaller()
    state = await run(flow, caller)
    assert state.outcome == "error" and caller.plays == []
