"""Brute force from one caller number is rate-limited, in the database, across accounts.

The per-account lock stops guessing one account's PIN; it does not stop one caller trying the
common PINs on many accounts. So every verification is also counted per caller number: after
5 failures (wrong PIN, unknown or locked account) within 15 minutes, further attempts from that
number answer `rate_limited` without touching any account. The count lives in `auth_attempts`,
so restarting the app does not reset it. A verification in progress is recorded as 'pending'
before the PIN is checked, and counts, so simultaneous calls from one number cannot slip
past the limit together.

`guarded_verify` is the whole sequence around any backend's check (validate, limit, check,
record), so the SQL and HTTP backends limit the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..db import Database
from .model import PinCheck, normalize_caller, valid_account, valid_pin

FAILURES = ("wrong_pin", "unknown_account", "locked", "pending")
"""Outcomes that count against a caller ('pending': in progress, or lost in a crash)."""

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class RateLimit:
    max_failures: int = 5
    window: dt.timedelta = dt.timedelta(minutes=15)


class CallerLimiter:
    """Failed verifications per caller number, persisted in `auth_attempts`."""

    def __init__(self, db: Database, limit: RateLimit | None = None,
                 clock: Clock = utcnow) -> None:
        self.db = db
        self.limit = limit or RateLimit()
        self.clock = clock

    @staticmethod
    def key(caller: str) -> str:
        """Anonymous callers share one key: hiding the number does not buy more guesses."""
        return normalize_caller(caller) or "anonymous"

    async def failures(self, caller: str) -> int:
        since = self.clock() - self.limit.window
        marks = ", ".join("?" for _ in FAILURES)
        count = await self.db.fetch_value(
            f"SELECT COUNT(*) AS n FROM auth_attempts WHERE caller = ? AND at >= ?"
            f" AND outcome IN ({marks})",
            self.key(caller), since, *FAILURES,
        )
        return int(count or 0)

    async def begin(self, caller: str, account_no: str) -> int | None:
        """Reserve an attempt: its id, or None if the caller is over the limit."""
        key = self.key(caller)
        async with self.db.transaction() as tx:
            await tx.lock(f"auth_attempts:{key}")
            if await self.failures(caller) >= self.limit.max_failures:
                return None
            row = await tx.fetch_one(
                "INSERT INTO auth_attempts (caller, account_no, outcome, at)"
                " VALUES (?, ?, 'pending', ?) RETURNING id",
                key, account_no, self.clock(),
            )
        assert row is not None
        return int(row["id"])

    async def finish(self, attempt: int, outcome: str) -> None:
        await self.db.execute("UPDATE auth_attempts SET outcome = ? WHERE id = ?",
                              outcome, attempt)

    async def purge(self, older_than: dt.timedelta = dt.timedelta(days=90)) -> int:
        """Drop attempts older than `older_than` (an audit trail, not needed for the limit)."""
        return await self.db.execute("DELETE FROM auth_attempts WHERE at < ?",
                                     self.clock() - older_than)


Check = Callable[[str, str, str], Awaitable[PinCheck]]


async def guarded_verify(limiter: CallerLimiter | None, account_no: str, pin: str,
                         caller: str, check: Check) -> PinCheck:
    """Validate, rate-limit, run the backend's `check(account_no, pin, caller)`, record.

    A backend failure (an exception) is recorded as 'error', which does not count against the
    caller: the bank being down is not the caller guessing.
    """
    if not valid_account(account_no) or not valid_pin(pin):
        return PinCheck("invalid_input")
    if limiter is None:
        return await check(account_no, pin, caller)
    attempt = await limiter.begin(caller, account_no)
    if attempt is None:
        return PinCheck("rate_limited")
    outcome = "error"
    try:
        result = await check(account_no, pin, caller)
        outcome = result.outcome
        return result
    finally:
        await limiter.finish(attempt, outcome)
