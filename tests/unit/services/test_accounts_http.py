"""The HTTP accounts backend against a real local aiohttp server playing the bank."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ivr.services.accounts import (
    AccountsUnavailable,
    CallerLimiter,
    CircuitBreaker,
    CircuitOpen,
    HttpAccountStore,
    UnknownAccount,
)
from ivr.services.accounts.model import AccountSummary, PinCheck
from ivr.services.db import Database

ACCOUNT = "12345678"
SECRET_PIN = "864209"


class Bank:
    """The bank's REST API, with switchable misbehaviour (`mode`)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.fail_first = 0
        self.delay = 0.0
        self.hits: Counter[str] = Counter()
        self.requests: list[dict[str, Any]] = []
        app = web.Application()
        app.router.add_get("/api/accounts/by-caller/{number}", self.by_caller)
        app.router.add_post("/api/accounts/{no}/verify-pin", self.verify)
        app.router.add_get("/api/accounts/{no}/balance", self.balance)
        app.router.add_get("/api/accounts/{no}/transactions", self.transactions)
        self.server = TestServer(app)

    @property
    def base(self) -> str:
        return str(self.server.make_url("/api"))

    @property
    def total(self) -> int:
        return sum(self.hits.values())

    async def _misbehave(self, name: str) -> web.Response | None:
        self.hits[name] += 1
        if self.fail_first:
            self.fail_first -= 1
            return web.json_response({"error": "busy"}, status=503)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.mode == "500":
            return web.json_response({"error": "boom"}, status=500)
        if self.mode == "garbage":
            return web.Response(text="<html>maintenance</html>", content_type="text/html")
        if self.mode == "binary":
            return web.Response(body=b"\xff\xfe\x00garbage")
        if self.mode == "404html":
            return web.Response(text="<h1>Not Found</h1>", status=404)
        if self.mode == "401":
            return web.json_response({"error": "unauthorized"}, status=401)
        return None

    async def by_caller(self, request: web.Request) -> web.Response:
        if (bad := await self._misbehave("by-caller")) is not None:
            return bad
        if self.mode == "shape":
            return web.json_response({"accounts": [{"account_no": 11112222}]})
        found = [{"account_no": "11112222", "currency": "KRW"}]
        return web.json_response({"accounts": found if
                                  request.match_info["number"] == "01012345678" else []})

    async def verify(self, request: web.Request) -> web.Response:
        self.requests.append({"body": await request.json(), "headers": dict(request.headers)})
        if (bad := await self._misbehave("verify")) is not None:
            return bad
        if self.mode == "shape":
            return web.json_response({"outcome": "maybe"})
        body = await request.json()
        if request.match_info["no"] != ACCOUNT:
            return web.json_response({"error": "unknown_account"}, status=404)
        if body["pin"] == "1234":
            return web.json_response({"outcome": "ok", "attempts_left": 3})
        return web.json_response({"outcome": "wrong_pin", "attempts_left": 2})

    async def balance(self, request: web.Request) -> web.Response:
        if (bad := await self._misbehave("balance")) is not None:
            return bad
        if request.match_info["no"] != ACCOUNT:
            return web.json_response({"error": "unknown_account"}, status=404)
        if self.mode == "shape":
            return web.json_response({"available": "lots", "currency": "USD"})
        return web.Response(text='{"available": 2500.75, "currency": "USD"}',
                            content_type="application/json")

    async def transactions(self, request: web.Request) -> web.Response:
        if (bad := await self._misbehave("transactions")) is not None:
            return bad
        if request.match_info["no"] != ACCOUNT:
            return web.json_response({"error": "unknown_account"}, status=404)
        limit = int(request.query["limit"])
        items = [{"date": "2026-11-19", "amount": "-42.50", "description": "Grocery"},
                 {"date": "2026-11-16", "amount": 1200, "description": "Payroll"},
                 {"date": "2026-11-10", "amount": "-89.99"},
                 {"date": "2026-11-01", "amount": "-1.00"}]
        if self.mode == "shape":
            items = [{"date": "yesterday", "amount": "1"}]
        return web.json_response({"currency": "USD", "transactions": items[:limit]})


