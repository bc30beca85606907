"""Scenario files: what a caller does and what must happen, loaded with file:line errors.

A scenario is the testers' unit: one call, written once, run headless against the simulator or
over real SIP (ivr/testing/runners). The format is documented key by key in docs/testing.md;
this module turns the YAML into frozen dataclasses and says precisely what is wrong with a file
that cannot be one. It reuses the flow loader's YAML layer (flow/source.py: duplicate keys
refused, YAML 1.1 booleans kept as text, the position of every key) and its error type
(`FlowErrorDetail`, printed `file:line:col: message` like `ivr check`), so a tester reads
scenario errors the way an operator reads flow errors.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..flow.loader import FlowError, FlowErrorDetail, yaml_error
from ..flow.source import KeyPath, Positions, read_yaml, walk
from ..media.prompts import PromptLibrary

__all__ = ["End", "Expect", "ExpectHangup", "ExpectNot", "Hangup", "Press", "PromptRef",
           "Say", "Scenario", "ScenarioError", "Step", "Wait", "load_scenario",
           "parse_scenario"]

ScenarioError = FlowError
"""Raised with every problem of a file; its `details` are FlowErrorDetail (file, line...)."""

KEYS = frozenset("0123456789*#ABCD")
OUTCOMES = ("completed", "abandoned", "self_served", "error", "queue", "voicemail", "callback",
            "transfer")
DEFAULT_WITHIN = 15.0
TOP = ("name", "description", "dial", "caller", "language", "flow", "steps", "end")
STEPS = ("expect", "expect-not", "press", "say", "wait", "hangup", "expect-hangup")
END = ("hangup", "outcome", "queue", "voicemail", "callback", "agent", "variables", "events")


@dataclass(frozen=True)
class PromptRef:
    """A prompt heard in a language: `main-menu` (the scenario's language) or `ko/welcome`."""

    id: str
    language: str

    def __str__(self) -> str:
        return f"{self.language}/{self.id}"


@dataclass(frozen=True)
class Expect:
    """These prompts are heard whole, in this order (others may come between), all within
    `within` seconds of the step's start (the end of the step before)."""

    prompts: tuple[PromptRef, ...]
    within: float = DEFAULT_WITHIN
    line: int = 0


@dataclass(frozen=True)
class ExpectNot:
    """None of these prompts is heard whole from here to the end of the call."""

    prompts: tuple[PromptRef, ...]
    line: int = 0


@dataclass(frozen=True)
class Press:
    """The caller presses keys (DTMF), once the prompts expected before have played."""

    keys: str
    line: int = 0


@dataclass(frozen=True)
class Say:
    """The caller speaks: a WAV file, or text rendered with espeak-ng in the scenario's
    language. The simulator hears no speech, so `keys` is what the headless run presses
    instead (what the words mean to the flow)."""

    wav: Path | None = None
    text: str | None = None
    keys: str = ""
    line: int = 0


@dataclass(frozen=True)
class Wait:
    seconds: float
    line: int = 0


@dataclass(frozen=True)
class Hangup:
    """The caller hangs up now."""

    line: int = 0


@dataclass(frozen=True)
class ExpectHangup:
    """The IVR ends the call within `within` seconds; the last step."""

    within: float = DEFAULT_WITHIN
    line: int = 0


Step = Expect | ExpectNot | Press | Say | Wait | Hangup | ExpectHangup


@dataclass(frozen=True)
class End:
    """What must be true once the call is over (None: not checked)."""

    hangup: str | None = None
    """Who ended the call: ivr or caller."""
    outcome: str | None = None
    """The call record's outcome (completed, abandoned, self_served, queue, voicemail...)."""
    queue: str | None = None
    voicemail: str | None = None
    callback: str | None = None
    agent: str | bool | None = None
    """True: some agent answered; a name: that agent."""
    variables: Mapping[str, str] = field(default_factory=dict)
    events: tuple[Mapping[str, str], ...] = ()
    """Trace events that must happen, in order, each matching the fields given."""
    line: int = 0


@dataclass(frozen=True)
class Scenario:
    name: str
    file: str
    dial: str
    caller: str
    language: str
    flow: str | None
    """The flow the extension runs (default: read from the dialplan); the headless run needs
    it, the SIP run uses it to read variables back from the trace."""
    steps: tuple[Step, ...]
    end: End
    description: str = ""

    def prompts(self) -> list[PromptRef]:
        """Every prompt the scenario listens for, once each, in first-mention order."""
        seen: dict[PromptRef, None] = {}
        for step in self.steps:
            if isinstance(step, Expect | ExpectNot):
                seen.update(dict.fromkeys(step.prompts))
        return list(seen)


class _Builder:
    def __init__(self, file: str, positions: Positions,
                 prompts: PromptLibrary | None) -> None:
        self.file = file
        self.positions = positions
        self.prompts = prompts
        self.errors: list[FlowErrorDetail] = []

    def error(self, path: KeyPath, message: str, at: tuple[int, int] | None = None) -> None:
        line, column = at or self.positions.find(path)
        self.errors.append(FlowErrorDetail(self.file, line, column, None, message))

    def line(self, path: KeyPath) -> int:
        return self.positions.find(path)[0]

    def known(self, raw: Mapping[str, Any], allowed: tuple[str, ...], path: KeyPath,
              what: str) -> None:
        for key in raw:
            if key not in allowed:
                guess = difflib.get_close_matches(str(key), allowed, 1, 0.6)
                tip = f"; did you mean {guess[0]!r}?" if guess else f" ({', '.join(allowed)})"
                self.error((*path, str(key)), f"unknown key {key!r} in {what}{tip}")

    def text(self, value: Any, path: KeyPath, what: str) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.error(path, f"{what} must be text, not {_kind(value)}" + (
                "; quote it" if isinstance(value, bool) else ""))
            return ""
        return str(value)

    def seconds(self, value: Any, path: KeyPath, what: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            self.error(path, f"{what} must be a number of seconds >= 0, not {value!r}")
            return 0.0
        return float(value)

    def keys(self, value: Any, path: KeyPath) -> str:
        keys = self.text(value, path, "keys").upper()
        bad = sorted(set(keys) - KEYS)
        if bad or not keys:
            self.error(path, f"keys are 0-9 * # A-D, not {value!r} (quote \"#\" and \"*\")")
        return keys

    def prompt_list(self, value: Any, path: KeyPath, language: str) -> tuple[PromptRef, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            self.error(path, "give a prompt id or a list of them: [welcome, main-menu]")
            return ()
        out: list[PromptRef] = []
        for index, item in enumerate(items):
            where = (*path, str(index)) if isinstance(value, list) else path
            text = self.text(item, where, "a prompt id")
            lang, _, prompt_id = text.rpartition("/")
            ref = PromptRef(prompt_id, lang or language)
            self.check_prompt(ref, where)
            out.append(ref)
        return tuple(out)

    def check_prompt(self, ref: PromptRef, path: KeyPath) -> None:
        if self.prompts is None or not ref.id:
            return
        if self.prompts.manifest.text(ref.id, ref.language) is None:
            known = sorted(self.prompts.manifest.texts)
            guess = difflib.get_close_matches(ref.id, known, 1, 0.6)
            tip = f"; did you mean {guess[0]!r}?" if guess else ""
            self.error(path, f"no prompt {ref.id!r} in language {ref.language!r}{tip}")

    def step(self, raw: Any, path: KeyPath, language: str, base: Path) -> Step | None:
        line = self.line(path)
        if raw == "hangup":
            return Hangup(line)
        if not isinstance(raw, dict) or not raw:
            self.error(path, f"a step is a mapping such as {{press: \"1\"}} or the word hangup, "
                             f"not {_kind(raw)}")
            return None
        verbs = [k for k in raw if k in STEPS]
        self.known(raw, (*STEPS, "within"), path, "a step")
        if len(verbs) != 1:
            self.error(path, f"a step does one thing (one of {', '.join(STEPS)}); "
                             f"this one has {', '.join(verbs) or 'none'}")
            return None
        verb = verbs[0]
        value = raw[verb]
        where = (*path, verb)
        if "within" in raw and verb != "expect":
            self.error((*path, "within"), f"'within' belongs to an expect step, not {verb!r}")
        if verb == "expect":
            within = self.seconds(raw.get("within", DEFAULT_WITHIN), (*path, "within"),
                                  "within")
            return Expect(self.prompt_list(value, where, language), within, line)
        if verb == "expect-not":
            return ExpectNot(self.prompt_list(value, where, language), line)
        if verb == "press":
            return Press(self.keys(value, where), line)
        if verb == "wait":
            return Wait(self.seconds(value, where, "wait"), line)
        if verb == "expect-hangup":
            return ExpectHangup(self.seconds(value, where, "expect-hangup"), line)
        if verb == "hangup":
            if value is not True:
                self.error(where, "write the step as the word hangup (or hangup: true)")
            return Hangup(line)
        return self.say(value, where, base, line)

    def say(self, value: Any, path: KeyPath, base: Path, line: int) -> Say | None:
        if isinstance(value, str):
            value = {"text": value}
        if not isinstance(value, dict):
            self.error(path, "say takes {text: ..., keys: ...} or {wav: file.wav, keys: ...}")
            return None
        self.known(value, ("text", "wav", "keys"), path, "say")
        if ("text" in value) == ("wav" in value):
            self.error(path, "say needs exactly one of 'text' and 'wav'")
            return None
        keys = self.keys(value["keys"], (*path, "keys")) if "keys" in value else ""
        if "wav" in value:
            wav = Path(self.text(value["wav"], (*path, "wav"), "wav"))
            wav = wav if wav.is_absolute() else base / wav
            if not wav.is_file():
                self.error((*path, "wav"), f"no such WAV file: {wav}")
            return Say(wav=wav, keys=keys, line=line)
        return Say(text=self.text(value["text"], (*path, "text"), "text"), keys=keys, line=line)

    def end(self, raw: Any, path: KeyPath) -> End:
        if raw is None:
            return End()
        if not isinstance(raw, dict):
            self.error(path, f"'end' is a mapping (hangup, outcome, queue...), not {_kind(raw)}")
            return End()
        self.known(raw, END, path, "'end'")
        got: dict[str, Any] = {}
        for key in ("queue", "voicemail", "callback"):
            if key in raw:
                got[key] = self.text(raw[key], (*path, key), key)
        if "hangup" in raw:
            got["hangup"] = self.text(raw["hangup"], (*path, "hangup"), "hangup")
            if got["hangup"] not in ("ivr", "caller"):
                self.error((*path, "hangup"), f"hangup is ivr or caller, not {raw['hangup']!r}")
        if "outcome" in raw:
            got["outcome"] = self.text(raw["outcome"], (*path, "outcome"), "outcome")
            if got["outcome"] not in OUTCOMES:
                guess = difflib.get_close_matches(got["outcome"], OUTCOMES, 1)
                tip = f"; did you mean {guess[0]!r}?" if guess else ""
                self.error((*path, "outcome"), f"outcome is one of {', '.join(OUTCOMES)}, "
                                               f"not {raw['outcome']!r}{tip}")
        if "agent" in raw:
            agent = raw["agent"]
            got["agent"] = agent if agent is True else self.text(agent, (*path, "agent"),
                                                                 "agent")
        got["variables"] = self.mapping(raw.get("variables", {}), (*path, "variables"))
        events = raw.get("events", [])
        if not isinstance(events, list):
            self.error((*path, "events"), "events is a list of {event: name, field: value}")
            events = []
        parsed = []
        for index, item in enumerate(events):
            where = (*path, "events", str(index))
            fields = self.mapping(item, where)
            if "event" not in fields:
                self.error(where, "an expected trace event needs 'event' (its name)")
            parsed.append(fields)
        return End(**got, events=tuple(parsed), line=self.line(path))

    def mapping(self, raw: Any, path: KeyPath) -> dict[str, str]:
        if not isinstance(raw, dict):
            self.error(path, f"expected a mapping of names to values, not {_kind(raw)}")
            return {}
        return {str(k): _scalar(v) for k, v in raw.items()}


def _scalar(value: Any) -> str:
    """Values are compared as the text a trace shows: true, 1, 350000."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def _kind(value: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", str: "text",
            list: "a list", dict: "a mapping", type(None): "empty"}.get(type(value), "a value")


def parse_scenario(text: str, file: str = "<scenario>",
                   prompts: PromptLibrary | None = None, base: Path | None = None) -> Scenario:
    """One scenario from YAML text; raises ScenarioError listing every problem in the file.
    With `prompts`, prompt ids are checked against the manifest (typos point at their line)."""
    try:
        root, data = read_yaml(text)
    except yaml.YAMLError as exc:
        raise yaml_error(exc, file) from None
    positions, duplicates = walk(root)
    b = _Builder(file, positions, prompts)
    for path, line, column, message in duplicates:
        b.error(path, message, (line, column))
    if not isinstance(data, dict):
        b.error((), "a scenario is a mapping with at least 'dial' and 'steps'")
        raise ScenarioError(b.errors)
    b.known(data, TOP, (), "a scenario")
    for key in ("dial", "steps"):
        if key not in data:
            b.error((), f"a scenario needs {key!r}")
    dial = b.text(data.get("dial", ""), ("dial",), "dial")
    language = b.text(data.get("language", "en"), ("language",), "language")
    steps: list[Step] = []
    raw_steps = data.get("steps", [])
    if not isinstance(raw_steps, list) or ("steps" in data and not raw_steps):
        b.error(("steps",), "steps is a non-empty list")
        raw_steps = []
    for index, raw in enumerate(raw_steps):
        step = b.step(raw, ("steps", str(index)), language, base or Path(file).parent)
        if step is not None:
            steps.append(step)
    for index, step in enumerate(steps[:-1]):
        if isinstance(step, ExpectHangup | Hangup):
            what = "expect-hangup" if isinstance(step, ExpectHangup) else "hangup"
            b.error(("steps", str(index)), f"{what} ends the call: it must be the last step")
    end = b.end(data.get("end"), ("end",))
    if b.errors:
        raise ScenarioError(sorted(b.errors, key=lambda d: (d.line, d.column, d.message)))
    flow = data.get("flow")
    return Scenario(
        name=str(data.get("name") or Path(file).stem), file=file, dial=dial,
        caller=_scalar(data.get("caller", "5550000000")), language=language,
        flow=str(flow) if flow else None, steps=tuple(steps), end=end,
        description=str(data.get("description", "")))


def load_scenario(path: Path, prompts: PromptLibrary | None = None) -> Scenario:
    return parse_scenario(path.read_text(encoding="utf-8"), str(path), prompts, path.parent)


def find_scenarios(paths: list[Path]) -> list[Path]:
    """The scenario files named, folders searched for *.yaml (sorted), each once."""
    found: dict[Path, None] = {}
    for path in paths:
        if path.is_dir():
            found.update(dict.fromkeys(sorted(path.rglob("*.yaml"))))
        else:
            found[path] = None
    return list(found)
