"""The flow loader: YAML to the model, every node type, coercions, and errors with positions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypedDict

import pytest

from ivr.flow.library import flow_files
from ivr.flow.loader import FlowError, FlowErrorDetail, load_flow, parse_flow
from ivr.flow.model import (
    ActionNode,
    BranchNode,
    CollectNode,
    Condition,
    Escalation,
    GotoNode,
    HandoffNode,
    HangupNode,
    HoursNode,
    HttpNode,
    LanguageNode,
    MenuNode,
    MenuOption,
    PlayNode,
    ReturnNode,
    Say,
    Schedule,
    SetNode,
    SubflowNode,
)
from ivr.flow.schema import SCHEMA_FILE

ROOT = Path(__file__).resolve().parents[2]
OK = Path(__file__).with_name("flows_ok")
HEAD = "name: t\nlanguages: [en]\nentry: a\nnodes:\n"


def errors(text: str) -> list[FlowErrorDetail]:
    with pytest.raises(FlowError) as info:
        parse_flow(text, "t.yaml")
    return info.value.details


def test_published_schema_is_the_packaged_one() -> None:
    assert (ROOT / "docs" / "flow.schema.json").read_bytes() == SCHEMA_FILE.read_bytes()
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    node_types = schema["$defs"]["node"]["properties"]["type"]["enum"]
    assert all(schema["$defs"][t]["additionalProperties"] is False for t in node_types)


def test_metadata() -> None:
    flow = load_flow(OK / "ok_main.yaml")
    assert (flow.name, flow.version) == ("ok_main", "2")
    assert flow.description == "the whole language, clean"
    assert (flow.languages, flow.default_language, flow.entry) == (("ko", "en"), "ko", "start")
    assert flow.source == str(OK / "ok_main.yaml")
    assert load_flow(OK / "ok_verify.yaml").params == ("account",)
    minimal = parse_flow(HEAD + "  a: {type: hangup}\n")
    assert (minimal.version, minimal.default_language, minimal.params) == ("1", "en", ())


class Where(TypedDict):
    line: int
    column: int


def at(file: Path, node_id: str) -> Where:
    """Where a node's id is in a file: found in the text, not counted by hand."""
    rows = file.read_text(encoding="utf-8").splitlines()
    line = next(i for i, row in enumerate(rows, 1) if row == f"  {node_id}:")
    return {"line": line, "column": 3}


