"""Dial-in mailboxes on SQLite and PostgreSQL: numbers, PINs hashed, lockout, demo seeding."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path

import pytest

from ivr.services.accounts import init_database, pins
from ivr.services.db import Database, connect
from ivr.services.voicemail.mailboxes import (
    DEMO_MAILBOXES,
    Login,
    MailboxStore,
    seed_demo_mailboxes,
)

from .clock import Clock

DOC = Path(__file__).resolve().parents[3] / "docs" / "voicemail.md"


@pytest.fixture
async def store(db: Database, clock: Clock) -> MailboxStore:
    boxes = MailboxStore(db, max_failures=3, lockout=dt.timedelta(minutes=30), clock=clock)
    await boxes.set("general", number="500", pin="1234")
    return boxes


async def test_a_mailbox_has_a_number_and_a_hashed_pin(db: Database,
                                                       store: MailboxStore) -> None:
    box = await store.get("general")
    assert box is not None and (box.number, box.failed_attempts, box.locked_until) == \
        ("500", 0, None)
    stored = await db.fetch_value(
        "SELECT pin_hash FROM voicemail_mailboxes WHERE mailbox = 'general'")
    assert stored.startswith("scrypt$") and "1234" not in stored
    assert pins.check_pin("1234", stored)
    assert await store.verify("500", "1234") == Login("ok", "general")


async def test_set_changes_number_or_pin_and_refuses_what_cannot_be(
        store: MailboxStore) -> None:
    await store.set("general", number="510")
    assert await store.verify("510", "1234") == Login("ok", "general")
    assert await store.verify("500", "1234") == Login("wrong")
    await store.set("general", pin="987654")
    assert await store.verify("510", "987654") == Login("ok", "general")
    await store.set("sales", number="501", pin="4321")
    with pytest.raises(ValueError, match="already belongs to mailbox general"):
        await store.set("sales", number="510")
    with pytest.raises(ValueError, match="give both"):
        await store.set("support", number="502")
    for bad in ({"number": "5a"}, {"number": "12345678901"}, {"pin": "123"},
                {"pin": "12 34"}):
        with pytest.raises(ValueError):
            await store.set("general", **bad)
    with pytest.raises(ValueError, match="bad mailbox name"):
        await store.set("../etc", number="503", pin="1234")
    assert [b.mailbox for b in await store.list()] == ["general", "sales"]
    assert await store.delete("sales") and not await store.delete("sales")


async def test_an_unknown_number_and_a_wrong_pin_look_alike(store: MailboxStore) -> None:
    assert await store.verify("599", "1234") == Login("wrong")
    assert await store.verify("500", "0000") == Login("wrong")
    assert await store.verify("", "1234") == Login("wrong")
    assert await store.verify("500", "") == Login("wrong")
    box = await store.get("general")
    assert box is not None and box.failed_attempts == 1, "only the real guess counted"


async def test_consecutive_wrong_pins_lock_until_the_lockout_ends(
        store: MailboxStore, clock: Clock) -> None:
    assert await store.verify("500", "0000") == Login("wrong")
    assert await store.verify("500", "1111") == Login("wrong")
    assert await store.verify("500", "2222") == Login("locked", "general")
    box = await store.get("general")
    assert box is not None and box.locked(clock.now)
    assert box.locked_until == clock.now + dt.timedelta(minutes=30)
    assert await store.verify("500", "1234") == Login("locked", "general"), \
        "the right PIN does not open a locked mailbox"
    clock.advance(minutes=31)
    assert await store.verify("500", "0000") == Login("wrong"), "the count starts again"
    box = await store.get("general")
    assert box is not None and box.failed_attempts == 1 and not box.locked(clock.now)
    assert await store.verify("500", "1234") == Login("ok", "general")
    box = await store.get("general")
    assert box is not None and (box.failed_attempts, box.locked_until) == (0, None)


async def test_a_right_pin_resets_the_count(store: MailboxStore) -> None:
    for _ in range(2):
        assert await store.verify("500", "0000") == Login("wrong")
    assert await store.verify("500", "1234") == Login("ok", "general")
    for _ in range(2):
        assert await store.verify("500", "0000") == Login("wrong")
    assert (await store.get("general") or pytest.fail()).failed_attempts == 2


async def test_unlock_and_a_new_pin_open_a_locked_mailbox(store: MailboxStore) -> None:
    for _ in range(3):
        await store.verify("500", "0000")
    assert await store.unlock("general") and not await store.unlock("nobody")
    assert await store.verify("500", "1234") == Login("ok", "general")
    for _ in range(3):
        await store.verify("500", "0000")
    await store.set("general", pin="5678")
    assert await store.verify("500", "5678") == Login("ok", "general")


async def test_simultaneous_guesses_never_get_an_extra_try(store: MailboxStore) -> None:
    results = await asyncio.gather(*(store.verify("500", f"{n:04d}") for n in range(6)))
    assert sorted(r.outcome for r in results) == ["locked"] * 4 + ["wrong"] * 2
    box = await store.get("general")
    assert box is not None and box.failed_attempts == 3


async def test_a_malformed_stored_hash_refuses_without_raising(
        db: Database, store: MailboxStore) -> None:
    await db.execute("UPDATE voicemail_mailboxes SET pin_hash = 'plain' WHERE mailbox = ?",
                     "general")
    assert await store.verify("500", "1234") == Login("wrong")


async def test_the_demo_mailbox_is_seeded_once_and_reset(db: Database) -> None:
    assert DEMO_MAILBOXES == (("general", "500", "1234"),)
    assert await seed_demo_mailboxes(db) == ["general"]
    assert await seed_demo_mailboxes(db) == []
    store = MailboxStore(db, max_failures=1)
    assert await store.verify("500", "0000") == Login("locked", "general")
    assert await seed_demo_mailboxes(db, reset=True) == ["general"]
    assert await store.verify("500", "1234") == Login("ok", "general")


async def test_db_init_demo_creates_the_demo_mailbox(db_url: str) -> None:
    done = await init_database(db_url, demo=True)
    assert "0005_voicemail_mailboxes" in done["migrations"]
    assert done["mailboxes"] == ["general"]
    assert (await init_database(db_url, demo=True))["mailboxes"] == []
    async with await connect(db_url) as db:
        assert await MailboxStore(db).verify("500", "1234") == Login("ok", "general")


def test_the_docs_give_the_demo_mailbox() -> None:
    documented = re.findall(r"creates mailbox `(\S+)` with number \*\*(\d+)\*\* and\s+"
                            r"PIN \*\*(\d+)\*\*", DOC.read_text(encoding="utf-8"))
    assert tuple(documented) == DEMO_MAILBOXES
