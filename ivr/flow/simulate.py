"""Run a flow without telephony, on a virtual clock, and record what the caller would hear.

Operations staff edit flows; `ivr simulate` lets them walk a call in a second and read the
transcript: every prompt (id and its text in the caller's current language), every key, every
node, the outcome. Tests use the same machinery, so a whole call runs in milliseconds.

Time is virtual: a prompt lasts as long as its WAV file (or about 0.06 s per character of its
manifest text when there is no file yet), a read that gets no key lasts its timeout, and
nothing sleeps for real. The hours node sees the virtual time too.

The caller's keys are a script (see `KeyScript`): plain items answer the flow's reads in order,
`-` is a read left unanswered (its timeout passes), and `KEY@SECONDS` presses a key at a virtual
time, which is how barge-in and type-ahead are exercised. When the script runs out the caller
stays silent (or, interactively, is asked); a caller silent for too long hangs up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import wave
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..media.prompts import PromptLibrary
from .actions import Action
from .expr import Value
from .http import HttpClient, UnavailableHttp
from .interpreter import run_flow
from .model import Flow
from .state import FlowContext, FlowState
from .types import DECLINED, MASK, TAKEN, HandoffRequest, HandoffResult, Listen

KEYS = frozenset("0123456789*#ABCD")
SILENCE = frozenset({"-", "_", "…", "...", "."})
SECONDS_PER_CHAR = 0.06
KEY_DELAY = 0.3
"""Virtual seconds a scripted caller takes to press a key the flow waits for."""
TIMED_KEY_SPACING = 0.25
GIVE_UP_AFTER = 10
"""Unanswered reads in a row, once the script has run out, before the caller hangs up."""
MAX_SECONDS = 3600.0

Ask = Callable[[], Awaitable[str | None]]
"""Interactive input: the next line of keys, or None when the person is done (hang up)."""


class SimulatedHangup(Exception):
    """The simulated caller hung up (script exhausted and silent too long, EOF, time limit)."""


def parse_keys(text: str) -> list[str | None]:
    """'1 2 - 1234# 3@12.5' -> ['1', '2', None, '1234#', '3@12.5']."""
    return [None if token in SILENCE else token for token in text.split()]


@dataclass(order=True)
class TimedKey:
    at: float
    key: str = field(compare=False)


class KeyScript:
    """The caller's keys: untimed ones answer reads in order, timed ones wait for their time."""

    def __init__(self, items: Sequence[str | None] = ()) -> None:
        self.untimed: deque[str | None] = deque()
        self.timed: list[TimedKey] = []
        self.extend(items)

    def extend(self, items: Sequence[str | None]) -> None:
        for item in items:
            if item is None or item in SILENCE:
                self.untimed.append(None)
                continue
            keys, at, when = item.strip(), None, ""
            if "@" in keys:
                keys, when = keys.rsplit("@", 1)
                try:
                    at = float(when.rstrip("s"))
                except ValueError:
                    raise ValueError(f"{item!r}: the time after @ is in seconds") from None
            bad = sorted(set(keys) - KEYS)
            if bad or not keys:
                raise ValueError(f"{item!r}: keys are 0-9 * # A-D ({bad or 'none given'})")
            if at is None:
                self.untimed.extend(keys)
            else:
                self.timed += [TimedKey(at + i * TIMED_KEY_SPACING, k) for i, k in enumerate(keys)]
        self.timed.sort()

    def due(self, until: float) -> list[str]:
        """Timed keys pressed up to `until`, removed from the script."""
        return [timed.key for timed in self.due_keys(until)]

    def due_keys(self, until: float) -> list[TimedKey]:
        out: list[TimedKey] = []
        while self.timed and self.timed[0].at <= until:
            out.append(self.timed.pop(0))
        return out

    def next_time(self) -> float | None:
        return self.timed[0].at if self.timed else None


