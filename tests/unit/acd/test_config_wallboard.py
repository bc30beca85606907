"""The `wallboard:` block of queues.yaml: colour thresholds as data, checked with file:line."""

from __future__ import annotations

import pytest

from ivr.flow.loader import FlowError
from ivr.services.acd.config import DEFAULT_THRESHOLDS, Threshold
from ivr.services.acd.config_reader import parse_acd_config

BASE = """\
agents:
  a1: {name: Ann, endpoint: PJSIP/a1}
queues:
  general: {members: [a1]}
"""


def test_defaults_without_a_block() -> None:
    assert parse_acd_config(BASE).wallboard == DEFAULT_THRESHOLDS


def test_a_block_overrides_the_figures_it_names() -> None:
    config = parse_acd_config(BASE + "wallboard:\n  waiting: {amber: 1, red: 4}\n"
                                     "  service_level: {amber: 0.9, red: 0.7}\n")
    assert config.wallboard["waiting"] == Threshold(1, 4)
    assert config.wallboard["service_level"] == Threshold(0.9, 0.7)
    assert config.wallboard["longest_wait_s"] == DEFAULT_THRESHOLDS["longest_wait_s"]


@pytest.mark.parametrize(("block", "line", "message"), [
    ("wallboard:\n  waiting: {amber: 5, red: 2}\n", 6, "red must be above amber"),
    ("wallboard:\n  service_level: {amber: 0.6, red: 0.8}\n", 6, "red must be below amber"),
    ("wallboard:\n  waitng: {amber: 1, red: 2}\n", 6, "unknown field 'waitng'"),
    ("wallboard:\n  waiting: {amber: lots, red: 2}\n", 6, "amber and red are numbers"),
    ("wallboard:\n  waiting: {amber: 1}\n", 6, "red"),
    ("wallboard: 3\n", 5, "'wallboard' must be a mapping"),
])
def test_a_bad_block_is_refused_with_its_line(block: str, line: int, message: str) -> None:
    with pytest.raises(FlowError) as refused:
        parse_acd_config(BASE + block, "queues.yaml")
    details = refused.value.details
    assert any(d.line == line and message in d.message for d in details), details


def test_levels_follow_the_direction_of_the_figure() -> None:
    wait, level = Threshold(30, 60), Threshold(0.8, 0.6)
    assert [wait.level(v, True) for v in (10, 30, 59, 60, None)] == \
        ["green", "amber", "amber", "red", "none"]
    assert [level.level(v, False) for v in (0.95, 0.8, 0.7, 0.6)] == \
        ["green", "amber", "amber", "red"]
