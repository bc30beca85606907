"""The `accounts.*` actions flows call, on any AccountStore.

The specs are module-level data so the checker can validate flows without a backend. Results
are plain values a flow can say: balances as decimal strings ('1234500', '2500.75'), dates as
ISO, transaction amounts as absolute values with a separate kind, so a prompt list can read
"withdrawal of 45,000 won".

Defence in depth: balance and transactions answer only for an account whose PIN was verified
earlier in the same call (by call id), so a mistake in a flow cannot read out a balance to an
unauthenticated caller; such a request raises ActionError and the node's fallback runs.
Unexpected backend exceptions become AccountsUnavailable too, with only the exception's type in
the message: a driver's message might quote a query's values.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from ...flow.actions import Action, ActionError, ActionResult, ActionSpec, CallInfo, Value
from .model import PIN_OUTCOMES, AccountsUnavailable, UnknownAccount, decimal_text
from .store import AccountStore

log = logging.getLogger(__name__)

TX_SHOWN = 3
_TX_FIELDS = ("date", "amount", "kind", "currency")

ACCOUNT_ACTION_SPECS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec(
            name="accounts.lookup_caller",
            args=("caller",),
            outcomes=("found", "not_found"),
            results=("account", "last4", "count"),
            description="Accounts registered to the calling number (the first one, its last "
                        "four digits, how many), to offer 'the account ending 1234'.",
        ),
        ActionSpec(
            name="accounts.verify_pin",
            args=("account", "pin"),
            outcomes=PIN_OUTCOMES,
            results=("attempts_left",),
            secure_args=("pin",),
            description="Check the PIN; the 3rd wrong one in a row answers 'locked'. "
                        "Rate-limited per caller number.",
        ),
        ActionSpec(
            name="accounts.balance",
            args=("account",),
            outcomes=("ok", "unknown_account"),
            results=("balance", "currency"),
            description="Available balance of an account verified in this call.",
        ),
        ActionSpec(
            name="accounts.transactions",
            args=("account",),
            outcomes=("ok", "none"),
            results=("count", *(f"tx{i}_{f}" for i in range(1, TX_SHOWN + 1)
                                for f in _TX_FIELDS)),
            description="The last three transactions of an account verified in this call.",
        ),
    )
}

Handler = Callable[[Mapping[str, Value], CallInfo], Awaitable[ActionResult]]


@dataclass(slots=True)
class _Action:
    spec: ActionSpec
    handler: Handler

    async def __call__(self, args: Mapping[str, Value], call: CallInfo) -> ActionResult:
        try:
            return await self.handler(args, call)
        except ActionError:
            raise
        except Exception as exc:
            failure = type(exc).__name__
            # The traceback helps, unless the arguments hold a secret the error might quote.
            shown = None if self.spec.secure_args else exc
        # Raised outside the except block so the original is not even kept as the hidden
        # __context__.
        log.error("%s failed: %s", self.spec.name, failure, exc_info=shown)
        raise AccountsUnavailable(f"{self.spec.name}: backend error ({failure})")


def _text(args: Mapping[str, Value], name: str) -> str:
    """An argument as text; numbers keep their digits, anything else is empty (invalid)."""
    value = args.get(name)
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


class _Verified:
    """(call id, account) pairs whose PIN was verified, forgotten after `ttl` seconds."""

    def __init__(self, ttl: float, clock: Callable[[], float]) -> None:
        self.ttl = ttl
        self.clock = clock
        self._until: dict[tuple[str, str], float] = {}

    def add(self, call_id: str, account: str) -> None:
        now = self.clock()
        for key in [k for k, until in self._until.items() if until < now]:
            del self._until[key]
        self._until[(call_id, account)] = now + self.ttl

    def check(self, name: str, call: CallInfo, account: str) -> None:
        if self._until.get((call.call_id, account), 0.0) < self.clock():
            raise ActionError(f"{name}: account {account} was not verified in this call")


def account_actions(store: AccountStore, *, require_verified: bool = True,
                    verified_for: float = 4 * 3600.0,
                    clock: Callable[[], float] = time.monotonic) -> dict[str, Action]:
    """The actions, by name, for `FlowContext.actions`.

    `require_verified`: balance and transactions only for an account whose PIN was verified
    in the same call, within `verified_for` seconds.
    """
    verified = _Verified(verified_for, clock)

    async def lookup_caller(args: Mapping[str, Value], call: CallInfo) -> ActionResult:
        accounts = await store.lookup_by_caller(_text(args, "caller") or call.caller)
        if not accounts:
            return ActionResult("not_found", {"account": None, "last4": None, "count": 0})
        first = accounts[0]
        return ActionResult("found", {"account": first.account_no, "last4": first.last4,
                                      "count": len(accounts)})

    async def verify_pin(args: Mapping[str, Value], call: CallInfo) -> ActionResult:
        account = _text(args, "account")
        check = await store.verify_pin(account, _text(args, "pin"), call.caller)
        if check.outcome == "ok":
            verified.add(call.call_id, account)
        log.info("accounts.verify_pin account=%s outcome=%s call=%s",
                 account if check.outcome != "invalid_input" else "(invalid)",
                 check.outcome, call.call_id)
        return ActionResult(check.outcome, {"attempts_left": check.attempts_left},
                            authenticated={"account": account} if check.outcome == "ok" else {})

    async def balance(args: Mapping[str, Value], call: CallInfo) -> ActionResult:
        account = _text(args, "account")
        if require_verified:
            verified.check("accounts.balance", call, account)
        try:
            found = await store.balance(account)
        except UnknownAccount:
            return ActionResult("unknown_account", {"balance": None, "currency": None})
        return ActionResult("ok", {"balance": decimal_text(found.available),
                                   "currency": found.currency})

    async def transactions(args: Mapping[str, Value], call: CallInfo) -> ActionResult:
        account = _text(args, "account")
        if require_verified:
            verified.check("accounts.transactions", call, account)
        try:
            items = await store.transactions(account, TX_SHOWN)
        except UnknownAccount:
            items = []
        values: dict[str, Value] = {"count": len(items)}
        for i in range(1, TX_SHOWN + 1):
            tx = items[i - 1] if i <= len(items) else None
            values[f"tx{i}_date"] = tx.date.isoformat() if tx else None
            values[f"tx{i}_amount"] = decimal_text(abs(tx.amount)) if tx else None
            values[f"tx{i}_kind"] = tx.kind if tx else None
            values[f"tx{i}_currency"] = (tx.currency or None) if tx else None
        return ActionResult("ok" if items else "none", values)

    handlers: dict[str, Handler] = {
        "accounts.lookup_caller": lookup_caller,
        "accounts.verify_pin": verify_pin,
        "accounts.balance": balance,
        "accounts.transactions": transactions,
    }
    return {name: _Action(ACCOUNT_ACTION_SPECS[name], fn) for name, fn in handlers.items()}