class SimulatedCall:
    """CallIO on a virtual clock. `events` is the transcript: the io's own events (play,
    skipped, key, no_key, hangup, handoff) interleaved with the interpreter's traces."""

    def __init__(self, prompts: PromptLibrary, keys: Sequence[str | None] = (), *,
                 language: str, caller: str = "", call_id: str = "simulated",
                 accept_handoff: bool = False, ask: Ask | None = None,
                 echo: Callable[[dict[str, Any]], None] | None = None,
                 hangup_at: float | None = None) -> None:
        self.prompts = prompts
        self.hangup_at = hangup_at
        """Virtual second at which the caller hangs up, wherever the flow is (a scenario's
        caller who hangs up mid-menu); None: only when the script runs out."""
        self.script = KeyScript(keys)
        self.language = language
        self.caller = caller
        self.call_id = call_id
        self.accept_handoff = accept_handoff
        self.ask = ask
        self.echo = echo
        self.clock = 0.0
        self.buffer: deque[str] = deque()
        self.events: list[dict[str, Any]] = []
        self.hung_up = False
        self._silent_reads = 0
        self._durations: dict[tuple[str, str], float] = {}
        self._forgiven: tuple[str, float] | None = None
        """A key to drop if it is the next to come, until a virtual time (forgive)."""

    # the transcript ---------------------------------------------------------------------

    def record(self, event: str, at: float | None = None, **fields: Any) -> None:
        entry = {"t": round(self.clock if at is None else at, 3), "event": event, **fields}
        self.events.append(entry)
        if self.echo is not None:
            self.echo(entry)

    def trace(self, event: str, **fields: Any) -> None:
        self.record(event, **fields)

    # time -------------------------------------------------------------------------------

    def duration(self, prompt_id: str) -> float:
        """Seconds a prompt plays: its WAV file's length, else from its text's length."""
        cache_key = (prompt_id, self.language)
        if cache_key not in self._durations:
            seconds = _wav_seconds(self.prompts.wav_path(prompt_id, self.language))
            if seconds is None:
                seconds = len(self.prompts.text(prompt_id, self.language)) * SECONDS_PER_CHAR
            self._durations[cache_key] = round(seconds, 3)
        return self._durations[cache_key]

    def _advance(self, until: float) -> None:
        """Move the clock; timed keys that fall due go into the type-ahead buffer."""
        if self.hangup_at is not None and until > self.hangup_at:
            self.clock = max(self.clock, self.hangup_at)
            raise SimulatedHangup(f"the caller hung up at {self.hangup_at:g} s")
        self.clock = max(self.clock, until)
        if self.clock > MAX_SECONDS:
            raise SimulatedHangup(f"the call passed {MAX_SECONDS:g} virtual seconds")
        for timed in self.script.due_keys(self.clock):
            if not self._is_forgiven(timed.key, timed.at):
                self.buffer.append(timed.key)

    async def sleep(self, seconds: float) -> None:
        self._advance(self.clock + seconds)
        await asyncio.sleep(0)

    # CallIO -----------------------------------------------------------------------------

    async def play(self, prompt_ids: Sequence[str], *, barge_in: bool,
                   secure: bool = False) -> None:
        for prompt_id in prompt_ids:
            self._alive()
            self._advance(self.clock)
            shown = MASK if secure else prompt_id
            if barge_in and self.buffer:
                self.record("skipped", prompt=shown, language=self.language,
                            reason="type-ahead")
                return
            start, length = self.clock, self.duration(prompt_id)
            text = MASK if secure else self.prompts.text(prompt_id, self.language)
            next_key = self.script.next_time()
            if barge_in and next_key is not None and next_key < start + length:
                self._advance(next_key)
                self.record("play", at=start, prompt=shown, text=text, language=self.language,
                            duration=length, stopped=round(self.clock - start, 3))
                return
            self._advance(start + length)
            self.record("play", at=start, prompt=shown, text=text, language=self.language,
                        duration=length)
        await asyncio.sleep(0)

    async def read_digit(self, timeout: float, *, secure: bool = False) -> str | None:
        self._alive()
        await asyncio.sleep(0)
        self._advance(self.clock)
        deadline = self.clock + timeout
        next_key = self.script.next_time()
        if not self.buffer and next_key is not None and next_key <= deadline:
            self._advance(next_key)
        if self.buffer:
            return self._pressed(self.buffer.popleft(), secure)
        if not self.script.untimed and self.ask is not None:
            line = await self.ask()
            if line is None:
                raise SimulatedHangup("the person at the keyboard hung up")
            self.script.extend(parse_keys(line) or [None])
        if self.script.untimed:
            item = self.script.untimed.popleft()
            if item is not None:
                self._advance(self.clock + min(KEY_DELAY, timeout))
                if not self._is_forgiven(item, self.clock):
                    return self._pressed(item, secure)
        elif next_key is None:
            self._silent_reads += 1
            if self._silent_reads > GIVE_UP_AFTER:
                raise SimulatedHangup("the key script ran out")
        self._advance(deadline)
        self.record("no_key", waited=timeout)
        return None

    def forgive(self, key: str, within: float) -> None:
        """As the line engine does: a waiting or scripted key is dropped now; with nothing
        pressed yet, the next key is dropped if it is `key` and comes within `within`."""
        self._advance(self.clock)
        if self.buffer:
            if self.buffer[0] == key:
                self.buffer.popleft()
                self.record("key_forgiven", key=key)
            return
        timed, untimed = self.script.timed, self.script.untimed
        if timed and timed[0].at <= self.clock + within:
            if timed[0].key == key:
                timed.pop(0)
                self.record("key_forgiven", key=key)
        elif untimed and untimed[0] == key:
            untimed.popleft()
            self.record("key_forgiven", key=key)
        elif not untimed:
            self._forgiven = (key, self.clock + within)

    def _is_forgiven(self, key: str, at: float) -> bool:
        """Whether a key arriving at `at` is the one forgiven; any key ends the forgiveness."""
        forgiven, self._forgiven = self._forgiven, None
        if forgiven is not None and forgiven[0] == key and at <= forgiven[1]:
            self.record("key_forgiven", at=at, key=key)
            return True
        return False

    def _pressed(self, key: str, secure: bool) -> str:
        self._silent_reads = 0
        self.record("key", key=MASK if secure else key)
        return key

    @contextlib.asynccontextmanager
    async def listening(self, request: Listen) -> AsyncIterator[bool]:
        """The simulator types keys only; a node with an engine for the language counts as
        listening (so it plays what a real call would), one without plays the keypad hint."""
        self.record("listen", node=request.node, language=request.language,
                    engine=request.engine or None)
        yield bool(request.engine)

    async def hangup(self) -> None:
        if not self.hung_up:
            self.hung_up = True
            self.record("hangup", by="ivr")

    async def handoff(self, request: HandoffRequest) -> HandoffResult:
        self.record("handoff_offered", kind=request.kind.value, target=request.target,
                    accepted=self.accept_handoff)
        return TAKEN if self.accept_handoff else DECLINED

    def _alive(self) -> None:
        if self.hung_up:
            raise SimulatedHangup("the call is over")


