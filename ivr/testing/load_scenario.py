"""A scenario file as every SIPp caller of a load run: the same plan `ivr test --sip` follows.

The scenario's plan (outcome.py `plan()`) puts each step on the clock from the answer, from the
lengths of the prompts it expects and of what the caller says; the callers press its keys and
say its words at those times, then hang up where it hangs up, or wait for the IVR to where it
expects that (as the softphone's script does, sip.py `script_of`). A press or a say is measured
(key, or end of speech -> next prompt) when the scenario expects a prompt after it, before its
next action. A `say` is its WAV, or its text rendered with espeak-ng as `ivr test` renders it
(outcome.py `render_speech`), sent as PCMU and followed by silence (load_media.py); its `keys`
are the simulator's, not used here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..media.prompts import PromptLibrary
from .load_sipp import SPEECH_TAIL, CallerScript, KeyPress, Utterance
from .outcome import Plan, plan, render_speech
from .scenario import Expect, ExpectHangup, Hangup, Press, Say, Scenario

AFTER_EXPECTED_HANGUP = 1.0
"""Past an expect-hangup's `within`, the caller still waits this long (as the SIP runner)."""


def _press_name(step: Press) -> str:
    return f"press {step.keys} (line {step.line})"


def _say_name(step: Say, wav: Path) -> str:
    return f"say {step.text if step.text is not None else wav.name} (line {step.line})"


def caller_script(scenario: Scenario, planned: Plan,
                  speech: Mapping[int, Path] | None = None) -> CallerScript:
    """Every caller of the run: dial, caller id, keys and speech at the plan's times, the
    hang-up; `speech` gives the rendered WAV of each `say` with text, by step index."""
    actions: list[KeyPress | Utterance] = []
    items = list(planned.steps)  # one per step of the scenario, in its order
    for index, item in enumerate(items):
        step = item.step
        if not isinstance(step, Press | Say):
            continue
        later = [other for other in items[index + 1:]
                 if isinstance(other.step, Expect | Press | Say | Hangup | ExpectHangup)]
        prompt_after = bool(later) and isinstance(later[0].step, Expect)
        if isinstance(step, Press):
            actions.append(KeyPress(step.keys, round(item.at, 3), _press_name(step),
                                    prompt_after))
            continue
        wav = (speech or {}).get(index) or step.wav
        assert wav is not None, "a say with text is rendered before its script is made"
        # The silence after the words stops where the caller's next sound or hang-up starts.
        end = item.at + item.seconds
        next_at = next((other.at for other in later
                        if isinstance(other.step, Press | Say | Hangup)), None)
        tail = SPEECH_TAIL if next_at is None else max(min(SPEECH_TAIL, next_at - end), 0.0)
        actions.append(Utterance(wav, round(item.at, 3), _say_name(step, wav), item.seconds,
                                 prompt_after, round(tail, 3)))
    last = items[-1] if items else None
    if last is not None and isinstance(last.step, ExpectHangup):
        end_at, ivr_hangs_up = last.at + last.step.within + AFTER_EXPECTED_HANGUP, True
    elif last is not None and isinstance(last.step, Hangup):
        end_at, ivr_hangs_up = last.at, False
    else:
        end_at, ivr_hangs_up = planned.end, False
    return CallerScript(scenario.dial, tuple(actions), round(end_at, 3), ivr_hangs_up,
                        scenario.caller, name=f"scenario {scenario.name} ({scenario.file})")


def scenario_script(scenario: Scenario, prompts: PromptLibrary,
                    speech_dir: Path) -> CallerScript:
    """The scenario's plan with these prompts' lengths, as every caller's script; the text
    its caller says is rendered into `speech_dir` first (raises RenderError without
    espeak-ng)."""
    speech = render_speech(scenario, speech_dir, Path(scenario.file).stem)
    return caller_script(scenario, plan(scenario, prompts, speech), speech)
