"""Wrap-up dispositions in queues.yaml: the top-level code -> label map and a queue's subset,
checked with file:line like the rest of the file."""

from __future__ import annotations

import pytest

from ivr.flow.loader import FlowError, FlowErrorDetail
from ivr.services.acd.config import DEFAULT_DISPOSITIONS
from ivr.services.acd.config_reader import parse_acd_config

BASE = """\
agents:
  a1: {name: Ann, endpoint: PJSIP/a1}
queues:
  general: {members: [a1]}
  billing:
    members: [a1]
"""
"""Lines 1-6; a snippet appended starts at line 7, inside queue 'billing'."""
CODES = "dispositions:\n  resolved: Resolved\n  refund: Refund issued\n  other: Other\n"


def problems(text: str) -> list[FlowErrorDetail]:
    with pytest.raises(FlowError) as refused:
        parse_acd_config(text, "queues.yaml")
    return refused.value.details


def test_without_a_block_the_default_codes_apply_to_every_queue() -> None:
    config = parse_acd_config(BASE)
    assert list(config.dispositions) == ["resolved", "follow_up", "callback", "transferred",
                                         "complaint", "wrong_number", "sale", "do_not_call",
                                         "other"]
    assert config.dispositions == DEFAULT_DISPOSITIONS
    assert config.queues["billing"].dispositions == ()
    assert config.dispositions_of("billing") == DEFAULT_DISPOSITIONS
    assert config.dispositions_of(None) == DEFAULT_DISPOSITIONS


def test_the_block_is_read_in_order_and_a_queue_keeps_its_own_list() -> None:
    config = parse_acd_config(BASE + "    dispositions: [refund, resolved]\n" + CODES)
    assert list(config.dispositions.items()) == [
        ("resolved", "Resolved"), ("refund", "Refund issued"), ("other", "Other")]
    assert config.queues["billing"].dispositions == ("refund", "resolved")
    assert list(config.dispositions_of("billing")) == ["refund", "resolved"]
    assert config.dispositions_of("general") == config.dispositions  # no list: every code
    assert config.dispositions_of("gone") == config.dispositions  # removed by a reload


def test_a_queue_may_restrict_the_default_codes() -> None:
    config = parse_acd_config(BASE + "    dispositions: [resolved, complaint]\n")
    assert config.dispositions_of("billing") == {"resolved": "Resolved",
                                                  "complaint": "Complaint"}


@pytest.mark.parametrize(("block", "line", "message"), [
    ("dispositions:\n  Resolved: Resolved\n", 8, "disposition code 'Resolved' must be 1 to 32 "
                                                 "of a-z, 0-9 and _"),
    ("dispositions:\n  " + "x" * 33 + ": Long\n", 8, "must be 1 to 32 of a-z, 0-9 and _"),
    ("dispositions:\n  fine: ok\n  bad-code: Bad\n", 9, "disposition code 'bad-code'"),
    ("dispositions:\n  resolved: ''\n", 8, "'dispositions.resolved' is empty"),
    ("dispositions:\n  resolved:\n", 8, "'dispositions.resolved' must be text, not empty"),
    ("dispositions:\n  resolved: 5\n", 8, 'quote it: resolved: "5"'),
    ("dispositions:\n  resolved: " + "y" * 81 + "\n", 8,
     "the label of disposition 'resolved' must be at most 80 characters, not 81"),
    ("dispositions: [resolved]\n", 7, "'dispositions' must be a mapping, not a list"),
    ("dispositions: {}\n", 7, "'dispositions' has no codes; leave it out for the default"),
    ("dispositon: {}\n", 7, "did you mean 'dispositions'?"),
])
def test_a_bad_block_is_refused_with_its_line(block: str, line: int, message: str) -> None:
    [detail] = problems(BASE + block)
    assert (detail.file, detail.line, detail.node) == ("queues.yaml", line, None)
    assert message in detail.message, detail.message


def test_a_label_of_80_characters_is_fine() -> None:
    config = parse_acd_config(BASE + "dispositions:\n  resolved: " + "y" * 80 + "\n")
    assert len(config.dispositions["resolved"]) == 80


@pytest.mark.parametrize(("queue_list", "line", "message"), [
    ("    dispositions: [resolved, refnd]\n", 7, "unknown disposition 'refnd'; did you mean "
                                                 "'refund'?"),
    ("    dispositions:\n      - resolved\n      - escalated\n", 9,
     "unknown disposition 'escalated' (the top-level 'dispositions' has resolved, refund, "
     "other)"),
    ("    dispositions: [resolved, resolved]\n", 7, "'dispositions' lists 'resolved' twice"),
    ("    dispositions: [Resolved]\n", 7, "'Resolved' is not a disposition code"),
    ("    dispositions: resolved\n", 7, "'dispositions' must be a list of disposition codes"),
    ("    dispositions: []\n", 7, "'dispositions' lists no codes; leave it out for every code"),
])
def test_a_bad_queue_list_is_refused_with_its_line_and_queue(queue_list: str, line: int,
                                                             message: str) -> None:
    [detail] = problems(BASE + queue_list + CODES)
    assert (detail.file, detail.line, detail.node) == ("queues.yaml", line, "billing")
    assert message in detail.message, detail.message


def test_a_queue_list_is_checked_against_the_defaults_without_a_block() -> None:
    [detail] = problems(BASE + "    dispositions: [refund]\n")
    assert detail.report_line().startswith(
        "queues.yaml:7:20: error: node 'billing': unknown disposition 'refund' (the top-level "
        "'dispositions' has resolved, follow_up,")


def test_a_bad_label_or_block_is_reported_once_not_again_at_each_queue() -> None:
    details = problems(BASE + "    dispositions: [refund]\n"
                       + CODES.replace("Refund issued", "''"))
    assert [(d.line, d.node) for d in details] == [(10, None)]
    details = problems(BASE + "    dispositions: [refund]\ndispositions: [refund]\n")
    assert [(d.line, d.message) for d in details] == [
        (8, "'dispositions' must be a mapping, not a list")]