def _wav_seconds(path: Path) -> float | None:
    try:
        with wave.open(str(path), "rb") as wav:
            rate = wav.getframerate()
            return wav.getnframes() / rate if rate else None
    except (OSError, EOFError, wave.Error):
        return None


@dataclass
class SimulationResult:
    flow: str
    outcome: str
    """"completed", "error", "handoff:<kind>", or "abandoned" if the caller hung up."""
    path: list[str]
    variables: dict[str, Value]
    """At the end, secure ones as '***'."""
    language: str
    duration: float
    """Virtual seconds."""
    events: list[dict[str, Any]]

    def played(self) -> list[str]:
        return [e["prompt"] for e in self.events if e["event"] == "play"]

    def keys(self) -> list[str]:
        return [e["key"] for e in self.events if e["event"] == "key"]

    def of(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]

    def lines(self) -> list[str]:
        return [line for e in self.events if (line := format_event(e)) is not None]

    def to_json(self) -> str:
        return json.dumps({"flow": self.flow, "outcome": self.outcome, "path": self.path,
                           "variables": self.variables, "language": self.language,
                           "duration": self.duration, "events": self.events},
                          ensure_ascii=False, indent=2)


def format_event(e: dict[str, Any]) -> str | None:
    """One transcript line for a person; None for events not worth a line."""
    kind = e["event"]
    if kind == "node":
        return f"→ node {e['node']}"
    if kind == "play":
        stopped = f"  (cut by a key at {e['stopped']:.1f}s)" if "stopped" in e else ""
        return f"[{e['language']}] {e['t']:.1f}s ▶ {e['prompt']}  \"{e['text']}\"{stopped}"
    if kind == "skipped":
        return f"[{e['language']}] {e['t']:.1f}s ▷ {e['prompt']}  (skipped: a key is waiting)"
    if kind == "key":
        return f"       ⌨ {e['key']}"
    if kind == "no_key":
        return f"       ⌨ …  (no key in {e['waited']:g}s)"
    if kind == "language":
        return f"  · language {e['previous']} → {e['language']}"
    if kind == "end":
        return f"■ {e['outcome']} after {e['t']:.1f}s"
    if kind == "error":
        return f"! error in {e.get('node', '?')}: {e.get('message', '')}"
    if kind == "action":
        unhandled = "  (not in 'on': fallback)" if e.get("handled") is False else ""
        return f"  ⚙ {e['action']} → {e['outcome']}{unhandled}"
    if kind == "action_failed":
        return f"! action {e['action']} failed in {e.get('node', '?')}: {e.get('error', '')}"
    details = " ".join(f"{k}={v}" for k, v in e.items() if k not in ("t", "event", "node"))
    where = f" {e['node']}" if "node" in e else ""
    return f"  · {kind}{where}{' ' + details if details else ''}"


