import math

import pytest

from ivr.services.acd.erlang import (
    agents_for_service_level,
    announceable_minutes,
    average_speed_of_answer,
    erlang_c,
    estimate_wait,
    service_level,
    traffic_erlangs,
)


def test_field_notes_100_calls_per_half_hour() -> None:
    erlangs = traffic_erlangs(100, 30 * 60, 180)
    assert erlangs == pytest.approx(10.0)
    assert erlang_c(14, erlangs) == pytest.approx(0.1741, abs=5e-5)
    assert service_level(14, erlangs, 180, 20) == pytest.approx(0.8884, abs=5e-5)
    assert average_speed_of_answer(14, erlangs, 180) == pytest.approx(7.84, abs=0.005)


def test_field_notes_1000_calls_per_hour() -> None:
    erlangs = traffic_erlangs(1000, 3600, 120)
    assert service_level(40, erlangs, 120, 20) == pytest.approx(0.9372, abs=5e-5)
    assert average_speed_of_answer(40, erlangs, 120) == pytest.approx(3.43, abs=0.005)


def test_large_centre_stays_finite() -> None:
    waiting = erlang_c(1000, 950.0)
    assert 0.0 < waiting < 1.0


@pytest.mark.parametrize(("agents", "erlangs"), [(10, 10.0), (10, 12.5), (0, 0.0)])
def test_overloaded_queue(agents: int, erlangs: float) -> None:
    assert erlang_c(agents, erlangs) == 1.0
    assert service_level(agents, erlangs, 180, 20) == 0.0
    assert average_speed_of_answer(agents, erlangs, 180) == math.inf


def test_zero_traffic() -> None:
    assert traffic_erlangs(0, 3600, 180) == 0.0
    assert erlang_c(3, 0.0) == 0.0
    assert service_level(3, 0.0, 180, 20) == 1.0
    assert average_speed_of_answer(3, 0.0, 180) == 0.0
    assert agents_for_service_level(0.0, 180, 20, 0.8) == 0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        traffic_erlangs(10, 0, 180)
    with pytest.raises(ValueError):
        erlang_c(-1, 1.0)
    with pytest.raises(ValueError):
        erlang_c(3, -1.0)
    with pytest.raises(ValueError):
        agents_for_service_level(10.0, 180, 20, 1.0)


def test_agents_for_service_level() -> None:
    # 14 agents give 88.84 % within 20 s (field notes) and 13 fall short of 80 %.
    assert service_level(13, 10.0, 180, 20) < 0.8
    assert agents_for_service_level(10.0, 180, 20, 0.8) == 14
    assert agents_for_service_level(10.0, 180, 20, 0.0) == 11  # the fewest that keep up
    needed = [agents_for_service_level(10.0, 180, 20, g / 100) for g in range(0, 100, 5)]
    assert needed == sorted(needed)
    more_traffic = [agents_for_service_level(a, 180, 20, 0.8) for a in (1.0, 5.0, 10.0, 50.0)]
    assert more_traffic == sorted(more_traffic)
    for goal in (0.5, 0.8, 0.95):
        n = agents_for_service_level(33.3, 120, 20, goal)
        assert service_level(n, 33.3, 120, 20) >= goal > service_level(n - 1, 33.3, 120, 20)


def test_estimate_wait() -> None:
    times = [100.0, 200.0, 300.0]  # mean 200 s
    assert estimate_wait(1, 0, 0, times) is None  # nobody staffed
    assert estimate_wait(3, 2, 0, times[:2]) is None  # too few samples
    assert estimate_wait(3, 2, 0, times[:2], min_samples=2) == pytest.approx(3 * 150 / 2)
    assert estimate_wait(2, 4, 2, []) == 0.0  # an agent is free for this caller
    assert estimate_wait(1, 4, 0, times) == pytest.approx(50.0)  # one departure of 4 busy
    assert estimate_wait(5, 4, 0, times) == pytest.approx(250.0)
    assert estimate_wait(5, 4, 2, times) == pytest.approx(150.0)  # 3 departures needed
    with pytest.raises(ValueError):
        estimate_wait(0, 4, 0, times)


@pytest.mark.parametrize(
    ("estimate", "minutes"),
    [
        (None, None),
        (0.0, None),
        (59.9, None),
        (60.0, 1),
        (61.0, 2),
        (120.0, 2),
        (179.0, 3),
        (29 * 60.0, 29),
        (29 * 60.0 + 1, 30),  # rounds up to the cap: "more than 30 minutes"
        (30 * 60.0, 30),
        (3 * 3600.0, 30),
    ],
)
def test_announceable_minutes(estimate: float | None, minutes: int | None) -> None:
    assert announceable_minutes(estimate) == minutes


def test_announceable_minutes_options() -> None:
    assert announceable_minutes(30.0, min_s=30) == 1
    assert announceable_minutes(600.0, cap_minutes=5) == 5
