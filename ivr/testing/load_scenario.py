"""A scenario file as every SIPp caller of a load run: the same plan `ivr test --sip` follows.

The scenario's plan (outcome.py `plan()`) puts each step on the clock from the answer, from the
lengths of the prompts it expects; the callers press its keys at those times, then hang up where
it hangs up, or wait for the IVR to where it expects that (as the softphone's script does,
sip.py `script_of`). A press is measured (key -> next prompt) when the scenario expects a prompt
after it, before its next action. SIPp sends only keys: a `say` step is refused.
"""

from __future__ import annotations

from ..flow.loader import FlowErrorDetail
from ..media.prompts import PromptLibrary
from .load_sipp import CallerScript, KeyPress
from .outcome import Plan, plan
from .scenario import Expect, ExpectHangup, Hangup, Press, Say, Scenario, ScenarioError

AFTER_EXPECTED_HANGUP = 1.0
"""Past an expect-hangup's `within`, the caller still waits this long (as the SIP runner)."""


def _press_name(step: Press) -> str:
    return f"press {step.keys} (line {step.line})"


def caller_script(scenario: Scenario, planned: Plan) -> CallerScript:
    """Every caller of the run: dial, caller id, keys at the plan's times, the hang-up.
    Raises ScenarioError (file:line) for steps SIPp cannot do."""
    says = [FlowErrorDetail(scenario.file, step.line, 1, None,
                            "ivr load cannot speak: SIPp callers send only keys (use a "
                            "press step, or run this scenario with ivr test --sip)")
            for step in scenario.steps if isinstance(step, Say)]
    if says:
        raise ScenarioError(says)
    presses: list[KeyPress] = []
    items = list(planned.steps)
    for index, item in enumerate(items):
        step = item.step
        if not isinstance(step, Press):
            continue
        after = next((later.step for later in items[index + 1:]
                      if isinstance(later.step, Expect | Press | Hangup | ExpectHangup)), None)
        presses.append(KeyPress(step.keys, round(item.at, 3), _press_name(step),
                                prompt_after=isinstance(after, Expect)))
    last = items[-1] if items else None
    if last is not None and isinstance(last.step, ExpectHangup):
        end_at, ivr_hangs_up = last.at + last.step.within + AFTER_EXPECTED_HANGUP, True
    elif last is not None and isinstance(last.step, Hangup):
        end_at, ivr_hangs_up = last.at, False
    else:
        end_at, ivr_hangs_up = planned.end, False
    return CallerScript(scenario.dial, tuple(presses), round(end_at, 3), ivr_hangs_up,
                        scenario.caller, name=f"scenario {scenario.name} ({scenario.file})")


def scenario_script(scenario: Scenario, prompts: PromptLibrary) -> CallerScript:
    """The scenario's plan with these prompts' lengths, as every caller's script."""
    return caller_script(scenario, plan(scenario, prompts))
