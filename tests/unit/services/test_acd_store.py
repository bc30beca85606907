"""The ACD store on SQLite and PostgreSQL: agents, queue entries, the queue log, restarts."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ivr.services.acd.queue_log import QueueLogEvent
from ivr.services.acd.store import AcdStore, AgentRow, EntryRow
from ivr.services.db import Database, connect

T0 = dt.datetime(2026, 11, 22, 10, 0, 0, tzinfo=dt.UTC)
EPOCH = T0.timestamp()


def agent(agent_id: str = "1001", state: str = "available", **kw: Any) -> AgentRow:
    row = AgentRow(agent_id=agent_id, state=state, pause_reason="", state_since=T0,
                   logged_in_at=T0 - dt.timedelta(hours=1), idle_since=T0)
    return replace(row, **kw)


def entry(channel_id: str, queue: str = "sales", priority: int = 0, **kw: Any) -> EntryRow:
    row = EntryRow(channel_id=channel_id, queue=queue, priority=priority, entered_at=T0, seq=0,
                   caller="01012345678", language="ko", flow="bank", node="agent",
                   variables={}, orig_position=1)
    return replace(row, **kw)


def event(offset: float, event_name: str, queue: str = "sales", *data: str,
          call_id: str = "c1", agent_name: str = "NONE") -> QueueLogEvent:
    return QueueLogEvent(EPOCH + offset, call_id, queue, agent_name, event_name, tuple(data))


@pytest.fixture
def store(db: Database) -> AcdStore:
    return AcdStore(db)


def test_rows_are_validated() -> None:
    with pytest.raises(ValueError, match="agent state"):
        agent(state="lunch")
    with pytest.raises(ValueError, match="timezone-aware"):
        agent(state_since=dt.datetime(2026, 11, 22))
    with pytest.raises(ValueError, match="entry state"):
        entry("ch", state="parked")
    with pytest.raises(ValueError, match="timezone-aware"):
        entry("ch", connected_at=dt.datetime(2026, 11, 22))


async def test_agents_upsert_and_read(store: AcdStore) -> None:
    assert await store.agents() == []
    seoul = T0.astimezone(ZoneInfo("Asia/Seoul"))
    await store.save_agent(agent("1002", "logged_out", state_since=seoul, logged_in_at=None,
                                 idle_since=None))
    await store.save_agent(agent("1001"))
    paused = agent("1001", "paused", pause_reason="lunch", idle_since=None, calls_taken=7,
                   missed_in_row=2, state_since=T0 + dt.timedelta(minutes=5))
    await store.save_agent(paused)
    got = await store.agents()
    assert got == [paused, agent("1002", "logged_out", logged_in_at=None, idle_since=None)]
    assert got[1].state_since.tzinfo == dt.UTC


async def test_add_entry_assigns_seq_and_is_idempotent(store: AcdStore) -> None:
    first = await store.add_entry(entry("ch-1", seq=99))
    assert first == entry("ch-1", seq=1)
    second = await store.add_entry(entry("ch-2"))
    assert second.seq == 2
    again = await store.add_entry(entry("ch-1", queue="support", priority=5,
                                        entered_at=T0 + dt.timedelta(minutes=3)))
    assert again == first
    assert [e.channel_id for e in await store.entries()] == ["ch-1", "ch-2"]


async def test_concurrent_joins_get_distinct_seqs(store: AcdStore) -> None:
    rows = await asyncio.gather(*(store.add_entry(entry(f"ch-{i}")) for i in range(8)))
    assert sorted(r.seq for r in rows) == list(range(1, 9))


async def test_entries_in_order_of_service(store: AcdStore) -> None:
    await store.add_entry(entry("a", priority=0))
    await store.add_entry(entry("b", priority=5))
    await store.add_entry(entry("c", queue="support", priority=9))
    await store.add_entry(entry("d", priority=5))
    await store.add_entry(entry("e", priority=0))
    assert [e.channel_id for e in await store.entries("sales")] == ["b", "d", "a", "e"]
    assert [e.channel_id for e in await store.entries()] == ["c", "b", "d", "a", "e"]
    assert await store.entries("nobody") == []


async def test_update_and_remove_entry(store: AcdStore) -> None:
    stored = await store.add_entry(entry("ch-1"))
    await store.add_entry(entry("ch-2"))
    connected = replace(stored, state="connected", agent_id="1001", agent_channel="PJSIP/1001-1",
                        bridge_id="br-1", connected_at=T0 + dt.timedelta(seconds=42),
                        queue="support", priority=3, caller="ignored")
    await store.update_entry(connected)
    assert await store.entry("ch-1") == replace(connected, caller=stored.caller)
    await store.remove_entry("ch-1")
    assert await store.entry("ch-1") is None
    await store.update_entry(connected)  # a removed entry stays removed
    assert [e.channel_id for e in await store.entries()] == ["ch-2"]
    await store.remove_entry("ch-1")


async def test_variables_round_trip_as_json(store: AcdStore) -> None:
    variables = {"name": "홍길동", "menu": "잔액 조회", "n": 3, "ok": True, "path": ["a", "b"],
                 "nested": {"x": None}}
    await store.add_entry(entry("ch-ko", variables=variables))
    got = await store.entry("ch-ko")
    assert got is not None and got.variables == variables
    raw = await store.db.fetch_value("SELECT variables FROM acd_entries")
    assert "홍길동" in raw


async def test_queue_log_append_and_filter(store: AcdStore) -> None:
    events = [
        event(0, "ENTERQUEUE", "sales", "", "01012345678", "1"),
        event(1, "QUEUESTART", "NONE", call_id="NONE"),
        event(2, "ADDMEMBER", "support", agent_name="PJSIP/1001"),
        event(5, "CONNECT", "sales", "5", "1700000000.1", "3", agent_name="PJSIP/1002"),
        event(9, "COMPLETECALLER", "sales", "5", "120", "1", agent_name="PJSIP/1002"),
    ]
    await store.append_log(events)
    await store.append_log([])
    assert await store.log_events() == events
    assert await store.log_events(since=EPOCH + 1, until=EPOCH + 9) == events[1:4]
    assert await store.log_events(queue="sales") == [events[0], events[1], events[3], events[4]]
    assert await store.log_events(queue="support", since=EPOCH + 1) == events[1:3]
    assert await store.log_events(queue="nobody") == [events[1]]


async def test_queue_log_keeps_the_order_written(store: AcdStore) -> None:
    same_time = [event(3, "RINGNOANSWER", "sales", "15000"), event(3, "ABANDON", "sales", "1")]
    await store.append_log([event(4, "LATER")])
    await store.append_log(same_time)
    assert await store.log_events() == [*same_time, event(4, "LATER")]


async def test_queue_log_data_fields(store: AcdStore) -> None:
    await store.append_log([event(0, "PAUSE", "NONE", "a|b"), event(1, "FULL"),
                            event(2, "ENTERQUEUE", "sales", "", "홍길동 <010>")])
    got = await store.log_events()
    assert [e.data for e in got] == [("a b",), (), ("", "홍길동 <010>")]


async def test_state_survives_a_restart(db_url: str) -> None:
    async with await connect(db_url) as db:
        await db.migrate()
        store = AcdStore(db)
        await store.save_agent(agent("1001", "on_call", calls_taken=4))
        await store.add_entry(entry("ch-1", variables={"이름": "김철수"}))
        await store.add_entry(entry("ch-2", priority=1))
        await store.append_log([event(0, "ENTERQUEUE", "sales", "", "010", "1")])
    async with await connect(db_url) as again:
        assert await again.migrate() == []
        store = AcdStore(again)
        assert await store.agents() == [agent("1001", "on_call", calls_taken=4)]
        assert [(e.channel_id, e.seq) for e in await store.entries()] == [("ch-2", 2),
                                                                           ("ch-1", 1)]
        assert (await store.add_entry(entry("ch-1", entered_at=T0 + dt.timedelta(hours=1)))
                == entry("ch-1", seq=1, variables={"이름": "김철수"}))
        assert (await store.add_entry(entry("ch-3"))).seq == 3
        assert await store.log_events() == [event(0, "ENTERQUEUE", "sales", "", "010", "1")]


async def test_migration_applies_once(db: Database) -> None:
    assert await db.migrate() == []
    assert 3 in await db.applied_migrations()
    for table in ("acd_agents", "acd_entries", "acd_queue_log"):
        assert await db.fetch_value(f"SELECT COUNT(*) FROM {table}") == 0
