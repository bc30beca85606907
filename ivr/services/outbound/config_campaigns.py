"""Reading flows/campaigns.yaml: campaigns and the operator's rule sets, every finding in place.

Checked against what they name, like a flow's queue node: the queue (queues.yaml), the
agentless flow (the flow set), the prompts a machine or an unattended human hears (every
language), the dispositions (queues.yaml's codes), the rule set. A finding prints as
`campaigns.yaml:7:11: error: node 'reminders': ...`. The service loads the file with the flows
and queues, all or nothing, so a broken edit is refused and the last good version keeps dialling.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any

import yaml

from ...flow.loader import FlowError, yaml_error
from ...flow.source import KeyPath, walk
from ...media.prompts import PromptLibrary
from ..acd.config import AcdConfig
from ..acd.config_callback import read_timezones, valid_timezone
from ..acd.config_reader import ConfigReader, read_text_keys
from .campaign import (
    AMD_ACTIONS,
    DEFAULT_RETRY,
    MODES,
    RESULTS,
    SAFE_HARBOR,
    Amd,
    CampaignConfig,
    Campaigns,
    Pacing,
)
from .config_rules import read_rule_set, shipped_rule_sets

__all__ = ["CAMPAIGNS_FILE", "load_campaigns", "parse_campaigns"]

CAMPAIGNS_FILE = "campaigns.yaml"
_SECTIONS = ("campaigns", "rules")
_FIELDS = tuple(f.name for f in dataclass_fields(CampaignConfig) if f.name != "name")
_SCALARS = {"mode": ("text", 0, 0), "queue": ("text", 0, 0), "flow": ("text", 0, 0),
            "rules": ("text", 0, 0), "caller_id": ("text", 0, 0), "timezone": ("text", 0, 0),
            "attempts": ("whole", 1, 100), "ring_timeout": ("seconds", 15, 120),
            "priority": ("whole", 0, 9), "opt_out_key": ("text", 0, 0)}
_PACING = {"min_predictive_agents": ("whole", 1, 1000), "max_dial_ratio": ("number", 1, 10),
           "reserve_inbound": ("whole", 0, 1000), "inbound_wait_limit": ("seconds", 0, 3600),
           "max_channels": ("whole", 1, 1000)}
_AMD = {"enabled": ("flag", 0, 0), "on_machine": ("text", 0, 0)}
_DTMF = re.compile(r"[0-9*#]")


class _Campaigns(ConfigReader):
    def __init__(self, file: str, positions: Any, acd: AcdConfig | None,
                 flows: Collection[str] | None, prompts: PromptLibrary | None) -> None:
        super().__init__(file, positions, _SECTIONS)
        self.acd, self.flows, self.prompts = acd, flows, prompts

    def prompt_list(self, raw: Mapping[str, Any], path: KeyPath) -> tuple[str, ...]:
        ids = self.names(raw, path, "a prompt id")
        if self.prompts is not None:
            for prompt in ids:
                missing = [lang for lang in self.prompts.languages()
                           if not self.prompts.has(prompt, lang)]
                if missing:
                    self.report(path, f"prompt {prompt!r} is missing in {', '.join(missing)}")
        return ids

    def campaign(self, name: str, raw: Any, rules: Collection[str]) -> CampaignConfig | None:
        path, what = ("campaigns", name), f"campaign {name!r}"
        self.name(path, "campaign name")
        data = self.mapping(raw, path, what)
        if data is None:
            return None
        self.fields(data, path, what, _FIELDS, ("mode",))
        values: dict[str, Any] = self.scalars(data, path, _SCALARS)
        mode = values.get("mode", "progressive")
        if mode not in MODES:
            self.report((*path, "mode"), f"unknown mode {mode!r} (one of {', '.join(MODES)})")
        self.references(path, data, values, mode, rules)
        values["timezones"] = read_timezones(self, data, path)
        values["retry"] = self.retry(data, path)
        for key in ("dispositions", "dnc_dispositions", "callback_dispositions"):
            if key in data:
                values[key] = self.dispositions(data, (*path, key))
        if "safe_harbor" in data:
            values["safe_harbor"] = self.prompt_list(data, (*path, "safe_harbor"))
        elif self.prompts is not None and mode != "preview":
            self.prompt_list({"safe_harbor": list(SAFE_HARBOR)},
                             (*path, "safe_harbor"))
        values["amd"] = self.amd(data, path)
        if "pacing" in data and (block := self.mapping(data["pacing"], (*path, "pacing"),
                                                       "'pacing'")) is not None:
            self.fields(block, (*path, "pacing"), "'pacing'", _PACING)
            values["pacing"] = Pacing(**self.scalars(block, (*path, "pacing"), _PACING))
        return CampaignConfig(name, **values)

    def references(self, path: KeyPath, data: Mapping[str, Any], values: Mapping[str, Any],
                   mode: str, rules: Collection[str]) -> None:
        queue, flow = values.get("queue"), values.get("flow")
        if mode == "agentless":
            if not flow:
                self.report(path, "mode agentless needs 'flow': what the callee hears")
            elif self.flows is not None and flow not in self.flows:
                self.report((*path, "flow"), f"unknown flow {flow!r} (flows: "
                                             f"{', '.join(sorted(self.flows))})")
        elif mode in MODES:
            if not queue:
                self.report(path, f"mode {mode} needs 'queue': whose agents take the contacts")
            if flow:
                self.report((*path, "flow"), f"'flow' is for agentless campaigns (this one is "
                                             f"{mode}: its contacts go to agents)")
        if queue and self.acd is not None and queue not in self.acd.queues:
            self.report((*path, "queue"), f"unknown queue {queue!r} (queues.yaml has "
                                          f"{', '.join(sorted(self.acd.queues)) or 'none'})")
        name = values.get("rules", "us")
        if name not in rules:
            self.report((*path, "rules") if "rules" in data else path,
                        f"unknown rule set {name!r} (one of {', '.join(sorted(rules))})")
        zone = values.get("timezone")
        if zone is not None and not valid_timezone(zone):
            self.report((*path, "timezone"), f"unknown time zone {zone!r} (an IANA name "
                                             "such as Asia/Seoul)")
        key = values.get("opt_out_key")
        if key is not None and not _DTMF.fullmatch(key):
            self.report((*path, "opt_out_key"), f"opt_out_key {key!r} must be one key: 0-9, "
                                                "* or #")

    def retry(self, data: Mapping[str, Any], path: KeyPath) -> Mapping[str, float]:
        here = (*path, "retry")
        default = dict(DEFAULT_RETRY)
        if "retry" not in data or (raw := self.mapping(data["retry"], here, "'retry'")) is None:
            return default
        # the gate says when a refusal may be tried again (its retry_at), not the campaign
        retriable = [r for r in RESULTS if r not in ("human", "dnc", "outside_window", "blocked")]
        for result in raw:
            if result not in retriable:
                self.report((*here, result), f"retry for {result!r}: results are "
                                             f"{', '.join(retriable)}")
        default.update({k: v for k, v in self.scalars(
            raw, here, dict.fromkeys([r for r in raw if r in retriable],
                                     ("seconds", 60, 30 * 86400)), False).items()})
        return default

    def dispositions(self, data: Mapping[str, Any], path: KeyPath) -> tuple[str, ...]:
        codes = self.names(data, path, "a disposition code")
        known = None if self.acd is None else self.acd.dispositions
        for code in codes:
            if known is not None and code not in known:
                self.report(path, f"unknown disposition {code!r} (queues.yaml's "
                                  f"dispositions: {', '.join(known)})")
        return codes

    def amd(self, data: Mapping[str, Any], path: KeyPath) -> Amd:
        here = (*path, "amd")
        if "amd" not in data or (raw := self.mapping(data["amd"], here, "'amd'")) is None:
            return Amd()
        self.fields(raw, here, "'amd'", [*_AMD, "message"])
        values: dict[str, Any] = self.scalars(raw, here, _AMD)
        action = values.get("on_machine", "hangup")
        if action not in AMD_ACTIONS:
            self.report((*here, "on_machine"), f"on_machine {action!r} must be "
                                               f"{' or '.join(AMD_ACTIONS)}")
        message = self.prompt_list(raw, (*here, "message")) if "message" in raw else ()
        if action == "message" and not message:
            self.report(here, "on_machine: message needs 'message': the prompts left after "
                              "the beep")
        return Amd(**values, message=message)


def parse_campaigns(text: str, file: str = "<campaigns>", acd: AcdConfig | None = None,
                    flows: Collection[str] | None = None,
                    prompts: PromptLibrary | None = None) -> Campaigns:
    """Campaigns and rule sets from YAML text; FlowError lists every error found.

    What is None is not checked against (no queues file, no flow set, no prompts folder).
    """
    try:
        root, data = read_text_keys(text)
    except yaml.YAMLError as exc:
        raise yaml_error(exc, file) from None
    positions, duplicates = walk(root)
    reader = _Campaigns(file, positions, acd, flows, prompts)
    for where, line, column, message in duplicates:
        reader.report(where, message, at=(line, column))
    top = {} if data is None else reader.mapping(data, (), "the file (top level)")
    if top is None:
        raise FlowError(reader.details)
    reader.fields(top, (), "the file (top level)", _SECTIONS)
    rules: dict[str, Any] = dict(shipped_rule_sets())
    raw_rules = reader.mapping(top.get("rules", {}), ("rules",), "'rules'") or {}
    for name, raw in raw_rules.items():
        reader.name(("rules", name), "rule set name")
        if name in rules:
            reader.report(("rules", name), f"rule set {name!r} is shipped; give yours another "
                                           f"name and write 'extends: {name}'")
        elif (rule_set := read_rule_set(reader, name, raw, ("rules", name), rules)) is not None:
            rules[name] = rule_set
    names = set(rules) | set(raw_rules)
    raw_campaigns = reader.mapping(top.get("campaigns", {}), ("campaigns",), "'campaigns'") or {}
    campaigns = {n: c for n, raw in raw_campaigns.items()
                 if (c := reader.campaign(n, raw, names)) is not None}
    details = sorted(reader.details, key=lambda d: (d.line, d.column, d.severity, d.message))
    if any(d.is_error for d in details):
        raise FlowError(details)
    return Campaigns(campaigns, rules)


def load_campaigns(path: Path, acd: AcdConfig | None = None,
                   flows: Collection[str] | None = None,
                   prompts: PromptLibrary | None = None) -> Campaigns:
    """flows/campaigns.yaml; no file means no campaigns (and the shipped rule sets)."""
    if not path.exists():
        return Campaigns({}, dict(shipped_rule_sets()))
    return parse_campaigns(path.read_text(encoding="utf-8"), str(path), acd, flows, prompts)

