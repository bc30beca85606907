"""The action node in the interpreter: outcomes, results, fallback, timeouts, and secrets.

Actions are fakes (tests/unit/fake_actions.py) with the accounts actions' specs; the caller is
the in-memory ScriptedCaller of tests/unit/flowkit.py.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest

from ivr.flow.actions import ActionResult, CallInfo, Value
from ivr.flow.model import ActionNode, CollectNode, Escalation, HangupNode, PlayNode, SetNode
from ivr.flow.state import FlowState
from tests.unit.fake_actions import (
    BALANCE,
    VERIFY_PIN,
    ActionError,
    FakeAction,
    answering,
    failing,
    pin_checker,
    slow,
)
from tests.unit.flowkit import ScriptedCaller, make_flow, run, says

PIN = "4321"


def verify(**fields: Any) -> ActionNode:
    node: dict[str, Any] = {
        "action": "accounts.verify_pin", "args": {"account": "acct", "pin": "pin"},
        "results": {"left": "attempts_left"},
        "on": {"ok": "welcome", "wrong_pin": "wrong"}, "fallback": "sorry", **fields}
    return ActionNode("verify", **node)


def pin_flow(node: ActionNode, *, secure: bool = True) -> Any:
    """acct set, the PIN collected (secure), then the action node and three endings."""
    return make_flow(
        SetNode("init", values={"acct": "'12345678'"}, next="pin"),
        CollectNode("pin", prompt=says("enter-pin"), store="pin", secure=secure, max_length=4,
                    next="verify", escalation=Escalation(fallback="sorry")),
        node,
        PlayNode("welcome", prompts=says("ok", {"number": "${left}"}), next="bye"),
        PlayNode("wrong", prompts=says("wrong-pin"), next="bye"),
        PlayNode("sorry", prompts=says("sorry"), next="bye"),
        HangupNode("bye"))


async def call(flow: Any, actions: Mapping[str, Any], keys: str = PIN,
               **ctx: Any) -> tuple[FlowState, ScriptedCaller]:
    caller = ScriptedCaller(list(keys), language="ko")
    state = await run(flow, caller, actions=actions, **ctx)
    return state, caller


def leaks(caller: ScriptedCaller, caplog: pytest.LogCaptureFixture, secret: str,
          skip: tuple[str, ...] = ()) -> list[str]:
    """Every trace entry (but the `skip` events) and log record that shows `secret`."""
    shown = [f"{event} {fields}" for event, fields in caller.events if event not in skip]
    shown += [f"{r.getMessage()} {r.args}" for r in caplog.records]
    return [line for line in shown if secret in line]


async def test_the_outcome_picks_the_edge_and_results_become_variables() -> None:
    action = pin_checker(PIN)
    state, caller = await call(pin_flow(verify()), {"accounts.verify_pin": action})
    assert state.path == ["init", "pin", "verify", "welcome", "bye"]
    assert state.variables["left"] == 3 and "left" not in state.secure_vars
    assert caller.played == ["enter-pin", "ok", "number:3:ko"]
    ((args, info),) = action.calls
    assert args == {"account": "12345678", "pin": PIN}
    assert info == CallInfo(call_id="call-1", caller="01099998888", language="ko")
    (traced,) = caller.named("action")
    assert traced["action"] == "accounts.verify_pin" and traced["outcome"] == "ok"
    assert traced["results"] == ["left"] and traced["target"] == "welcome"
    assert set(traced) == {"node", "action", "outcome", "target", "results", "ms"}


async def test_a_result_the_action_leaves_out_is_null_on_every_on_edge() -> None:
    action = answering(VERIFY_PIN, "wrong_pin")
    state, _ = await call(pin_flow(verify()), {"accounts.verify_pin": action})
    assert state.path[-2:] == ["wrong", "bye"]
    assert "left" in state.variables and state.variables["left"] is None


async def test_an_outcome_not_in_on_goes_to_the_fallback_and_sets_nothing() -> None:
    action = answering(VERIFY_PIN, "locked", attempts_left=0)
    state, caller = await call(pin_flow(verify()), {"accounts.verify_pin": action})
    assert state.path[-2:] == ["sorry", "bye"] and state.outcome == "completed"
    assert "left" not in state.variables
    (traced,) = caller.named("action")
    assert (traced["outcome"], traced["handled"], traced["target"]) == ("locked", False, "sorry")


async def test_an_action_error_is_traced_and_takes_the_fallback(
        caplog: pytest.LogCaptureFixture) -> None:
    action = failing(VERIFY_PIN, ActionError("accounts database unreachable"))
    with caplog.at_level(logging.WARNING, logger="ivr.flow.action_node"):
        state, caller = await call(pin_flow(verify()), {"accounts.verify_pin": action})
    assert state.path[-2:] == ["sorry", "bye"]
    (failed,) = caller.named("action_failed")
    assert failed["error"] == "accounts database unreachable"
    assert (failed["action"], failed["target"], failed["node"]) == (
        "accounts.verify_pin", "sorry", "verify")
    assert "accounts database unreachable" in caplog.text and "verify" in caplog.text


async def test_a_bug_in_an_action_costs_the_branch_not_the_call() -> None:
    action = failing(VERIFY_PIN, KeyError("pin"))
    state, caller = await call(pin_flow(verify()), {"accounts.verify_pin": action})
    assert state.path[-2:] == ["sorry", "bye"]
    assert caller.named("action_failed")[0]["error"] == "KeyError: 'pin'"

    async def garbage(args: Mapping[str, Value], info: CallInfo) -> Any:
        return {"outcome": "ok"}
    state, caller = await call(pin_flow(verify()),
                               {"accounts.verify_pin": FakeAction(VERIFY_PIN, garbage)})
    assert state.path[-2:] == ["sorry", "bye"]
    assert "not an ActionResult" in caller.named("action_failed")[0]["error"]


async def test_a_slow_action_times_out_into_the_fallback() -> None:
    action = slow(VERIFY_PIN, 5.0)
    state, caller = await call(pin_flow(verify(timeout=0.05)), {"accounts.verify_pin": action})
    assert state.path[-2:] == ["sorry", "bye"]
    (failed,) = caller.named("action_failed")
    assert failed["error"] == "timeout after 0.05s" and failed["ms"] < 2000


async def test_an_unknown_action_is_a_traced_error_and_takes_the_fallback() -> None:
    state, caller = await call(pin_flow(verify()), {})
    assert state.path[-2:] == ["sorry", "bye"]
    (error,) = caller.named("error")
    assert error == {"node": "verify", "fallback": "sorry",
                     "message": "no action named 'accounts.verify_pin' is available"}


async def test_without_a_fallback_a_failure_ends_the_call_politely() -> None:
    action = failing(VERIFY_PIN, ActionError("down"))
    state, caller = await call(pin_flow(verify(fallback="")), {"accounts.verify_pin": action})
    assert state.outcome == "error" and caller.hung_up
    assert "failed and there is no fallback" in caller.named("error")[0]["message"]


async def test_an_argument_that_fails_to_evaluate_takes_the_fallback() -> None:
    node = verify(args={"account": "acct + 1", "pin": "pin"})
    state, caller = await call(pin_flow(node), {"accounts.verify_pin": pin_checker()})
    assert state.path[-2:] == ["sorry", "bye"] and caller.named("error")


@pytest.mark.parametrize("secure", [True, False], ids=["secure-collect", "spec-secure-arg"])
async def test_a_pin_never_reaches_a_trace_or_a_log(
        secure: bool, caplog: pytest.LogCaptureFixture) -> None:
    """Secure because the collect is, or because the spec lists `pin` as a secure arg."""
    async def careless(args: Mapping[str, Value], info: CallInfo) -> ActionResult:
        raise ActionError(f"backend refused pin {args['pin']} for {args['account']}")

    with caplog.at_level(logging.DEBUG):
        state, caller = await call(pin_flow(verify(), secure=secure),
                                   {"accounts.verify_pin": FakeAction(VERIFY_PIN, careless)})
    assert state.path[-2:] == ["sorry", "bye"]
    (failed,) = caller.named("action_failed")
    assert failed["error"] == "backend refused pin *** for 12345678"
    # A non-secure collect traces its own entry (the checker warns about that flow); nothing
    # the action node traces or logs shows the PIN.
    assert leaks(caller, caplog, PIN, skip=() if secure else ("collected",)) == []
    assert caplog.records, "the failure is logged (masked)"


async def test_a_secure_pin_on_the_ok_path_leaves_no_trace(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        state, caller = await call(pin_flow(verify()), {"accounts.verify_pin": pin_checker()})
    assert state.path[-2:] == ["welcome", "bye"]
    assert leaks(caller, caplog, PIN) == []
    assert state.variables["pin"] == PIN and "pin" in state.secure_vars


async def test_a_result_echoing_a_secure_field_is_secret() -> None:
    action = answering(VERIFY_PIN, "ok", pin=PIN)
    node = verify(results={"echo": "pin", "left": "attempts_left"})
    state, caller = await call(pin_flow(node), {"accounts.verify_pin": action})
    assert "echo" in state.secure_vars
    assert caller.named("action")[0]["results"] == ["left"]


async def test_money_results_arrive_as_text() -> None:
    action = answering(BALANCE, "ok", balance=Decimal("2500.75"), currency="USD")
    flow = make_flow(
        ActionNode("get", action="accounts.balance", args={"account": "'1'"},
                   results={"balance": "balance", "cur": "currency"},
                   on={"ok": "say"}, fallback="bye"),
        PlayNode("say", prompts=(*says("balance-is"),), next="bye"), HangupNode("bye"))
    caller = ScriptedCaller()
    state = await run(flow, caller, actions={"accounts.balance": action})
    assert state.variables["balance"] == "2500.75" and state.variables["cur"] == "USD"

    bad = answering(BALANCE, "ok", balance=[1, 2])  # type: ignore[arg-type]
    state = await run(flow, ScriptedCaller(), actions={"accounts.balance": bad})
    assert state.path == ["get", "bye"] and "balance" not in state.variables
