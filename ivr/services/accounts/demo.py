"""Demo accounts, so the bank flow can be called and tried end to end on a fresh machine.

Listed in docs/accounts.md (keep the two in step). Seeding is idempotent: an account that
already exists is left as it is (its balance, lock and failed PINs included), unless `reset`
asks to put the demo accounts back as they were (e.g. after locking one while trying it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from ..db import Database, connect
from .sql import SqlAccountStore


@dataclass(frozen=True, slots=True)
class DemoAccount:
    account_no: str
    pin: str
    holder: str
    currency: str
    balance: Decimal
    phones: tuple[str, ...] = ()
    locked: bool = False
    transactions: tuple[tuple[str, str, str], ...] = ()
    """(ISO date, signed amount, description), already included in `balance`."""


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount(
        "12345678", "1234", "김민준 (Kim Min-jun)", "KRW", Decimal("1234500"),
        transactions=(("2026-11-20", "-45000", "편의점 GS25"),
                      ("2026-11-18", "2500000", "급여 (salary)"),
                      ("2026-11-15", "-120000", "전기요금 (electricity)")),
    ),
    DemoAccount(
        "87654321", "4321", "Jane Smith", "USD", Decimal("2500.75"),
        transactions=(("2026-11-19", "-42.50", "Grocery store"),
                      ("2026-11-16", "1200.00", "Payroll deposit"),
                      ("2026-11-10", "-89.99", "Phone bill")),
    ),
    DemoAccount(
        "11112222", "2222", "이서연 (Lee Seo-yeon)", "KRW", Decimal("350000"),
        phones=("01012345678",),
        transactions=(("2026-11-21", "-15000", "택시 (taxi)"),
                      ("2026-11-17", "300000", "이체 입금 (transfer in)"),
                      ("2026-11-12", "-8000", "카페 (cafe)")),
    ),
    DemoAccount(
        "99990000", "9999", "Park Ji-ho", "KRW", Decimal("50000"), locked=True,
        transactions=(("2026-11-14", "-20000", "ATM"),
                      ("2026-11-11", "70000", "이체 입금 (transfer in)"),
                      ("2026-11-03", "-5000", "수수료 (fee)")),
    ),
)


async def seed_demo(db: Database, *, reset: bool = False) -> list[str]:
    """Create the demo accounts that are missing (all of them again with `reset`).

    Returns the account numbers created. Needs a migrated database.
    """
    store = SqlAccountStore(db, rate_limit=None)
    created: list[str] = []
    for demo in DEMO_ACCOUNTS:
        if reset:
            await store.delete_account(demo.account_no)
        elif await store.exists(demo.account_no):
            continue
        await store.create_account(demo.account_no, demo.pin, currency=demo.currency,
                                   balance=demo.balance, holder=demo.holder,
                                   phones=demo.phones, locked=demo.locked)
        for day, amount, description in demo.transactions:
            await store.add_transaction(demo.account_no, dt.date.fromisoformat(day),
                                        Decimal(amount), description, move_balance=False)
        created.append(demo.account_no)
    return created


async def init_database(url: str, *, demo: bool = False,
                        reset: bool = False) -> dict[str, list[str]]:
    """What `ivr db init [--demo] [--reset]` does: migrate, then optionally seed the demo.

    Returns {"migrations": applied, "accounts": created, "mailboxes": created}; the demo
    mailbox lets extension 102 be tried too (voicemail/mailboxes.py).
    """
    # here, not at the top: mailboxes imports accounts.pins, and accounts imports this module
    from ..voicemail.mailboxes import seed_demo_mailboxes

    async with await connect(url) as db:
        applied = await db.migrate()
        created = await seed_demo(db, reset=reset) if demo or reset else []
        mailboxes = await seed_demo_mailboxes(db, reset=reset) if demo or reset else []
    return {"migrations": applied, "accounts": created, "mailboxes": mailboxes}
