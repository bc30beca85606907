"""The seam between a scenario and its runners: the plan both follow, what a run observed, and
the one judgement of the observation against the scenario.

A runner (headless.py, sip.py) only carries the caller's actions out at the planned times and
reports what happened as an `Observed`; `judge` decides pass or fail the same way for both, so
a scenario that passes headless and fails over SIP points at the telephony, not the checks.

Times are seconds from the answer. The caller cannot react to what it hears (a softphone runs
a fixed script), so the plan places every key on the clock from the prompts' lengths: a key
is pressed once the prompts expected before it have played, plus a margin for the latency of a
real line. A prompt the scenario does not list takes no time in the plan: list what the caller
hears before pressing, or add a `wait`.
"""

from __future__ import annotations

import wave
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..flow.simulate import SECONDS_PER_CHAR
from ..media.prompts import PromptLibrary
from ..media.render import render_audio
from .scenario import (
    Expect,
    ExpectHangup,
    ExpectNot,
    Hangup,
    Press,
    PromptRef,
    Say,
    Scenario,
    Wait,
)
from .scenario import Step as ScenarioStep

ANSWER_LATENCY = 0.3
"""Seconds from the answer to the first audio on a real line (measured: 0.05-0.3 s)."""
PROMPT_GAP = 0.1
"""Between two prompts a real call starts the next playback a little late."""
PRESS_MARGIN = 1.0
"""After the expected prompts end, before a key: a key early would cut the prompt. A whole
second, because on a loaded machine the caller hears a prompt late (the media path stalls,
up to 0.5 s at a time, and the jitter buffer drifts): with half a second, keys cut the end
of the bank's main menu off as the caller heard it, beside a load run."""
KEY_SECONDS = 0.41
"""One DTMF digit as the softphone sends it: 160 ms tone and a 250 ms gap."""
AFTER_LAST = 1.0
"""The caller stays this long after the last step before hanging up."""
TOLERANCE = 0.3
"""A prompt heard this much before a step's start still counts for it (clock slack)."""


def prompt_seconds(prompts: PromptLibrary, ref: PromptRef) -> float:
    """How long a prompt plays: its rendered WAV's length, else from its text as the
    simulator counts it (prompts not rendered yet)."""
    try:
        with wave.open(str(prompts.wav_path(ref.id, ref.language)), "rb") as wav:
            return wav.getnframes() / float(wav.getframerate() or 1)
    except (OSError, EOFError, wave.Error):
        return len(prompts.manifest.text(ref.id, ref.language) or "") * SECONDS_PER_CHAR


def render_speech(scenario: Scenario, out: Path, stem: str) -> dict[int, Path]:
    """The text a caller says, rendered with espeak-ng in the scenario's language as
    `out/STEM.sayN.wav`: the WAV of each `say` step by its index (what `plan` takes). Both
    runners that speak (`ivr test --sip`, `ivr load`) render it here, so they say the same."""
    files: dict[int, Path] = {}
    for index, step in enumerate(scenario.steps):
        if isinstance(step, Say) and step.text is not None:
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"{stem}.say{index}.wav"
            path.write_bytes(render_audio(step.text, scenario.language)[".wav"])
            files[index] = path
    return files


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / float(wav.getframerate() or 1)


@dataclass(frozen=True)
class Planned:
    """One step on the clock: when it starts and, for an action, how long it takes."""

    step: ScenarioStep
    at: float
    seconds: float = 0.0


@dataclass(frozen=True)
class Plan:
    steps: tuple[Planned, ...]
    end: float
    """When the caller hangs up unless the IVR does (or the scenario hangs up earlier)."""
    hangup_wait: float | None
    """With expect-hangup last: how long the caller waits for the IVR to hang up."""


def plan(scenario: Scenario, prompts: PromptLibrary,
         speech: Mapping[int, Path] | None = None) -> Plan:
    """Place every step on the clock; `speech` gives the WAV of each `say` by its index."""
    now = ANSWER_LATENCY
    heard_since_action = False
    out: list[Planned] = []
    hangup_wait: float | None = None
    for index, step in enumerate(scenario.steps):
        if isinstance(step, Expect):
            out.append(Planned(step, now))
            now += sum(prompt_seconds(prompts, ref) + PROMPT_GAP for ref in step.prompts)
            heard_since_action = True
            continue
        if isinstance(step, Press | Say) and heard_since_action:
            now += PRESS_MARGIN
        heard_since_action = False
        if isinstance(step, Press):
            out.append(Planned(step, now, len(step.keys) * KEY_SECONDS))
        elif isinstance(step, Say):
            wav = (speech or {}).get(index) or step.wav
            length = wav_seconds(wav) if wav is not None and wav.is_file() else 1.0
            out.append(Planned(step, now, length))
        elif isinstance(step, Wait):
            out.append(Planned(step, now, step.seconds))
        elif isinstance(step, ExpectHangup):
            out.append(Planned(step, now))
            hangup_wait = step.within
        else:
            out.append(Planned(step, now))
        now += out[-1].seconds
    last = scenario.steps[-1] if scenario.steps else None
    end = now if isinstance(last, Hangup) else now + AFTER_LAST
    return Plan(tuple(out), round(end, 3), hangup_wait)


