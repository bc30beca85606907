"""The `action` node: ask a service (actions.py) and branch on the outcome it answers.

An action is code the service owns (a PIN check, a balance); the flow only names it, passes
arguments and maps outcomes to nodes. Three promises hold here whatever the action does:

- The call never hangs on a service: the action runs under the node's `timeout`, and a
  timeout, an ActionError or any other exception from the action sends the call to
  `fallback` (an action's bug costs one branch, not the call).
- Secrets stay secret. An argument is secret if its expression reads a secure variable or
  the action's spec lists it in `secure_args` (a PIN typed into a non-secure collect is still
  a PIN). Traces carry the action name, the outcome and the names of the non-secret results,
  never argument values; failure messages are scrubbed of every secret before they are
  traced or logged. A result field named like a secure argument (an action echoing a new
  PIN) lands in a secure variable.
- `results` are set on every `on` edge (a field the action left out arrives as null, so the
  checker's "set on this edge" holds), and on no other way out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from .actions import Action, ActionError, ActionResult, ActionSpec, CallInfo, Value
from .model import ActionNode
from .runtime import FlowRuntimeError, Next, Runtime
from .types import MASK

log = logging.getLogger(__name__)


async def run_action(rt: Runtime, node: ActionNode) -> Next:
    """Evaluate the args, run the action under its timeout, and go where its outcome says.

    An action the context does not offer raises FlowRuntimeError: the interpreter traces it
    as an `error` and takes the fallback, as for any other mistake in the flow.
    """
    qid = rt.qualify(node.id)
    action = rt.ctx.actions.get(node.action)
    if action is None:
        raise FlowRuntimeError(f"no action named {node.action!r} is available")
    secure_args = set(action.spec.secure_args)
    args: dict[str, Value] = {}
    secrets: list[Value] = []
    for name, text in node.args.items():
        value = rt.evaluate(text)
        args[name] = value
        if name in secure_args or rt.reads_secret(text):
            secrets.append(value)
    call = CallInfo(call_id=rt.io.call_id, caller=rt.io.caller, language=rt.io.language)
    started = time.monotonic()
    failure = ""
    result: Any = None
    try:
        async with asyncio.timeout(node.timeout):
            result = await action(args, call)
    except TimeoutError:
        failure = f"timeout after {node.timeout:g}s"
    except ActionError as exc:
        failure = str(exc) or "the service could not answer"
    except Exception as exc:  # an action's bug must not end the call
        failure = f"{type(exc).__name__}: {exc}"
    else:
        if not isinstance(result, ActionResult):
            failure = f"answered {type(result).__name__}, not an ActionResult"
    ms = round((time.monotonic() - started) * 1000)
    if failure:
        return _failed(rt, node, _scrub(rt, failure, secrets), ms)
    assert isinstance(result, ActionResult)
    target = node.on.get(result.outcome)
    if target is None:
        rt.trace("action", node=qid, action=node.action,
                 outcome=_scrub(rt, str(result.outcome), secrets), handled=False,
                 target=node.fallback, ms=ms)
        return _fallback(node, "answered an outcome that 'on' does not name")
    values: dict[str, Value] = {}
    for name, field in node.results.items():
        try:
            values[name] = _value(result.values.get(field))
        except ValueError as exc:
            return _failed(rt, node, f"result {field!r}: {exc}", ms)
    secret_results = {name for name, field in node.results.items() if field in secure_args}
    for name, value in values.items():
        rt.set_variable(name, value, secret=name in secret_results)
    rt.state.authenticated.update(result.authenticated)
    rt.trace("action", node=qid, action=node.action, outcome=result.outcome, target=target,
             results=sorted(set(values) - secret_results), ms=ms)
    return target


def _failed(rt: Runtime, node: ActionNode, message: str, ms: int) -> Next:
    qid = rt.qualify(node.id)
    rt.trace("action_failed", node=qid, action=node.action, error=message,
             target=node.fallback, ms=ms)
    log.warning("action %s failed in node %s of flow %s: %s", node.action, qid, rt.flow.name,
                message)
    return _fallback(node, "failed")


def _fallback(node: ActionNode, why: str) -> Next:
    if not node.fallback:
        raise FlowRuntimeError(f"action {node.action!r} {why} and there is no fallback")
    return node.fallback


def _value(value: object) -> Value:
    """A result as a flow value; Decimal (money) becomes its exact text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Decimal):
        return str(value)
    raise ValueError(f"{type(value).__name__} is not a value (text, number, true/false, null)")


def _scrub(rt: Runtime, text: str, secrets: Iterable[Value]) -> str:
    """Runtime.scrub (secure variables) plus the secret arguments' own values."""
    text = rt.scrub(text)
    for value in secrets:
        if value is not None and not isinstance(value, bool) and str(value):
            text = text.replace(str(value), MASK)
    return text


def specs_of(actions: Mapping[str, Action]) -> dict[str, ActionSpec]:
    """The specs of implementations, for the checker (library.load_folder's `actions`)."""
    return {name: action.spec for name, action in actions.items()}
