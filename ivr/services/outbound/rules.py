"""Rule sets: what the law (or the operator) allows a dialler, as data the gate applies.

A rule set is YAML, so the compliance officer can read it and an operator can write their own:
the shipped ones (`us`, `kr`, `uk`, `callback`) live in `rules/` beside this module, and
`campaigns.yaml` may add more under `rules:`, each starting from a shipped one (`extends: us`).
This module is the vocabulary and the defaults; reading and checking the YAML is in
config_rules.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RULES_DIR", "AbandonRule", "Limits", "RuleSet"]

RULES_DIR = Path(__file__).with_name("rules")

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Limits:
    """How often one number may be dialled. None: no limit."""

    per_day: int | None = None
    """Attempts to the number on one calendar day of the callee, every campaign counted."""
    per_24h: int | None = None
    """Attempts to the number in any rolling 24 hours, every campaign counted."""
    lifetime: int | None = None
    """Attempts of one campaign to the contact, ever."""


@dataclass(frozen=True, slots=True)
class AbandonRule:
    """The abandoned-call cap the pacing must keep (abandoned / live-answered calls)."""

    max_rate: float = 0.03
    window_days: float = 30.0
    """The period the rate is measured over: 30 days in the US, 24 hours in the UK."""
    connect_seconds: float = 2.0
    """A human not connected to an agent within this long after the greeting is abandoned:
    they hear the safe-harbor message instead."""
    recall_block_hours: float = 72.0
    """An abandoned number is not dialled again this soon, unless an agent is reserved."""


@dataclass(frozen=True, slots=True)
class RuleSet:
    name: str
    description: str = ""
    window: tuple[str, str] = ("08:00", "21:00")
    """Hours a number may be dialled, in the callee's local time; equal ends: all day."""
    days: frozenset[int] = frozenset(range(7))
    """Weekdays dialling is allowed (0 = Monday), in the callee's local time."""
    holidays: frozenset[dt.date] = frozenset()
    """Local dates nobody is dialled."""
    night_window: tuple[str, str] | None = None
    """Hours outside `window` a number may still be dialled if the contact consented to night
    calls (Korea: 21:00-08:00 needs separate consent). None: never outside `window`."""
    limits: Limits = field(default_factory=Limits)
    abandon: AbandonRule = field(default_factory=AbandonRule)
    consent_days: float | None = None
    """Recorded consent expires this many days after it was given (Korea: 2 years). None: it
    does not expire."""
    require_consent: bool = False
    """A contact with no recorded consent is not dialled."""
    national_list_max_age_days: float | None = None
    """The imported national do-not-call list must be no older than this (US: 31 days, UK
    TPS: 28); older, and nothing is dialled until it is refreshed. None: no national list."""
    min_ring_seconds: float = 15.0
    """A phone rings at least this long before the dialler gives up on it."""
