"""Mailboxes people dial into: the number they key and a PIN, hashed like the accounts' PINs.

PINs are salted scrypt (accounts.pins), verified in a worker thread and compared in constant
time; an unknown number, a locked mailbox and a malformed stored hash cost the same time as a
real check, so the timing of the answer does not tell which numbers exist.

Wrong PINs are counted per mailbox in the database, one atomic UPDATE per attempt guarded by
"not locked now", so two calls guessing at once cannot both get an extra try. The
`max_failures`th consecutive wrong PIN locks the mailbox for `lockout`; a right PIN resets the
count, and a lock that has expired starts the count again from one. Setting a PIN (the CLI)
also unlocks. The slow hash always runs outside any transaction.
"""

from __future__ import annotations

import builtins
import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Literal

from ..accounts import pins
from ..accounts.ratelimit import Clock, utcnow
from ..db import Database, Row, as_datetime
from .store import check_mailbox

log = logging.getLogger(__name__)

MAX_FAILURES = 5
"""Consecutive wrong PINs (across calls) that lock a mailbox."""
LOCKOUT = dt.timedelta(hours=1)
NUMBER = re.compile(r"[0-9]{1,10}")
PIN = re.compile(r"[0-9]{4,10}")

LoginOutcome = Literal["ok", "wrong", "locked"]

DEMO_MAILBOXES: tuple[tuple[str, str, str], ...] = (("general", "500", "1234"),)
"""(mailbox, number, PIN) that `ivr db init --demo` creates; listed in docs/voicemail.md."""

_COLUMNS = "mailbox, number, failed_attempts, locked_until, created_at, updated_at"