@dataclass(frozen=True)
class Heard:
    """A prompt heard whole: when it started and ended (seconds from the answer)."""

    prompt: PromptRef
    start: float
    end: float

    def __str__(self) -> str:
        return f"{self.prompt} @{self.start:.1f}s"


@dataclass
class Observed:
    """What one run saw, whatever ran it."""

    runner: str
    heard: list[Heard] = field(default_factory=list)
    actions: dict[int, float] = field(default_factory=dict)
    """Step index -> when the caller actually did it (pressed, spoke, hung up)."""
    hangup_by: str | None = None
    """ivr or caller (None: unknown)."""
    hangup_at: float | None = None
    outcome: str | None = None
    """The call record's outcome."""
    events: list[dict[str, Any]] = field(default_factory=list)
    """The call's trace (the app's, or the simulator's transcript)."""
    variables: dict[str, str] = field(default_factory=dict)
    agents: bool = True
    """False when the runner has no ACD behind it (headless): agent checks cannot pass."""
    recording: str | None = None
    trace: str | None = None
    skipped: dict[int, str] = field(default_factory=dict)
    """Step index -> why the runner could not do that action (a `say` headless without keys)."""
    error: str | None = None
    """The run itself failed (no call, no trace): every check fails with this."""
    seconds: float = 0.0


@dataclass
class StepResult:
    """One step or end check: passed or not, what was expected and what was seen."""

    label: str
    line: int
    ok: bool
    detail: str = ""
    at: float | None = None
    """When the step started (seconds from the answer)."""
    took: float | None = None


@dataclass
class ScenarioResult:
    scenario: Scenario
    runner: str
    steps: list[StepResult]
    observed: Observed
    wall_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.observed.error is None and all(s.ok for s in self.steps)

    def failures(self) -> list[StepResult]:
        return [s for s in self.steps if not s.ok]


def _names(refs: Sequence[PromptRef]) -> str:
    return "[" + ", ".join(str(r) for r in refs) + "]"


def _after(heard: Sequence[Heard], since: float) -> str:
    later = [str(h) for h in heard if h.end > since]
    return ", ".join(later) or "nothing"


def judge(scenario: Scenario, planned: Plan, seen: Observed) -> list[StepResult]:
    """Every step and end check against what was observed, in the scenario's order."""
    results: list[StepResult] = []
    ref = 0.0          # when the current step starts: the end of the step before
    used = -1          # index in seen.heard of the last prompt an expect step matched
    for index, item in enumerate(planned.steps):
        step = item.step
        if isinstance(step, Expect):
            result, ref, used = _expect(step, seen, ref, used)
            results.append(result)
        elif isinstance(step, ExpectNot):
            found = [h for h in seen.heard
                     if h.prompt in step.prompts and h.start >= ref - TOLERANCE]
            results.append(StepResult(
                f"expect-not {_names(step.prompts)}", step.line, not found,
                f"heard {', '.join(map(str, found))}" if found else "none heard", ref))
        elif isinstance(step, ExpectHangup):
            ok = seen.hangup_by == "ivr" and seen.hangup_at is not None \
                and seen.hangup_at <= ref + step.within
            at = f" at {seen.hangup_at:.1f}s" if seen.hangup_at is not None else ""
            results.append(StepResult(
                f"expect-hangup within {step.within:g}s", step.line, ok,
                "" if ok else f"the IVR was to hang up by {ref + step.within:.1f}s; "
                f"the call was ended by {seen.hangup_by or 'nobody seen'}{at}", ref,
                (seen.hangup_at - ref) if seen.hangup_at is not None else None))
        else:
            done = seen.actions.get(index)
            label = _action_label(step)
            if index in seen.skipped:
                results.append(StepResult(label, step.line, False, seen.skipped[index], item.at))
                continue
            if done is None:
                gone = f" (the call ended at {seen.hangup_at:.1f}s)" \
                    if seen.hangup_at is not None else ""
                results.append(StepResult(label, step.line, False,
                                          f"not done: the call was already over{gone}",
                                          item.at))
                continue
            results.append(StepResult(label, step.line, True, "", done, item.seconds))
            # the IVR answers a key as soon as it comes (the last of several keys is still
            # on its way, but a prompt cannot come before the first): from the first key; what
            # the flow says while the caller waits counts for the next expect
            ref = done if isinstance(step, Press | Wait) else done + item.seconds
    results += _end_checks(scenario, seen)
    return results


