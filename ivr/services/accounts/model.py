"""The accounts domain as plain values, shared by every backend, and the rules on caller input.

Money is Decimal in the API and integer minor units (won, cents) in storage, so no backend ever
rounds a balance through a float. Input rules live here, not in a backend, so an account number
or PIN that cannot be valid never reaches a database or the bank (and never costs the account a
failed attempt).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, get_args

from ...flow.actions import ActionError

Currency = Literal["KRW", "USD"]
CURRENCIES: tuple[str, ...] = get_args(Currency)
MINOR_DIGITS: dict[str, int] = {"KRW": 0, "USD": 2}
"""Digits after the decimal point: the won has no minor unit, the dollar has cents."""

PinOutcome = Literal["ok", "wrong_pin", "locked", "unknown_account", "rate_limited",
                     "invalid_input"]
PIN_OUTCOMES: tuple[str, ...] = get_args(PinOutcome)

MAX_PIN_FAILURES = 3
"""The 3rd consecutive wrong PIN locks the account for the phone channel."""

_ACCOUNT = re.compile(r"[0-9]{6,12}")
_PIN = re.compile(r"[0-9]{4,6}")
_MAX_NUMBER_DIGITS = 20


class AccountsUnavailable(ActionError):
    """The accounts backend could not answer (down, timing out, circuit open, garbage).

    An ActionError, so an action node takes its fallback. Messages name the operation and the
    kind of failure, never a PIN or a response body.
    """


class UnknownAccount(LookupError):
    """No such account (balance and transactions; verify_pin answers `unknown_account`)."""


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """What caller-ID matching may reveal: which account, to say its last four digits."""

    account_no: str
    currency: str

    @property
    def last4(self) -> str:
        return self.account_no[-4:]


@dataclass(frozen=True, slots=True)
class PinCheck:
    outcome: PinOutcome
    attempts_left: int | None = None
    """Wrong PINs the account still tolerates before it locks (None when not known)."""


@dataclass(frozen=True, slots=True)
class Balance:
    available: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Transaction:
    date: dt.date
    amount: Decimal
    """Negative for a withdrawal."""
    description: str = ""
    currency: str = ""

    @property
    def kind(self) -> str:
        return "withdrawal" if self.amount < 0 else "deposit"


def valid_account(value: str) -> bool:
    return _ACCOUNT.fullmatch(value) is not None


def valid_pin(value: str) -> bool:
    return _PIN.fullmatch(value) is not None


def normalize_caller(number: str) -> str:
    """Digits only, Korean numbers in national form: '+82 10-1234-5678' -> '01012345678'.

    Returns '' for an anonymous or implausible number (the rate limit then keys on
    'anonymous').
    """
    text = number.strip()
    international = text.startswith(("+", "00"))
    digits = re.sub(r"\D", "", text)
    if text.startswith("00"):
        digits = digits[2:]
    if international and digits.startswith("82"):
        digits = "0" + digits[2:]
    return digits if 0 < len(digits) <= _MAX_NUMBER_DIGITS else ""


def to_minor(amount: Decimal, currency: str) -> int:
    """1234.56 USD -> 123456; refuses amounts finer than the currency's minor unit."""
    scaled = amount.scaleb(MINOR_DIGITS[currency])
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{currency} amounts have at most {MINOR_DIGITS[currency]} decimals")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    """123456 USD -> Decimal('1234.56'); KRW stays whole."""
    return Decimal(minor).scaleb(-MINOR_DIGITS[currency])


def decimal_text(amount: Decimal) -> str:
    """A plain decimal string the say layer reads: '1234500', '2500.75' (never '1E+3')."""
    return format(amount, "f")


def parse_amount(value: object, currency: str) -> Decimal:
    """A money amount from a backend (Decimal, int or decimal string), checked for its currency.

    Raises ValueError for anything else; the message never echoes the value.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ValueError("amount is not a number")
    try:
        amount = Decimal(value)
    except ArithmeticError:
        raise ValueError("amount is not a number") from None
    if not amount.is_finite():
        raise ValueError("amount is not finite")
    return from_minor(to_minor(amount, currency), currency)
