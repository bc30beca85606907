"""Runs one call through a flow. The interpreter talks to the call only through `CallIO`.

`CallIO` (types.py) is what a channel offers an IVR: play prompts (with barge-in), read a digit
from the type-ahead buffer, hand the call to a service, hang up, and trace. The app implements
it over ARI (app/call.py); tests and the simulator implement it in memory.

The interpreter is one explicit state machine over `FlowState`: the current flow and node, the
variables, the stack of subflow frames, the path walked and, once set, the outcome. Each step
runs one node (handlers in nodes.py and dialog.py) and applies what it returns: the next node,
falling off the end (return from a subflow, or the end of the call), or the end with an outcome.
Because all of it lives in FlowState, a test or a tool can inspect a call at any point.

Errors the flow author can cause at run time (a bad expression, an unset variable, an unknown
subflow) never escape: they are traced as `error` with the node and a message scrubbed of
secrets, and the call goes to the node's fallback, or hangs up politely with outcome "error".
Exceptions from the CallIO itself (the caller hung up, Asterisk went away) do propagate: they
end the call, and the app owns that.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from . import action_node, dialog, nodes
from .expr import Value
from .model import (
    ActionNode,
    AnyNode,
    BranchNode,
    CollectNode,
    Flow,
    GotoNode,
    HandoffNode,
    HangupNode,
    HoursNode,
    HttpNode,
    LanguageNode,
    MenuNode,
    PlayNode,
    ReturnNode,
    SetNode,
    SubflowNode,
)
from .runtime import RUNTIME_ERRORS, End, FlowRuntimeError, Next, Runtime
from .state import FlowContext, FlowState, Frame
from .types import CallIO

MAX_SUBFLOW_DEPTH = 8
MAX_QUIET_STEPS = 1000
"""Nodes in a row without playing or reading: beyond this the flow is looping on itself
(and, never awaiting the caller, would hold the event loop that serves every other call)."""
MAX_STEPS = 20_000
"""Nodes in one call: far beyond any real caller's patience; a bound on a runaway flow."""


Handler = Callable[[Runtime, Any], Awaitable[Next]]

HANDLERS: dict[type, Handler] = {
    PlayNode: nodes.run_play,
    MenuNode: dialog.run_menu,
    CollectNode: dialog.run_collect,
    SetNode: nodes.run_set,
    BranchNode: nodes.run_branch,
    HoursNode: nodes.run_hours,
    HttpNode: nodes.run_http,
    LanguageNode: nodes.run_language,
    GotoNode: nodes.run_goto,
    HangupNode: nodes.run_hangup,
    HandoffNode: nodes.run_handoff,
    ActionNode: action_node.run_action,
}


async def run_flow(flow: Flow, io: CallIO, ctx: FlowContext,
                   state: FlowState | None = None) -> FlowState:
    """Run the call to its end; the final state (outcome set) is returned.

    A fresh state starts at `flow.entry`; a state that already has a node resumes there.
    """
    state = state if state is not None else FlowState()
    if state.outcome:
        return state
    if state.node is None:
        state.flow, state.node = flow.name, flow.entry
    current = ctx.flows.get(state.flow, flow) if state.frames else flow
    rt = Runtime(current, io, ctx, state)
    while not state.outcome:
        await _step(rt)
    return state


async def _step(rt: Runtime) -> None:
    state = rt.state
    if state.node is None:
        await _apply(rt, None)
        return
    node = rt.flow.nodes.get(state.node)
    if node is None:
        _error(rt, state.node, f"node {state.node!r} does not exist in flow {rt.flow.name!r}")
        await _apply(rt, End("error"))
        return
    qid = rt.qualify(node.id)
    state.path.append(qid)
    rt.trace("node", node=qid)
    rt.quiet_steps += 1
    runaway = ""
    if rt.quiet_steps > MAX_QUIET_STEPS:
        runaway = f"{MAX_QUIET_STEPS} nodes without a prompt or a key: a loop"
    elif len(state.path) > MAX_STEPS:
        runaway = f"more than {MAX_STEPS} nodes in one call"
    if runaway:
        _error(rt, node.id, runaway)
        await _apply(rt, End("error"))
        return
    try:
        result = await _run_node(rt, node)
    except RUNTIME_ERRORS as exc:
        fallback = fallback_of(node)
        _error(rt, node.id, str(exc), fallback)
        result = fallback or End("error")
    await _apply(rt, result)


def _error(rt: Runtime, node_id: str, message: str, fallback: str = "") -> None:
    fields: dict[str, Any] = {"node": rt.qualify(node_id), "message": rt.scrub(message)}
    if fallback:
        fields["fallback"] = fallback
    rt.trace("error", **fields)


def fallback_of(node: AnyNode) -> str:
    if isinstance(node, MenuNode | CollectNode):
        return node.escalation.fallback
    if isinstance(node, HttpNode | ActionNode):
        return node.fallback
    return ""


async def _run_node(rt: Runtime, node: AnyNode) -> Next:
    if isinstance(node, SubflowNode):
        return _enter_subflow(rt, node)
    if isinstance(node, ReturnNode):
        return None
    handler = HANDLERS.get(type(node))
    if handler is None:
        raise FlowRuntimeError(f"node type {type(node).__name__} is not supported")
    return await handler(rt, node)


async def _apply(rt: Runtime, result: Next) -> None:
    state = rt.state
    if isinstance(result, str):
        state.node = result
        return
    if result is None:
        if state.frames:
            _return_from_subflow(rt)
            return
        result = End("completed")
    state.node = None
    state.outcome = result.outcome
    if result.hangup:
        await rt.io.hangup()


def _enter_subflow(rt: Runtime, node: SubflowNode) -> Next:
    """Push a frame; the subflow starts with only its params as variables."""
    state = rt.state
    if len(state.frames) >= MAX_SUBFLOW_DEPTH:
        raise FlowRuntimeError(f"subflows nested deeper than {MAX_SUBFLOW_DEPTH}")
    sub = rt.ctx.flows.get(node.flow)
    if sub is None:
        raise FlowRuntimeError(f"no flow named {node.flow!r}")
    values: dict[str, Value] = {}
    secret: set[str] = set()
    for name, text in node.params.items():
        values[name] = rt.evaluate(text)
        if rt.reads_secret(text):
            secret.add(name)
    missing = [name for name in sub.params if name not in values]
    if missing:
        raise FlowRuntimeError(f"flow {sub.name!r} needs param {missing[0]!r}")
    rt.trace("subflow", node=rt.qualify(node.id), flow=sub.name, depth=len(state.frames) + 1)
    state.frames.append(Frame(rt.flow, node.id, state.variables, state.secure_vars))
    state.variables, state.secure_vars = values, secret
    state.flow, rt.flow = sub.name, sub
    return sub.entry


def _return_from_subflow(rt: Runtime) -> None:
    """Pop a frame and copy `returns` back; a return the subflow never set arrives as null."""
    state = rt.state
    frame = state.frames.pop()
    sub_name, sub_vars, sub_secure = rt.flow.name, state.variables, state.secure_vars
    state.variables, state.secure_vars = frame.variables, frame.secure_vars
    state.flow, rt.flow = frame.flow.name, frame.flow
    node = frame.flow.nodes[frame.node]
    assert isinstance(node, SubflowNode)
    for here, there in node.returns.items():
        rt.set_variable(here, sub_vars.get(there), secret=there in sub_secure)
    rt.trace("return", node=rt.qualify(node.id), flow=sub_name, returned=sorted(node.returns))
    state.node = node.next or None