def _action_label(step: ScenarioStep) -> str:
    if isinstance(step, Press):
        return f"press {step.keys}"
    if isinstance(step, Say):
        return f"say {step.text!r}" if step.text is not None else f"say {step.wav}"
    if isinstance(step, Wait):
        return f"wait {step.seconds:g}s"
    return "hangup"


def _expect(step: Expect, seen: Observed, ref: float, used: int
            ) -> tuple[StepResult, float, int]:
    label = f"expect {_names(step.prompts)} within {step.within:g}s"
    deadline = ref + step.within
    at = used
    for prompt in step.prompts:
        found = next((i for i in range(at + 1, len(seen.heard))
                      if seen.heard[i].prompt == prompt
                      and seen.heard[i].start >= ref - TOLERANCE), None)
        if found is None:
            detail = (f"{prompt} not heard whole after {ref:.1f}s; heard after that: "
                      f"{_after(seen.heard, ref)}")
            return StepResult(label, step.line, False, detail, ref), ref, used
        if seen.heard[found].end > deadline + TOLERANCE:
            detail = (f"{prompt} heard at {seen.heard[found].start:.1f}s, ending "
                      f"{seen.heard[found].end:.1f}s: later than {deadline:.1f}s")
            return StepResult(label, step.line, False, detail, ref), ref, used
        at = found
    end = seen.heard[at].end
    return StepResult(label, step.line, True, "", ref, end - ref), end, at


PLACES = {"queue": ("in_queue", "queue"), "voicemail": ("leaving_message", "mailbox"),
          "callback": ("booking_callback", "queue")}
"""A hand-off's kind -> the caller's place while the service has them, and its target field."""


def _handoffs(events: Sequence[Mapping[str, Any]], kind: str) -> list[str]:
    """Where the flow handed the caller: its `handoff` events (traced when the service gives
    the caller back or keeps them), and the places a service moved the caller to (a caller who
    hangs up while waiting in a queue has no `handoff` event, only the place)."""
    place, field = PLACES[kind]
    return [str(e.get("target")) for e in events
            if e.get("event") == "handoff" and e.get("kind") == kind] + [
        str(e.get(field)) for e in events
        if e.get("event") == "place" and e.get("place") == place]


def _end_checks(scenario: Scenario, seen: Observed) -> list[StepResult]:
    end = scenario.end
    out: list[StepResult] = []

    def check(label: str, ok: bool, detail: str) -> None:
        out.append(StepResult(f"end: {label}", end.line, ok, "" if ok else detail))

    if end.hangup is not None:
        check(f"hangup by {end.hangup}", seen.hangup_by == end.hangup,
              f"the call was ended by {seen.hangup_by or 'nobody seen'}")
    if end.outcome is not None:
        check(f"outcome {end.outcome}", seen.outcome == end.outcome,
              f"the call record says {seen.outcome or 'nothing (no record)'}")
    for kind, wanted in (("queue", end.queue), ("voicemail", end.voicemail),
                         ("callback", end.callback)):
        if wanted is not None:
            targets = _handoffs(seen.events, kind)
            check(f"{kind} {wanted}", wanted in targets,
                  f"the flow handed the caller to {kind} {targets}" if targets
                  else f"the flow never handed the caller to a {kind}")
    if end.callback is not None and seen.runner == "sip":
        booked = [e for e in seen.events if e.get("event") == "callback_booked"
                  and e.get("queue") == end.callback]
        check(f"callback booked for {end.callback}", bool(booked),
              "no callback_booked event in the trace")
    if end.agent is not None:
        agents = [str(e.get("agent")) for e in seen.events
                  if e.get("event") == "place" and e.get("place") == "with_agent"]
        ok = bool(agents) and (end.agent is True or end.agent in agents)
        check(f"agent {end.agent}", ok and seen.agents,
              "the headless simulator has no agents: run this scenario with --sip"
              if not seen.agents else f"agents who answered: {agents or 'none'}")
    for name, want in end.variables.items():
        got = seen.variables.get(name)
        check(f"variable {name} = {want}", got == want,
              f"{name} is {got!r}" if got is not None else f"{name} was never set")
    at = 0
    for fields in end.events:
        shown = ", ".join(f"{k}={v}" for k, v in fields.items())
        match = next((i for i in range(at, len(seen.events))
                      if all(as_text(seen.events[i].get(k)) == v for k, v in fields.items())),
                     None)
        names = [str(e.get("event")) for e in seen.events[at:]]
        check(f"event {shown}", match is not None,
              f"no such event (after the previous one); the trace had {names}")
        if match is not None:
            at = match + 1
    return out


def as_text(value: Any) -> str:
    """A flow value as a scenario writes it (YAML's true/false/null), so that a variable or a
    trace field compares the same whichever runner observed it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)