def test_every_node_type() -> None:
    nodes = load_flow(OK / "ok_main.yaml").nodes
    main = OK / "ok_main.yaml"
    assert nodes["start"] == SetNode(
        id="start", **at(main, "start"), next="welcome",
        values={"tries": "0", "greeting": "'hello'", "again": "tries + 1"})
    assert nodes["welcome"] == PlayNode(id="welcome", **at(main, "welcome"), next="pick_language",
                                        prompts=(Say("prompt", "welcome"),), barge_in=False)
    menu = nodes["pick_language"]
    assert isinstance(menu, MenuNode)
    assert menu.options == {
        "1": MenuOption("korean"),
        "2": MenuOption("english", {"en": ("english",), "ko": ("영어",)}),
        "*": MenuOption("pick_language"), "#": MenuOption("agent"),
    }
    assert (menu.prompt, menu.reprompt) == ((Say("prompt", "main-menu"),),) * 2
    assert (menu.timeout, menu.barge_in, menu.store) == (4.5, False, "choice")
    assert menu.escalation == Escalation(
        no_input=((Say("prompt", "no-input"),),
                  (Say("prompt", "no-input"), Say("prompt", "main-menu"))),
        no_match=((Say("prompt", "invalid"),),), attempts=2, fallback="agent")
    assert nodes["korean"] == LanguageNode(id="korean", **at(main, "korean"), language="ko",
                                           next="account")
    collect = nodes["account"]
    assert isinstance(collect, CollectNode)
    assert (collect.store, collect.min_length, collect.max_length, collect.terminator) == (
        "acct", 4, 8, "*")
    assert (collect.first_digit_timeout, collect.inter_digit_timeout) == (7.0, 2.5)
    assert (collect.secure, collect.barge_in, collect.next) == (True, True, "authenticate")
    assert collect.readback == (Say("prompt", "you-entered"), Say("digits", "${acct}"))
    assert collect.confirm == (Say("prompt", "confirm-1-2"),)
    assert collect.escalation.attempts == 3 and collect.escalation.fallback == "agent"
    assert nodes["authenticate"] == ActionNode(
        id="authenticate", **at(main, "authenticate"), action="accounts.verify_pin",
        args={"account": "acct", "pin": "acct"}, results={"tries_left": "attempts_left"},
        timeout=4.0, on={"ok": "verify", "wrong_pin": "verify", "locked": "agent",
                         "unknown_account": "agent"}, fallback="agent")
    assert nodes["verify"] == SubflowNode(
        id="verify", **at(main, "verify"), flow="ok_verify", params={"account": "acct"},
        returns={"balance": "amount"}, next="get_balance")
    assert nodes["get_balance"] == ActionNode(
        id="get_balance", **at(main, "get_balance"), action="accounts.balance",
        args={"account": "acct"}, results={"balance_now": "balance", "cur": "currency"},
        on={"ok": "lookup", "unknown_account": "agent"}, fallback="agent")  # timeout 5
    assert nodes["lookup"] == HttpNode(
        id="lookup", **at(main, "lookup"), url="https://bank.example/api/accounts/${acct}",
        method="POST", body={"account": "acct", "tries": "again", "vip": "true"}, timeout=2.0,
        retries=2, results={"due": "data.due", "at": "data.at"}, next="say_balance",
        fallback="agent")
    play = nodes["say_balance"]
    assert isinstance(play, PlayNode) and play.barge_in
    assert [s.kind for s in play.prompts] == ["prompt", "number", "currency", "date", "time",
                                              "number", "currency", "currency", "currency"]
    assert play.prompts[5:] == (Say("number", "5"), Say("currency", "${balance_now}", "${cur}"),
                                Say("currency", "${tries_left}", "KRW"),
                                Say("currency", "2500.75", "usd"))
    assert play.prompts[2].unit == ""
    assert nodes["check"] == BranchNode(
        id="check", **at(main, "check"), otherwise="hours",
        conditions=(Condition("balance >= 1000", "rich"), Condition("language == 'en'", "hours")))
    assert nodes["rich"] == GotoNode(id="rich", **at(main, "rich"), target="hours")
    hours = nodes["hours"]
    assert isinstance(hours, HoursNode)
    assert (hours.open, hours.closed, hours.holiday) == ("agent", "weekend", "message")
    workday = (("09:00", "12:00"), ("13:00", "18:00"))
    assert hours.schedule == Schedule(
        timezone="Asia/Seoul",
        weekly={"mon": workday, "tue": workday, "wed": workday, "thu": workday, "fri": workday,
                "sat": (("10:00", "13:00"),)},
        holidays=("2026-12-25",))
    inline = nodes["weekend"]
    assert isinstance(inline, HoursNode)
    assert inline.schedule == Schedule("UTC", {"sun": (("00:00", "24:00"),)}, ())
    assert inline.holiday == ""
    assert nodes["agent"] == HandoffNode(
        id="agent", **at(main, "agent"), kind="queue", target="general",
        options={"priority": "5", "max_wait": "60"}, next="message")
    assert nodes["message"] == HandoffNode(id="message", **at(main, "message"), kind="voicemail",
                                           target="general", next="goodbye")
    assert nodes["callback"] == HandoffNode(id="callback", **at(main, "callback"), kind="callback",
                                            target="general", next="goodbye")
    assert nodes["transfer"] == HandoffNode(id="transfer", **at(main, "transfer"), kind="transfer",
                                            target="PJSIP/${caller}", next="goodbye")
    assert nodes["goodbye"] == HangupNode(id="goodbye", **at(main, "goodbye"),
                                          prompts=(Say("prompt", "goodbye"),))
    assert load_flow(OK / "ok_verify.yaml").nodes["done"] == ReturnNode(
        id="done", **at(OK / "ok_verify.yaml", "done"))


def test_node_line_and_column_are_those_of_the_id() -> None:
    text = HEAD + "  a:\n    type: goto\n    target: b\n\n    # note\n  b:   {type: hangup}\n"
    flow = parse_flow(text)
    assert (flow.nodes["a"].line, flow.nodes["a"].column) == (5, 3)
    assert (flow.nodes["b"].line, flow.nodes["b"].column) == (10, 3)


def test_coercions() -> None:
    flow = parse_flow(
        "name: t\nversion: 3\nlanguages: [en]\nentry: a\nnodes:\n"
        "  a:\n    type: set\n    values: {n: 0, f: 1.5, yes_: true, nothing: null}\n    next: m\n"
        "  m:\n    type: menu\n    prompt: main-menu\n    timeout: 2\n"
        "    options: {1: b, 2: b}\n    no_input: no-input\n    fallback: b\n"
        "  b: {type: hangup}\n")
    assert flow.version == "3"
    a = flow.nodes["a"]
    assert isinstance(a, SetNode)
    assert a.values == {"n": "0", "f": "1.5", "yes_": "true", "nothing": "null"}
    m = flow.nodes["m"]
    assert isinstance(m, MenuNode)
    assert list(m.options) == ["1", "2"] and m.timeout == 2.0 and isinstance(m.timeout, float)
    assert m.prompt == (Say("prompt", "main-menu"),)
    assert m.escalation.no_input == ((Say("prompt", "no-input"),),)
    assert m.escalation.no_match == ()


