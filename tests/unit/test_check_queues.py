"""Queue nodes checked against flows/queues.yaml: the checker rules, `ivr check`, hot reload.

A queue node names its queue and routes the outcomes that queue can end a wait with; the
checker refuses a misspelt queue, an outcome the queue never produces and outcomes with
nowhere to go. `ivr check <folder>` reads the folder's queues.yaml beside the flows, and the
service's FlowRegistry loads and reloads both as one set (a broken edit of either is refused
and the last good pair keeps serving).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from ivr.app.cli import main
from ivr.app.flows import QUEUES_FILE, FlowRegistry
from ivr.flow.check_handoffs import check_queue_node
from ivr.flow.checker import check_flows
from ivr.flow.library import DATA_FILES, flow_files, inspect_files
from ivr.flow.loader import FlowError, FlowErrorDetail, parse_flow_positions
from ivr.flow.model import HandoffNode
from ivr.media.prompts import PromptLibrary
from ivr.services.acd.config_reader import load_acd_config, parse_acd_config

ROOT = Path(__file__).resolve().parents[2]

QUEUES = {
    "general": frozenset({"timeout", "full", "no_agents", "voicemail", "callback"}),
    "billing": frozenset({"timeout"}),
}
"""Queue name -> outcomes, as the service derives them from queues.yaml."""

QUEUES_YAML = """\
pause_reasons:
  "1": break
agents:
  a1: {name: Ann, endpoint: PJSIP/a1}
  a2: {name: Bob, endpoint: PJSIP/a2}
queues:
  general:
    strategy: longest_idle
    members: [a1, a2]
    ring_timeout: 15
    max_wait: 60
    keys: {"1": voicemail}
"""
"""One queue whose waits can end with timeout, no_agents and voicemail."""

FLOW_HEAD = """\
name: shop
version: "1"
languages: [en]
default_language: en
entry: start
nodes:
"""

BYE = """\
  bye:
    type: hangup
    prompts: [goodbye]
"""


def queue_flow(queue: str = "general", on: dict[str, str] | None = None,
               next_: str | None = "bye") -> str:
    """A flow whose entry is one queue node; `on` and `next` lead to a hangup node."""
    text = FLOW_HEAD + f"  start:\n    type: queue\n    queue: {queue}\n"
    if on:
        text += "    on:\n" + "".join(f"      {k}: {v}\n" for k, v in on.items())
    if next_:
        text += f"    next: {next_}\n"
    return text + BYE


def position(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column where `needle` first starts in `text`."""
    index = text.index(needle)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


@pytest.fixture(scope="module")
def prompts() -> PromptLibrary:
    return PromptLibrary(ROOT / "prompts")


def inspect(tmp_path: Path, text: str, prompts: PromptLibrary,
            queues: dict[str, frozenset[str]] | None = QUEUES,
            name: str = "shop.yaml") -> tuple[Path, list[FlowErrorDetail]]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path, inspect_files([path], prompts, None, queues).details


def found(details: list[FlowErrorDetail]) -> list[tuple[int, int, str, str | None]]:
    return [(d.line, d.column, d.severity, d.node) for d in details]


# -- checker rules ---------------------------------------------------------------------------


def test_a_queue_node_routing_every_outcome_is_clean(tmp_path: Path,
                                                      prompts: PromptLibrary) -> None:
    text = queue_flow("billing", on={"timeout": "bye"})
    assert inspect(tmp_path, text, prompts)[1] == []
    text = queue_flow("general", on={"voicemail": "bye"})  # the rest go to next
    assert inspect(tmp_path, text, prompts)[1] == []


def test_unknown_queue_points_at_the_queue_field_with_a_suggestion(
        tmp_path: Path, prompts: PromptLibrary) -> None:
    text = queue_flow("genral")
    path, details = inspect(tmp_path, text, prompts)
    assert found(details) == [(*position(text, "queue: genral"), "error", "start")]
    detail = details[0]
    assert detail.file == str(path)
    assert "unknown queue 'genral'" in detail.message
    assert "did you mean 'general'?" in detail.message
    assert "(queues: billing, general)" in detail.message
    assert detail.report_line().startswith(
        f"{path}:{detail.line}:{detail.column}: error: node 'start': unknown queue 'genral'")


