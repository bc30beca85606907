"""Reading flows/queues.yaml into the ACD config (config.py), with every finding in its place.

Separate from the data model because most of it is about the person editing the file, not the
ACD: positions of each field for `file:line:col` findings, the messages themselves, and
did-you-mean tips for misspelt fields, agents and strategies. Findings are the flow loader's
FlowErrorDetail, so they print as `file:line:col: error: node 'general': ...` with the queue or
agent as the node. The validator is hand-written rather than a JSON Schema: most rules are
cross-references (members, skills, transfer codes) a schema cannot state, and the flow schema's
message layer is tied to the flow language.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any

import yaml

from ...flow.loader import FlowError, FlowErrorDetail, yaml_error
from ...flow.source import FlowYamlLoader, KeyPath, Positions, walk
from .config import STRATEGIES, AcdConfig, AgentConfig, Announce, QueueConfig, Widen
from .config_callback import read_callback
from .config_dispositions import read_dispositions, read_queue_dispositions
from .config_wallboard import read_wallboard

__all__ = ["ConfigReader", "load_acd_config", "parse_acd_config", "read_text_keys"]

Scalar = tuple[str, float, float]
"""A scalar field's kind (text, flag, whole, seconds) and range (numbers only)."""
_QUEUE_SCALARS: dict[str, Scalar] = {
    "strategy": ("text", 0, 0), "priority": ("whole", 0, 9), "moh": ("text", 0, 0),
    "ring_timeout": ("seconds", 1, 120), "wrapup": ("seconds", 0, 600),
    "auto_pause_after": ("whole", 0, 100), "max_wait": ("seconds", 1, 86400),
    "max_length": ("whole", 1, 10000), "join_empty": ("flag", 0, 0),
    "service_level": ("seconds", 1, 3600), "transfer_code": ("text", 0, 0)}
_ANNOUNCE: dict[str, Scalar] = {"first": ("seconds", 0, 3600), "every": ("seconds", 0, 3600),
                                "position": ("flag", 0, 0), "wait": ("flag", 0, 0)}
_WIDEN: dict[str, Scalar] = {"after": ("seconds", 0, 86400), "max_penalty": ("whole", 0, 9)}
_KINDS: dict[str, tuple[tuple[type, ...], str]] = {
    "text": ((str,), "text"), "flag": ((bool,), "true or false"),
    "whole": ((int,), "a whole number"), "seconds": ((int, float), "a number of seconds"),
    "number": ((int, float), "a number")}
_TOP_FIELDS = ("agents", "queues", "pause_reasons", "wallboard", "dispositions")
_AGENT_FIELDS = ("name", "endpoint", "skills")
_QUEUE_FIELDS = tuple(f.name for f in dataclass_fields(QueueConfig) if f.name != "name")
_LISTS = frozenset({"members", "skills", "widen"})
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_ENDPOINT = re.compile(r"[A-Za-z][A-Za-z0-9_]*/\S+")
_OUTCOME = re.compile(r"[a-z][a-z0-9_]*")
_DTMF = re.compile(r"[0-9*#]")
_CODE = re.compile(r"[0-9]{1,8}")
_TEXT_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("bool", "int", "float", "null"))
_BAD = object()


