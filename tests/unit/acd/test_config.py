"""The ACD config: the demo file, defaults, lookups, and broken files pointing at line and node."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.flow.loader import FlowError, FlowErrorDetail
from ivr.services.acd.config import (
    DEFAULT_DISPOSITIONS,
    EMPTY,
    AcdConfig,
    AgentConfig,
    Announce,
    QueueConfig,
    Widen,
)
from ivr.services.acd.config_reader import load_acd_config, parse_acd_config

ROOT = Path(__file__).resolve().parents[3]
BASE = """\
agents:
  a1:
    name: A
    endpoint: PJSIP/a1
    skills: {sales: 1, vip: 3}
queues:
  q:
    members: [a1]
"""
"""Lines 1-8; a snippet appended to it starts at line 9, inside queue 'q'."""
SKILLS = "  s:\n    strategy: skills\n    skills: [sales]\n"
"""A skills queue at lines 9-11 when appended to BASE."""


def problems(text: str) -> list[FlowErrorDetail]:
    with pytest.raises(FlowError) as info:
        parse_acd_config(text, "q.yaml")
    return info.value.details


def test_demo_file_loads() -> None:
    config = load_acd_config(ROOT / "flows" / "queues.yaml")
    assert config.warnings == ()
    assert config.pause_reasons == {"1": "break", "2": "lunch", "3": "training"}
    minji, john = config.agents["agent1001"], config.agents["agent1002"]
    assert minji == AgentConfig("agent1001", "Minji Kim", "PJSIP/agent1001",
                                {"general": 1, "korean": 1, "billing": 2})
    assert john.skills == {"general": 1, "english": 1, "billing": 1}
    general, billing = config.queues["general"], config.queues["billing"]
    assert (general.strategy, general.members) == ("longest_idle", ("agent1001", "agent1002"))
    assert (general.ring_timeout, general.wrapup, general.auto_pause_after) == (15, 10, 3)
    assert general.announce == Announce(first=15, every=30, position=True, wait=True,
                                        join=("queue-hold",))
    assert (general.max_wait, general.max_length, general.join_empty) == (600, 20, False)
    assert general.keys == {"1": "voicemail", "2": "callback"}
    assert general.outcomes() == {"timeout", "full", "no_agents", "voicemail", "callback"}
    assert (billing.strategy, billing.skills) == ("skills", ("billing",))
    assert billing.widen == (Widen(0, 1), Widen(30, 2))
    assert billing.outcomes() == {"timeout", "no_agents", "voicemail", "callback"}
    assert config.dispositions == DEFAULT_DISPOSITIONS  # written out in full in the demo
    assert (general.dispositions, billing.dispositions) == \
        ((), ("resolved", "follow_up", "callback", "complaint", "other"))
    assert config.agents_of(general) == [minji, john]
    assert config.agents_of(billing) == [minji, john]
    assert (billing.penalty(minji), billing.penalty(john)) == (2, 1)
    assert config.queue_by_transfer_code("1") is general
    assert config.queue_by_transfer_code("2") is billing
    assert config.queue_by_transfer_code("9") is None
    assert config.agent_by_endpoint("PJSIP/agent1002") is john
    assert config.agent_by_endpoint("pjsip/agent1002") is None


def test_defaults() -> None:
    config = parse_acd_config(BASE, "q.yaml")
    queue = config.queues["q"]
    assert queue == QueueConfig("q", members=("a1",))
    assert (queue.strategy, queue.priority, queue.moh) == ("longest_idle", 0, "default")
    assert queue.announce == Announce(first=15, every=30, position=True, wait=True)
    assert (queue.ring_timeout, queue.wrapup, queue.auto_pause_after) == (15, 10, 3)
    assert (queue.max_wait, queue.max_length, queue.join_empty) == (None, None, False)
    assert (queue.keys, queue.service_level, queue.transfer_code) == ({}, 20, None)
    assert queue.outcomes() == {"no_agents"}
    assert config.pause_reasons == {}


def test_outcomes_follow_the_fields() -> None:
    queue = QueueConfig("q", max_wait=60, max_length=5, join_empty=True, keys={"*": "menu"})
    assert queue.outcomes() == {"timeout", "full", "menu"}
    assert QueueConfig("q", join_empty=True).outcomes() == frozenset()


def test_null_means_absent_and_integer_keys_are_text() -> None:
    config = parse_acd_config(BASE + "    max_wait:\n    keys: {1: voicemail, '#': back}\n"
                              "pause_reasons: {1: break, 02: lunch}\n")
    assert config.queues["q"].max_wait is None
    assert config.queues["q"].keys == {"1": "voicemail", "#": "back"}
    assert config.pause_reasons == {"1": "break", "02": "lunch"}


def test_skills_queue_picks_agents_by_every_skill() -> None:
    config = parse_acd_config(BASE + SKILLS.replace("[sales]", "[sales, vip]"))
    queue = config.queues["s"]
    assert [a.id for a in config.agents_of(queue)] == ["a1"]
    assert queue.penalty(config.agents["a1"]) == 3
    assert queue.penalty(AgentConfig("x", "X", "PJSIP/x", {"sales": 0})) is None


def test_empty_config() -> None:
    assert EMPTY == AcdConfig({}, {}, {})
    assert EMPTY.queue_by_transfer_code("1") is None
    assert EMPTY.agent_by_endpoint("PJSIP/a1") is None


BROKEN = [
    ("unknown field", BASE + "    ring_timout: 20\n", 9, "q",
     "unknown field 'ring_timout' in queue 'q'; did you mean 'ring_timeout'?"),
    ("unknown strategy", BASE + "    strategy: longest_idel\n", 9, "q",
     "unknown strategy 'longest_idel' (one of longest_idle, round_robin, fewest_calls, "
     "ring_all, skills); did you mean 'longest_idle'?"),
    ("unknown member", BASE.replace("[a1]", "[a1, b1]"), 8, "q",
     "unknown agent 'b1'"),
    ("skills without skills", BASE + "  s: {strategy: skills}\n", 9, "s",
     "strategy skills needs 'skills'"),
    ("members without members", BASE + "  r:\n    strategy: round_robin\n    members: []\n",
     11, "r", "strategy round_robin needs 'members'"),
    ("members on skills", BASE + SKILLS + "    members: [a1]\n", 12, "s",
     "'members' is for the other strategies"),
    ("widen on members", BASE + "    widen: [{after: 0, max_penalty: 1}]\n", 9, "q",
     "'widen' is only for strategy skills (this queue is longest_idle)"),
    ("widen unsorted", BASE + SKILLS + "    widen:\n      - {after: 0, max_penalty: 1}\n"
     "      - {after: 60, max_penalty: 2}\n      - {after: 30, max_penalty: 3}\n", 15, "s",
     "widen steps must be sorted by 'after': 30 comes after 60"),
    ("widen not from 0", BASE + SKILLS + "    widen:\n      - after: 10\n        max_penalty: 1\n",
     13, "s", "the first widen step must be after: 0"),
    ("key not DTMF", BASE + "    keys:\n      \"12\": voicemail\n", 10, "q",
     "key '12' must be one DTMF key: 0-9, * or #"),
    ("outcome not a name", BASE + "    keys: {\"1\": Voice Mail}\n", 9, "q",
     "outcome 'Voice Mail' must be a lowercase name"),
    ("duplicate transfer code", BASE + "    transfer_code: \"5\"\n"
     + SKILLS + "    transfer_code: \"5\"\n", 13, "s",
     "transfer_code '5' is already used by queue 'q'"),
    ("transfer code unquoted", BASE + "    transfer_code: 5\n", 9, "q",
     "'transfer_code' must be text, not a whole number; quote it: transfer_code: \"5\""),
    ("wrong type", BASE + "    ring_timeout: fast\n", 9, "q",
     "'ring_timeout' must be a number of seconds, not text"),
    ("out of range", BASE + "    ring_timeout: 500\n", 9, "q",
     "'ring_timeout' must be 1 to 120 seconds, not 500"),
    ("priority", BASE + "    priority: 10\n", 9, "q", "'priority' must be 0 to 9, not 10"),
    ("max_length 0", BASE + "    max_length: 0\n", 9, "q", "'max_length' must be 1 to 10000"),
    ("true/false as text", BASE + "    join_empty: \"no\"\n", 9, "q",
     "'join_empty' must be true or false, not text"),
    ("announce typo", BASE + "    announce: {frist: 5}\n", 9, "q",
     "unknown field 'frist' in 'announce'; did you mean 'first'?"),
    ("endpoint", BASE.replace("PJSIP/a1", "a1"), 4, "a1", "endpoint 'a1' must look like "
     "TECH/resource"),
    ("agent needs name", BASE.replace("    name: A\n", ""), 2, "a1", "agent 'a1' needs 'name'"),
    ("skill penalty", BASE.replace("vip: 3", "vip: 12"), 5, "a1",
     "'skills.vip' must be 0 to 9, not 12"),
    ("top-level typo", BASE.replace("queues:", "queus:"), 6, None,
     "unknown field 'queus' in the file (top level); did you mean 'queues'?"),
    ("pause code", BASE + "pause_reasons: {a: lunch}\n", 9, None,
     "pause code 'a' must be digits 0-9"),
    ("duplicate queue", BASE + "  q:\n    members: [a1]\n", 9, "q", "duplicate key 'q'"),
    ("yaml syntax", BASE + "    keys: {*: voicemail}\n", 9, None,
     'YAML syntax error: expected alphabetic or numeric character'),
]


@pytest.mark.parametrize(("text", "line", "node", "fragment"),
                         [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN])
def test_broken(text: str, line: int, node: str | None, fragment: str) -> None:
    [detail] = problems(text)
    assert (detail.file, detail.line, detail.node, detail.severity) == ("q.yaml", line, node,
                                                                         "error")
    assert fragment in detail.message


def test_every_problem_at_once_in_check_format() -> None:
    text = BASE.replace("[a1]", "[a11]") + "    wrapup: -1\n    moh: ''\n"
    found = [d.report_line() for d in problems(text)]
    assert found == [
        "q.yaml:8:15: error: node 'q': unknown agent 'a11'; did you mean 'a1'?",
        "q.yaml:9:5: error: node 'q': 'wrapup' must be 0 to 600 seconds, not -1",
        "q.yaml:10:5: error: node 'q': 'moh' is empty",
    ]


def test_queue_nobody_can_answer_is_a_warning() -> None:
    config = parse_acd_config(BASE + SKILLS.replace("[sales]", "[salse]"), "q.yaml")
    [warning] = config.warnings
    assert (warning.line, warning.node, warning.is_error) == (11, "s", False)
    assert warning.report_line() == (
        "q.yaml:11:5: warning: node 's': no agent has all of salse; callers would wait for "
        "nobody; did you mean 'sales'?")
    widest = SKILLS.replace("[sales]", "[vip]") + "    widen: [{after: 0, max_penalty: 2}]\n"
    [warning] = parse_acd_config(BASE + widest).warnings
    assert "every agent with these skills has a penalty above 2" in warning.message


def test_warnings_travel_with_errors() -> None:
    text = BASE + SKILLS.replace("[sales]", "[nobody]") + "    priority: -1\n"
    assert [d.severity for d in problems(text)] == ["warning", "error"]


@pytest.mark.parametrize(("text", "message"), [
    ("", "the file is empty"),
    ("# only a comment\n", "the file is empty"),
    ("- a\n", "the file (top level) must be a mapping, not a list"),
    ("pause_reasons: {}\n", "the file (top level) needs 'agents' and 'queues'"),
])
def test_whole_file(text: str, message: str) -> None:
    [detail] = problems(text)
    assert (detail.line, detail.node) == (1, None)
    assert message in detail.message


def test_broken_agents_do_not_cascade_into_members() -> None:
    details = problems("agents: [a1]\nqueues:\n  q: {members: [a1]}\n")
    assert [d.message for d in details] == ["'agents' must be a mapping, not a list"]
