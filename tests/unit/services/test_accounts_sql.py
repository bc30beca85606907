"""The SQL account store on SQLite and PostgreSQL: PINs, lockout, rate limit, balances."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import pytest

from ivr.services.accounts import SqlAccountStore, UnknownAccount, pins, seed_demo
from ivr.services.accounts.demo import DEMO_ACCOUNTS
from ivr.services.accounts.model import AccountSummary, PinCheck
from ivr.services.accounts.ratelimit import RateLimit
from ivr.services.db import Database, connect

from .clock import Clock

KRW_ACCOUNT, KRW_PIN = "12345678", "1234"
USD_ACCOUNT, USD_PIN = "87654321", "4321"
OWNED_ACCOUNT = "11112222"
LOCKED_ACCOUNT = "99990000"
CALLER = "01055550000"


@pytest.fixture
async def store(db: Database, clock: Clock) -> SqlAccountStore:
    await seed_demo(db)
    return SqlAccountStore(db, clock=clock)


async def test_seed_demo_is_idempotent_and_resettable(db: Database) -> None:
    assert await seed_demo(db) == [a.account_no for a in DEMO_ACCOUNTS]
    assert await seed_demo(db) == []
    store = SqlAccountStore(db)
    assert (await store.verify_pin(KRW_ACCOUNT, "0000", CALLER)).outcome == "wrong_pin"
    assert await seed_demo(db) == []
    assert (await store.status(KRW_ACCOUNT) or {})["failed_attempts"] == 1  # left alone
    assert await seed_demo(db, reset=True) == [a.account_no for a in DEMO_ACCOUNTS]
    assert (await store.status(KRW_ACCOUNT) or {})["failed_attempts"] == 0
    assert len(await store.transactions(KRW_ACCOUNT, limit=10)) == 3


async def test_correct_pin(store: SqlAccountStore) -> None:
    assert await store.verify_pin(KRW_ACCOUNT, KRW_PIN, CALLER) == PinCheck("ok", 3)
    assert await store.verify_pin(USD_ACCOUNT, USD_PIN, CALLER) == PinCheck("ok", 3)


async def test_third_wrong_pin_locks_and_the_lock_survives_a_restart(
        store: SqlAccountStore, db_url: str, clock: Clock) -> None:
    assert await store.verify_pin(KRW_ACCOUNT, "0000", CALLER) == PinCheck("wrong_pin", 2)
    assert await store.verify_pin(KRW_ACCOUNT, "1111", CALLER) == PinCheck("wrong_pin", 1)
    assert await store.verify_pin(KRW_ACCOUNT, "2222", CALLER) == PinCheck("locked", 0)
    assert await store.verify_pin(KRW_ACCOUNT, KRW_PIN, CALLER) == PinCheck("locked", 0)
    status = await store.status(KRW_ACCOUNT)
    assert status is not None and status["locked"] is True and status["failed_attempts"] == 3
    assert status["locked_at"] == clock.now

    async with await connect(db_url) as restarted:  # a new process, same database
        again = SqlAccountStore(restarted, rate_limit=None)
        assert await again.verify_pin(KRW_ACCOUNT, KRW_PIN, "01099998888") == PinCheck("locked", 0)
        assert await again.unlock(KRW_ACCOUNT)
        assert await again.verify_pin(KRW_ACCOUNT, KRW_PIN, "01099998888") == PinCheck("ok", 3)
    assert not await store.unlock("00000000")


async def test_wrong_pins_persist_across_a_restart(store: SqlAccountStore, db_url: str) -> None:
    await store.verify_pin(USD_ACCOUNT, "0000", CALLER)
    await store.verify_pin(USD_ACCOUNT, "0001", CALLER)
    async with await connect(db_url) as restarted:
        again = SqlAccountStore(restarted, rate_limit=None)
        assert await again.verify_pin(USD_ACCOUNT, "0002", CALLER) == PinCheck("locked", 0)


async def test_success_resets_the_count(store: SqlAccountStore) -> None:
    assert (await store.verify_pin(KRW_ACCOUNT, "0000", CALLER)).attempts_left == 2
    assert (await store.verify_pin(KRW_ACCOUNT, "0001", CALLER)).attempts_left == 1
    assert (await store.verify_pin(KRW_ACCOUNT, KRW_PIN, CALLER)).outcome == "ok"
    assert await store.verify_pin(KRW_ACCOUNT, "0002", CALLER) == PinCheck("wrong_pin", 2)


INVALID = [
    ("12345", KRW_PIN), ("1234567890123", KRW_PIN), ("1234567a", KRW_PIN), ("", KRW_PIN),
    (KRW_ACCOUNT, "123"), (KRW_ACCOUNT, "1234567"), (KRW_ACCOUNT, "12*4"), (KRW_ACCOUNT, ""),
    (KRW_ACCOUNT, "\uff11\uff12\uff13\uff14"), (" 12345678", KRW_PIN), (KRW_ACCOUNT, "1234\n"),
]


async def test_invalid_input_is_not_counted(store: SqlAccountStore, db: Database) -> None:
    for account, pin in INVALID:
        assert await store.verify_pin(account, pin, CALLER) == PinCheck("invalid_input")
    assert (await store.status(KRW_ACCOUNT) or {})["failed_attempts"] == 0
    assert await db.fetch_value("SELECT COUNT(*) FROM auth_attempts") == 0
    assert (await store.verify_pin(KRW_ACCOUNT, KRW_PIN, CALLER)).outcome == "ok"


async def test_unknown_account_costs_a_hash(store: SqlAccountStore,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    real = pins.check_pin

    def spy(pin: str, stored: str) -> bool:
        checked.append(stored)
        return real(pin, stored)

    monkeypatch.setattr(pins, "check_pin", spy)
    assert await store.verify_pin("55555555", "1234", CALLER) == PinCheck("unknown_account")
    assert await store.verify_pin(LOCKED_ACCOUNT, "9999", CALLER) == PinCheck("locked", 0)
    assert checked == [pins.dummy_hash(), pins.dummy_hash()]


async def test_demo_locked_account(store: SqlAccountStore) -> None:
    assert await store.verify_pin(LOCKED_ACCOUNT, "9999", CALLER) == PinCheck("locked", 0)
    await store.unlock(LOCKED_ACCOUNT)
    assert await store.verify_pin(LOCKED_ACCOUNT, "9999", CALLER) == PinCheck("ok", 3)


async def test_rate_limit_by_caller_across_accounts_persists(
        store: SqlAccountStore, db_url: str, clock: Clock) -> None:
    attacker = "+82 10-7777-6666"
    guesses = [(KRW_ACCOUNT, "0000"), (USD_ACCOUNT, "0000"), ("55555555", "0000"),
               (OWNED_ACCOUNT, "0000"), (LOCKED_ACCOUNT, "0000")]
    outcomes = [(await store.verify_pin(a, p, attacker)).outcome for a, p in guesses]
    assert outcomes == ["wrong_pin", "wrong_pin", "unknown_account", "wrong_pin", "locked"]
    # the 6th try is refused even with the right PIN, and costs the account nothing
    assert await store.verify_pin(KRW_ACCOUNT, KRW_PIN, "01077776666") == PinCheck(
        "rate_limited")
    assert (await store.status(KRW_ACCOUNT) or {})["failed_attempts"] == 1
    # another caller is not affected
    assert (await store.verify_pin(USD_ACCOUNT, USD_PIN, CALLER)).outcome == "ok"

    clock.advance(minutes=10)
    async with await connect(db_url) as restarted:
        again = SqlAccountStore(restarted, clock=clock)
        assert (await again.verify_pin(KRW_ACCOUNT, KRW_PIN, attacker)).outcome == "rate_limited"
        clock.advance(minutes=5, seconds=1)  # the first failures leave the 15-minute window
        assert (await again.verify_pin(KRW_ACCOUNT, KRW_PIN, attacker)).outcome == "ok"


async def test_anonymous_callers_share_one_limit(db: Database, clock: Clock) -> None:
    await seed_demo(db)
    store = SqlAccountStore(db, clock=clock, rate_limit=RateLimit(max_failures=2))
    for caller in ("", "anonymous"):
        assert (await store.verify_pin("55555555", "0000", caller)).outcome == "unknown_account"
    assert (await store.verify_pin(KRW_ACCOUNT, KRW_PIN, "")).outcome == "rate_limited"


async def test_concurrent_guesses_cannot_beat_the_limits(db: Database, clock: Clock) -> None:
    await seed_demo(db)
    store = SqlAccountStore(db, clock=clock)
    results = await asyncio.gather(*(store.verify_pin(KRW_ACCOUNT, f"{i:04d}", "0107")
                                     for i in range(2000, 2009)))
    outcomes = sorted(r.outcome for r in results)
    assert outcomes.count("rate_limited") == 4  # 9 tries, 5 allowed per caller
    assert outcomes.count("wrong_pin") == 2 and outcomes.count("locked") == 3
    assert (await store.status(KRW_ACCOUNT) or {})["failed_attempts"] == 3


async def test_balance(store: SqlAccountStore) -> None:
    krw = await store.balance(KRW_ACCOUNT)
    assert (krw.available, krw.currency) == (Decimal("1234500"), "KRW")
    usd = await store.balance(USD_ACCOUNT)
    assert (usd.available, usd.currency) == (Decimal("2500.75"), "USD")
    with pytest.raises(UnknownAccount):
        await store.balance("55555555")


async def test_transactions_most_recent_first(store: SqlAccountStore) -> None:
    items = await store.transactions(USD_ACCOUNT)
    assert [(t.date.isoformat(), t.amount, t.kind, t.currency) for t in items] == [
        ("2026-11-19", Decimal("-42.50"), "withdrawal", "USD"),
        ("2026-11-16", Decimal("1200.00"), "deposit", "USD"),
        ("2026-11-10", Decimal("-89.99"), "withdrawal", "USD"),
    ]
    assert len(await store.transactions(USD_ACCOUNT, limit=1)) == 1
    await store.add_transaction(USD_ACCOUNT, dt.date(2026, 11, 22), Decimal("10.25"), "refund")
    latest = (await store.transactions(USD_ACCOUNT))[0]
    assert (latest.amount, latest.description) == (Decimal("10.25"), "refund")
    assert (await store.balance(USD_ACCOUNT)).available == Decimal("2511.00")
    with pytest.raises(UnknownAccount):
        await store.transactions("55555555")
    with pytest.raises(ValueError, match="decimals"):
        await store.add_transaction(KRW_ACCOUNT, dt.date(2026, 11, 22), Decimal("1.5"))


async def test_lookup_by_caller(store: SqlAccountStore) -> None:
    owned = [AccountSummary(OWNED_ACCOUNT, "KRW")]
    assert await store.lookup_by_caller("01012345678") == owned
    assert await store.lookup_by_caller("+82 10-1234-5678") == owned
    assert await store.lookup_by_caller("0082 10 1234 5678") == owned
    assert owned[0].last4 == "2222"
    assert await store.lookup_by_caller("01099990000") == []
    assert await store.lookup_by_caller("") == []
    assert await store.lookup_by_caller("anonymous") == []


async def test_create_account_validates(db: Database) -> None:
    store = SqlAccountStore(db)
    with pytest.raises(ValueError):
        await store.create_account("123", "1234", currency="KRW", balance=Decimal(0))
    with pytest.raises(ValueError):
        await store.create_account("123456", "1234", currency="EUR", balance=Decimal(0))
    await store.create_account("123456", "1234", currency="USD", balance=Decimal("1.5"),
                               phones=["+82 10 1111 2222", "010-1111-2222"[:0]])
    assert await store.lookup_by_caller("01011112222") == [AccountSummary("123456", "USD")]
    assert (await store.balance("123456")).available == Decimal("1.50")
    pin_hash = await db.fetch_value("SELECT pin_hash FROM accounts WHERE account_no = '123456'")
    assert pin_hash.startswith("scrypt$16384$8$1$") and "1234" not in pin_hash
