"""Handlers for the nodes that do not wait for the caller (menu and collect are in dialog.py).

Each takes the Runtime and its node and returns a `Next` (see runtime.py). Errors the flow can
cause are raised as ExpressionError / FlowRuntimeError; the interpreter traces them and routes
the call to the node's fallback or a polite hang-up.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .hours import ScheduleError, is_open
from .http import HttpError, PathError, lookup
from .model import (
    BranchNode,
    GotoNode,
    HandoffNode,
    HangupNode,
    HoursNode,
    HttpNode,
    LanguageNode,
    PlayNode,
    SetNode,
)
from .runtime import BUILTINS, End, FlowRuntimeError, Next, Runtime
from .types import Disposition, HandoffKind, HandoffRequest

HTTP_GRACE = 0.5
"""Seconds past a request's own timeout before the interpreter gives up on the client."""


async def run_play(rt: Runtime, node: PlayNode) -> Next:
    await rt.play(node.prompts, barge_in=node.barge_in)
    return node.next or None


async def run_set(rt: Runtime, node: SetNode) -> Next:
    """Assign in order, so a later value may use an earlier one."""
    shown: dict[str, Any] = {}
    for name, text in node.values.items():
        if name in BUILTINS:
            raise FlowRuntimeError(f"{name!r} is built in and cannot be set")
        value = rt.evaluate(text)
        rt.set_variable(name, value, secret=rt.reads_secret(text))
        shown[name] = rt.shown(name, value)
    rt.trace("set", node=rt.qualify(node.id), values=shown)
    return node.next or None


async def run_branch(rt: Runtime, node: BranchNode) -> Next:
    for index, condition in enumerate(node.conditions):
        if rt.truthy(condition.when):
            rt.trace("branch", node=rt.qualify(node.id), taken=index, target=condition.target)
            return condition.target
    if not node.otherwise:
        raise FlowRuntimeError("no condition holds and there is no else")
    rt.trace("branch", node=rt.qualify(node.id), taken="else", target=node.otherwise)
    return node.otherwise


async def run_hours(rt: Runtime, node: HoursNode) -> Next:
    now = rt.ctx.now()
    try:
        status = is_open(node.schedule, now)
    except ScheduleError as exc:
        raise FlowRuntimeError(str(exc)) from None
    target = {"open": node.open, "closed": node.closed,
              "holiday": node.holiday or node.closed}[status]
    rt.trace("hours", node=rt.qualify(node.id), status=status, now=now.isoformat(),
             target=target)
    if not target:
        raise FlowRuntimeError(f"no target for {status}")
    return target


async def run_language(rt: Runtime, node: LanguageNode) -> Next:
    """Switch the caller's language; every prompt after this is resolved in it.

    A language the flow does not declare is traced as an error and ignored: the caller keeps
    the language they already hear rather than being hung up on or hearing missing prompts.
    """
    language = rt.render(node.language).strip()
    previous = rt.io.language
    if rt.flow.languages and language not in rt.flow.languages:
        rt.trace("error", node=rt.qualify(node.id),
                 message=f"language {language!r} is not one of {', '.join(rt.flow.languages)}; "
                         f"staying in {previous!r}")
        return node.next or None
    rt.io.language = language
    rt.trace("language", node=rt.qualify(node.id), language=language, previous=previous)
    return node.next or None


async def run_goto(rt: Runtime, node: GotoNode) -> Next:
    if not node.target:
        raise FlowRuntimeError("goto without a target")
    return node.target


async def run_hangup(rt: Runtime, node: HangupNode) -> Next:
    await rt.play(node.prompts, barge_in=False)
    return End("completed")


async def run_handoff(rt: Runtime, node: HandoffNode) -> Next:
    """Offer the call to its service with ${var}s filled; taken -> the flow ends, an outcome
    -> `on`, declined or an outcome `on` does not name -> `next`."""
    request = HandoffRequest(
        kind=HandoffKind(node.kind), target=rt.render(node.target), node=node.id,
        flow=rt.state.flow or rt.flow.name,
        options={key: rt.render(value) for key, value in node.options.items()},
        variables=rt.masked_variables(), path=tuple(rt.state.path),
        inputs=tuple(rt.state.inputs),
        authenticated=dict(rt.state.authenticated))
    result = await rt.io.handoff(request)
    rt.quiet_steps = 0
    rt.trace("handoff", node=rt.qualify(node.id), kind=node.kind,
             target=rt.scrub(request.target), taken=result.disposition is Disposition.TAKEN,
             outcome=result.traced)
    if result.disposition is Disposition.TAKEN:
        return End(f"handoff:{node.kind}", hangup=False)
    if result.disposition is Disposition.ROUTED:
        return node.on.get(result.outcome) or node.next or None
    return node.next or None


async def run_http(rt: Runtime, node: HttpNode) -> Next:
    """Request with retries; on success store `results`, else raise (-> fallback).

    Timeouts, connection failures and 5xx are retried after a short backoff (the service may
    recover within the call); a 4xx, a reply that is not JSON or a missing result path will not
    change on a retry, so they fail at once.
    """
    url = rt.render(node.url)
    method = node.method.upper()
    body = {name: rt.evaluate(text) for name, text in node.body.items()} or None
    tries = 1 + max(0, node.retries)
    failure = ""
    for attempt in range(1, tries + 1):
        if attempt > 1:
            await rt.ctx.sleep(min(0.2 * 2 ** (attempt - 2), 1.0))
        started = time.monotonic()
        status: int | None = None
        transient = True
        try:
            async with asyncio.timeout(node.timeout + HTTP_GRACE):
                status, data = await rt.ctx.http.request(method, url, body, node.timeout)
        except TimeoutError:
            failure = f"timeout after {node.timeout:g}s"
        except HttpError as exc:
            failure, transient = str(exc), exc.transient
        except Exception as exc:  # a custom client's bug must not end the call
            failure = f"{type(exc).__name__}: {exc}"
        else:
            failure, transient = _check(status, data, node, rt)
        fields: dict[str, Any] = {"node": rt.qualify(node.id), "method": method,
                                  "url": rt.scrub(url), "attempt": attempt,
                                  "ms": round((time.monotonic() - started) * 1000)}
        if status is not None:
            fields["status"] = status
        if failure:
            fields["error"] = rt.scrub(failure)
        rt.trace("http", **fields)
        if not failure:
            return node.next or None
        if not transient:
            break
    raise FlowRuntimeError(f"{method} {url} failed: {failure}")


def _check(status: int, data: Any, node: HttpNode, rt: Runtime) -> tuple[str, bool]:
    """Judge one reply: ("", _) and the results stored, or (failure, transient)."""
    if status >= 400:
        return f"status {status}", status >= 500
    try:
        values = {name: lookup(data, path) for name, path in node.results.items()}
    except PathError as exc:
        return str(exc), False
    for name, value in values.items():
        rt.set_variable(name, value, secret=False)
    return "", False