def test_detail_format() -> None:
    detail = FlowErrorDetail("f.yaml", 3, 5, "menu", "target 'x' does not exist")
    assert str(detail) == "f.yaml:3:5: node 'menu': target 'x' does not exist"
    assert detail.report_line() == "f.yaml:3:5: error: node 'menu': target 'x' does not exist"
    warning = FlowErrorDetail("f.yaml", 1, 1, None, "hm", "warning")
    assert str(warning) == "f.yaml:1:1: hm" and not warning.is_error
    assert warning.report_line() == "f.yaml:1:1: warning: hm"
    assert str(FlowError([detail, warning])) == f"{detail}\n{warning}"


def test_all_schema_errors_of_a_file_are_reported_together() -> None:
    found = errors(HEAD + "  a:\n    type: play\n    prompts: [welcome]\n    nxt: b\n"
                          "    barge_in: maybe\n  b:\n    type: hangpu\n")
    assert [(d.line, d.column, d.node) for d in found] == [(8, 5, "a"), (9, 5, "a"), (11, 5, "b")]
    assert "unknown field 'nxt' in a play node; did you mean 'next'?" in found[0].message
    assert found[1].message == "'barge_in' must be true/false, not text"
    assert "did you mean 'hangup'?" in found[2].message


def test_a_typo_is_not_also_reported_as_a_missing_field() -> None:
    (detail,) = errors(HEAD + "  a:\n    type: goto\n    taget: b\n  b: {type: hangup}\n")
    assert detail.message == "unknown field 'taget' in a goto node; did you mean 'target'?"
    (detail,) = errors(HEAD + "  a:\n    type: goto\n  b: {type: hangup}\n")
    assert (detail.line, detail.message) == (5, "a goto node needs 'target'")


def test_non_mapping_documents() -> None:
    (detail,) = errors("- just\n- a list\n")
    assert detail.message == "the flow must be a mapping, not a list"
    (detail,) = errors(HEAD + "  a: play\n")
    assert (detail.line, detail.node) == (5, "a")
    assert detail.message == "a node must be a mapping with a 'type', not text"


def test_yaml_errors_have_positions() -> None:
    (detail,) = errors("nodes:\n  a: [unclosed\n")
    assert detail.line >= 2 and detail.message.startswith("YAML syntax error")
    (detail,) = errors(HEAD + "  a:\n\tb: 1\n")
    assert "tab" in detail.message and detail.line == 6


def test_hours_edge_cases() -> None:
    flow = parse_flow(HEAD + "  a:\n    type: hours\n    schedule:\n      timezone: Asia/Seoul\n"
                             "      weekly: {sat-sun: [], mon: ['22:00-24:00', '00:00-02:00']}\n"
                             "    open: b\n    closed: b\n  b: {type: hangup}\n")
    node = flow.nodes["a"]
    assert isinstance(node, HoursNode)
    assert node.schedule.weekly == {"mon": (("22:00", "24:00"), ("00:00", "02:00")),
                                    "sat": (), "sun": ()}
    overnight = parse_flow(HEAD + "  a:\n    type: hours\n    schedule:\n      timezone: UTC\n"
                                  "      weekly: {fri: ['22:00-02:00']}\n"
                                  "    open: b\n    closed: b\n  b: {type: hangup}\n")
    assert overnight.nodes["a"] == HoursNode(
        id="a", line=5, column=3, open="b", closed="b",
        schedule=Schedule("UTC", {"fri": (("22:00", "02:00"),)}))
    (detail,) = errors(HEAD + "  a:\n    type: hours\n    schedule:\n      timezone: UTC\n"
                              "      weekly: {fri-mon: ['09:00-10:00']}\n"
                              "    open: b\n    closed: b\n  b: {type: hangup}\n")
    assert detail.line == 9 and detail.message == (
        "day range 'fri-mon' runs backwards (weeks run mon to sun); write fri-sun and mon")
    (detail,) = errors(HEAD + "  a:\n    type: hours\n    schedule: {weekly: {}}\n"
                              "    open: b\n    closed: b\n  b: {type: hangup}\n")
    assert detail.message == "a schedule needs 'timezone'"


