"""The one interface every accounts backend implements (SQL, the bank's HTTP endpoint).

The actions and the app depend on this protocol only, so the backend is a configuration choice.
"""

from __future__ import annotations

from typing import Protocol

from .model import AccountSummary, Balance, PinCheck, Transaction


class AccountStore(Protocol):
    async def lookup_by_caller(self, number: str) -> list[AccountSummary]:
        """Accounts registered to this caller number (any format; normalized inside)."""
        ...

    async def verify_pin(self, account_no: str, pin: str, caller: str) -> PinCheck:
        """Check a PIN. Invalid input (account not 6-12 digits, PIN not 4-6) answers
        `invalid_input` and counts against nothing; failures count per account (the 3rd
        consecutive one locks it: `locked`, attempts_left 0) and per caller number (more than
        5 within 15 minutes: `rate_limited`). Raises AccountsUnavailable."""
        ...

    async def balance(self, account_no: str) -> Balance:
        """Raises UnknownAccount or AccountsUnavailable."""
        ...

    async def transactions(self, account_no: str, limit: int = 3) -> list[Transaction]:
        """Most recent first. Raises UnknownAccount or AccountsUnavailable."""
        ...

    async def close(self) -> None:
        """Release connections the store owns (not the Database it was given)."""
        ...
