"""What every node handler needs while a call runs: scope, templates, prompts, masking, tracing.

`Runtime` binds one call's CallIO, FlowContext and FlowState to the flow being walked (which
changes inside subflows). Handlers in nodes.py and dialog.py receive it and return a `Next`:
a node id in the current flow, `None` to fall off the end (a return from a subflow, or the end
of the call), or `End` to finish the call with an outcome.

Secrets: a `secure` collect marks its variable secret; a `set`, subflow param or return computed
from a secret is secret too (action arguments: see action_node.py). Secret values never reach
io.trace: prompts that speak them are played with `secure=True` (the io masks their ids), and
every error message is scrubbed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import expr
from .expr import ExpressionError, Value
from .model import Flow, Prompts
from .state import FlowContext, FlowState
from .types import MASK, CallIO

BUILTINS = frozenset({"caller", "language", "call_id", "flow"})
"""Variables every flow can read; the call owns them, so `set` cannot change them."""


NO_MATCH_KEY = "?"
"""What CallIO.read_digit gives for speech it could not match (or matched with too little
confidence): no option has it, so the node takes its no-match path."""
SPEECH_UNAVAILABLE = "speech-unavailable"
"""Prompt played when a node would listen but cannot in the caller's language."""


class FlowRuntimeError(Exception):
    """Something the flow asked for cannot be done (unset variable, unknown flow, no target).

    Treated like an ExpressionError: traced, then the node's fallback or a polite hang-up.
    """


@dataclass(frozen=True, slots=True)
class End:
    """Finish the call: `outcome` for the record; hang up unless a service took the call."""

    outcome: str
    hangup: bool = True


Next = str | End | None

RUNTIME_ERRORS = (ExpressionError, FlowRuntimeError)


class Runtime:
    def __init__(self, flow: Flow, io: CallIO, ctx: FlowContext, state: FlowState) -> None:
        self.flow = flow
        """The flow whose nodes are being walked (a subflow while one runs)."""
        self.io = io
        self.ctx = ctx
        self.state = state
        self.quiet_steps = 0
        """Nodes run since the caller last heard or pressed anything (loop guard)."""
        self.told_keypad: set[str] = set()
        """Languages the caller was told (once) to use the keypad in: no speech there."""

    # names and values -------------------------------------------------------------------

    def qualify(self, node_id: str) -> str:
        """Node ids as traced and kept in the path: `flow:node` inside subflows."""
        return f"{self.flow.name}:{node_id}" if self.state.frames else node_id

    def scope(self) -> dict[str, Value]:
        """Variables plus the built-ins, which always win so `language` is the current one."""
        return {**self.state.variables, "caller": self.io.caller, "language": self.io.language,
                "call_id": self.io.call_id, "flow": self.flow.name}

    def render(self, template: str) -> str:
        """Fill ${var}; unlike expr.render, an unset variable is an error, not silence."""
        scope = self.scope()
        missing = sorted(expr.template_variables(template) - scope.keys())
        if missing:
            raise FlowRuntimeError(f"variable {missing[0]!r} is not set (in {template!r})")
        return expr.render(template, scope)

    def evaluate(self, text: str) -> Value:
        return expr.evaluate(text, self.scope())

    def truthy(self, text: str) -> bool:
        return expr.truthy(text, self.scope())

    def set_variable(self, name: str, value: Value, *, secret: bool) -> None:
        self.state.variables[name] = value
        if secret:
            self.state.secure_vars.add(name)
        else:
            self.state.secure_vars.discard(name)

    # secrets ----------------------------------------------------------------------------

    def reads_secret(self, text: str, *, template: bool = False) -> bool:
        names = expr.template_variables(text) if template else expr.variables(text)
        return bool(names & self.state.secure_vars)

    def shown(self, name: str, value: Value) -> Value:
        """What traces may show of a variable."""
        return MASK if name in self.state.secure_vars else value

    def masked_variables(self) -> dict[str, Value]:
        return {name: self.shown(name, value) for name, value in self.state.variables.items()}

    def scrub(self, text: str) -> str:
        """Remove secret values from a message (Python errors quote the values they choke on).

        Every occurrence goes, even of a short value that also appears by chance: a mangled
        message is a small price next to a leaked PIN. Booleans and nulls are not secrets.
        """
        secrets = [(frame.variables, frame.secure_vars) for frame in self.state.frames]
        secrets.append((self.state.variables, self.state.secure_vars))
        for variables, names in secrets:
            for name in names:
                value = variables.get(name)
                if value is not None and not isinstance(value, bool) and str(value):
                    text = text.replace(str(value), MASK)
        return text

    # talking to the caller --------------------------------------------------------------

    def trace(self, event: str, **fields: Any) -> None:
        self.io.trace(event, **fields)

    def resolve(self, prompts: Prompts) -> list[tuple[list[str], bool]]:
        """Prompt ids in the CURRENT language, in runs of (ids, speaks a secret)."""
        runs: list[tuple[list[str], bool]] = []
        language = self.io.language
        for item in prompts:
            secret = self.reads_secret(item.value, template=True)
            text = self.render(item.value)
            if item.kind == "prompt":
                ids = [text] if text else []  # `${greeting}` set to "": nothing to play
            else:
                # A unit template that renders empty stays "" (an error in say), never None:
                # silently falling back to the language's currency is the bug units prevent.
                unit = self.render(item.unit) if item.unit else None
                try:
                    ids = list(self.ctx.say(item.kind, text, language) if unit is None
                               else self.ctx.say(item.kind, text, language, unit))
                except Exception as exc:
                    shown = MASK if secret else repr(text)
                    raise FlowRuntimeError(
                        f"cannot say {shown} as {item.kind} in {language!r}: "
                        f"{self.scrub(str(exc))}") from None
            if runs and runs[-1][1] == secret:
                runs[-1][0].extend(ids)
            else:
                runs.append((ids, secret))
        return runs

    async def play(self, prompts: Prompts, *, barge_in: bool) -> None:
        """Play a prompt list. Runs that speak a secret go out as separate `secure` plays;
        barge-in still spans them because io.play skips when a key is already waiting."""
        for ids, secret in self.resolve(prompts):
            if ids:
                self.quiet_steps = 0
                await self.io.play(ids, barge_in=barge_in, secure=secret)

    async def read(self, timeout: float, *, secure: bool = False) -> str | None:
        self.quiet_steps = 0
        return await self.io.read_digit(timeout, secure=secure)

    async def read_digit(self, timeout: float, *, secure: bool = False) -> str | None:
        """`read` as a media.entry.Keypad, so entries follow the line engine's rules."""
        return await self.read(timeout, secure=secure)

    def forgive(self, key: str, within: float) -> None:
        self.io.forgive(key, within)

