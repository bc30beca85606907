"""The database layer on SQLite and a real PostgreSQL: migrations, types, transactions."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.services.db import (
    Database,
    DatabaseError,
    connect,
    redact_url,
    to_pg_placeholders,
)
from ivr.services.migrations import migrations


async def test_migrate_is_idempotent_and_recorded(db_url: str) -> None:
    async with await connect(db_url) as db:
        assert await db.migrate() == ["0001_accounts", "0002_call_records", "0003_acd",
                                      "0004_voicemail", "0005_voicemail_mailboxes",
                                      "0006_callbacks", "0007_users", "0008_wrapups",
                                      "0009_intervals", "0010_record_queues",
                                      "0011_outbound", "0012_outbound_runs",
                                      "0013_outbound_indexes"]
        assert await db.migrate() == []
        assert await db.applied_migrations() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    async with await connect(db_url) as again:  # a restart finds them applied
        assert await again.migrate() == []
        rows = await again.fetch_all("SELECT version, name FROM schema_migrations ORDER BY 1")
        assert [(r["version"], r["name"]) for r in rows] == [
            (1, "accounts"), (2, "call_records"), (3, "acd"), (4, "voicemail"),
            (5, "voicemail_mailboxes"), (6, "callbacks"), (7, "users"), (8, "wrapups"),
            (9, "intervals"), (10, "record_queues"), (11, "outbound"),
            (12, "outbound_runs"), (13, "outbound_indexes")]


def test_both_dialects_have_the_same_migrations() -> None:
    sqlite = [(m.version, m.name) for m in migrations("sqlite")]
    postgres = [(m.version, m.name) for m in migrations("postgresql")]
    assert sqlite == postgres
    assert [v for v, _ in sqlite] == list(range(1, len(sqlite) + 1))


async def test_concurrent_migrations_apply_once(db_url: str) -> None:
    dbs = [await connect(db_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(d.migrate() for d in dbs))
        count = len(migrations("sqlite"))
        assert sum(map(len, results)) == count
        assert await dbs[0].applied_migrations() == list(range(1, count + 1))
    finally:
        for d in dbs:
            await d.close()


def test_placeholders_skip_quoted_text() -> None:
    sql = "SELECT '?', ? FROM \"we?ird\" WHERE a = ? AND b = 'it''s ?'"
    assert to_pg_placeholders(sql) == (
        "SELECT '?', $1 FROM \"we?ird\" WHERE a = $2 AND b = 'it''s ?'"
    )


async def test_types_round_trip(db: Database) -> None:
    seoul = dt.datetime(2026, 11, 22, 9, 30, 15, 123456, tzinfo=ZoneInfo("Asia/Seoul"))
    await db.execute(
        "INSERT INTO accounts (account_no, currency, balance_minor, pin_hash, locked, locked_at,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        "123456", "KRW", 10**15, "x", True, seoul, seoul,
    )
    row = await db.fetch_one("SELECT * FROM accounts WHERE account_no = ?", "123456")
    assert row is not None
    assert row["locked"] is True and row["failed_attempts"] == 0
    assert row["balance_minor"] == 10**15
    assert row["locked_at"] == seoul and row["locked_at"].utcoffset() == dt.timedelta(0)
    await db.execute("INSERT INTO account_transactions (account_no, booked_on, amount_minor)"
                     " VALUES (?, ?, ?)", "123456", dt.date(2026, 2, 28), -5)
    assert await db.fetch_value("SELECT booked_on FROM account_transactions") == dt.date(
        2026, 2, 28)
    assert await db.fetch_value("SELECT COUNT(*) FROM accounts WHERE NOT locked") == 0


async def test_rowcount_and_returning(db: Database) -> None:
    now = dt.datetime.now(dt.UTC)
    for n in ("111111", "222222"):
        await db.execute("INSERT INTO accounts (account_no, currency, pin_hash, created_at)"
                         " VALUES (?, 'USD', 'x', ?)", n, now)
    assert await db.execute("UPDATE accounts SET holder = ?", "h") == 2
    row = await db.fetch_one("UPDATE accounts SET failed_attempts = failed_attempts + 1"
                             " WHERE account_no = ? RETURNING failed_attempts", "111111")
    assert row == {"failed_attempts": 1}
    assert await db.fetch_one("SELECT * FROM accounts WHERE account_no = ?", "0") is None


async def test_transaction_rolls_back_and_nested_calls_join(db: Database) -> None:
    now = dt.datetime.now(dt.UTC)
    insert = "INSERT INTO accounts (account_no, currency, pin_hash, created_at) VALUES (?, ?, ?, ?)"
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await tx.execute(insert, "333333", "KRW", "x", now)
            await db.execute(insert, "444444", "KRW", "x", now)  # joins the transaction
            async with db.transaction() as inner:
                assert inner is tx
            raise RuntimeError("undo")
    assert await db.fetch_value("SELECT COUNT(*) FROM accounts") == 0
    async with db.transaction() as tx:
        await tx.execute(insert, "333333", "KRW", "x", now)
    assert await db.fetch_value("SELECT COUNT(*) FROM accounts") == 1


async def test_concurrent_statements_and_transactions(db: Database) -> None:
    now = dt.datetime.now(dt.UTC)

    async def add(i: int) -> None:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO accounts (account_no, currency, pin_hash, created_at)"
                             " VALUES (?, 'KRW', 'x', ?)", f"{100000 + i}", now)
            await asyncio.sleep(0)
            await tx.execute("UPDATE accounts SET holder = ? WHERE account_no = ?",
                             f"h{i}", f"{100000 + i}")

    await asyncio.gather(*(add(i) for i in range(20)),
                         *(db.fetch_all("SELECT * FROM accounts") for _ in range(20)))
    assert await db.fetch_value("SELECT COUNT(*) FROM accounts WHERE holder <> ''") == 20


async def test_sqlite_runs_off_the_event_loop(tmp_path: Path) -> None:
    async with await connect(f"sqlite://{tmp_path / 'x.db'}") as db:
        seen: list[str] = []
        db_any: object = db
        run = db_any._run  # type: ignore[attr-defined]
        await run(lambda: seen.append(threading.current_thread().name))
        assert seen[0].startswith("ivr-sqlite") and seen[0] != threading.main_thread().name
        mode = await db.fetch_value("PRAGMA journal_mode")
        assert mode == "wal"


async def test_sqlite_urls(tmp_path: Path) -> None:
    async with await connect("sqlite:///:memory:") as db:
        assert len(await db.migrate()) == len(migrations("sqlite"))
    async with await connect(f"sqlite:///{tmp_path}/new/dir/x.db") as db:  # four slashes
        assert db.url == f"sqlite://{tmp_path}/new/dir/x.db"
        assert len(await db.migrate()) == len(migrations("sqlite"))
    assert (tmp_path / "new" / "dir" / "x.db").exists()


async def test_connect_errors_never_show_the_password(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError) as err:
        await connect("postgresql://ivr:s3cretpass@127.0.0.1:1/ivr")
    assert "s3cretpass" not in str(err.value) and "***" in str(err.value)
    assert err.value.__cause__ is None
    with pytest.raises(DatabaseError, match="absolute path"):
        await connect("sqlite://relative.db")
    with pytest.raises(DatabaseError, match="unsupported"):
        await connect("mysql://u:p@h/db")
    assert redact_url("postgresql://u:pw@h:5432/d?x=1") == "postgresql://u:***@h:5432/d?x=1"
    assert redact_url("sqlite:///a/b.db") == "sqlite:///a/b.db"


async def test_naive_timestamps_are_refused(tmp_path: Path) -> None:
    async with await connect(f"sqlite://{tmp_path / 'x.db'}") as db:
        await db.migrate()
        with pytest.raises(ValueError, match="timezone-aware"):
            await db.execute("INSERT INTO accounts (account_no, currency, pin_hash, created_at)"
                             " VALUES ('123456', 'KRW', 'x', ?)", dt.datetime(2026, 1, 1))


async def test_execute_many_counts_the_rows_it_changed(db_url: str) -> None:
    async with await connect(db_url) as db:
        await db.migrate()
        sql = ("INSERT INTO outbound_dnc (campaign, number, reason, added_at) VALUES (?, ?, ?, ?)"
               " ON CONFLICT (campaign, number) DO NOTHING")
        now = dt.datetime.now(dt.UTC)
        async with db.transaction() as tx:
            assert await tx.execute_many(sql, [("c", "1001", "", now), ("c", "1002", "", now)]) == 2
        assert await db.execute_many(sql, [("c", "1002", "", now), ("c", "1003", "", now)]) == 1
        assert await db.fetch_value("SELECT COUNT(*) FROM outbound_dnc") == 3
