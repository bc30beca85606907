"""Ring order for each strategy: ordering, ties, empty input, round robin rotation, widening."""

from __future__ import annotations

import pytest

from ivr.services.acd.config import QueueConfig, Widen
from ivr.services.acd.strategies import Candidate, allowed_penalty, ring_order

MEMBERS = ("a", "b", "c", "d")


def queue(strategy: str) -> QueueConfig:
    return QueueConfig("q", strategy=strategy, members=MEMBERS)


def order(q: QueueConfig, candidates: list[Candidate], wait_s: float = 0,
          last_agent: str | None = None) -> list[tuple[str, ...]]:
    return ring_order(q, candidates, wait_s=wait_s, last_agent=last_agent)


FREE = [Candidate("c", idle_since=300, calls_taken=1), Candidate("a", idle_since=200,
        calls_taken=5), Candidate("d", idle_since=100, calls_taken=1)]
"""a, c and d are free (b is busy); d has been idle longest, a has taken the most calls."""


@pytest.mark.parametrize("strategy", ["longest_idle", "round_robin", "fewest_calls",
                                      "ring_all", "skills"])
def test_no_candidates_no_groups(strategy: str) -> None:
    assert order(queue(strategy), []) == []


def test_longest_idle() -> None:
    assert order(queue("longest_idle"), FREE) == [("d",), ("a",), ("c",)]


def test_longest_idle_ties_by_agent_id() -> None:
    tied = [Candidate("c", 100, 0), Candidate("a", 100, 0), Candidate("b", 50, 9)]
    assert order(queue("longest_idle"), tied) == [("b",), ("a",), ("c",)]


def test_fewest_calls_then_longest_idle_then_id() -> None:
    assert order(queue("fewest_calls"), FREE) == [("d",), ("c",), ("a",)]
    tied = [Candidate("b", 100, 2), Candidate("a", 100, 2), Candidate("c", 500, 0)]
    assert order(queue("fewest_calls"), tied) == [("c",), ("a",), ("b",)]


@pytest.mark.parametrize(("last", "expected"), [
    (None, ["a", "c", "d"]),
    ("a", ["c", "d", "a"]),   # b (next after a) is busy: skipped
    ("b", ["c", "d", "a"]),   # the last agent may be busy now; start after it anyway
    ("c", ["d", "a", "c"]),
    ("d", ["a", "c", "d"]),   # wraps around to the start
    ("zed", ["a", "c", "d"]),  # unknown: from the first member
])
def test_round_robin(last: str | None, expected: list[str]) -> None:
    assert order(queue("round_robin"), FREE, last_agent=last) == [(a,) for a in expected]


def test_round_robin_keeps_a_candidate_that_is_not_a_member_last() -> None:
    extra = [*FREE, Candidate("x", 0, 0)]
    assert order(queue("round_robin"), extra, last_agent="c") == [("d",), ("a",), ("c",), ("x",)]


def test_ring_all_is_one_group_in_member_order() -> None:
    assert order(queue("ring_all"), FREE) == [("a", "c", "d")]
    assert order(queue("ring_all"), [Candidate("b", 1, 1)]) == [("b",)]


def test_duplicate_candidates_count_once() -> None:
    twice = [*FREE, Candidate("d", idle_since=999, calls_taken=0)]
    assert order(queue("longest_idle"), twice) == [("d",), ("a",), ("c",)]
    assert order(queue("ring_all"), twice) == [("a", "c", "d")]


SKILLED = [Candidate("a", idle_since=100, calls_taken=0, penalty=2),
           Candidate("b", idle_since=300, calls_taken=0, penalty=0),
           Candidate("c", idle_since=200, calls_taken=0, penalty=1),
           Candidate("d", idle_since=50, calls_taken=0, penalty=1),
           Candidate("e", idle_since=10, calls_taken=0, penalty=3)]
WIDEN = (Widen(0, 1), Widen(30, 2), Widen(60, 3))


@pytest.mark.parametrize(("wait_s", "allowed", "expected"), [
    (0, 1, ["b", "d", "c"]),
    (29.9, 1, ["b", "d", "c"]),
    (30, 2, ["b", "d", "c", "a"]),
    (60, 3, ["b", "d", "c", "a", "e"]),
    (3600, 3, ["b", "d", "c", "a", "e"]),
])
def test_skills_widen_over_time(wait_s: float, allowed: int, expected: list[str]) -> None:
    q = QueueConfig("s", strategy="skills", skills=("billing",), widen=WIDEN)
    assert allowed_penalty(q, wait_s) == allowed
    assert order(q, SKILLED, wait_s=wait_s) == [(a,) for a in expected]


def test_skills_without_widen_allows_any_penalty() -> None:
    q = QueueConfig("s", strategy="skills", skills=("billing",))
    assert allowed_penalty(q, 0) is None
    assert order(q, SKILLED) == [("b",), ("d",), ("c",), ("a",), ("e",)]


def test_skills_before_the_first_step_uses_its_limit() -> None:
    q = QueueConfig("s", strategy="skills", skills=("x",), widen=(Widen(10, 0), Widen(20, 5)))
    assert [allowed_penalty(q, w) for w in (0, 10, 20)] == [0, 0, 5]


def test_skills_nobody_within_the_penalty() -> None:
    q = QueueConfig("s", strategy="skills", skills=("x",), widen=(Widen(0, 0),))
    assert order(q, [Candidate("a", 1, 0, penalty=1)]) == []


def test_non_skills_queues_have_no_penalty_limit() -> None:
    assert allowed_penalty(queue("longest_idle"), 100) is None


def test_unknown_strategy() -> None:
    with pytest.raises(ValueError, match="unknown strategy 'random'"):
        order(queue("random"), FREE)