def test_unknown_queue_without_a_close_name_has_no_suggestion(
        tmp_path: Path, prompts: PromptLibrary) -> None:
    _, details = inspect(tmp_path, queue_flow("zzz"), prompts)
    assert len(details) == 1
    assert "did you mean" not in details[0].message
    _, details = inspect(tmp_path, queue_flow("zzz"), prompts, queues={})
    assert "(queues: none)" in details[0].message


def test_an_outcome_the_queue_never_produces(tmp_path: Path, prompts: PromptLibrary) -> None:
    text = queue_flow("general", on={"timout": "bye", "callback": "bye"})
    _, details = inspect(tmp_path, text, prompts)
    assert found(details) == [(*position(text, "timout:"), "error", "start")]
    message = details[0].message
    assert "queue 'general' never ends a wait with 'timout'" in message
    assert "did you mean 'timeout'?" in message
    assert "(it can: callback, full, no_agents, timeout, voicemail)" in message


def test_an_outcome_of_a_queue_that_produces_none(tmp_path: Path,
                                                  prompts: PromptLibrary) -> None:
    _, details = inspect(tmp_path, queue_flow("quiet", on={"timeout": "bye"}), prompts,
                         queues={"quiet": frozenset()})
    assert [d.message for d in details] == [
        "queue 'quiet' never ends a wait with 'timeout' (it can: nothing)"]


def test_unrouted_outcomes_without_next_are_an_error(tmp_path: Path,
                                                     prompts: PromptLibrary) -> None:
    text = queue_flow("general", on={"voicemail": "bye", "timeout": "bye"}, next_=None)
    _, details = inspect(tmp_path, text, prompts)
    errors = [d for d in details if d.is_error]
    assert found(errors) == [(*position(text, "start:"), "error", "start")]
    assert errors[0].message == ("no 'on' or 'next' for queue outcome(s) callback, full, "
                                 "no_agents; the call would be hung up")
    # The queue-independent rule (a hand-off with nowhere to go) still warns besides.
    assert [d.severity for d in details if not d.is_error] == ["warning"]


def test_unrouted_outcomes_with_next_are_fine(tmp_path: Path, prompts: PromptLibrary) -> None:
    text = queue_flow("general", on={"voicemail": "bye"}, next_="bye")
    assert inspect(tmp_path, text, prompts)[1] == []
    text = queue_flow("general", next_="bye")  # no `on` at all: every outcome goes to next
    assert inspect(tmp_path, text, prompts)[1] == []


def test_every_outcome_routed_without_next_is_no_error(tmp_path: Path,
                                                       prompts: PromptLibrary) -> None:
    text = queue_flow("billing", on={"timeout": "bye"}, next_=None)
    _, details = inspect(tmp_path, text, prompts)
    assert [d.severity for d in details] == ["warning"]  # only "cannot take the call"


def test_on_on_a_voicemail_node_is_an_error(tmp_path: Path, prompts: PromptLibrary) -> None:
    text = FLOW_HEAD + ("  start:\n    type: voicemail\n    mailbox: general\n"
                        "    on: {timeout: bye}\n    next: bye\n") + BYE
    path, details = inspect(tmp_path, text, prompts)
    # The flow schema already refuses the field; the queue rule is the second line of defence.
    assert found(details) == [(*position(text, "on: {timeout"), "error", "start")]
    assert "'on'" in details[0].message

    # A voicemail node with `on` that got past the schema (built in code) is still refused.
    ok = FLOW_HEAD + ("  start:\n    type: voicemail\n    mailbox: general\n"
                      "    next: bye\n") + BYE
    flow, where = parse_flow_positions(ok, str(path))
    node = flow.nodes["start"]
    assert isinstance(node, HandoffNode)
    bad = replace(flow, nodes={**flow.nodes, "start": replace(node, on={"timeout": "bye"})})
    details = check_flows({str(path): bad}, prompts, positions={str(path): where},
                          queues=QUEUES)
    assert [(d.severity, d.node, d.message) for d in details] == [
        ("error", "start", "a voicemail node answers no outcomes; 'on' is for queue nodes")]
    # Without queues the rule still holds: it does not depend on queues.yaml.
    assert len(check_flows({str(path): bad}, prompts, queues=None)) == 1


@pytest.mark.parametrize("kind", ["voicemail", "callback", "transfer"])
def test_on_is_only_for_queue_nodes(kind: str) -> None:
    node = HandoffNode(id="x", kind=kind, target="general", on={"timeout": "y"}, next="y")
    assert check_queue_node(node, QUEUES) == [
        (("on",), f"a {kind} node answers no outcomes; 'on' is for queue nodes", "error")]
    assert check_queue_node(replace(node, on={}), QUEUES) == []


