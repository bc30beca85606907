"""The checker, the flow library and `ivr check`.

Every file in flows_broken/ shows one kind of mistake and says, in its first line, the one
finding it must produce (file-relative line:column, severity, node, message substring). Each is
checked together with flows_ok/ (a subflow to call, a name to collide with) and the specs of
the fake accounts actions, and nothing else may be reported: a broken case that also trips an
unrelated rule is a noisy checker.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest

from ivr.flow.check_cli import run_check
from ivr.flow.checker import check_flows
from ivr.flow.library import flow_files, inspect_files, load_files, load_folder
from ivr.flow.loader import FlowError, load_flow, parse_flow, parse_flow_positions
from ivr.flow.model import ActionNode, PlayNode
from ivr.media.prompts import PromptLibrary
from tests.unit.fake_actions import SPECS

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
BROKEN = sorted((HERE / "flows_broken").glob("*.yaml"))
OK_FILES = flow_files(HERE / "flows_ok")
EXPECT = re.compile(r"# expect: (\d+):(\d+) (error|warning)(?: node '([^']+)')?: (.+)")


@pytest.fixture(scope="module")
def prompts() -> PromptLibrary:
    return PromptLibrary(ROOT / "prompts")


def test_there_is_a_broken_case_for_each_rule() -> None:
    assert len(BROKEN) >= 40


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_flow(path: Path, prompts: PromptLibrary) -> None:
    header = path.read_text(encoding="utf-8").splitlines()[0]
    match = EXPECT.fullmatch(header)
    assert match, f"{path.name}: first line must be '# expect: L:C severity [node 'x']: message'"
    line, column, severity, node, message = match.groups()
    found = inspect_files([*OK_FILES, path], prompts, SPECS).details
    assert [(d.file, d.line, d.column, d.severity, d.node) for d in found] == [
        (str(path), int(line), int(column), severity, node)], [str(d) for d in found]
    assert message in found[0].message


def test_ok_flows_are_clean(prompts: PromptLibrary) -> None:
    flows = load_files(OK_FILES, prompts)
    assert sorted(flows.flows) == ["ok_main", "ok_verify"]
    assert flows.warnings == []
    assert load_files(OK_FILES, prompts, SPECS).warnings == []


def test_project_flows_are_clean(prompts: PromptLibrary) -> None:
    """flows/ is what the service serves: it checks clean against the real prompts."""
    flows = load_folder(ROOT / "flows", prompts)
    assert flows.warnings == [], [str(w) for w in flows.warnings]
    assert {"demo", "bank"} <= set(flows.flows)


def flow(nodes: str, extra: str = "") -> str:
    return f"name: t\nlanguages: [en]\nentry: a\n{extra}nodes:\n{nodes}"


def check(text: str, *more: str) -> list[str]:
    """Findings for flows given as text, positioned as load_folder positions them."""
    parsed = {f"f{i}.yaml": parse_flow_positions(t, f"f{i}.yaml")
              for i, t in enumerate((text, *more))}
    flows = {file: flow for file, (flow, _) in parsed.items()}
    where = {file: positions for file, (_, positions) in parsed.items()}
    return [d.report_line() for d in check_flows(flows, None, positions=where)]


def test_a_fallback_inside_the_loop_is_no_way_out() -> None:
    menu = ("  a:\n    type: menu\n    prompt: [p]\n    options: {'1': a}\n"
            "    no_input: [p]\n    no_match: [p]\n    fallback: TARGET\n")
    assert any("loop with no way out" in r for r in check(flow(menu.replace("TARGET", "a"))))
    assert check(flow(menu.replace("TARGET", "b") + "  b: {type: hangup}\n")) == []


def test_a_loop_through_a_subflow_that_can_hang_up_is_fine() -> None:
    main = flow("  a: {type: subflow, flow: s, next: a}\n")
    sub = "name: s\nlanguages: [en]\nentry: x\nnodes:\n  x: {type: branch, conditions: " \
          "[{if: 'caller == \"1\"', goto: y}], else: z}\n  y: {type: hangup}\n  z: {type: return}\n"
    assert check(main, sub) == []
    assert any("loop with no way out" in r for r in check(main, sub.replace("goto: y", "goto: z")
                                                          .replace("  y: {type: hangup}\n", "")))


def test_variables_must_be_set_on_every_path() -> None:
    both = flow("  a:\n    type: branch\n    conditions: [{if: caller == '1', goto: b}]\n"
                "    else: c\n  b: {type: set, values: {x: 1}, next: d}\n"
                "  c: {type: set, values: {x: 2}, next: d}\n"
                "  d: {type: set, values: {y: x + 1, z: y * 2}, next: e}\n  e: {type: hangup}\n")
    assert check(both) == []
    one = both.replace("values: {x: 2}", "values: {w: 2}")
    (report,) = check(one)
    assert "f0.yaml:11:27: error: node 'd': variable 'x' may not be set here" in report
    assert report.endswith("the path a [otherwise] → c → d")


def test_a_variable_set_in_a_loop_is_not_set_on_the_first_pass() -> None:
    text = flow("  a:\n    type: menu\n    prompt: [p, {digits: '${k}'}]\n    store: k\n"
                "    options: {'1': a}\n    no_input: [p]\n    no_match: [p]\n    fallback: b\n"
                "  b: {type: hangup}\n")
    (report,) = check(text)
    assert "variable 'k' may not be set here" in report


def test_subflow_returns_must_be_set_at_every_return() -> None:
    main = flow("  a: {type: subflow, flow: s, returns: {mine: theirs}, next: b}\n"
                "  b: {type: play, prompts: ['${mine}'], next: c}\n  c: {type: hangup}\n")
    sub = "name: s\nlanguages: [en]\nentry: x\nnodes:\n  x: {type: branch, conditions: " \
          "[{if: 'caller == \"1\"', goto: y}], else: z}\n" \
          "  y: {type: set, values: {theirs: 1}, next: z}\n  z: {type: return}\n"
    (report,) = check(main, sub)
    assert "warning: node 'a': flow 's' may return without setting 'theirs' (at its return " \
           "node 'z'); 'mine' is then null" in report


def test_without_positions_findings_point_at_the_node() -> None:
    text = flow("  a: {type: play, prompts: [p], next: b}\n\n  b: {type: goto, target: zz}\n")
    found = check_flows({"t": parse_flow(text, "t.yaml")}, None)
    assert [(d.line, d.column, d.node) for d in found] == [(7, 3, "b")]


def test_duplicate_names_refuse_the_folder(tmp_path: Path, prompts: PromptLibrary) -> None:
    for path in OK_FILES:
        shutil.copy(path, tmp_path / path.name)
    shutil.copy(OK_FILES[0], tmp_path / "zz_copy.yaml")
    with pytest.raises(FlowError) as info:
        load_folder(tmp_path, prompts)
    (detail,) = info.value.details
    assert detail.file == str(tmp_path / "zz_copy.yaml") and "already used" in detail.message


def test_load_folder_fingerprint_and_warnings(tmp_path: Path, prompts: PromptLibrary) -> None:
    for path in OK_FILES:
        shutil.copy(path, tmp_path / path.name)
    first = load_folder(tmp_path, prompts)
    assert load_folder(tmp_path, prompts).fingerprint == first.fingerprint
    main = tmp_path / "ok_main.yaml"
    main.write_text(main.read_text() + "  spare:\n    type: hangup\n")
    second = load_folder(tmp_path, prompts)
    assert second.fingerprint != first.fingerprint
    assert [(w.node, w.severity) for w in second.warnings] == [("spare", "warning")]
    assert second.flows["ok_main"].nodes["spare"]


def test_load_folder_reports_every_file(tmp_path: Path, prompts: PromptLibrary) -> None:
    for name in ("target_missing", "dead_end_play", "yaml_syntax"):
        shutil.copy(HERE / "flows_broken" / f"{name}.yaml", tmp_path / f"{name}.yaml")
    with pytest.raises(FlowError) as info:
        load_folder(tmp_path, prompts)
    assert sorted(Path(d.file).stem for d in info.value.details) == [
        "dead_end_play", "target_missing", "yaml_syntax"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FlowError, match="no flow files"):
        load_folder(tmp_path / "empty", prompts)
    with pytest.raises(FileNotFoundError):
        load_folder(tmp_path / "missing", prompts)


def test_run_check_prints_like_a_compiler(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_check([ROOT / "flows"], ROOT / "prompts", out) == 0
    assert out.getvalue().splitlines()[-1].startswith("ok: 3 file(s)")
    broken = HERE / "flows_broken"
    out = io.StringIO()
    code = run_check([broken / "target_missing.yaml", broken / "unreachable.yaml"],
                     ROOT / "prompts", out)
    lines = out.getvalue().splitlines()
    assert code == 1
    assert lines == [
        f"{broken / 'target_missing.yaml'}:12:7: error: node 'start': target 'nowhere' "
        "does not exist",
        f"{broken / 'unreachable.yaml'}:14:3: warning: node 'old_goodbye': unreachable: "
        "no path from the entry 'start' leads here",
        "failed: 2 file(s), flows: broken_target_missing v1, broken_unreachable v1; "
        "1 error(s), 1 warning(s)",
    ]
    out = io.StringIO()
    assert run_check([broken / "unreachable.yaml"], tmp_path / "none", out) == 0
    assert out.getvalue().startswith("note: prompts folder")


def test_old_single_file_api_still_works() -> None:
    flow = load_flow(ROOT / "flows" / "demo.yaml")
    assert flow.entry == "welcome" and flow.nodes["end"]


# --- action nodes and currency units ------------------------------------------------------

ACTION = ("  a:\n    type: action\n    action: NAME\n    args: {account: caller}\n"
          "    on: {ok: b, unknown_account: b}\n    fallback: b\n  b: {type: hangup}\n")


def check_with(text: str, specs: object) -> list[str]:
    flow, where = parse_flow_positions(text, "f.yaml")
    return [d.report_line() for d in check_flows({"f": flow}, None, positions={"f.yaml": where},
                                                 actions=specs)]  # type: ignore[arg-type]


def test_action_names_are_checked_only_against_specs() -> None:
    text = flow(ACTION.replace("NAME", "billing.refund"))
    assert check_with(text, None) == []
    (report,) = check_with(text, SPECS)
    assert report == ("f.yaml:7:5: error: node 'a': no action named 'billing.refund' "
                      "(known: accounts.balance, accounts.lookup_caller, accounts.verify_pin)")
    assert check_with(flow(ACTION.replace("NAME", "accounts.balance")), SPECS) == []


def test_an_on_key_yaml_would_read_as_a_boolean_stays_text() -> None:
    """YAML 1.1 reads on/yes/no as booleans; as keys they keep their text."""
    text = flow(ACTION.replace("NAME", "x.y").replace("ok: b", "yes: b, no: b, off: b"))
    node = parse_flow(text).nodes["a"]
    assert isinstance(node, ActionNode)
    assert list(node.on) == ["yes", "no", "off", "unknown_account"]
    play = parse_flow(flow("  a: {type: play, prompts: [p], barge_in: yes, next: b}\n"
                           "  b: {type: hangup}\n")).nodes["a"]
    assert isinstance(play, PlayNode) and play.barge_in is True  # values stay YAML 1.1


def test_results_are_set_on_every_on_edge_and_args_are_read() -> None:
    text = flow("  a:\n    type: action\n    action: accounts.balance\n"
                "    args: {account: acct}\n    results: {bal: balance}\n"
                "    on: {ok: b, unknown_account: c}\n    fallback: d\n"
                "  b: {type: play, prompts: [{number: '${bal}'}], next: d}\n"
                "  c: {type: play, prompts: [{number: '${bal}'}], next: d}\n"
                "  d: {type: hangup}\n")
    (report,) = check_with(text, SPECS)  # 'bal' is set on both `on` edges
    assert report.startswith("f.yaml:8:12: error: node 'a': variable 'acct' is never set; "
                             "for the text write \"'acct'\"")


def test_a_variable_unit_needs_every_currency_in_every_language(tmp_path: Path) -> None:
    root = tmp_path / "prompts"
    root.mkdir()
    numbers = (ROOT / "prompts" / "numbers.yaml").read_text(encoding="utf-8")
    (root / "numbers.yaml").write_text(numbers.replace('cur-won: {ko: "원", en: "won"}',
                                                       'cur-won: {ko: "원"}'), encoding="utf-8")
    library = PromptLibrary(root)
    base = flow("  a: {type: hangup, prompts: [ITEM]}\n").replace("[en]", "[ko, en]")

    def found(item: str) -> list[str]:
        parsed, where = parse_flow_positions(base.replace("ITEM", item), "f.yaml")
        return [d.message for d in check_flows({"f": parsed}, library,
                                               positions={"f.yaml": where})]

    assert found('{currency: "${caller}"}') == []  # won in Korean, dollars in English
    assert found('{currency: "${caller}", unit: USD}') == []
    (missing,) = found('{currency: "${caller}", unit: "${caller}"}')
    assert missing.startswith("saying {currency: ${caller}, unit: ${caller}} needs prompt "
                              "'cur-won', which is missing in en")
    (literal,) = found('{currency: "5", unit: krw}')
    assert "{currency: 5, unit: krw} needs prompt 'cur-won', which is missing in en" in literal


def test_run_check_takes_the_action_specs() -> None:
    case = HERE / "flows_broken" / "action_unknown.yaml"
    out = io.StringIO()
    assert run_check([case], ROOT / "prompts", out) == 0
    assert out.getvalue().splitlines()[0] == (
        "note: no action specs given; action names, args, outcomes and results not checked")
    out = io.StringIO()
    assert run_check([case], ROOT / "prompts", out, actions=SPECS) == 1
    assert "no action named 'accounts.verify_pn'" in out.getvalue()
    assert "note:" not in out.getvalue()


def test_load_folder_passes_the_specs_through(tmp_path: Path, prompts: PromptLibrary) -> None:
    shutil.copy(HERE / "flows_broken" / "action_outcome.yaml", tmp_path / "f.yaml")
    assert load_folder(tmp_path, prompts).flows  # no specs: nothing to hold the flow against
    with pytest.raises(FlowError, match="'okay' is not an outcome"):
        load_folder(tmp_path, prompts, actions=SPECS)