def test_the_project_flows_load() -> None:
    paths = flow_files(ROOT / "flows")
    # queues.yaml and campaigns.yaml are data of the ACD and the dialler, not flows
    assert [p.name for p in paths] == ["bank.yaml", "demo.yaml", "reminder.yaml"]
    for path in paths:
        assert load_flow(path).nodes


ACTION = ("  a:\n    type: action\n    action: accounts.verify_pin\n"
          "    args: {account: account, pin: pin}\n    results: {attempts_left: attempts_left}\n"
          "    timeout: 4\n    on: {ok: b, wrong_pin: b}\n    fallback: b\n  b: {type: hangup}\n")


def test_the_action_node_of_the_docs() -> None:
    """docs/flows.md's example, `on:` unquoted (YAML 1.1 would make it the key true)."""
    node = parse_flow(HEAD + ACTION).nodes["a"]
    assert node == ActionNode(
        id="a", line=5, column=3, action="accounts.verify_pin",
        args={"account": "account", "pin": "pin"}, results={"attempts_left": "attempts_left"},
        timeout=4.0, on={"ok": "b", "wrong_pin": "b"}, fallback="b")
    minimal = parse_flow(HEAD + "  a: {type: action, action: x, on: {ok: b}}\n"
                                "  b: {type: hangup}\n").nodes["a"]
    assert minimal == ActionNode(id="a", line=5, column=3, action="x", on={"ok": "b"})
    assert minimal.timeout == 5.0 and minimal.args == {} and minimal.fallback == ""
    literal = parse_flow(HEAD + ACTION.replace("pin: pin}", "pin: 1234, sure: true}"))
    assert literal.nodes["a"].args == {  # type: ignore[union-attr]
        "account": "account", "pin": "1234", "sure": "true"}


@pytest.mark.parametrize(("change", "where", "message"), [
    (("action: accounts.verify_pin", "action: accounts verify"), (7, 5),
     "'action': an action name is dotted words, e.g. accounts.verify_pin "
     "(not 'accounts verify')"),
    (("    on: {ok: b, wrong_pin: b}\n", ""), (5, 3), "an action node needs 'on'"),
    (("on: {ok: b, wrong_pin: b}", "on: {}"), (11, 5), "'on' is empty"),
    (("on: {ok: b,", "on: {ok: 'no way',"), (11, 10),
     "a node id starts with a letter or _"),
    (("timeout: 4", "timeout: 0"), (10, 5), "'timeout' must be more than 0, not 0"),
    (("fallback: b", "fallbak: b"), (12, 5),
     "unknown field 'fallbak' in an action node; did you mean 'fallback'?"),
    (("pin: pin}", "pin: pin, 1x: y}"), (8, 40), "'1x' is not allowed here: an argument"),
    (("{attempts_left: attempts_left}", "{attempts_left: a.b}"), (9, 15),
     "an argument, result or outcome name starts with a letter"),
])
def test_action_schema_errors(change: tuple[str, str], where: tuple[int, int],
                              message: str) -> None:
    (detail,) = errors(HEAD + ACTION.replace(*change))
    assert (detail.line, detail.column, detail.node) == (*where, "a")
    assert message in detail.message, detail.message


def test_currency_items_take_a_unit() -> None:
    flow = parse_flow(HEAD + "  a: {type: hangup, prompts: [{currency: '${x}', unit: KRW},"
                             " {unit: '${c}', currency: 5}, {currency: 7}]}\n")
    assert flow.nodes["a"].prompts == (  # type: ignore[union-attr]
        Say("currency", "${x}", "KRW"), Say("currency", "5", "${c}"), Say("currency", "7"))


@pytest.mark.parametrize(("item", "message"), [
    ("{unit: KRW}", "a prompt item with a unit needs 'currency'"),
    ("{number: 5, unit: KRW}", "a prompt item with a unit needs 'currency'"),
    ("{currency: 5, unit: 5}", "prompts[1].unit must be text, not a whole number"),
    ("{currency: 5, unit: ''}", "prompts[1].unit is empty"),
    ("{digits: 5, number: 5}", "prompts[1]: a prompt item is a prompt id"),
    ("{curency: 5, unit: KRW}", "unknown key 'curency' (one of prompt, digits, number, "
                                "currency, date, time, unit); did you mean 'currency'?"),
])
def test_unit_errors(item: str, message: str) -> None:
    (detail,) = errors(HEAD + f"  a: {{type: hangup, prompts: [{item}]}}\n")
    assert message in detail.message, detail.message
