"""Keyed entries (an account number, a PIN, a time of day): one set of rules for every dialogue.

An entry reads keys until the terminator, until it is full, or until the caller pauses. It is
built on two operations every line offers (the real `Line`, the simulator, a test's fake):
`read_digit` and `forgive`. So the flow's `collect`, the mailbox login and the callback
booking end their entries the same way:

- the first key may take `first_timeout`, each next one `inter_digit`; a pause ends the entry;
- the terminator ends it and is not part of it;
- a full entry (`max_length` keys) ends at once, and the terminator a caller adds out of habit
  within `inter_digit` is forgiven, so it cannot cut the next prompt or answer the next question;
- with `overflow=True` a full entry does not end: the caller goes on to the terminator or a
  pause and the entry comes back one key too long (`Entry.too_long`), for a login that must
  never cut eleven keyed digits into a valid ten-digit mailbox number;
- `restart` (e.g. "*") starts the entry over; keys in `ignore` are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Ended = Literal["terminator", "max_length", "timeout"]


class Keypad(Protocol):
    async def read_digit(self, timeout: float, *, secure: bool = False) -> str | None: ...

    def forgive(self, key: str, within: float) -> None: ...


@dataclass(frozen=True, slots=True)
class EntryRules:
    max_length: int
    first_timeout: float
    inter_digit: float
    terminator: str = "#"
    overflow: bool = False
    restart: str = ""
    ignore: str = ""


@dataclass(frozen=True, slots=True)
class Entry:
    digits: str
    ended: Ended
    max_length: int

    @property
    def too_long(self) -> bool:
        return len(self.digits) > self.max_length


async def read_entry(keys: Keypad, rules: EntryRules, *, secure: bool = False) -> Entry:
    digits = ""
    timeout = rules.first_timeout
    while True:
        key = await keys.read_digit(timeout, secure=secure)
        if key is None:
            return Entry(digits, "timeout", rules.max_length)
        timeout = rules.inter_digit
        if rules.terminator and key == rules.terminator:
            return Entry(digits, "terminator", rules.max_length)
        if key in rules.ignore:
            continue
        if rules.restart and key == rules.restart:
            digits = ""
            continue
        digits = (digits + key)[:rules.max_length + 1]  # overflow keeps one key too many
        if len(digits) >= rules.max_length and not rules.overflow:
            if rules.terminator:
                keys.forgive(rules.terminator, rules.inter_digit)
            return Entry(digits, "max_length", rules.max_length)