async def simulate(
    flow_name: str,
    flows: Mapping[str, Flow],
    prompts: PromptLibrary,
    keys: Sequence[str | None] = (),
    language: str | None = None,
    caller: str = "01000000000",
    http: HttpClient | None = None,
    now: datetime | None = None,
    *,
    ask: Ask | None = None,
    echo: Callable[[dict[str, Any]], None] | None = None,
    accept_handoff: bool = False,
    actions: Mapping[str, Action] | None = None,
    hangup_at: float | None = None,
) -> SimulationResult:
    """Run `flow_name` from its entry with the key script; the transcript and outcome.

    `now` (aware) is the virtual start time the hours nodes see (default: the real now); it
    advances with the virtual clock. `http` defaults to a client that always fails, so a
    simulation never reaches the network unless asked to; likewise `actions` defaults to
    none, so action nodes take their fallback unless real or fake actions are passed.
    Actions run in real time (the virtual clock does not move while they work).
    `hangup_at`: the virtual second the caller hangs up (the flow is cut wherever it is).
    """
    flow = flows.get(flow_name)
    if flow is None:
        raise KeyError(f"no flow named {flow_name!r} (known: {', '.join(sorted(flows))})")
    start = now or datetime.now(UTC)
    if start.tzinfo is None:
        raise ValueError("`now` must be an aware datetime (with a UTC offset)")
    io = SimulatedCall(prompts, keys, language=language or flow.default_language,
                       caller=caller, accept_handoff=accept_handoff, ask=ask, echo=echo,
                       hangup_at=hangup_at)
    ctx = FlowContext(flows=flows, http=http or UnavailableHttp(),
                      now=lambda: start + timedelta(seconds=io.clock), sleep=io.sleep,
                      actions=actions or {})
    state = FlowState()
    try:
        await run_flow(flow, io, ctx, state)
    except SimulatedHangup as exc:
        state.outcome = "abandoned"
        io.record("hangup", by="caller", reason=str(exc))
    io.record("end", outcome=state.outcome)
    variables = {name: MASK if name in state.secure_vars else value
                 for name, value in state.variables.items()}
    return SimulationResult(flow=flow.name, outcome=state.outcome, path=state.path,
                            variables=variables, language=io.language,
                            duration=round(io.clock, 3), events=io.events)