def test_a_queue_named_by_a_variable_is_not_judged() -> None:
    node = HandoffNode(id="x", kind="queue", target="${team}", on={"nope": "y"})
    assert check_queue_node(node, QUEUES) == []


def test_without_queues_there_are_no_queue_findings(tmp_path: Path,
                                                    prompts: PromptLibrary) -> None:
    unknown = queue_flow("genral", on={"nope": "bye"})
    assert inspect(tmp_path, unknown, prompts, queues=None)[1] == []
    bad_on = queue_flow("general", on={"timout": "bye"}, next_=None)
    details = inspect(tmp_path, bad_on, prompts, queues=None)[1]
    assert all("queue" not in d.message or "cannot take the call" in d.message
               for d in details), [str(d) for d in details]
    assert not any(d.is_error for d in details)


def test_queue_outcomes_follow_the_queue_config() -> None:
    config = load_acd_config(ROOT / "flows" / QUEUES_FILE)
    outcomes = {name: q.outcomes() for name, q in config.queues.items()}
    assert outcomes == {
        "general": frozenset({"voicemail", "callback", "timeout", "full", "no_agents"}),
        "billing": frozenset({"voicemail", "callback", "timeout", "no_agents"})}
    quiet = parse_acd_config(QUEUES_YAML.replace("    max_wait: 60\n", "")
                             .replace('    keys: {"1": voicemail}\n', "    join_empty: true\n"))
    assert quiet.queues["general"].outcomes() == frozenset()


def test_queues_yaml_is_data_not_a_flow(tmp_path: Path) -> None:
    assert QUEUES_FILE in DATA_FILES
    (tmp_path / "shop.yaml").write_text(queue_flow(), encoding="utf-8")
    (tmp_path / QUEUES_FILE).write_text(QUEUES_YAML, encoding="utf-8")
    assert [p.name for p in flow_files(tmp_path)] == ["shop.yaml"]


# -- ivr check -------------------------------------------------------------------------------


def project(tmp_path: Path, flow: str | None = None, queues: str | None = QUEUES_YAML) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir(parents=True)
    (folder / "shop.yaml").write_text(flow or queue_flow(on={"voicemail": "bye"}),
                                      encoding="utf-8")
    if queues is not None:
        (folder / QUEUES_FILE).write_text(queues, encoding="utf-8")
    return folder


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["check", *args])
    return code, capsys.readouterr().out.splitlines()


