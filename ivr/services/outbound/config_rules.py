"""Reading rule sets (rules.py) from YAML: the shipped ones and an operator's own.

One reader for both, reporting through the ACD's ConfigReader so a finding in an operator's
rule set prints as `campaigns.yaml:12:5: error: node 'mycorp': ...`. A shipped rule set with
an error is a bug in the package: loading it raises.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any

import yaml

from ...flow.loader import FlowError, yaml_error
from ...flow.source import KeyPath, walk
from ..acd.config_callback import read_window
from ..acd.config_reader import ConfigReader, read_text_keys
from .rules import RULES_DIR, WEEKDAYS, AbandonRule, Limits, RuleSet

__all__ = ["read_rule_set", "shipped_rule_sets"]

_FIELDS = ("description", "extends", "window", "night_window", "days", "holidays", "limits",
           "abandon", "consent_days", "require_consent", "national_list_max_age_days",
           "min_ring_seconds")
_SCALARS = {"description": ("text", 0, 0), "consent_days": ("number", 1, 36500),
            "require_consent": ("flag", 0, 0),
            "national_list_max_age_days": ("number", 1, 3650),
            "min_ring_seconds": ("seconds", 5, 120)}
_LIMITS = {"per_day": ("whole", 1, 100), "per_24h": ("whole", 1, 100),
           "lifetime": ("whole", 1, 1000)}
_ABANDON = {"max_rate": ("number", 0, 0.5), "window_days": ("number", 1 / 24, 365),
            "connect_seconds": ("seconds", 0.5, 10), "recall_block_hours": ("number", 0, 720)}


def _days(reader: ConfigReader, raw: Any, path: KeyPath) -> frozenset[int] | None:
    items = raw if isinstance(raw, list) else None
    if items is None:
        reader.report(path, f"days must be a list of {', '.join(WEEKDAYS)}")
        return None
    out: set[int] = set()
    for index, item in enumerate(items):
        if item not in WEEKDAYS:
            reader.report((*path, str(index)), f"day {item!r} is not one of "
                                               f"{', '.join(WEEKDAYS)}")
        else:
            out.add(WEEKDAYS.index(item))
    return frozenset(out)


def _holidays(reader: ConfigReader, raw: Any, path: KeyPath) -> frozenset[dt.date] | None:
    if not isinstance(raw, list):
        reader.report(path, "holidays must be a list of dates, e.g. ['2026-12-25']")
        return None
    out: set[dt.date] = set()
    for index, item in enumerate(raw):
        try:
            out.add(dt.date.fromisoformat(str(item)))
        except ValueError:
            reader.report((*path, str(index)), f"holiday {item!r} is not a date (YYYY-MM-DD)")
    return frozenset(out)


def read_rule_set(reader: ConfigReader, name: str, raw: Any, path: KeyPath,
                  bases: Mapping[str, RuleSet]) -> RuleSet | None:
    """A rule set from its YAML mapping; `extends` starts from one of `bases`."""
    data = reader.mapping(raw, path, f"rule set {name!r}")
    if data is None:
        return None
    reader.fields(data, path, f"rule set {name!r}", _FIELDS)
    base = RuleSet(name)
    if "extends" in data:
        parent = data["extends"]
        if parent not in bases:
            reader.report((*path, "extends"), f"rule set {name!r} extends {parent!r}, which "
                          f"is not a rule set (known: {', '.join(sorted(bases))})")
        else:
            base = dataclasses.replace(bases[parent], name=name, description="")
    changes: dict[str, Any] = reader.scalars(data, path, _SCALARS)
    for key in ("window", "night_window"):
        if key in data and data[key] is not None:
            if (window := read_window(reader, data, path, key)) is not None:
                changes[key] = window
        elif key == "night_window" and key in data:
            changes[key] = None
    if "days" in data and (days := _days(reader, data["days"], (*path, "days"))) is not None:
        changes["days"] = days
    if "holidays" in data and (holidays := _holidays(
            reader, data["holidays"], (*path, "holidays"))) is not None:
        changes["holidays"] = holidays
    for key, specs, kind in (("limits", _LIMITS, Limits), ("abandon", _ABANDON, AbandonRule)):
        if key not in data or (block := reader.mapping(data[key], (*path, key), repr(key))) \
                is None:
            continue
        reader.fields(block, (*path, key), repr(key), specs)
        values = reader.scalars(block, (*path, key), specs)
        current = getattr(base, key)
        if kind is Limits:  # null lifts a limit the base set has
            values.update({k: None for k in specs if k in block and block[k] is None})
        changes[key] = dataclasses.replace(current, **values)
    return dataclasses.replace(base, **changes)


@functools.cache
def shipped_rule_sets() -> Mapping[str, RuleSet]:
    """us, uk, kr and callback, from the package's rules/ folder."""
    out: dict[str, RuleSet] = {}
    for file in sorted(RULES_DIR.glob("*.yaml")):
        text = file.read_text(encoding="utf-8")
        try:
            root, data = read_text_keys(text)
        except yaml.YAMLError as exc:
            raise yaml_error(exc, str(file)) from None
        positions, _ = walk(root)
        reader = ConfigReader(str(file), positions, sections=())
        rules = read_rule_set(reader, file.stem, data, (), {})
        if reader.details or rules is None:
            raise FlowError(reader.details)
        out[file.stem] = rules
    return out