@dataclass(frozen=True, slots=True)
class Mailbox:
    mailbox: str
    number: str
    failed_attempts: int
    locked_until: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime

    def locked(self, now: dt.datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


@dataclass(frozen=True, slots=True)
class Login:
    outcome: LoginOutcome
    mailbox: str = ""
    """The mailbox name when the outcome is 'ok' (and 'locked', for logs only)."""


def _mailbox(row: Row) -> Mailbox:
    created, updated = as_datetime(row["created_at"]), as_datetime(row["updated_at"])
    assert created is not None and updated is not None
    return Mailbox(mailbox=row["mailbox"], number=row["number"],
                   failed_attempts=int(row["failed_attempts"]),
                   locked_until=as_datetime(row["locked_until"]),
                   created_at=created, updated_at=updated)


def check_number(number: str) -> str:
    if not NUMBER.fullmatch(number):
        raise ValueError("a mailbox number is 1 to 10 digits")
    return number


def check_pin(pin: str) -> str:
    if not PIN.fullmatch(pin):
        raise ValueError("a mailbox PIN is 4 to 10 digits")
    return pin


class MailboxStore:
    """`voicemail_mailboxes` on a Database (migration 0005)."""

    def __init__(self, db: Database, *, max_failures: int = MAX_FAILURES,
                 lockout: dt.timedelta = LOCKOUT, clock: Clock = utcnow) -> None:
        self.db = db
        self.max_failures = max_failures
        self.lockout = lockout
        self.clock = clock

    async def set(self, mailbox: str, *, number: str | None = None,
                  pin: str | None = None) -> Mailbox:
        """Create a mailbox (number and PIN both needed) or change either. A new PIN also
        clears the failed attempts and any lock. ValueError for bad input or a number that
        belongs to another mailbox."""
        check_mailbox(mailbox)
        if number is not None:
            check_number(number)
        pin_hash = await pins.hash_pin_async(check_pin(pin)) if pin is not None else None
        now = self.clock()
        async with self.db.transaction() as tx:
            await tx.lock("voicemail_mailboxes")
            if number is not None:
                owner = await tx.fetch_value(
                    "SELECT mailbox FROM voicemail_mailboxes WHERE number = ? AND mailbox <> ?",
                    number, mailbox)
                if owner is not None:
                    raise ValueError(f"number {number} already belongs to mailbox {owner}")
            exists = await tx.fetch_value(
                "SELECT mailbox FROM voicemail_mailboxes WHERE mailbox = ?", mailbox)
            if exists is None:
                if number is None or pin_hash is None:
                    raise ValueError(f"mailbox {mailbox} is new: give both a number and a PIN")
                await tx.execute(
                    "INSERT INTO voicemail_mailboxes (mailbox, number, pin_hash,"
                    " failed_attempts, locked_until, created_at, updated_at)"
                    " VALUES (?, ?, ?, 0, NULL, ?, ?)",
                    mailbox, number, pin_hash, now, now)
            else:
                if number is not None:
                    await tx.execute("UPDATE voicemail_mailboxes SET number = ?, updated_at = ?"
                                     " WHERE mailbox = ?", number, now, mailbox)
                if pin_hash is not None:
                    await tx.execute(
                        "UPDATE voicemail_mailboxes SET pin_hash = ?, failed_attempts = 0,"
                        " locked_until = NULL, updated_at = ? WHERE mailbox = ?",
                        pin_hash, now, mailbox)
            row = await tx.fetch_one(
                f"SELECT {_COLUMNS} FROM voicemail_mailboxes WHERE mailbox = ?", mailbox)
        assert row is not None
        return _mailbox(row)

    async def get(self, mailbox: str) -> Mailbox | None:
        row = await self.db.fetch_one(
            f"SELECT {_COLUMNS} FROM voicemail_mailboxes WHERE mailbox = ?", mailbox)
        return None if row is None else _mailbox(row)

    async def list(self) -> builtins.list[Mailbox]:
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM voicemail_mailboxes ORDER BY mailbox")
        return [_mailbox(r) for r in rows]

    async def delete(self, mailbox: str) -> bool:
        """The mailbox's access only; its messages stay (REST still reaches them)."""
        return await self.db.execute(
            "DELETE FROM voicemail_mailboxes WHERE mailbox = ?", mailbox) > 0

    async def unlock(self, mailbox: str) -> bool:
        return await self.db.execute(
            "UPDATE voicemail_mailboxes SET failed_attempts = 0, locked_until = NULL,"
            " updated_at = ? WHERE mailbox = ?", self.clock(), mailbox) > 0

    async def verify(self, number: str, pin: str) -> Login:
        """'ok' with the mailbox name, 'wrong' (an unknown number too: callers cannot tell),
        or 'locked'. Input that cannot be a number or a PIN is 'wrong' without touching the
        database, so it never costs the mailbox an attempt."""
        if not NUMBER.fullmatch(number) or not PIN.fullmatch(pin):
            return Login("wrong")
        row = await self.db.fetch_one(
            "SELECT mailbox, pin_hash, locked_until FROM voicemail_mailboxes WHERE number = ?",
            number)
        now = self.clock()
        if row is None:
            await pins.burn_time(pin)
            return Login("wrong")
        mailbox = str(row["mailbox"])
        locked_until = as_datetime(row["locked_until"])
        if locked_until is not None and locked_until > now:
            await pins.burn_time(pin)
            return Login("locked", mailbox)
        try:
            good = await pins.check_pin_async(pin, row["pin_hash"])
        except pins.PinHashError as exc:
            log.error("mailbox %s: %s; set its PIN again (ivr mailbox set)", mailbox, exc)
            return Login("wrong")
        if good:
            return await self._succeeded(mailbox, now)
        return await self._failed(mailbox, now)

    async def _succeeded(self, mailbox: str, now: dt.datetime) -> Login:
        done = await self.db.fetch_one(
            "UPDATE voicemail_mailboxes SET failed_attempts = 0, locked_until = NULL"
            " WHERE mailbox = ? AND (locked_until IS NULL OR locked_until <= ?)"
            " RETURNING mailbox", mailbox, now)
        return Login("ok", mailbox) if done is not None else Login("locked", mailbox)

    async def _failed(self, mailbox: str, now: dt.datetime) -> Login:
        # SET reads the row as it was: an expired lock (locked_until still set) restarts at 1.
        # The typed NULL lets PostgreSQL infer the parameter's type from the CASE.
        count = "CASE WHEN locked_until IS NULL THEN failed_attempts + 1 ELSE 1 END"
        row = await self.db.fetch_one(
            f"UPDATE voicemail_mailboxes SET failed_attempts = {count},"
            f" locked_until = CASE WHEN {count} >= ? THEN ? ELSE CAST(NULL AS TIMESTAMPTZ) END"
            " WHERE mailbox = ? AND (locked_until IS NULL OR locked_until <= ?)"
            " RETURNING failed_attempts", self.max_failures, now + self.lockout, mailbox, now)
        if row is None:  # locked by a concurrent wrong guess meanwhile
            return Login("locked", mailbox)
        if int(row["failed_attempts"]) >= self.max_failures:
            log.warning("mailbox %s locked for %s after %d wrong PINs", mailbox, self.lockout,
                        self.max_failures)
            return Login("locked", mailbox)
        return Login("wrong")


async def seed_demo_mailboxes(db: Database, *, reset: bool = False) -> list[str]:
    """Create the demo mailboxes that are missing (all of them again with `reset`, which
    also unlocks them). Returns the names created or reset."""
    store = MailboxStore(db)
    done: list[str] = []
    for mailbox, number, pin in DEMO_MAILBOXES:
        if not reset and await store.get(mailbox) is not None:
            continue
        await store.set(mailbox, number=number, pin=pin)
        done.append(mailbox)
    return done
