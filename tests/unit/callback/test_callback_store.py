"""The callback store on SQLite and PostgreSQL: callbacks, their attempts, the do-not-call
list (numbers compared in one normal form), and what survives a restart."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from ivr.services.callback.store import (
    ACTIVE,
    FINAL,
    Attempt,
    Callback,
    CallbackStore,
    normalize_number,
)
from ivr.services.db import Database, connect

T0 = dt.datetime(2026, 11, 22, 10, 0, 0, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def callback(cb_id: str, queue: str = "sales", state: str = "pending", created: float = 0,
             **kw: Any) -> Callback:
    row = Callback(id=cb_id, queue=queue, number="01012345678", timezone="Asia/Seoul",
                   entered_at=at(created - 3), next_attempt_at=at(created),
                   expires_at=at(created + 1440), created_at=at(created),
                   updated_at=at(created), state=state)
    return replace(row, **kw)


@pytest.fixture
def store(db: Database) -> CallbackStore:
    return CallbackStore(db)


@pytest.mark.parametrize(("text", "normal"), [
    ("+82 10-1234-5678", "+821012345678"),
    (" +821012345678 ", "+821012345678"),
    ("010.1234.5678", "01012345678"),
    ("(212) 555-1234", "2125551234"),
    ("82+10", "8210"),  # only a leading + counts
    ("abc", ""),
])
def test_normalize_number(text: str, normal: str) -> None:
    assert normalize_number(text) == normal


def test_states() -> None:
    assert ACTIVE == ("pending", "dialing")
    assert set(FINAL) == {"completed", "expired", "cancelled", "blocked"}


async def test_create_and_get(store: CallbackStore) -> None:
    full = callback("cb-1", source="voicemail", caller="0212345678", language="ko", priority=4,
                    orig_position=3, message_id="m-9", not_before=at(90), attempts=1,
                    agent_id="a1", outcome="", state="dialing")
    await store.create(full)
    await store.create(callback("cb-2"))
    assert await store.get("cb-1") == full
    got = await store.get("cb-2")
    assert got == callback("cb-2")
    assert got is not None and got.not_before is None
    assert got.entered_at.tzinfo == dt.UTC and got.next_attempt_at.tzinfo == dt.UTC
    assert await store.get("cb-none") is None


async def test_times_keep_their_instant(store: CallbackStore) -> None:
    seoul = dt.timezone(dt.timedelta(hours=9))
    await store.create(callback("cb-1", not_before=at(30).astimezone(seoul),
                                next_attempt_at=at(30).astimezone(seoul)))
    got = await store.get("cb-1")
    assert got is not None
    assert (got.not_before, got.next_attempt_at) == (at(30), at(30))
    assert got.not_before is not None and got.not_before.tzinfo == dt.UTC


async def test_update_changes_only_the_state_fields(store: CallbackStore) -> None:
    await store.create(callback("cb-1"))
    await store.create(callback("cb-2"))
    changed = replace(callback("cb-1"), state="expired", outcome="attempts (busy)",
                      not_before=at(5), next_attempt_at=at(7), expires_at=at(99), attempts=3,
                      agent_id="a2", updated_at=at(8))
    await store.update(replace(changed, queue="support", number="999", priority=9))
    assert await store.get("cb-1") == changed
    assert await store.get("cb-2") == callback("cb-2")
    await store.update(callback("cb-none"))  # nothing to update: no row made
    assert await store.get("cb-none") is None


async def test_find_filters_and_newest_first(store: CallbackStore) -> None:
    await store.create(callback("cb-a", created=0))
    await store.create(callback("cb-b", queue="care", created=1))
    await store.create(callback("cb-c", state="completed", created=2))
    await store.create(callback("cb-d", state="dialing", created=3))
    await store.create(callback("cb-e", queue="care", state="cancelled", created=4))

    async def ids(**kw: Any) -> list[str]:
        return [cb.id for cb in await store.find(**kw)]

    assert await ids() == ["cb-e", "cb-d", "cb-c", "cb-b", "cb-a"]
    assert await ids(states=ACTIVE) == ["cb-d", "cb-b", "cb-a"]
    assert await ids(states=("completed", "cancelled")) == ["cb-e", "cb-c"]
    assert await ids(queue="care") == ["cb-e", "cb-b"]
    assert await ids(states=ACTIVE, queue="care") == ["cb-b"]
    assert await ids(states=("blocked",)) == []
    assert await ids(queue="nobody") == []
    assert await ids(limit=2) == ["cb-e", "cb-d"]


async def test_attempts_in_the_order_written(store: CallbackStore) -> None:
    await store.create(callback("cb-1"))
    await store.create(callback("cb-2"))
    first = Attempt("cb-1", 1, at(1), at(2), "no_answer", "a1", "cb-x-1", "no answer")
    second = Attempt("cb-1", 1, at(3), at(3), "interrupted", detail="app restarted")
    third = Attempt("cb-1", 2, at(4), at(6), "answered", "a2", "cb-x-2")
    for attempt in (first, second, third):
        await store.add_attempt(attempt)
    await store.add_attempt(Attempt("cb-2", 1, at(1), at(1), "dnc"))
    assert await store.attempts("cb-1") == [first, second, third]
    assert [a.result for a in await store.attempts("cb-2")] == ["dnc"]
    assert await store.attempts("cb-none") == []
    assert third.as_json() == {
        "attempt": 2, "started_at": "2026-11-22T10:04:00+00:00",
        "ended_at": "2026-11-22T10:06:00+00:00", "result": "answered", "agent_id": "a2",
        "channel_id": "cb-x-2", "detail": ""}


async def test_as_json(store: CallbackStore) -> None:
    await store.create(callback("cb-1", not_before=at(60)))
    got = await store.get("cb-1")
    assert got is not None
    out = got.as_json()
    assert (out["id"], out["state"], out["number"], out["attempts"]) == (
        "cb-1", "pending", "01012345678", 0)
    assert out["entered_at"] == "2026-11-22T09:57:00+00:00"
    assert out["not_before"] == "2026-11-22T11:00:00+00:00"
    assert callback("cb-2").as_json()["not_before"] is None


async def test_dnc_numbers_in_one_form(store: CallbackStore) -> None:
    assert await store.dnc_list() == []
    assert not await store.dnc_contains("+821012345678")
    before = dt.datetime.now(dt.UTC)
    assert await store.dnc_add("+82 10-1234-5678", "asked twice") == "+821012345678"
    assert await store.dnc_contains("+821012345678")
    assert await store.dnc_contains(" +82-10-1234-5678")
    assert not await store.dnc_contains("821012345678"), "with + and without are not one number"
    assert not await store.dnc_contains("+821012345679")

    assert await store.dnc_add("0212345678") == "0212345678"
    listed = await store.dnc_list()
    assert [(d["number"], d["reason"]) for d in listed] == [
        ("+821012345678", "asked twice"), ("0212345678", "")]
    added = dt.datetime.fromisoformat(listed[0]["added_at"])
    assert added.tzinfo is not None and before - dt.timedelta(seconds=5) <= added
    assert added <= dt.datetime.now(dt.UTC)


async def test_dnc_add_again_updates_the_reason(store: CallbackStore) -> None:
    await store.dnc_add("+821012345678", "first")
    await store.dnc_add("+82 10 1234 5678", "second")
    assert [(d["number"], d["reason"]) for d in await store.dnc_list()] == [
        ("+821012345678", "second")]


async def test_dnc_remove(store: CallbackStore) -> None:
    await store.dnc_add("+821012345678")
    await store.dnc_add("0212345678")
    assert await store.dnc_remove("+82 (10) 1234-5678") is True
    assert await store.dnc_remove("+821012345678") is False
    assert not await store.dnc_contains("+821012345678")
    assert [d["number"] for d in await store.dnc_list()] == ["0212345678"]


async def test_callbacks_survive_a_restart(db_url: str) -> None:
    async with await connect(db_url) as db:
        await db.migrate()
        store = CallbackStore(db)
        await store.create(callback("cb-1", state="dialing", agent_id="a1", attempts=1))
        await store.add_attempt(Attempt("cb-1", 1, at(1), at(2), "busy"))
        await store.dnc_add("+821012345678", "asked")
    async with await connect(db_url) as again:
        assert await again.migrate() == []
        store = CallbackStore(again)
        assert await store.find(states=ACTIVE) == [
            callback("cb-1", state="dialing", agent_id="a1", attempts=1)]
        assert [a.result for a in await store.attempts("cb-1")] == ["busy"]
        assert await store.dnc_contains("+82 10 1234 5678")


async def test_migration_made_the_tables(db: Database) -> None:
    assert 6 in await db.applied_migrations()
    for table in ("callbacks", "callback_attempts", "callback_dnc"):
        assert await db.fetch_value(f"SELECT COUNT(*) FROM {table}") == 0
