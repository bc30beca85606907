"""The headless runner: a scenario against the flow simulator, no telephony, in milliseconds.

The simulator (flow/simulate.py) runs the real interpreter on a virtual clock; the caller's
keys are pressed at the plan's times (timed keys, so barge-in and type-ahead behave as on a
line), the caller hangs up at the plan's end, and the prompts heard are the simulator's `play`
events that were not cut. Hand-offs are accepted (the flow ends there, as it does when a
service takes the call) and the caller is then held, hearing nothing, until the scenario
hangs up; there are no agents, so an `agent` check cannot pass headless.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from ..flow.actions import Action
from ..flow.model import Flow
from ..flow.simulate import SimulationResult, simulate
from ..flow.types import MASK
from ..media.prompts import PromptLibrary
from .outcome import KEY_SECONDS, Heard, Observed, Plan, as_text
from .scenario import ExpectHangup, Press, PromptRef, Say, Scenario

RUNNER = "headless"


def keys_of(planned: Plan) -> tuple[list[str], dict[int, str]]:
    """The simulator's timed key script (`1@2.5`), and the steps it cannot do, by index."""
    script: list[str] = []
    skipped: dict[int, str] = {}
    for index, item in enumerate(planned.steps):
        step = item.step
        keys = step.keys if isinstance(step, Press | Say) else ""
        if isinstance(step, Say) and not keys:
            skipped[index] = ("the simulator hears no speech: give the say step `keys:` "
                              "(what the words mean to the flow), or run it with --sip")
        elif keys:  # what was said means something once it has been said
            at = item.at + item.seconds if isinstance(step, Say) else item.at
            # one by one, as far apart as the softphone sends them
            script += [f"{key}@{at + i * KEY_SECONDS:.3f}" for i, key in enumerate(keys)]
    return script, skipped


def outcome_of(result: SimulationResult) -> str:
    """The simulation's end in the call record's words (app/records.py outcome_of)."""
    if result.outcome.startswith("handoff:"):
        return result.outcome.partition(":")[2]
    if result.outcome == "error":
        return "error"
    if result.variables.get("self_served") is True:
        return "self_served"
    if result.outcome == "abandoned":
        return "abandoned"
    return "completed"


def observe(result: SimulationResult, planned: Plan, skipped: Mapping[int, str]) -> Observed:
    seen = Observed(RUNNER, agents=False, skipped=dict(skipped), seconds=result.duration)
    for event in result.events:
        if event["event"] == "play" and "stopped" not in event and event["prompt"] != MASK:
            start = float(event["t"])
            seen.heard.append(Heard(PromptRef(str(event["prompt"]), str(event["language"])),
                                    start, round(start + float(event["duration"]), 3)))
    hangups = [e for e in result.events if e["event"] == "hangup"]
    if hangups:
        seen.hangup_by = "caller" if hangups[-1]["by"] == "caller" else "ivr"
        seen.hangup_at = float(hangups[-1]["t"])
    elif result.outcome.startswith("handoff:"):
        # A service took the caller: the simulator has none, so the caller is held there
        # (hearing nothing the scenario can check) until the scenario hangs up.
        seen.hangup_by = "caller"
        seen.hangup_at = planned.end + (planned.hangup_wait or 0.0)
    over = seen.hangup_at if seen.hangup_at is not None else result.duration
    for index, item in enumerate(planned.steps):
        if index not in skipped and not isinstance(item.step, ExpectHangup) \
                and item.at <= over + 0.01:
            seen.actions[index] = item.at
    seen.outcome = outcome_of(result)
    seen.events = result.events
    seen.variables = {name: as_text(value) for name, value in result.variables.items()}
    return seen


async def run_headless(scenario: Scenario, planned: Plan, flows: Mapping[str, Flow],
                       prompts: PromptLibrary, flow: str,
                       actions: Mapping[str, Action] | None = None) -> Observed:
    """Run the scenario's call in the simulator and report what it observed."""
    started = time.monotonic()
    script, skipped = keys_of(planned)
    hangup_at = planned.end + (planned.hangup_wait or 0.0)
    try:
        result = await simulate(flow, flows, prompts, script, caller=scenario.caller,
                                accept_handoff=True, actions=actions, hangup_at=hangup_at)
    except (KeyError, ValueError) as exc:
        return Observed(RUNNER, error=f"the simulator could not run {flow!r}: {exc}")
    seen = observe(result, planned, skipped)
    seen.seconds = round(time.monotonic() - started, 3)
    return seen