def _number(value: float) -> str:
    """2592000, not 2.592e+06; 0.5 as 0.5."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _tip(word: str, candidates: Iterable[str]) -> str:
    guess = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {guess[0]!r}?" if guess else ""


def _actual(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    words = {int: "a whole number", float: "a number", str: "text", list: "a list",
             dict: "a mapping", type(None): "empty"}
    return words.get(type(value), type(value).__name__)


def _is(value: Any, kinds: tuple[type, ...]) -> bool:
    """isinstance, except that true/false is not a number."""
    return isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool))


def _label(path: KeyPath, sections: Collection[str] = ("agents", "queues")) -> str:
    """The field as a person wrote it, inside its agent or queue: 'widen[2].after'."""
    text, parent = "", ""
    for part in path[2:] if path[:1] and path[0] in sections else path:
        index = parent in _LISTS and part.isdigit()
        text += f"[{int(part) + 1}]" if index else (f".{part}" if text else part)
        parent = "" if index else part
    return repr(text)


class ConfigReader:
    """Reads plain YAML data into the dataclasses, collecting every finding with its place.

    `sections` are the top-level mappings whose keys name things (agents, queues; campaigns):
    a finding inside one names it as its node, and field labels start inside it.
    """

    def __init__(self, file: str, positions: Positions,
                 sections: Collection[str] = ("agents", "queues")) -> None:
        self.file = file
        self.positions = positions
        self.sections = tuple(sections)
        self.details: list[FlowErrorDetail] = []

    def report(self, path: KeyPath, message: str, severity: str = "error",
               at: tuple[int, int] | None = None) -> None:
        line, column = at or self.positions.find(path)
        node = path[1] if len(path) >= 2 and path[0] in self.sections else None
        self.details.append(FlowErrorDetail(self.file, line, column, node, message, severity))

    def label(self, path: KeyPath) -> str:
        return _label(path, self.sections)

    def mapping(self, value: Any, path: KeyPath, what: str) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.report(path, f"{what} must be a mapping, not {_actual(value)}")
        return None

    def fields(self, raw: Mapping[str, Any], path: KeyPath, what: str,
               allowed: Iterable[str], required: Iterable[str] = ()) -> None:
        allowed = list(allowed)
        unknown = [key for key in raw if key not in allowed]
        for key in unknown:
            self.report((*path, key), f"unknown field {key!r} in {what}"
                        + (_tip(key, allowed) or f" (fields: {', '.join(allowed)})"))
        # A misspelt required field is reported once, as the typo with its suggestion.
        missing = [k for k in required if k not in raw
                   and not difflib.get_close_matches(k, unknown, n=1, cutoff=0.6)]
        if missing:
            self.report(path, f"{what} needs {' and '.join(repr(k) for k in missing)}")

    def scalar(self, raw: Mapping[str, Any], path: KeyPath, spec: Scalar) -> Any:
        """raw[path[-1]] checked against its spec; _BAD (reported) if it is wrong."""
        kind, low, high = spec
        value: Any = raw[path[-1]]
        kinds, words = _KINDS[kind]
        if not _is(value, kinds):
            tip = (f'; quote it: {path[-1]}: "{value}"'
                   if kind == "text" and isinstance(value, int | float) else "")
            self.report(path, f"{self.label(path)} must be {words}, not {_actual(value)}{tip}")
            return _BAD
        if kind == "text" and not value.strip():
            self.report(path, f"{self.label(path)} is empty")
            return _BAD
        if kind in ("whole", "seconds", "number") and not low <= value <= high:
            unit = " seconds" if kind == "seconds" else ""
            self.report(path, f"{self.label(path)} must be {_number(low)} to {_number(high)}"
                              f"{unit}, not {value}")
            return _BAD
        return float(value) if kind in ("seconds", "number") else value

    def scalars(self, raw: Mapping[str, Any], path: KeyPath, specs: Mapping[str, Scalar],
                null_is_absent: bool = True) -> dict[str, Any]:
        """The valid scalar fields present; the dataclass defaults the rest.

        A named field given as null counts as absent (`max_wait:` = no limit); an entry of a
        mapping whose keys are data (skills, keys, pause codes) must have a value.
        """
        found = {key: self.scalar(raw, (*path, key), spec) for key, spec in specs.items()
                 if key in raw and (raw[key] is not None or not null_is_absent)}
        return {key: value for key, value in found.items() if value is not _BAD}

    def names(self, raw: Mapping[str, Any], path: KeyPath, what: str) -> tuple[str, ...]:
        """A list of distinct names (members, skills); a bad or repeated item is reported."""
        items = raw.get(path[-1], [])
        if not isinstance(items, list):
            self.report(path, f"{self.label(path)} must be a list, not {_actual(items)}")
            return ()
        out: list[str] = []
        for index, item in enumerate(items):
            where = (*path, str(index))
            if not isinstance(item, str) or not _NAME.fullmatch(item):
                self.report(where, f"{item!r} is not {what} (letters, digits, _ . -)")
            elif item in out:
                self.report(where, f"{self.label(path)} lists {item!r} twice")
            else:
                out.append(item)
        return tuple(out)

    def name(self, path: KeyPath, what: str) -> None:
        if not _NAME.fullmatch(path[-1]):
            self.report(path, f"{what} {path[-1]!r} may only have letters, digits, _ . -")

    # -- sections --------------------------------------------------------------------------------

    def pause_reasons(self, raw: Any) -> dict[str, str]:
        path = ("pause_reasons",)
        data = self.mapping(raw, path, "'pause_reasons'") or {}
        for code in data:
            if not _CODE.fullmatch(code):
                self.report((*path, code), f"pause code {code!r} must be digits 0-9 (the agent "
                                           "dials *73 then the code)")
        return {code: str(reason) for code, reason in self.scalars(
            data, path, dict.fromkeys(data, ("text", 0, 0)), False).items()}

    def agent(self, agent_id: str, raw: Any) -> AgentConfig | None:
        path, what = ("agents", agent_id), f"agent {agent_id!r}"
        self.name(path, "agent id")
        data = self.mapping(raw, path, what)
        if data is None:
            return None
        self.fields(data, path, what, _AGENT_FIELDS, ("name", "endpoint"))
        text = self.scalars(data, path, dict.fromkeys(("name", "endpoint"), ("text", 0, 0)))
        endpoint = str(text.get("endpoint", ""))
        if endpoint and not _ENDPOINT.fullmatch(endpoint):
            self.report((*path, "endpoint"), f"endpoint {endpoint!r} must look like "
                                             "TECH/resource, e.g. PJSIP/agent1001")
        here = (*path, "skills")
        skills = self.mapping(data.get("skills", {}), here, "'skills'") or {}
        for skill in skills:
            self.name((*here, skill), "skill")
        penalties = self.scalars(skills, here, dict.fromkeys(skills, ("whole", 0, 9)), False)
        return AgentConfig(agent_id, str(text.get("name", "")), endpoint, penalties)

    def queue(self, name: str, raw: Any, agent_ids: list[str] | None,
              codes: Collection[str] | None) -> QueueConfig | None:
        path, what = ("queues", name), f"queue {name!r}"
        self.name(path, "queue name")
        data = self.mapping(raw, path, what)
        if data is None:
            return None
        self.fields(data, path, what, _QUEUE_FIELDS)
        values = self.scalars(data, path, _QUEUE_SCALARS)
        strategy = values.get("strategy", "longest_idle")
        if strategy not in STRATEGIES:
            self.report((*path, "strategy"), f"unknown strategy {strategy!r} (one of "
                        f"{', '.join(STRATEGIES)}){_tip(strategy, STRATEGIES)}")
        members = self.names(data, (*path, "members"), "an agent id")
        listed = data["members"] if isinstance(data.get("members"), list) else []
        for index, member in enumerate(listed):
            if agent_ids is not None and member in members and member not in agent_ids:
                self.report((*path, "members", str(index)), f"unknown agent {member!r}"
                            + (_tip(member, agent_ids) or " (define it under 'agents')"))
        skills = self.names(data, (*path, "skills"), "a skill")
        widen = self.widen(data, path)
        if strategy in STRATEGIES:
            self.strategy_fields(data, path, strategy, members, skills)
        code = values.get("transfer_code")
        if code is not None and not _CODE.fullmatch(code):
            self.report((*path, "transfer_code"), f"transfer_code {code!r} must be 1 to 8 digits "
                                                  "(agents dial ##<code>#)")
        return QueueConfig(name, **values, members=members, skills=skills, widen=widen,
                           announce=self.announce(data, path), keys=self.keys(data, path),
                           callback=read_callback(self, data, path),
                           dispositions=read_queue_dispositions(self, data, path, codes))

    def strategy_fields(self, data: Mapping[str, Any], path: KeyPath, strategy: str,
                        members: tuple[str, ...], skills: tuple[str, ...]) -> None:
        if strategy == "skills":
            if "members" in data:
                self.report((*path, "members"), "strategy skills picks agents by 'skills'; "
                                                "'members' is for the other strategies")
            if not skills:
                self.report((*path, "skills") if "skills" in data else path,
                            "strategy skills needs 'skills': what every agent must have")
            return
        for unused in ("skills", "widen"):
            if unused in data:
                self.report((*path, unused), f"{unused!r} is only for strategy skills "
                                             f"(this queue is {strategy})")
        if not members:
            self.report((*path, "members") if "members" in data else path,
                        f"strategy {strategy} needs 'members': the agent ids it rings")

    def widen(self, data: Mapping[str, Any], path: KeyPath) -> tuple[Widen, ...]:
        here = (*path, "widen")
        raw = data.get("widen", [])
        if not isinstance(raw, list):
            self.report(here, f"'widen' must be a list, not {_actual(raw)}")
            return ()
        steps: list[Widen] = []
        for index, item in enumerate(raw):
            where, what = (*here, str(index)), f"widen step {index + 1}"
            if (item := self.mapping(item, where, what)) is None:
                continue
            self.fields(item, where, what, _WIDEN, _WIDEN)
            step = Widen(**{"after": 0.0, "max_penalty": 0, **self.scalars(item, where, _WIDEN)})
            if not steps and step.after != 0:
                self.report((*where, "after"), "the first widen step must be after: 0 (it sets "
                                               "the penalty a caller starts with)")
            elif steps and step.after <= steps[-1].after:
                self.report((*where, "after"), f"widen steps must be sorted by 'after': "
                                               f"{step.after:g} comes after {steps[-1].after:g}")
            elif steps and step.max_penalty < steps[-1].max_penalty:
                self.report((*where, "max_penalty"), f"max_penalty {step.max_penalty} is below "
                            f"the step before ({steps[-1].max_penalty}); widen only widens")
            steps.append(step)
        return tuple(steps)

    def announce(self, data: Mapping[str, Any], path: KeyPath) -> Announce:
        here = (*path, "announce")
        if "announce" not in data or (raw := self.mapping(
                data["announce"], here, "'announce'")) is None:
            return Announce()
        self.fields(raw, here, "'announce'", [*_ANNOUNCE, "join", "prompts"])
        return Announce(**self.scalars(raw, here, _ANNOUNCE),
                        join=self.names(raw, (*here, "join"), "a prompt id"),
                        prompts=self.names(raw, (*here, "prompts"), "a prompt id"))

    def keys(self, data: Mapping[str, Any], path: KeyPath) -> dict[str, str]:
        here = (*path, "keys")
        raw = (self.mapping(data["keys"], here, "'keys'") if "keys" in data else None) or {}
        for key in raw:
            if not _DTMF.fullmatch(key):
                self.report((*here, key), f"key {key!r} must be one DTMF key: 0-9, * or # "
                                          '(quote * and #: "#": callback)')
        keys = self.scalars(raw, here, dict.fromkeys(raw, ("text", 0, 0)), False)
        for key, outcome in keys.items():
            if not _OUTCOME.fullmatch(outcome):
                self.report((*here, key), f"outcome {outcome!r} must be a lowercase name: "
                                          "letters, digits and _, starting with a letter")
        return keys


def _cross_checks(reader: ConfigReader, config: AcdConfig) -> None:
    """Rules between queues and agents: unique transfer codes, queues nobody can answer."""
    codes: dict[str, str] = {}
    for queue in config.queues.values():
        code = queue.transfer_code
        if code in codes:
            reader.report(("queues", queue.name, "transfer_code"), f"transfer_code {code!r} is "
                          f"already used by queue {codes[code]!r}; codes must be unique")
        elif code is not None:
            codes[code] = queue.name
        if queue.strategy != "skills" or not queue.skills:
            continue
        penalties = [p for a in config.agents.values() if (p := queue.penalty(a)) is not None]
        known = {s for a in config.agents.values() for s in a.skills}
        where = ("queues", queue.name, "skills")
        if not penalties:
            tips = "".join(_tip(s, known) for s in queue.skills if s not in known)
            reader.report(where, f"no agent has all of {', '.join(queue.skills)}; callers "
                                 f"would wait for nobody{tips}", "warning")
        elif queue.widen and min(penalties) > queue.widen[-1].max_penalty:
            reader.report(where, f"every agent with these skills has a penalty above "
                                 f"{queue.widen[-1].max_penalty} (the widest step); callers "
                                 "would wait for nobody", "warning")


def read_text_keys(text: str) -> tuple[yaml.Node | None, Any]:
    """Like source.read_yaml, but every plain key stays text: `1: voicemail` is key "1"."""
    loader = FlowYamlLoader(text)
    try:
        root = loader.get_single_node()
        stack: list[yaml.Node] = [root] if root is not None else []
        seen: set[int] = set()  # an alias can make the node graph cyclic
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.tag in _TEXT_TAGS:
                        key.tag = "tag:yaml.org,2002:str"
                    stack.append(value)
            elif isinstance(node, yaml.SequenceNode):
                stack += node.value
        return root, None if root is None else loader.construct_document(root)
    finally:
        loader.dispose()


def parse_acd_config(text: str, file: str = "<queues>") -> AcdConfig:
    """The ACD config from YAML text; FlowError lists every error (and warning) found.

    On success the warnings are in `AcdConfig.warnings`; on failure they are in the error's
    details next to the errors, so `ivr check` can print them all.
    """
    try:
        root, data = read_text_keys(text)
    except yaml.YAMLError as exc:
        raise yaml_error(exc, file) from None
    positions, duplicates = walk(root)
    reader = ConfigReader(file, positions)
    for path, line, column, message in duplicates:
        reader.report(path, message, at=(line, column))
    if data is None:
        reader.report((), "the file is empty; it needs 'agents' and 'queues'")
    top = None if data is None else reader.mapping(data, (), "the file (top level)")
    if top is None:
        raise FlowError(reader.details)
    reader.fields(top, (), "the file (top level)", _TOP_FIELDS, ("agents", "queues"))
    raw_agents = reader.mapping(top.get("agents", {}), ("agents",), "'agents'")
    raw_queues = reader.mapping(top.get("queues", {}), ("queues",), "'queues'") or {}
    agents = {i: a for i, raw in (raw_agents or {}).items()
              if (a := reader.agent(i, raw)) is not None}
    ids = None if raw_agents is None else list(raw_agents)  # no agents: no member checks
    dispositions, codes = read_dispositions(reader, top.get("dispositions"))
    queues = {n: q for n, raw in raw_queues.items()
              if (q := reader.queue(n, raw, ids, codes)) is not None}
    config = AcdConfig(agents, queues, reader.pause_reasons(top.get("pause_reasons", {})))
    _cross_checks(reader, config)
    wallboard = read_wallboard(reader, top.get("wallboard"))
    details = sorted(reader.details, key=lambda d: (d.line, d.column, d.severity, d.message))
    if any(d.is_error for d in details):
        raise FlowError(details)
    return AcdConfig(agents, queues, config.pause_reasons, tuple(details), wallboard,
                     dispositions)


def load_acd_config(path: Path) -> AcdConfig:
    """flows/queues.yaml (or another file); FlowError lists everything wrong with it."""
    return parse_acd_config(path.read_text(encoding="utf-8"), str(path))
