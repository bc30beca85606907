"""Per-interval KPI summaries (ivr/services/acd/intervals.py): the same KPIs as kpi.py's replay
of the queue log over a day, kept in the database as events arrive (both dialects), restored
after a restart, and fed by the ACD's own queue-log writes."""

from __future__ import annotations

import random

import pytest

from ivr.services.acd.intervals import INTERVAL_S, IntervalSummaries, fold_all, kpis
from ivr.services.acd.kpi import compute_kpis
from ivr.services.acd.queue_log import QueueLogEvent
from ivr.services.db import Database

DAY = 1_795_003_200.0  # a multiple of 15 minutes


def a_day(calls: int, seed: int = 3) -> list[QueueLogEvent]:
    """Calls through one queue over a day, each over (ACW included) before the day ends and
    within its own interval, abandons long and short, time-outs and exits with a key."""
    rng = random.Random(seed)
    events: list[QueueLogEvent] = []
    for n in range(calls):
        t = DAY + n * (86400 - 900) / calls
        t = t - (t % INTERVAL_S) + rng.uniform(0, 200)
        cid, agent = f"c{n}", f"PJSIP/a{rng.randrange(5)}"
        events.append(QueueLogEvent(t, cid, "sales", "NONE", "ENTERQUEUE", ("", "555")))
        fate, hold = rng.random(), rng.randint(0, 60)
        if fate < 0.05:
            events.append(QueueLogEvent(t + 2, cid, "sales", "NONE", "ABANDON", ("1", "1", "2")))
        elif fate < 0.12:
            events.append(QueueLogEvent(t + hold, cid, "sales", "NONE", "ABANDON",
                                        ("1", "1", str(hold))))
        elif fate < 0.15:
            events.append(QueueLogEvent(t + 30, cid, "sales", "NONE", "EXITWITHTIMEOUT",
                                        ("1", "1", "30")))
        elif fate < 0.17:
            events.append(QueueLogEvent(t + 9, cid, "sales", "NONE", "EXITWITHKEY",
                                        ("1", "1", "1", "9")))
        else:
            talk = rng.randint(30, 500)
            events += [
                QueueLogEvent(t + hold, cid, "sales", agent, "CONNECT", (str(hold), "x", "1")),
                QueueLogEvent(t + hold + talk, cid, "sales", agent, "COMPLETECALLER",
                              (str(hold), str(talk), "1")),
                QueueLogEvent(t + hold + talk + 5, cid, "sales", agent, "ACW", ("5",)),
            ]
    return sorted(events, key=lambda e: e.time)


def test_a_days_summaries_give_the_kpis_of_replaying_its_log() -> None:
    events = a_day(2000)
    rows = fold_all(events, lambda _q: 20.0)
    summed = kpis(rows.values())
    replayed = compute_kpis(events, start=DAY, end=DAY + 86400, queue="sales",
                            service_level_s=20.0)
    assert summed["offered"] == replayed.offered == 2000
    for name in ("answered", "abandoned", "short_abandoned", "timed_out", "exited_other"):
        assert summed[name] == getattr(replayed, name), name
    for name in ("service_level", "abandonment_rate", "average_speed_of_answer_s",
                 "average_handle_time_s", "longest_wait_s"):
        assert summed[name] == pytest.approx(getattr(replayed, name)), name
    assert len(rows) <= 96


def test_an_empty_run_has_no_ratios() -> None:
    assert kpis(()) == {"offered": 0, "answered": 0, "abandoned": 0, "short_abandoned": 0,
                        "timed_out": 0, "exited_other": 0, "service_level": None,
                        "abandonment_rate": None, "average_speed_of_answer_s": None,
                        "average_handle_time_s": None, "longest_wait_s": None}


async def test_rows_are_added_to_in_the_database_and_restored(db: Database) -> None:
    events = a_day(300)
    summaries = IntervalSummaries(db)
    for i in range(0, len(events), 37):  # written as the ACD writes: a few events at a time
        await summaries.add(events[i:i + 37], lambda _q: 20.0)
    live = summaries.summary(DAY)
    assert live["sales"] == kpis(fold_all(events, lambda _q: 20.0).values())
    restored = IntervalSummaries(db)
    await restored.load(since=DAY)
    assert restored.summary(DAY) == live
    later = restored.summary(DAY + 43200)["sales"]
    assert 0 < int(later["offered"] or 0) < 300  # the afternoon only


async def test_member_events_and_other_queues_stay_apart(db: Database) -> None:
    summaries = IntervalSummaries(db)
    await summaries.add([
        QueueLogEvent(DAY, "NONE", "sales", "PJSIP/a1", "ADDMEMBER", ()),
        QueueLogEvent(DAY + 1, "c1", "sales", "NONE", "ENTERQUEUE", ("", "1")),
        QueueLogEvent(DAY + 2, "c2", "vip", "NONE", "ENTERQUEUE", ("", "2")),
        QueueLogEvent(DAY + 3, "NONE", "NONE", "PJSIP/a1", "PAUSEALL", ()),
    ], lambda _q: 20.0)
    found = summaries.summary(DAY)
    assert {q: found[q]["offered"] for q in found} == {"sales": 1, "vip": 1}
