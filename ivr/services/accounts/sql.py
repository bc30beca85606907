"""The accounts store on our own database: SQLite embedded, PostgreSQL in production.

One code path for both dialects (see db.py). Failure counting is a single atomic UPDATE per
attempt (`failed_attempts + 1`, locking at the 3rd), guarded by `NOT locked`, so two calls
guessing the same account at once cannot both get a 3rd try, and a correct PIN that arrives
after the account locked does not unlock it. The slow PIN hash runs outside any transaction so
a database lock is never held for tens of milliseconds.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from decimal import Decimal

from ..db import Database, as_date, as_datetime
from . import pins
from .model import (
    CURRENCIES,
    MAX_PIN_FAILURES,
    AccountSummary,
    AccountsUnavailable,
    Balance,
    PinCheck,
    Transaction,
    UnknownAccount,
    from_minor,
    normalize_caller,
    to_minor,
    valid_account,
    valid_pin,
)
from .ratelimit import CallerLimiter, Clock, RateLimit, guarded_verify, utcnow

log = logging.getLogger(__name__)
DEFAULT_LIMIT = RateLimit()


class SqlAccountStore:
    """AccountStore on a Database. Rate-limits per caller unless `rate_limit=None`."""

    def __init__(self, db: Database, *, rate_limit: RateLimit | None = DEFAULT_LIMIT,
                 max_failures: int = MAX_PIN_FAILURES, clock: Clock = utcnow) -> None:
        self.db = db
        self.max_failures = max_failures
        self.clock = clock
        self.limiter = None if rate_limit is None else CallerLimiter(db, rate_limit, clock)

    # --- the AccountStore protocol -------------------------------------------------------------

    async def lookup_by_caller(self, number: str) -> list[AccountSummary]:
        normalized = normalize_caller(number)
        if not normalized:
            return []
        rows = await self.db.fetch_all(
            "SELECT a.account_no, a.currency FROM account_phones p"
            " JOIN accounts a ON a.account_no = p.account_no"
            " WHERE p.number = ? ORDER BY a.account_no",
            normalized,
        )
        return [AccountSummary(r["account_no"], r["currency"]) for r in rows]

    async def verify_pin(self, account_no: str, pin: str, caller: str) -> PinCheck:
        return await guarded_verify(self.limiter, account_no, pin, caller, self._check)

    async def _check(self, account_no: str, pin: str, caller: str) -> PinCheck:
        row = await self.db.fetch_one(
            "SELECT pin_hash, locked FROM accounts WHERE account_no = ?", account_no
        )
        if row is None:
            await pins.burn_time(pin)
            return PinCheck("unknown_account")
        if row["locked"]:
            await pins.burn_time(pin)
            return PinCheck("locked", 0)
        try:
            good = await pins.check_pin_async(pin, row["pin_hash"])
        except pins.PinHashError as exc:
            log.error("account %s: %s", account_no, exc)
            raise AccountsUnavailable("accounts: the stored PIN hash is unusable") from None
        now = self.clock()
        if good:
            done = await self.db.fetch_one(
                "UPDATE accounts SET failed_attempts = 0"
                " WHERE account_no = ? AND NOT locked RETURNING account_no",
                account_no,
            )
            if done is None:  # locked by a concurrent wrong guess meanwhile
                return PinCheck("locked", 0)
            return PinCheck("ok", self.max_failures)
        failed = await self.db.fetch_one(
            "UPDATE accounts SET failed_attempts = failed_attempts + 1,"
            " locked = (failed_attempts + 1 >= ?),"
            " locked_at = CASE WHEN failed_attempts + 1 >= ? THEN ? ELSE locked_at END"
            " WHERE account_no = ? AND NOT locked RETURNING failed_attempts",
            self.max_failures, self.max_failures, now, account_no,
        )
        if failed is None:
            return PinCheck("locked", 0)
        left = max(0, self.max_failures - int(failed["failed_attempts"]))
        if left == 0:
            log.warning("account %s locked for the phone channel after %d wrong PINs",
                        account_no, self.max_failures)
            return PinCheck("locked", 0)
        return PinCheck("wrong_pin", left)

    async def balance(self, account_no: str) -> Balance:
        row = await self.db.fetch_one(
            "SELECT currency, balance_minor FROM accounts WHERE account_no = ?", account_no
        )
        if row is None:
            raise UnknownAccount(account_no)
        return Balance(from_minor(int(row["balance_minor"]), row["currency"]), row["currency"])

    async def transactions(self, account_no: str, limit: int = 3) -> list[Transaction]:
        currency = await self.db.fetch_value(
            "SELECT currency FROM accounts WHERE account_no = ?", account_no
        )
        if currency is None:
            raise UnknownAccount(account_no)
        rows = await self.db.fetch_all(
            "SELECT booked_on, amount_minor, description FROM account_transactions"
            " WHERE account_no = ? ORDER BY booked_on DESC, id DESC LIMIT ?",
            account_no, max(0, limit),
        )
        return [Transaction(as_date(r["booked_on"]), from_minor(int(r["amount_minor"]), currency),
                            r["description"], currency) for r in rows]

    async def close(self) -> None:
        """The Database belongs to whoever made it."""

    # --- operators and seeding -----------------------------------------------------------------

    async def unlock(self, account_no: str) -> bool:
        """An operator re-opens the phone channel (after checking who the holder is)."""
        changed = await self.db.execute(
            "UPDATE accounts SET locked = FALSE, failed_attempts = 0, locked_at = NULL"
            " WHERE account_no = ?", account_no,
        )
        if changed:
            log.info("account %s unlocked for the phone channel", account_no)
        return changed > 0

    async def lock(self, account_no: str) -> bool:
        changed = await self.db.execute(
            "UPDATE accounts SET locked = TRUE, failed_attempts = ?, locked_at = ?"
            " WHERE account_no = ?", self.max_failures, self.clock(), account_no,
        )
        return changed > 0

    async def status(self, account_no: str) -> dict[str, object] | None:
        """Lock state for operators: failed_attempts, locked, locked_at."""
        row = await self.db.fetch_one(
            "SELECT failed_attempts, locked, locked_at FROM accounts WHERE account_no = ?",
            account_no,
        )
        if row is None:
            return None
        return {"failed_attempts": int(row["failed_attempts"]), "locked": bool(row["locked"]),
                "locked_at": as_datetime(row["locked_at"])}

    async def create_account(self, account_no: str, pin: str, *, currency: str,
                             balance: Decimal, holder: str = "",
                             phones: Iterable[str] = (), locked: bool = False) -> None:
        """Add an account with its PIN hashed (raises ValueError on invalid input)."""
        if not valid_account(account_no) or not valid_pin(pin):
            raise ValueError("account must be 6-12 digits and PIN 4-6 digits")
        if currency not in CURRENCIES:
            raise ValueError(f"currency must be one of {', '.join(CURRENCIES)}")
        pin_hash = await pins.hash_pin_async(pin)
        now = self.clock()
        numbers = [n for n in (normalize_caller(p) for p in phones) if n]
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO accounts (account_no, holder, currency, balance_minor, pin_hash,"
                " failed_attempts, locked, locked_at, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                account_no, holder, currency, to_minor(balance, currency), pin_hash,
                self.max_failures if locked else 0, locked, now if locked else None, now,
            )
            for number in numbers:
                await tx.execute(
                    "INSERT INTO account_phones (number, account_no) VALUES (?, ?)",
                    number, account_no,
                )

    async def add_transaction(self, account_no: str, booked_on: dt.date, amount: Decimal,
                              description: str = "", *, move_balance: bool = True) -> None:
        """Record a booked transaction; it moves the balance unless it is history being
        loaded under a balance that already includes it (`move_balance=False`)."""
        async with self.db.transaction() as tx:
            currency = await tx.fetch_value(
                "SELECT currency FROM accounts WHERE account_no = ?", account_no
            )
            if currency is None:
                raise UnknownAccount(account_no)
            minor = to_minor(amount, currency)
            await tx.execute(
                "INSERT INTO account_transactions (account_no, booked_on, amount_minor,"
                " description) VALUES (?, ?, ?, ?)",
                account_no, booked_on, minor, description,
            )
            if move_balance:
                await tx.execute(
                    "UPDATE accounts SET balance_minor = balance_minor + ? WHERE account_no = ?",
                    minor, account_no,
                )

    async def delete_account(self, account_no: str) -> bool:
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM account_phones WHERE account_no = ?", account_no)
            await tx.execute("DELETE FROM account_transactions WHERE account_no = ?", account_no)
            return await tx.execute("DELETE FROM accounts WHERE account_no = ?", account_no) > 0

    async def exists(self, account_no: str) -> bool:
        return await self.db.fetch_value(
            "SELECT account_no FROM accounts WHERE account_no = ?", account_no
        ) is not None
