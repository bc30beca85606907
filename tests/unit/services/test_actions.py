"""The accounts.* actions on the SQL store (both databases): outcomes and result values."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ivr.flow.actions import Action, ActionError, CallInfo
from ivr.services.accounts import (
    ACCOUNT_ACTION_SPECS,
    AccountsUnavailable,
    SqlAccountStore,
    account_actions,
    seed_demo,
)
from ivr.services.accounts.model import PIN_OUTCOMES
from ivr.services.db import Database

CALL = CallInfo("call-1", "01012345678", "ko")
OTHER_CALL = CallInfo("call-2", "01012345678", "ko")


@pytest.fixture
async def actions(db: Database) -> dict[str, Action]:
    await seed_demo(db)
    store = SqlAccountStore(db)
    await store.create_account("55556666", "5678", currency="KRW", balance=Decimal(0))
    return account_actions(store)


def test_specs_need_no_backend() -> None:
    assert set(ACCOUNT_ACTION_SPECS) == {"accounts.lookup_caller", "accounts.verify_pin",
                                         "accounts.balance", "accounts.transactions"}
    verify = ACCOUNT_ACTION_SPECS["accounts.verify_pin"]
    assert verify.args == ("account", "pin") and verify.secure_args == ("pin",)
    assert set(verify.outcomes) == set(PIN_OUTCOMES) == {
        "ok", "wrong_pin", "locked", "unknown_account", "rate_limited", "invalid_input"}
    assert verify.results == ("attempts_left",)
    lookup = ACCOUNT_ACTION_SPECS["accounts.lookup_caller"]
    assert lookup.outcomes == ("found", "not_found") and {"account", "last4"} <= set(
        lookup.results)
    assert ACCOUNT_ACTION_SPECS["accounts.balance"].results == ("balance", "currency")
    tx = ACCOUNT_ACTION_SPECS["accounts.transactions"]
    assert tx.outcomes == ("ok", "none")
    assert "tx3_currency" in tx.results and "count" in tx.results and len(tx.results) == 13
    for name, spec in ACCOUNT_ACTION_SPECS.items():
        assert spec.name == name and spec.description


async def test_actions_carry_their_specs(actions: dict[str, Action]) -> None:
    assert {n: a.spec for n, a in actions.items()} == ACCOUNT_ACTION_SPECS


async def test_lookup_caller(actions: dict[str, Action]) -> None:
    lookup = actions["accounts.lookup_caller"]
    found = await lookup({"caller": "01012345678"}, CALL)
    assert found.outcome == "found"
    assert dict(found.values) == {"account": "11112222", "last4": "2222", "count": 1}
    assert (await lookup({"caller": None}, CALL)).outcome == "found"  # falls back to the call
    missing = await lookup({"caller": "0212345678"}, CALL)
    assert missing.outcome == "not_found" and missing.values["account"] is None


async def test_verify_pin_outcomes(actions: dict[str, Action]) -> None:
    verify = actions["accounts.verify_pin"]

    async def outcome(account: object, pin: object, call: CallInfo = CALL) -> tuple[str, object]:
        result = await verify({"account": account, "pin": pin}, call)  # type: ignore[dict-item]
        return result.outcome, result.values["attempts_left"]

    assert await outcome("12345678", "1234") == ("ok", 3)
    assert await outcome(12345678, "0000") == ("wrong_pin", 2)
    assert await outcome("12345678", 1234) == ("ok", 3)  # digits as a number still count
    assert await outcome("12345678", None) == ("invalid_input", None)
    assert await outcome("12345678", True) == ("invalid_input", None)
    assert await outcome("12345678", "12ab") == ("invalid_input", None)
    assert await outcome("77777777", "1234") == ("unknown_account", None)
    assert await outcome("99990000", "9999") == ("locked", 0)
    for pin in ("0001", "0002"):
        await verify({"account": "87654321", "pin": pin}, OTHER_CALL)
    assert await outcome("87654321", "0003", OTHER_CALL) == ("rate_limited", None)


async def test_balance_only_after_verification(actions: dict[str, Action]) -> None:
    balance, verify = actions["accounts.balance"], actions["accounts.verify_pin"]
    with pytest.raises(ActionError, match="not verified"):
        await balance({"account": "12345678"}, CALL)
    await verify({"account": "12345678", "pin": "0000"}, CALL)
    with pytest.raises(ActionError):
        await balance({"account": "12345678"}, CALL)
    await verify({"account": "12345678", "pin": "1234"}, CALL)
    result = await balance({"account": "12345678"}, CALL)
    assert (result.outcome, dict(result.values)) == (
        "ok", {"balance": "1234500", "currency": "KRW"})
    with pytest.raises(ActionError):  # another call is another caller
        await balance({"account": "12345678"}, OTHER_CALL)
    await verify({"account": "87654321", "pin": "4321"}, CALL)
    usd = await balance({"account": "87654321"}, CALL)
    assert dict(usd.values) == {"balance": "2500.75", "currency": "USD"}


async def test_transactions(actions: dict[str, Action]) -> None:
    verify, txs = actions["accounts.verify_pin"], actions["accounts.transactions"]
    await verify({"account": "87654321", "pin": "4321"}, CALL)
    result = await txs({"account": "87654321"}, CALL)
    assert result.outcome == "ok"
    assert dict(result.values) == {
        "count": 3,
        "tx1_date": "2026-11-19", "tx1_amount": "42.50", "tx1_kind": "withdrawal",
        "tx1_currency": "USD",
        "tx2_date": "2026-11-16", "tx2_amount": "1200.00", "tx2_kind": "deposit",
        "tx2_currency": "USD",
        "tx3_date": "2026-11-10", "tx3_amount": "89.99", "tx3_kind": "withdrawal",
        "tx3_currency": "USD",
    }
    await verify({"account": "55556666", "pin": "5678"}, CALL)
    empty = await txs({"account": "55556666"}, CALL)
    assert empty.outcome == "none" and empty.values["count"] == 0
    assert empty.values["tx1_date"] is None


async def test_unknown_account_without_the_guard(db: Database) -> None:
    actions = account_actions(SqlAccountStore(db), require_verified=False)
    result = await actions["accounts.balance"]({"account": "77777777"}, CALL)
    assert result.outcome == "unknown_account"
    result = await actions["accounts.transactions"]({"account": "77777777"}, CALL)
    assert result.outcome == "none"


async def test_backend_failure_is_an_action_error(db: Database) -> None:
    actions = account_actions(SqlAccountStore(db), require_verified=False)
    await db.close()  # the database goes away under the store
    with pytest.raises(AccountsUnavailable, match=r"accounts\.balance: backend error"):
        await actions["accounts.balance"]({"account": "12345678"}, CALL)
    assert issubclass(AccountsUnavailable, ActionError)


async def test_verification_is_forgotten_after_a_while(db: Database) -> None:
    await seed_demo(db)
    now = [0.0]
    actions = account_actions(SqlAccountStore(db), verified_for=3600.0, clock=lambda: now[0])
    verify, balance = actions["accounts.verify_pin"], actions["accounts.balance"]
    await verify({"account": "12345678", "pin": "1234"}, CALL)
    now[0] = 3599.0
    assert (await balance({"account": "12345678"}, CALL)).outcome == "ok"
    now[0] = 3601.0
    with pytest.raises(ActionError):
        await balance({"account": "12345678"}, CALL)
