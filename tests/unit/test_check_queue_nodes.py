"""The checker's rules for the nodes that hand a call over (ivr/flow/check_handoffs.py),
judged against the queues of flows/queues.yaml: a queue node names a known queue (with a
suggestion for a misspelt one) and routes only outcomes that queue can end a wait with, and every
outcome has somewhere to go; `on` is for queue nodes only; callback and routed voicemail nodes
name known queues; a mailbox is a folder-safe name. Also what the outcomes of a queue are, and
queues.yaml being data, not a flow.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ivr.app.flows import QUEUES_FILE
from ivr.flow.check_handoffs import check_queue_node
from ivr.flow.checker import check_flows
from ivr.flow.library import DATA_FILES, flow_files
from ivr.flow.loader import parse_flow_positions
from ivr.flow.model import HandoffNode
from ivr.media.prompts import PromptLibrary
from ivr.services.acd.config_reader import load_acd_config, parse_acd_config

from .queue_flows import (
    BYE,
    FLOW_HEAD,
    QUEUES,
    QUEUES_YAML,
    ROOT,
    found,
    inspect,
    position,
    queue_flow,
)


@pytest.fixture(scope="module")
def prompts() -> PromptLibrary:
    return PromptLibrary(ROOT / "prompts")


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
