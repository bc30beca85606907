"""The accounts store on the bank's own REST endpoint (contract: docs/accounts.md).

A caller is waiting on the line, so every request has a short timeout, transient failures
(timeouts, connection errors, 5xx) are retried a couple of times with a growing pause, and a
circuit breaker stops hammering a bank that is down: after N calls in a row have failed it
fails fast (no request at all) for a cool-down, then lets one trial call through; its success
closes the circuit, its failure opens it again. A failed call raises AccountsUnavailable, an
ActionError, so the flow takes its fallback (typically: sorry, here is an agent).

An answer that is not JSON or not the agreed shape counts as a failure (not retried: asking
again would get the same garbage). Error messages and log lines name the operation and the
kind of failure, never the request body (the PIN) nor the response body.

PIN verification carries an Idempotency-Key that stays the same across retries, so a retry
after a timeout cannot count one wrong PIN twice at a bank that honours it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal, TypeVar

import aiohttp

from .model import (
    CURRENCIES,
    PIN_OUTCOMES,
    AccountSummary,
    AccountsUnavailable,
    Balance,
    PinCheck,
    Transaction,
    UnknownAccount,
    normalize_caller,
    parse_amount,
    valid_account,
)
from .ratelimit import CallerLimiter, guarded_verify

log = logging.getLogger(__name__)
T = TypeVar("T")
State = Literal["closed", "open", "half_open"]
_NOT_JSON = object()


class CircuitOpen(AccountsUnavailable):
    """Failing fast: the backend failed too often lately; no request was sent."""


class BadAnswer(ValueError):
    """The bank answered, but not in the agreed shape (message names the field, not values)."""


class CircuitBreaker:
    """closed -> (threshold consecutive failures) -> open -> (reset_timeout) -> half_open,
    where one trial call runs while others fail fast -> closed on success, open on failure."""

    def __init__(self, failure_threshold: int = 5, reset_timeout: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.clock = clock
        self.failures = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self._trial or self.clock() - self._opened_at >= self.reset_timeout:
            return "half_open"
        return "open"

    def acquire(self) -> None:
        """Let a call through, or raise CircuitOpen."""
        state = self.state
        if state == "closed":
            return
        if state == "open" or self._trial:
            raise CircuitOpen("accounts backend unavailable: circuit open, failing fast")
        self._trial = True

    def success(self) -> None:
        if self._opened_at is not None:
            log.info("accounts backend: trial call succeeded, circuit closed")
        self.failures = 0
        self._opened_at = None
        self._trial = False

    def failure(self) -> None:
        self.failures += 1
        if self._trial or (self._opened_at is None and self.failures >= self.failure_threshold):
            log.warning("accounts backend: circuit open for %.0f s after %d failure(s)",
                        self.reset_timeout, self.failures)
            self._opened_at = self.clock()
        self._trial = False

    def release(self) -> None:
        """The trial call was cancelled: let the next call try instead."""
        self._trial = False


def _field(data: Any, name: str, kind: type[T]) -> T:
    if not isinstance(data, dict) or name not in data:
        raise BadAnswer(f"missing field {name!r}")
    value = data[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise BadAnswer(f"field {name!r} is not a {kind.__name__}")
    return value


def _currency(data: Any) -> str:
    currency = _field(data, "currency", str)
    if currency not in CURRENCIES:
        raise BadAnswer("field 'currency' is not a supported currency")
    return currency


def _amount(data: Any, name: str, currency: str) -> Decimal:
    if not isinstance(data, dict) or name not in data:
        raise BadAnswer(f"missing field {name!r}")
    try:
        return parse_amount(data[name], currency)
    except ValueError as exc:
        raise BadAnswer(f"field {name!r}: {exc}") from None


class HttpAccountStore:
    """AccountStore on the bank's REST API. Pass a CallerLimiter (on our own database) to
    rate-limit per caller here as well as at the bank."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 2.0,
                 retries: int = 2, backoff: float = 0.1, max_backoff: float = 1.0,
                 breaker: CircuitBreaker | None = None,
                 limiter: CallerLimiter | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.breaker = breaker or CircuitBreaker()
        self.limiter = limiter
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"<HttpAccountStore {self.base_url} circuit={self.breaker.state}>"

    # --- the AccountStore protocol -------------------------------------------------------------

    async def lookup_by_caller(self, number: str) -> list[AccountSummary]:
        normalized = normalize_caller(number)
        if not normalized:
            return []

        def parse(status: int, data: Any) -> list[AccountSummary]:
            if status == 404:
                return []
            found: list[AccountSummary] = []
            for item in _field(data, "accounts", list):
                account_no = _field(item, "account_no", str)
                if not valid_account(account_no):
                    raise BadAnswer("field 'account_no' is not 6-12 digits")
                found.append(AccountSummary(account_no, _currency(item)))
            return found

        return await self._call("lookup", "GET", f"/accounts/by-caller/{normalized}", parse)

    async def verify_pin(self, account_no: str, pin: str, caller: str) -> PinCheck:
        return await guarded_verify(self.limiter, account_no, pin, caller, self._check)

    async def _check(self, account_no: str, pin: str, caller: str) -> PinCheck:
        def parse(status: int, data: Any) -> PinCheck:
            if status == 404:
                return PinCheck("unknown_account")
            outcome = _field(data, "outcome", str)
            if outcome not in PIN_OUTCOMES or outcome == "invalid_input":
                raise BadAnswer("field 'outcome' is not a known outcome")
            left = data.get("attempts_left")
            if left is not None and (not isinstance(left, int) or isinstance(left, bool)
                                     or left < 0):
                raise BadAnswer("field 'attempts_left' is not a count")
            return PinCheck(outcome, left)  # type: ignore[arg-type]  # checked just above

        body = {"pin": pin, "caller": normalize_caller(caller)}
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        return await self._call("verify-pin", "POST", f"/accounts/{account_no}/verify-pin",
                                parse, body=body, headers=headers)

    async def balance(self, account_no: str) -> Balance:
        self._account(account_no)

        def parse(status: int, data: Any) -> Balance:
            if status == 404:
                raise UnknownAccount(account_no)
            currency = _currency(data)
            return Balance(_amount(data, "available", currency), currency)

        return await self._call("balance", "GET", f"/accounts/{account_no}/balance", parse)

    async def transactions(self, account_no: str, limit: int = 3) -> list[Transaction]:
        self._account(account_no)

        def parse(status: int, data: Any) -> list[Transaction]:
            if status == 404:
                raise UnknownAccount(account_no)
            currency = _currency(data)
            out: list[Transaction] = []
            for item in _field(data, "transactions", list)[:limit]:
                try:
                    day = dt.date.fromisoformat(_field(item, "date", str))
                except ValueError:
                    raise BadAnswer("field 'date' is not YYYY-MM-DD") from None
                description = item.get("description") or ""
                if not isinstance(description, str):
                    raise BadAnswer("field 'description' is not a str")
                out.append(Transaction(day, _amount(item, "amount", currency), description,
                                       currency))
            return out

        return await self._call("transactions", "GET",
                                f"/accounts/{account_no}/transactions?limit={max(0, limit)}",
                                parse)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- requests ------------------------------------------------------------------------------

    @staticmethod
    def _account(account_no: str) -> None:
        """Only digits go into a URL path; anything else cannot be an account anyway."""
        if not valid_account(account_no):
            raise UnknownAccount(account_no)

    async def _call(self, op: str, method: str, path: str,
                    parse: Callable[[int, Any], T], *, body: Any = None,
                    headers: dict[str, str] | None = None) -> T:
        """One logical call through the circuit breaker: retries inside, parse counted too."""
        self.breaker.acquire()
        try:
            status, data = await self._request(op, method, path, body, headers or {})
            try:
                result = parse(status, data)
            except BadAnswer as exc:
                log.warning("accounts backend %s: malformed answer (%s)", op, exc)
                raise AccountsUnavailable(f"accounts {op}: malformed answer ({exc})") from None
        except AccountsUnavailable:
            self.breaker.failure()
            raise
        except UnknownAccount:
            self.breaker.success()
            raise
        except BaseException:
            self.breaker.release()
            raise
        self.breaker.success()
        return result

    async def _request(self, op: str, method: str, path: str, body: Any,
                       headers: dict[str, str]) -> tuple[int, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {"Accept": "application/json", **headers}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        tries = self.retries + 1
        last = ""
        for attempt in range(1, tries + 1):
            try:
                async with self._session.request(
                    method, self.base_url + path, json=body, headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                ) as resp:
                    if resp.status >= 500:
                        last = f"HTTP {resp.status}"
                    elif resp.status in (200, 404):
                        return resp.status, self._decode(op, resp.status, await resp.read())
                    else:
                        raise AccountsUnavailable(f"accounts {op}: the bank answered "
                                                  f"HTTP {resp.status}")
            except TimeoutError:
                last = f"no answer within {self.timeout:g} s"
            except aiohttp.ClientError as exc:
                last = type(exc).__name__
            log.warning("accounts backend %s: try %d/%d failed (%s)", op, attempt, tries, last)
            if attempt < tries:
                await asyncio.sleep(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))
        raise AccountsUnavailable(f"accounts {op}: backend unavailable after {tries} "
                                  f"tries (last: {last})")

    @staticmethod
    def _decode(op: str, status: int, raw: bytes) -> Any:
        try:
            data = json.loads(raw.decode("utf-8"), parse_float=Decimal)
        except ValueError:  # also UnicodeDecodeError
            data = _NOT_JSON
        if data is _NOT_JSON:  # raised out here: the decode error quotes the body
            log.warning("accounts backend %s: answer is not JSON", op)
            raise AccountsUnavailable(f"accounts {op}: the bank's answer is not JSON")
        if status == 404 and not (isinstance(data, dict)
                                  and data.get("error") == "unknown_account"):
            # A 404 page from a wrong base URL must not read as "no such account".
            raise AccountsUnavailable(f"accounts {op}: HTTP 404 without "
                                      f"error 'unknown_account' (check the base URL)")
        return data
