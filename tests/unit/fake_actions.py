"""Fake actions for flow tests: the specs of the accounts actions, and scriptable implementations.

The specs mirror the contract of ivr/services/accounts (names, args, outcomes, results, the
secure PIN) without importing it, so the flow layer's tests do not depend on a backend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from ivr.flow.actions import ActionError, ActionResult, ActionSpec, CallInfo, Value

VERIFY_PIN = ActionSpec(
    name="accounts.verify_pin", args=("account", "pin"),
    outcomes=("ok", "wrong_pin", "locked", "unknown_account"), results=("attempts_left",),
    secure_args=("pin",))
BALANCE = ActionSpec(
    name="accounts.balance", args=("account",), outcomes=("ok", "unknown_account"),
    results=("balance", "currency"))
LOOKUP_CALLER = ActionSpec(
    name="accounts.lookup_caller", args=("caller",), outcomes=("found", "not_found"),
    results=("account", "last4"))

SPECS: dict[str, ActionSpec] = {s.name: s for s in (VERIFY_PIN, BALANCE, LOOKUP_CALLER)}

Handler = Callable[[Mapping[str, Value], CallInfo], Awaitable[ActionResult]]


@dataclass
class FakeAction:
    """An Action whose answer is a function; every call is kept for the test to inspect."""

    spec: ActionSpec
    handler: Handler
    calls: list[tuple[dict[str, Value], CallInfo]] = field(default_factory=list)

    async def __call__(self, args: Mapping[str, Value], call: CallInfo) -> ActionResult:
        self.calls.append((dict(args), call))
        return await self.handler(args, call)


def answering(spec: ActionSpec, outcome: str, **values: Value) -> FakeAction:
    """An action that always answers `outcome` with `values`."""
    async def handler(args: Mapping[str, Value], call: CallInfo) -> ActionResult:
        return ActionResult(outcome, values)
    return FakeAction(spec, handler)


def failing(spec: ActionSpec, error: BaseException) -> FakeAction:
    async def handler(args: Mapping[str, Value], call: CallInfo) -> ActionResult:
        raise error
    return FakeAction(spec, handler)


def slow(spec: ActionSpec, seconds: float) -> FakeAction:
    async def handler(args: Mapping[str, Value], call: CallInfo) -> ActionResult:
        await asyncio.sleep(seconds)
        return ActionResult("ok")
    return FakeAction(spec, handler)


def pin_checker(pin: str = "4321", *, attempts: int = 3) -> FakeAction:
    """verify_pin against one PIN; its error on a malformed PIN quotes the PIN (as a careless
    backend would), which the interpreter must mask."""
    left = [attempts]

    async def handler(args: Mapping[str, Value], call: CallInfo) -> ActionResult:
        given = str(args["pin"])
        if not given.isdigit():
            raise ActionError(f"backend refused pin {given}")
        if given == pin:
            return ActionResult("ok", {"attempts_left": attempts})
        left[0] -= 1
        return ActionResult("wrong_pin" if left[0] else "locked", {"attempts_left": left[0]})
    return FakeAction(VERIFY_PIN, handler)


__all__ = ["BALANCE", "LOOKUP_CALLER", "SPECS", "VERIFY_PIN", "ActionError", "FakeAction",
           "answering", "failing", "pin_checker", "slow"]
