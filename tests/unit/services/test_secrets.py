"""A PIN never appears in a log record or an exception (message, chain, traceback text),
whatever goes wrong: every failure path of both backends and of the actions."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ivr.flow.actions import ActionError, CallInfo
from ivr.services.accounts import (
    CallerLimiter,
    CircuitBreaker,
    HttpAccountStore,
    SqlAccountStore,
    account_actions,
    seed_demo,
)
from ivr.services.accounts.model import AccountSummary, Balance, PinCheck, Transaction
from ivr.services.accounts.ratelimit import RateLimit
from ivr.services.db import Database

SECRET_PIN = "864209"
ACCOUNT = "12345678"


def texts(caplog: pytest.LogCaptureFixture, errors: list[BaseException]) -> list[str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    out = [formatter.format(r) for r in caplog.records]
    out += [repr(r.args) for r in caplog.records]
    for exc in errors:
        out.append("".join(traceback.format_exception(exc)))
        seen: BaseException | None = exc
        while seen is not None:  # the whole chain, even a context hidden by `from None`
            out += [str(seen), repr(seen), repr(seen.args), repr(getattr(seen, "__dict__", {}))]
            seen = seen.__cause__ or seen.__context__
    return out


async def collect(calls: list[Callable[[], Awaitable[Any]]]) -> list[BaseException]:
    errors: list[BaseException] = []
    for call in calls:
        try:
            await call()
        except Exception as exc:
            errors.append(exc)
    return errors


async def test_sql_backend_failure_paths(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await seed_demo(db)
    store = SqlAccountStore(db, rate_limit=RateLimit(max_failures=4))
    caller = "01012340000"
    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: store.verify_pin(ACCOUNT, SECRET_PIN, caller),  # wrong
        lambda: store.verify_pin(ACCOUNT, SECRET_PIN, caller),  # wrong
        lambda: store.verify_pin(ACCOUNT, SECRET_PIN, caller),  # locks
        lambda: store.verify_pin("55555555", SECRET_PIN, caller),  # unknown
        lambda: store.verify_pin(ACCOUNT, SECRET_PIN, caller),  # rate limited
        lambda: store.verify_pin(ACCOUNT, SECRET_PIN + "1", "01000000001"),  # invalid
    ]
    errors = await collect(calls)
    await db.execute("UPDATE accounts SET pin_hash = ? WHERE account_no = ?",
                     "scrypt$broken", "87654321")
    errors += await collect([lambda: store.verify_pin("87654321", SECRET_PIN, "01000000002")])
    assert len(errors) == 1  # the unusable stored hash
    assert [r.levelname for r in caplog.records if "locked" in r.getMessage()] == ["WARNING"]
    assert not [t for t in texts(caplog, errors) if SECRET_PIN in t]


class DownBank:
    def __init__(self) -> None:
        self.mode = "500"
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.server = TestServer(app)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.text()
        if self.mode == "echo-500":  # a bank that echoes the request into its error page
            return web.Response(text=f"error processing {body}", status=500)
        if self.mode == "echo-garbage":
            return web.Response(text=f"<pre>{body}</pre>")
        if self.mode == "echo-shape":
            return web.json_response({"outcome": body})
        if self.mode == "echo-400":
            return web.Response(text=body, status=400)
        if self.mode == "slow":
            import asyncio
            await asyncio.sleep(1)
        return web.json_response({"error": body}, status=500)


@pytest.fixture
async def down_bank() -> AsyncIterator[DownBank]:
    bank = DownBank()
    await bank.server.start_server()
    yield bank
    await bank.server.close()


async def test_http_backend_failure_paths(down_bank: DownBank, db: Database,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    base = str(down_bank.server.make_url("/api"))
    store = HttpAccountStore(base, timeout=0.2, retries=1, backoff=0.0,
                             breaker=CircuitBreaker(failure_threshold=100),
                             limiter=CallerLimiter(db, RateLimit(max_failures=100)))
    errors: list[BaseException] = []
    try:
        for mode in ("echo-500", "echo-garbage", "echo-shape", "echo-400", "slow"):
            down_bank.mode = mode
            errors += await collect([lambda: store.verify_pin(ACCOUNT, SECRET_PIN, "010")])
        store.breaker = CircuitBreaker(failure_threshold=1)
        down_bank.mode = "echo-500"
        errors += await collect([lambda: store.verify_pin(ACCOUNT, SECRET_PIN, "010")] * 2)
        await down_bank.server.close()  # connection refused
        store.breaker = CircuitBreaker()
        errors += await collect([lambda: store.verify_pin(ACCOUNT, SECRET_PIN, "010")])
    finally:
        await store.close()
    assert len(errors) == 8
    assert caplog.records
    assert not [t for t in texts(caplog, errors) if SECRET_PIN in t]


class LeakyStore:
    """A backend whose own errors quote the PIN: the actions must not pass that on."""

    async def lookup_by_caller(self, number: str) -> list[AccountSummary]:
        return []

    async def verify_pin(self, account_no: str, pin: str, caller: str) -> PinCheck:
        raise RuntimeError(f"driver error near {pin!r}")

    async def balance(self, account_no: str) -> Balance:
        raise RuntimeError("no")

    async def transactions(self, account_no: str, limit: int = 3) -> list[Transaction]:
        raise RuntimeError("no")

    async def close(self) -> None:
        pass


async def test_actions_never_pass_a_pin_on(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    verify = account_actions(LeakyStore())["accounts.verify_pin"]
    call = CallInfo("c1", "01012345678", "ko")
    with pytest.raises(ActionError) as err:
        await verify({"account": ACCOUNT, "pin": SECRET_PIN}, call)
    assert err.value.__cause__ is None and err.value.__context__ is None
    assert "RuntimeError" in str(err.value)
    assert not [t for t in texts(caplog, [err.value]) if SECRET_PIN in t]