@pytest.fixture
async def bank() -> AsyncIterator[Bank]:
    b = Bank()
    await b.server.start_server()
    yield b
    await b.server.close()


def state(breaker: CircuitBreaker) -> str:
    """Read afresh (a plain str, so the type checker does not narrow it across calls)."""
    return breaker.state


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def store(bank: Bank) -> AsyncIterator[HttpAccountStore]:
    s = HttpAccountStore(bank.base, token="t0ken", timeout=0.3, retries=2, backoff=0.01)
    yield s
    await s.close()


async def test_success(bank: Bank, store: HttpAccountStore) -> None:
    assert await store.lookup_by_caller("+82 10-1234-5678") == [
        AccountSummary("11112222", "KRW")]
    assert await store.lookup_by_caller("01000000000") == []
    assert await store.lookup_by_caller("") == []
    assert await store.verify_pin(ACCOUNT, "1234", "010-1234-5678") == PinCheck("ok", 3)
    assert await store.verify_pin(ACCOUNT, "9999", "01012345678") == PinCheck("wrong_pin", 2)
    assert await store.verify_pin("55555555", "1234", "01012345678") == PinCheck(
        "unknown_account")
    sent = bank.requests[0]
    assert sent["body"] == {"pin": "1234", "caller": "01012345678"}
    assert sent["headers"]["Authorization"] == "Bearer t0ken"
    assert len(sent["headers"]["Idempotency-Key"]) == 32
    balance = await store.balance(ACCOUNT)
    assert (balance.available, balance.currency) == (Decimal("2500.75"), "USD")
    items = await store.transactions(ACCOUNT)
    assert [(t.date.isoformat(), t.amount, t.description, t.currency) for t in items] == [
        ("2026-11-19", Decimal("-42.50"), "Grocery", "USD"),
        ("2026-11-16", Decimal("1200.00"), "Payroll", "USD"),
        ("2026-11-10", Decimal("-89.99"), "", "USD"),
    ]
    with pytest.raises(UnknownAccount):
        await store.balance("55555555")
    with pytest.raises(UnknownAccount):
        await store.transactions("55555555")
    with pytest.raises(UnknownAccount):  # never put into a URL
        await store.balance("../admin")
    assert state(store.breaker) == "closed"


async def test_invalid_input_never_reaches_the_bank(bank: Bank, store: HttpAccountStore) -> None:
    assert await store.verify_pin(ACCOUNT, "12", "01012345678") == PinCheck("invalid_input")
    assert await store.verify_pin("1/2/3", "1234", "01012345678") == PinCheck("invalid_input")
    assert bank.total == 0


async def test_timeout_is_retried_then_unavailable(bank: Bank, store: HttpAccountStore) -> None:
    bank.delay = 1.0
    with pytest.raises(AccountsUnavailable, match="after 3 tries") as err:
        await store.verify_pin(ACCOUNT, SECRET_PIN, "01012345678")
    assert bank.hits["verify"] == 3
    keys = {r["headers"]["Idempotency-Key"] for r in bank.requests}
    assert len(keys) == 1  # a retry is the same attempt
    assert SECRET_PIN not in str(err.value)


async def test_a_transient_500_is_retried(bank: Bank, store: HttpAccountStore) -> None:
    bank.fail_first = 2
    assert (await store.balance(ACCOUNT)).available == Decimal("2500.75")
    assert bank.hits["balance"] == 3 and state(store.breaker) == "closed"


