"""Load a flow from YAML into the model, with errors that name the file, line, column and node.

Three layers, each stopping the next when it fails: YAML syntax (source.py; duplicate keys are
refused, because YAML silently keeps the last one and an operator who pastes option "1" twice
loses a branch), the JSON Schema (flow.schema.json: fields, types, typos), then the per-file
meaning the schema cannot express (schedules, language list, escalation shape). Graph rules
that need the whole set of flows (targets, dead ends, prompts, variables, subflows) are in
checker.py.
"""

from __future__ import annotations

import datetime as dt
import difflib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import schema as flow_schema
from .model import (
    HANDOFF_KINDS,
    ActionNode,
    AnyNode,
    BranchNode,
    CollectNode,
    Condition,
    Escalation,
    Flow,
    GotoNode,
    HandoffNode,
    HangupNode,
    HoursNode,
    HttpNode,
    LanguageNode,
    MenuNode,
    MenuOption,
    PlayNode,
    Prompts,
    ReturnNode,
    Say,
    Schedule,
    SetNode,
    SubflowNode,
)
from .source import KeyPath, Positions, read_yaml, walk, yaml_message

__all__ = ["DAYS", "HANDOFF_TARGET", "FlowError", "FlowErrorDetail", "KeyPath", "Positions",
           "load_flow", "parse_flow", "parse_flow_positions"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HANDOFF_TARGET = {"queue": "queue", "voicemail": "mailbox", "callback": "queue", "transfer": "to"}


@dataclass(frozen=True, slots=True)
class FlowErrorDetail:
    """One finding, pointing at the exact place in a flow file. Warnings do not stop a load."""

    file: str
    line: int
    column: int
    node: str | None
    message: str
    severity: str = "error"
    """"error" (the flow set is refused) or "warning" (reported, still served)."""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        node = f" node {self.node!r}:" if self.node else ""
        return f"{where}:{node} {self.message}"

    def report_line(self) -> str:
        """The `ivr check` form, like a compiler's: file:line:col: error: node 'x': message."""
        node = f" node {self.node!r}:" if self.node else ""
        return f"{self.file}:{self.line}:{self.column}: {self.severity}:{node} {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class FlowError(Exception):
    """A flow (or a set of flows) cannot be used; `details` says everything that is wrong."""

    def __init__(self, details: list[FlowErrorDetail]) -> None:
        self.details = details
        super().__init__("\n".join(str(d) for d in details))


class _Builder:
    """Builds the model from schema-valid data, collecting the per-file semantic errors."""

    def __init__(self, file: str, positions: Positions) -> None:
        self.file = file
        self.positions = positions
        self.errors: list[FlowErrorDetail] = []

    def error(self, path: KeyPath, message: str, at: tuple[int, int] | None = None) -> None:
        line, column = at or self.positions.find(path)
        node = path[1] if len(path) >= 2 and path[0] == "nodes" else None
        self.errors.append(FlowErrorDetail(self.file, line, column, node, message))

    # -- prompt lists ----------------------------------------------------------------------------

    def says(self, value: Any) -> Prompts:
        items = [value] if isinstance(value, str) else list(value or [])
        out: list[Say] = []
        for item in items:
            if isinstance(item, dict):
                unit = _text(item["unit"]) if "unit" in item else ""
                [(kind, raw)] = [(k, v) for k, v in item.items() if k != "unit"]
                out.append(Say(str(kind), _text(raw), unit))
            else:
                out.append(Say("prompt", str(item)))
        return tuple(out)

    def handlers(self, value: Any, path: KeyPath) -> tuple[Prompts, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            return (self.says(value),)
        lists = [isinstance(item, list) for item in value]
        if all(lists):
            return tuple(self.says(item) for item in value)
        if any(lists):
            self.error(path, f"'{path[-1]}' is either one prompt list [a, b] or a list of prompt "
                             "lists [[a], [b]] (one per failure); it mixes both")
        return (self.says(value),)

    def escalation(self, raw: dict[str, Any], path: KeyPath) -> Escalation:
        return Escalation(
            no_input=self.handlers(raw.get("no_input"), (*path, "no_input")),
            no_match=self.handlers(raw.get("no_match"), (*path, "no_match")),
            attempts=int(raw.get("attempts", 3)),
            fallback=str(raw.get("fallback", "")),
        )

    # -- schedules -------------------------------------------------------------------------------

    def schedule(self, raw: dict[str, Any], path: KeyPath) -> Schedule:
        zone = str(raw["timezone"])
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            guess = difflib.get_close_matches(zone, sorted(zoneinfo.available_timezones()), 1)
            tip = f"; did you mean {guess[0]!r}?" if guess else " (e.g. Asia/Seoul)"
            self.error((*path, "timezone"), f"unknown time zone {zone!r}{tip}")
        weekly: dict[str, tuple[tuple[str, str], ...]] = {}
        given: dict[str, str] = {}
        for days, ranges in raw["weekly"].items():
            where = (*path, "weekly", days)
            first, _, last = days.partition("-")
            start, stop = DAYS.index(first), DAYS.index(last or first)
            if stop < start:
                split = (f"{first}-sun" if first != "sun" else "sun",
                         f"mon-{last}" if last != "mon" else "mon")
                self.error(where, f"day range {days!r} runs backwards (weeks run mon to sun); "
                                  f"write {split[0]} and {split[1]}")
                continue
            intervals: list[tuple[str, str]] = []
            for index, text in enumerate(ranges):
                opens, closes = text.split("-")
                if closes == opens:  # closing before opening is fine: it crosses midnight
                    self.error((*where, str(index)), f"opening hours {text!r} open and close at "
                                                     "the same time; for all day use 00:00-24:00")
                intervals.append((opens, closes))
            for day in DAYS[start:stop + 1]:
                if day in given:
                    self.error(where, f"{day} is given twice (in {given[day]!r} and {days!r})")
                given[day] = days
                weekly[day] = tuple(intervals)
        holidays: list[str] = []
        for index, text in enumerate(raw.get("holidays", [])):
            try:
                dt.date.fromisoformat(text)
            except ValueError:
                self.error((*path, "holidays", str(index)), f"holiday {text!r} is not a real date")
            holidays.append(text)
        ordered = {day: weekly[day] for day in DAYS if day in weekly}
        return Schedule(timezone=zone, weekly=ordered, holidays=tuple(holidays))

    # -- nodes -----------------------------------------------------------------------------------

    def node(self, node_id: str, raw: dict[str, Any], schedules: dict[str, Schedule]) -> AnyNode:
        path = ("nodes", node_id)
        line, column = self.positions.find(path)
        base: dict[str, Any] = {"id": node_id, "line": line, "column": column}
        kind = raw["type"]
        nxt = str(raw.get("next", ""))
        if kind == "play":
            return PlayNode(**base, prompts=self.says(raw["prompts"]), next=raw.get("next"),
                            barge_in=bool(raw.get("barge_in", False)))
        if kind == "menu":
            return MenuNode(
                **base, prompt=self.says(raw["prompt"]), reprompt=self.says(raw.get("reprompt")),
                options={key: _option(value) for key, value in raw["options"].items()},
                timeout=float(raw.get("timeout", 5)), barge_in=bool(raw.get("barge_in", True)),
                store=raw.get("store"), escalation=self.escalation(raw, path),
                confidence=float(raw.get("confidence", 0.5)))
        if kind == "collect":
            low, high = int(raw.get("min_length", 1)), int(raw.get("max_length", 20))
            if low > high:
                self.error((*path, "min_length"),
                           f"min_length {low} is more than max_length {high}")
            return CollectNode(
                **base, prompt=self.says(raw["prompt"]), store=raw["store"],
                min_length=low, max_length=high, terminator=str(raw.get("terminator", "#")),
                first_digit_timeout=float(raw.get("first_digit_timeout", 5)),
                inter_digit_timeout=float(raw.get("inter_digit_timeout", 3)),
                barge_in=bool(raw.get("barge_in", True)), secure=bool(raw.get("secure", False)),
                readback=self.says(raw.get("readback")), confirm=self.says(raw.get("confirm")),
                next=nxt, escalation=self.escalation(raw, path),
                speech=bool(raw.get("speech", False)),
                confidence=float(raw.get("confidence", 0.5)))
        if kind == "set":
            return SetNode(**base, values=_expressions(raw["values"]), next=nxt)
        if kind == "branch":
            conditions = tuple(Condition(when=_expression(c["if"]), target=str(c["goto"]))
                               for c in raw["conditions"])
            return BranchNode(**base, conditions=conditions, otherwise=str(raw.get("else", "")))
        if kind == "hours":
            return HoursNode(**base, schedule=self.hours_schedule(raw["schedule"], path, schedules),
                             open=raw["open"], closed=raw["closed"],
                             holiday=str(raw.get("holiday", "")))
        if kind == "http":
            return HttpNode(
                **base, url=raw["url"], method=str(raw.get("method", "GET")),
                body=_expressions(raw.get("body", {})), timeout=float(raw.get("timeout", 3)),
                retries=int(raw.get("retries", 1)), results=dict(raw.get("results", {})),
                next=nxt, fallback=str(raw.get("fallback", "")))
        if kind == "language":
            return LanguageNode(**base, language=raw["language"], next=nxt)
        if kind == "subflow":
            return SubflowNode(**base, flow=raw["flow"], params=_expressions(raw.get("params", {})),
                               returns=dict(raw.get("returns", {})), next=nxt)
        if kind == "return":
            return ReturnNode(**base)
        if kind == "goto":
            return GotoNode(**base, target=raw["target"])
        if kind == "hangup":
            return HangupNode(**base, prompts=self.says(raw.get("prompts")))
        if kind == "action":
            return ActionNode(
                **base, action=raw["action"], args=_expressions(raw.get("args", {})),
                results=dict(raw.get("results", {})), timeout=float(raw.get("timeout", 5)),
                on={str(k): str(v) for k, v in raw["on"].items()},
                fallback=str(raw.get("fallback", "")))
        assert kind in HANDOFF_KINDS, kind  # the schema admits no other type
        field = HANDOFF_TARGET[kind]
        options = {k: _text(v) for k, v in raw.items()
                   if k not in ("type", "next", "on", field)}
        on = {str(k): str(v) for k, v in raw.get("on", {}).items()}
        return HandoffNode(**base, kind=kind, target=str(raw[field]), options=options, on=on,
                           next=nxt)

    def hours_schedule(self, value: Any, path: KeyPath, schedules: dict[str, Schedule]) -> Schedule:
        if isinstance(value, dict):
            return self.schedule(value, (*path, "schedule"))
        if value not in schedules:
            guess = difflib.get_close_matches(value, list(schedules), 1)
            known = f"; did you mean {guess[0]!r}?" if guess else (
                f" (defined: {', '.join(schedules)})" if schedules else
                "; define it under 'schedules' or write the schedule here")
            self.error((*path, "schedule"), f"schedule {value!r} is not defined{known}")
            return Schedule()
        return schedules[value]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _expression(value: Any) -> str:
    """YAML scalars as expression text: 0 -> '0', true -> 'true', null -> 'null'."""
    return "null" if value is None else _text(value)


def _expressions(values: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): _expression(v) for k, v in values.items()}


def _option(value: Any) -> MenuOption:
    if isinstance(value, str):
        return MenuOption(target=value)
    phrases = {lang: tuple(str(p) for p in items)
               for lang, items in (value.get("phrases") or {}).items()}
    return MenuOption(target=str(value["target"]), phrases=phrases)


def yaml_error(exc: yaml.YAMLError, file: str) -> FlowError:
    """A YAML syntax error as a finding at its line and column."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return FlowError([FlowErrorDetail(file, line, column, None, yaml_message(exc))])


def parse_flow_positions(text: str, file: str = "<flow>") -> tuple[Flow, Positions]:
    """Parse one flow file's text; the positions let the checker point at any field."""
    try:
        root, data = read_yaml(text)
    except yaml.YAMLError as exc:
        raise yaml_error(exc, file) from None
    positions, duplicates = walk(root)
    builder = _Builder(file, positions)
    for path, line, column, message in duplicates:
        builder.error(path, message, (line, column))
    if data is None:
        builder.error((), "the file is empty; a flow needs name, languages, entry and nodes")
        raise FlowError(builder.errors)
    data = flow_schema.plain(data)
    for issue in flow_schema.validate(data):
        builder.error(issue.path, issue.message)
    if builder.errors:
        raise FlowError(_sorted(builder.errors))
    languages = tuple(data["languages"])
    default_language = data.get("default_language", languages[0])
    if default_language not in languages:
        builder.error(("default_language",), f"default_language {default_language!r} is not "
                                             f"one of languages ({', '.join(languages)})")
    schedules = {name: builder.schedule(raw, ("schedules", name))
                 for name, raw in data.get("schedules", {}).items()}
    nodes = {node_id: builder.node(node_id, raw, schedules)
             for node_id, raw in data["nodes"].items()}
    if builder.errors:
        raise FlowError(_sorted(builder.errors))
    flow = Flow(
        name=data["name"], version=_text(data.get("version", "1")), languages=languages,
        default_language=default_language, entry=data["entry"], nodes=nodes,
        speech={str(k): str(v) for k, v in (data.get("speech") or {}).items()},
        params=tuple(data.get("params", [])), source=file,
        description=str(data.get("description", "")),
    )
    return flow, positions


def _sorted(details: list[FlowErrorDetail]) -> list[FlowErrorDetail]:
    return sorted(details, key=lambda d: (d.file, d.line, d.column, d.message))


def parse_flow(text: str, file: str = "<flow>") -> Flow:
    """One flow from YAML text; raises FlowError listing every problem found in this file."""
    return parse_flow_positions(text, file)[0]


def load_flow(path: Path) -> Flow:
    """One flow file. Graph checks need the whole set: see library.load_folder."""
    return parse_flow(path.read_text(encoding="utf-8"), str(path))
