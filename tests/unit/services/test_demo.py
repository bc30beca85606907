"""`ivr db init --demo` (init_database) and the demo accounts as documented."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from ivr.services.accounts import DEMO_ACCOUNTS, SqlAccountStore, init_database
from ivr.services.accounts.model import PinCheck
from ivr.services.db import connect

DOC = Path(__file__).resolve().parents[3] / "docs" / "accounts.md"


def test_docs_list_the_demo_accounts() -> None:
    rows = re.findall(r"^\| (\d{6,12}) \| (\d{4,6}) \| [^|]+ \| ([\d,.]+) (KRW|USD) \| "
                      r"(\d*) ?\| (open|locked) \|$", DOC.read_text(encoding="utf-8"), re.M)
    documented = {(no, pin, Decimal(amount.replace(",", "")), cur, phone, state)
                  for no, pin, amount, cur, phone, state in rows}
    assert documented == {
        (a.account_no, a.pin, a.balance, a.currency, "".join(a.phones),
         "locked" if a.locked else "open") for a in DEMO_ACCOUNTS
    }
    assert len(DEMO_ACCOUNTS) >= 4
    assert {a.currency for a in DEMO_ACCOUNTS} == {"KRW", "USD"}
    assert all(len(a.transactions) >= 3 for a in DEMO_ACCOUNTS)


async def test_init_database(db_url: str) -> None:
    first = await init_database(db_url, demo=True)
    assert first == {"migrations": ["0001_accounts", "0002_call_records", "0003_acd",
                                    "0004_voicemail", "0005_voicemail_mailboxes",
                                    "0006_callbacks", "0007_users",
                                    "0008_wrapups", "0009_intervals", "0010_record_queues",
                                    "0011_outbound", "0012_outbound_runs",
                                    "0013_outbound_indexes"],
                     "accounts": [a.account_no for a in DEMO_ACCOUNTS],
                     "mailboxes": ["general"]}
    assert await init_database(db_url, demo=True) == {"migrations": [], "accounts": [],
                                                      "mailboxes": []}
    async with await connect(db_url) as db:
        store = SqlAccountStore(db)
        for demo in DEMO_ACCOUNTS:
            expected = "locked" if demo.locked else "ok"
            assert (await store.verify_pin(demo.account_no, demo.pin, "")).outcome == expected
            assert (await store.balance(demo.account_no)).available == demo.balance
        assert await store.verify_pin("12345678", "0000", "") == PinCheck("wrong_pin", 2)
    again = await init_database(db_url, reset=True)
    assert again["accounts"] == [a.account_no for a in DEMO_ACCOUNTS]