async def test_500s_open_the_circuit_then_a_trial_closes_it(bank: Bank) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=30.0, clock=clock)
    store = HttpAccountStore(bank.base, retries=1, backoff=0.0, breaker=breaker)
    try:
        bank.mode = "500"
        for _ in range(2):
            with pytest.raises(AccountsUnavailable, match="HTTP 500"):
                await store.balance(ACCOUNT)
        assert bank.hits["balance"] == 4 and state(breaker) == "open"
        with pytest.raises(CircuitOpen):
            await store.balance(ACCOUNT)
        with pytest.raises(CircuitOpen):
            await store.verify_pin(ACCOUNT, SECRET_PIN, "01012345678")
        assert bank.total == 4  # failing fast: no request at all

        clock.t += 30.0
        assert state(breaker) == "half_open"
        with pytest.raises(AccountsUnavailable):  # the trial fails: open again at once
            await store.balance(ACCOUNT)
        assert bank.hits["balance"] == 6 and state(breaker) == "open"
        with pytest.raises(CircuitOpen):
            await store.balance(ACCOUNT)

        clock.t += 30.0
        bank.mode = "ok"
        assert (await store.balance(ACCOUNT)).currency == "USD"
        assert state(breaker) == "closed" and breaker.failures == 0
    finally:
        await store.close()


def test_half_open_lets_one_trial_through() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=5.0, clock=clock)
    breaker.failure()
    assert state(breaker) == "open"
    clock.t += 5.0
    breaker.acquire()  # the trial
    with pytest.raises(CircuitOpen):
        breaker.acquire()
    breaker.release()  # the trial was cancelled: the next caller may try
    breaker.acquire()
    breaker.success()
    assert state(breaker) == "closed"
    breaker.acquire()


@pytest.mark.parametrize("mode", ["garbage", "binary", "shape", "404html"])
async def test_garbage_is_a_failure_not_retried(bank: Bank, mode: str) -> None:
    breaker = CircuitBreaker(failure_threshold=3)
    store = HttpAccountStore(bank.base, retries=2, backoff=0.0, breaker=breaker)
    bank.mode = mode
    try:
        calls = [store.lookup_by_caller("01012345678"), store.balance(ACCOUNT),
                 store.verify_pin(ACCOUNT, SECRET_PIN, "01012345678")]
        for call in calls:
            with pytest.raises(AccountsUnavailable) as err:
                await call
            assert SECRET_PIN not in str(err.value)
        assert bank.total == 3
        assert state(breaker) == "open"
    finally:
        await store.close()


async def test_bad_transaction_rows_are_garbage(bank: Bank, store: HttpAccountStore) -> None:
    bank.mode = "shape"
    with pytest.raises(AccountsUnavailable, match="date"):
        await store.transactions(ACCOUNT)


async def test_client_errors_are_not_retried(bank: Bank, store: HttpAccountStore) -> None:
    bank.mode = "401"
    with pytest.raises(AccountsUnavailable, match="HTTP 401"):
        await store.balance(ACCOUNT)
    assert bank.total == 1


async def test_connection_refused(store: HttpAccountStore) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = HttpAccountStore(f"http://127.0.0.1:{port}/api", retries=1, backoff=0.0)
    try:
        with pytest.raises(AccountsUnavailable, match="after 2 tries"):
            await down.verify_pin(ACCOUNT, SECRET_PIN, "01012345678")
    finally:
        await down.close()


async def test_rate_limited_locally(bank: Bank, db: Database) -> None:
    store = HttpAccountStore(bank.base, limiter=CallerLimiter(db), backoff=0.0)
    try:
        for _ in range(5):
            assert (await store.verify_pin(ACCOUNT, "9999", "01066667777")).outcome == "wrong_pin"
        assert await store.verify_pin(ACCOUNT, "1234", "01066667777") == PinCheck(
            "rate_limited")
        assert bank.hits["verify"] == 5
        bank.mode = "500"  # the bank being down does not count against the caller
        with pytest.raises(AccountsUnavailable):
            await store.verify_pin(ACCOUNT, "1234", "01011112222")
        rows = await db.fetch_all("SELECT outcome FROM auth_attempts WHERE caller = ?",
                                  "01011112222")
        assert [r["outcome"] for r in rows] == ["error"]
    finally:
        await store.close()

