"""Accounts: who the caller is (PIN) and what they have (balance, transactions).

One interface (`AccountStore`), two real backends: `SqlAccountStore` on our database (SQLite
embedded, PostgreSQL in production) and `HttpAccountStore` on the bank's REST endpoint. The
flow reaches them through the `accounts.*` actions (`account_actions`).
"""

from __future__ import annotations

from ..db import Database
from .actions import ACCOUNT_ACTION_SPECS, account_actions
from .demo import DEMO_ACCOUNTS, init_database, seed_demo
from .http import CircuitBreaker, CircuitOpen, HttpAccountStore
from .model import (
    AccountSummary,
    AccountsUnavailable,
    Balance,
    PinCheck,
    Transaction,
    UnknownAccount,
)
from .ratelimit import CallerLimiter, RateLimit
from .sql import SqlAccountStore
from .store import AccountStore

__all__ = [
    "ACCOUNT_ACTION_SPECS",
    "DEMO_ACCOUNTS",
    "AccountStore",
    "AccountSummary",
    "AccountsUnavailable",
    "Balance",
    "CallerLimiter",
    "CircuitBreaker",
    "CircuitOpen",
    "HttpAccountStore",
    "PinCheck",
    "RateLimit",
    "SqlAccountStore",
    "Transaction",
    "UnknownAccount",
    "account_actions",
    "init_database",
    "open_account_store",
    "seed_demo",
]


def open_account_store(db: Database, url: str = "", *, token: str | None = None) -> AccountStore:
    """The configured backend: `url` empty or 'db' -> SQL on `db`; http(s)://... -> the bank's
    REST endpoint at that base URL, rate-limited per caller on `db`."""
    if url in ("", "db"):
        return SqlAccountStore(db)
    if url.startswith(("http://", "https://")):
        return HttpAccountStore(url, token=token, limiter=CallerLimiter(db))
    raise ValueError("accounts backend URL must be empty, 'db', or http(s)://...")