def test_ivr_check_a_folder_with_queues(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    folder = project(tmp_path)
    code, lines = check(capsys, str(folder))
    assert code == 0, lines
    assert lines == ["ok: 1 file(s), flows: shop v1; 0 error(s), 0 warning(s)"]


def test_ivr_check_reports_a_broken_queues_yaml(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    queues = QUEUES_YAML.replace("strategy: longest_idle", "strategy: longest_idel")
    folder = project(tmp_path, queues=queues)
    code, lines = check(capsys, str(folder))
    assert code == 1
    line, column = position(queues, "strategy: longest_idel")
    assert lines[0].startswith(f"{folder / QUEUES_FILE}:{line}:{column}: error: node "
                               "'general': unknown strategy 'longest_idel'"), lines
    assert "did you mean 'longest_idle'?" in lines[0]
    assert lines[-1].startswith("failed: 1 file(s), flows: shop v1; 1 error(s), 0 warning(s)")
    assert len(lines) == 2, "queue nodes are not judged against a broken queues.yaml"


def test_callback_and_routed_voicemail_nodes_name_known_queues(
        tmp_path: Path, prompts: PromptLibrary) -> None:
    callback = FLOW_HEAD + "  start:\n    type: callback\n    queue: genral\n    next: bye\n" + BYE
    _, details = inspect(tmp_path, callback, prompts)
    assert found(details) == [(*position(callback, "queue: genral"), "error", "start")]
    assert "unknown queue 'genral'; did you mean 'general'?" in details[0].message
    message = (FLOW_HEAD + "  start:\n    type: voicemail\n    mailbox: sales\n"
               "    queue: biling\n    next: bye\n" + BYE)
    _, details = inspect(tmp_path, message, prompts)
    assert found(details) == [(*position(message, "queue: biling"), "error", "start")]
    assert "did you mean 'billing'?" in details[0].message
    good = callback.replace("genral", "general")
    assert inspect(tmp_path, good, prompts)[1] == []
    assert inspect(tmp_path, message.replace("biling", "billing"), prompts)[1] == []


def test_ivr_check_reports_a_flow_naming_an_unknown_queue(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flow = queue_flow("genral")
    folder = project(tmp_path, flow=flow)
    code, lines = check(capsys, str(folder))
    assert code == 1
    line, column = position(flow, "queue: genral")
    assert lines[0] == (f"{folder / 'shop.yaml'}:{line}:{column}: error: node 'start': unknown "
                        "queue 'genral'; did you mean 'general'? (queues: general)")
    assert lines[-1] == "failed: 1 file(s), flows: shop v1; 1 error(s), 0 warning(s)"


def test_ivr_check_judges_outcomes_by_the_folders_queues(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = project(tmp_path, flow=queue_flow(on={"full": "bye"}))  # no max_length: no full
    code, lines = check(capsys, str(folder))
    assert code == 1
    assert "queue 'general' never ends a wait with 'full'" in lines[0]


def test_ivr_check_named_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """queues.yaml named as a file is read as the queues, not as a flow."""
    folder = project(tmp_path, flow=queue_flow("genral"))
    code, lines = check(capsys, str(folder / QUEUES_FILE), str(folder / "shop.yaml"))
    assert code == 1
    assert "unknown queue 'genral'" in lines[0]
    assert lines[-1].startswith("failed: 1 file(s)")


def test_ivr_check_reports_queues_yaml_warnings(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    queues = QUEUES_YAML + "  rare:\n    strategy: skills\n    skills: [klingon]\n"
    folder = project(tmp_path, queues=queues)
    code, lines = check(capsys, str(folder))
    assert code == 0, lines
    assert "warning: node 'rare': no agent has all of klingon" in lines[0]
    assert lines[-1] == "ok: 1 file(s), flows: shop v1; 0 error(s), 1 warning(s)"


def test_the_projects_flows_pass_ivr_check(capsys: pytest.CaptureFixture[str]) -> None:
    for args in ((), (str(ROOT / "flows"),)):
        code, lines = check(capsys, *args)
        assert code == 0, lines
        assert lines[-1].startswith("ok: ") and "; 0 error(s)" in lines[-1], lines
        assert not any(": error:" in line for line in lines)


def test_ivr_check_agrees_with_the_service_without_queues_yaml(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], prompts: PromptLibrary) -> None:
    folder = project(tmp_path, queues=None)
    service_refuses = False
    try:
        FlowRegistry(folder, prompts).load_initial()
    except FlowError:
        service_refuses = True
    code, lines = check(capsys, str(folder))
    assert (code == 1) == service_refuses, (service_refuses, lines)


# -- FlowRegistry: queues.yaml loaded and reloaded with the flows ----------------------------


def edit(path: Path, text: str) -> None:
    """Write and move the mtime on, so the signature changes even at the same size."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    stamp = max(path.stat().st_mtime_ns, before + 1_000_000_000)
    os.utime(path, ns=(stamp, stamp))


def test_the_registry_loads_queues_with_the_flows(tmp_path: Path,
                                                  prompts: PromptLibrary) -> None:
    registry = FlowRegistry(project(tmp_path), prompts)
    registry.load_initial()
    assert list(registry.acd_config.queues) == ["general"]
    assert list(registry.acd_config.agents) == ["a1", "a2"]
    assert registry.acd_config.pause_reasons == {"1": "break"}
    assert registry.versions() == {"shop": "1"}


def test_the_registry_refuses_a_broken_start(tmp_path: Path, prompts: PromptLibrary) -> None:
    folder = project(tmp_path, flow=queue_flow("genral"))
    with pytest.raises(FlowError, match="unknown queue 'genral'"):
        FlowRegistry(folder, prompts).load_initial()
    queues = QUEUES_YAML.replace("ring_timeout: 15", "ring_timeout: 0")
    folder = project(tmp_path / "2", queues=queues)
    with pytest.raises(FlowError, match="'ring_timeout' must be 1 to 120 seconds"):
        FlowRegistry(folder, prompts).load_initial()


async def test_a_broken_queues_edit_is_refused_and_a_good_one_swapped_in(
        tmp_path: Path, prompts: PromptLibrary) -> None:
    folder = project(tmp_path)
    registry = FlowRegistry(folder, prompts)
    registry.load_initial()
    good_config, good_flows = registry.acd_config, registry.current
    queues = folder / QUEUES_FILE
    assert await registry.reload_if_changed() is False  # nothing changed

    edit(queues, QUEUES_YAML.replace("strategy: longest_idle", "strategy: longest_idel"))
    assert await registry.reload_if_changed() is False
    assert (registry.refused, registry.reloads) == (1, 0)
    assert registry.acd_config is good_config
    assert registry.current is good_flows
    assert await registry.reload_if_changed() is False, "a refused edit is not retried"
    assert registry.refused == 1

    edit(queues, QUEUES_YAML.replace("ring_timeout: 15", "ring_timeout: 25"))
    assert await registry.reload_if_changed() is True
    assert (registry.refused, registry.reloads) == (1, 1)
    assert registry.acd_config.queues["general"].ring_timeout == 25.0
    assert registry.current.fingerprint == good_flows.fingerprint  # flows unchanged


async def test_a_queues_edit_that_breaks_a_flow_is_refused(tmp_path: Path,
                                                           prompts: PromptLibrary) -> None:
    """The flow routes `voicemail`; a queues.yaml without that key breaks it: both refused."""
    folder = project(tmp_path)
    registry = FlowRegistry(folder, prompts)
    registry.load_initial()
    good = registry.acd_config
    edit(folder / QUEUES_FILE, QUEUES_YAML.replace('    keys: {"1": voicemail}\n', ""))
    assert await registry.reload_if_changed() is False
    assert (registry.refused, registry.reloads) == (1, 0)
    assert registry.acd_config is good
    assert registry.acd_config.queues["general"].keys == {"1": "voicemail"}


async def test_a_flow_edit_naming_an_unknown_queue_is_refused(tmp_path: Path,
                                                              prompts: PromptLibrary) -> None:
    folder = project(tmp_path)
    registry = FlowRegistry(folder, prompts)
    registry.load_initial()
    good_flows, good_config = registry.current, registry.acd_config
    edit(folder / "shop.yaml", queue_flow("billing", on={"voicemail": "bye"}))
    assert await registry.reload_if_changed() is False
    assert registry.refused == 1
    assert registry.current is good_flows and registry.acd_config is good_config

    # Adding the queue (and the flow already naming it) makes the set good again.
    edit(folder / QUEUES_FILE, QUEUES_YAML + "  billing:\n    members: [a2]\n"
                                             '    keys: {"1": voicemail}\n')
    assert await registry.reload_if_changed() is True
    assert sorted(registry.acd_config.queues) == ["billing", "general"]
    assert registry.reloads == 1


async def test_the_same_size_edit_is_seen_by_mtime(tmp_path: Path,
                                                   prompts: PromptLibrary) -> None:
    folder = project(tmp_path)
    registry = FlowRegistry(folder, prompts)
    registry.load_initial()
    edit(folder / QUEUES_FILE, QUEUES_YAML.replace("ring_timeout: 15", "ring_timeout: 16"))
    assert await registry.reload_if_changed() is True
    assert registry.acd_config.queues["general"].ring_timeout == 16.0


def test_a_nodes_own_max_wait_makes_timeout_an_outcome(tmp_path: Path,
                                                       prompts: PromptLibrary) -> None:
    """A queue without max_wait never times out, unless the node sets its own."""
    queues = {"nowait": frozenset({"no_agents"})}
    text = queue_flow("nowait", on={"timeout": "bye"}, next_="bye")
    _, details = inspect(tmp_path, text, prompts, queues=queues)
    assert [d.message for d in details if d.is_error] == [
        "queue 'nowait' never ends a wait with 'timeout' (it can: no_agents)"]
    own = text.replace("    on:\n", "    max_wait: 30\n    on:\n")
    assert inspect(tmp_path, own, prompts, queues=queues)[1] == []


def test_a_mailbox_must_be_a_folder_safe_name(tmp_path: Path, prompts: PromptLibrary) -> None:
    text = FLOW_HEAD + ("  start:\n    type: voicemail\n    mailbox: ../etc\n"
                        "    next: bye\n") + BYE
    _, details = inspect(tmp_path, text, prompts)
    assert [(d.node, d.message) for d in details if d.is_error] == [
        ("start", "mailbox '../etc' is not a mailbox name (letters, digits, _ . -; up to 64)")]
    good = text.replace("../etc", "sales.team-2")
    assert [d for d in inspect(tmp_path, good, prompts)[1] if d.is_error] == []
