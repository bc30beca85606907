"""Call records on SQLite and PostgreSQL: save/get/list/upsert, durations, containment."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ivr.services.db import Database, connect
from ivr.services.records import OUTCOMES, CallRecord, CallRecordStore

T0 = dt.datetime(2026, 11, 22, 10, 0, 0, tzinfo=dt.UTC)


def record(call_id: str, *, outcome: str | None = "self_served", flow: str = "bank",
           path: tuple[str, ...] = ("choose_language", "main_menu", "say_balance"),
           start: dt.datetime = T0) -> CallRecord:
    return CallRecord(
        call_id=call_id, flow=flow, flow_version="2", caller="01012345678", language="ko",
        started_at=start, answered_at=start + dt.timedelta(seconds=1.5),
        ended_at=start + dt.timedelta(seconds=61.5), path=list(path), keys="1**** #1",
        outcome=outcome, hangup_by="caller",
    )


@pytest.fixture
def store(db: Database) -> CallRecordStore:
    return CallRecordStore(db)


def test_durations_are_derived() -> None:
    rec = record("a")
    assert (rec.ring_s, rec.ivr_s, rec.talk_s, rec.total_s) == (1.5, 60.0, 60.0, 61.5)
    assert rec.last_node == "say_balance"
    ringing = CallRecord("b", "bank", T0)
    assert (ringing.ring_s, ringing.ivr_s, ringing.total_s, ringing.last_node) == (
        None, None, None, None)


def test_records_are_validated() -> None:
    with pytest.raises(ValueError, match="outcome"):
        record("a", outcome="hung_up")
    with pytest.raises(ValueError, match="timezone-aware"):
        CallRecord("a", "bank", dt.datetime(2026, 11, 22))
    with pytest.raises(ValueError, match="DTMF"):
        CallRecord("a", "bank", T0, keys="1234 pin")
    assert set(OUTCOMES) == {"self_served", "queue", "voicemail", "callback", "transfer",
                             "abandoned", "error", "completed"}


async def test_save_and_get_round_trip(store: CallRecordStore) -> None:
    rec = record("call-1")
    await store.save(rec)
    assert await store.get("call-1") == rec
    assert await store.get("nope") is None
    row = await store.db.fetch_one("SELECT * FROM call_records WHERE call_id = 'call-1'")
    assert row is not None
    assert (row["ring_s"], row["ivr_s"], row["total_s"], row["last_node"]) == (
        1.5, 60.0, 61.5, "say_balance")


async def test_upsert_as_the_call_goes_on(store: CallRecordStore) -> None:
    seoul = T0.astimezone(ZoneInfo("Asia/Seoul"))
    live = CallRecord("call-2", "bank", seoul, caller="01012345678", path=["choose_language"])
    await store.save(live)
    got = await store.get("call-2")
    assert got is not None and got.outcome is None and got.started_at == T0
    assert got.started_at.tzinfo == dt.UTC
    live.answered_at = seoul + dt.timedelta(seconds=2)
    live.path += ["main_menu", "agent"]
    live.keys = "13"
    live.outcome, live.ended_at = "queue", seoul + dt.timedelta(seconds=30)
    await store.save(live)
    final = await store.get("call-2")
    assert final is not None
    assert (final.outcome, final.path, final.keys, final.ivr_s) == (
        "queue", ["choose_language", "main_menu", "agent"], "13", 28.0)
    assert await store.db.fetch_value("SELECT COUNT(*) FROM call_records") == 1


async def test_records_survive_a_restart(store: CallRecordStore, db_url: str) -> None:
    await store.save(record("call-3"))
    async with await connect(db_url) as restarted:
        await restarted.migrate()
        assert await CallRecordStore(restarted).get("call-3") == record("call-3")


async def test_list(store: CallRecordStore) -> None:
    for i in range(5):
        await store.save(record(f"c{i}", start=T0 + dt.timedelta(minutes=i),
                                flow="bank" if i % 2 else "demo"))
    assert [r.call_id for r in await store.list()] == ["c4", "c3", "c2", "c1", "c0"]
    assert [r.call_id for r in await store.list(limit=2)] == ["c4", "c3"]
    since = T0 + dt.timedelta(minutes=3)
    assert [r.call_id for r in await store.list(since=since)] == ["c4", "c3"]
    assert [r.call_id for r in await store.list(flow="bank")] == ["c3", "c1"]
    assert await store.delete_before(since) == 3
    assert len(await store.list()) == 2


async def test_containment(store: CallRecordStore) -> None:
    calls = [
        ("a", "self_served", ("main_menu", "say_balance")),
        ("b", "self_served", ("main_menu", "after_balance")),
        ("c", "queue", ("main_menu", "agent")),
        ("d", "abandoned", ("main_menu", "enter_pin")),
        ("e", "self_served", ("main_menu", "enter_pin")),
        ("f", None, ("main_menu",)),  # still in progress: not counted
    ]
    for call_id, outcome, path in calls:
        await store.save(record(call_id, outcome=outcome, path=path))
    await store.save(record("other", flow="demo", outcome="queue"))
    kpi = await store.containment("bank")
    assert kpi["calls"] == 5 and kpi["self_served"] == 3 and kpi["containment"] == 0.6
    assert kpi["by_outcome"] == {"self_served": 3, "queue": 1, "abandoned": 1}
    assert kpi["by_last_node"] == {
        "after_balance": {"calls": 1, "self_served": 1, "containment": 1.0},
        "agent": {"calls": 1, "self_served": 0, "containment": 0.0},
        "enter_pin": {"calls": 2, "self_served": 1, "containment": 0.5},
        "say_balance": {"calls": 1, "self_served": 1, "containment": 1.0},
    }
    empty = await store.containment("nobody")
    assert (empty["calls"], empty["containment"], empty["by_last_node"]) == (0, None, {})
    later = await store.containment("bank", since=T0 + dt.timedelta(hours=1))
    assert later["calls"] == 0
