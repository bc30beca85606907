"""A campaign, as data: flows/campaigns.yaml read into these (config_campaigns.py).

What to dial is the contact list (contacts.py, in the database); how to dial it is here: the
mode, whose agents, which rules, when, how often, and what a machine, an unattended human or an
agentless call hears. The defaults here are the defaults of the file format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .pacing import PacingPolicy
from .rules import RuleSet

__all__ = ["AMD_ACTIONS", "DEFAULT_RETRY", "MODES", "RESULTS", "SAFE_HARBOR", "Amd",
           "CampaignConfig", "Campaigns", "Pacing", "policy_of"]

SAFE_HARBOR = ("outbound-safe-harbor",)
MODES = ("preview", "progressive", "predictive", "agentless")
AMD_ACTIONS = ("hangup", "message")
RESULTS = ("human", "machine", "busy", "no_answer", "failed", "abandoned", "dnc",
           "outside_window", "blocked")
"""What one attempt can end as (answered-human, machine, busy, no-answer, failed, abandoned,
DNC-blocked, outside-window; blocked: refused by the gate for another reason, a limit or
consent, the attempt's `reasons` say which)."""
DEFAULT_RETRY: Mapping[str, float] = {"no_answer": 3600.0, "busy": 900.0, "machine": 14400.0,
                                      "failed": 1800.0, "abandoned": 259200.0}


@dataclass(frozen=True, slots=True)
class Amd:
    """Answering-machine detection on answer (Asterisk's AMD())."""

    enabled: bool = True
    on_machine: str = "hangup"
    """hangup, or message: wait for the beep and play `message`."""
    message: tuple[str, ...] = ()
    """Prompt ids left on a machine."""


@dataclass(frozen=True, slots=True)
class Pacing:
    """How hard the dialler pushes (see pacing.py); the abandon cap comes from the rules."""

    min_predictive_agents: int = 15
    max_dial_ratio: float = 3.0
    reserve_inbound: int = 0
    """Agents of the queue kept for inbound callers, never given outbound contacts."""
    inbound_wait_limit: float = 30.0
    """While an inbound caller of the queue has waited longer than this, dial nothing."""
    max_channels: int = 10
    """Agentless: calls in flight at most."""


@dataclass(frozen=True, slots=True)
class CampaignConfig:
    name: str
    mode: str = "progressive"
    queue: str = ""
    """The ACD queue whose agents take the contacts (its strategy and skills pick them)."""
    flow: str = ""
    """Agentless: the flow an answered human hears (its variables are the contact's fields)."""
    rules: str = "us"
    """The rule set (rules.py): hours, limits, lists. A campaign with hours of its own names a
    rule set of its own (`extends:` the law's) in campaigns.yaml."""
    caller_id: str = ""
    timezone: str = "UTC"
    """Contacts with no zone and no prefix match are in this one."""
    timezones: Mapping[str, str] = field(default_factory=dict)
    """Number prefix -> zone, the longest match wins."""
    attempts: int = 3
    """Dials of one contact at most (the rule set's lifetime limit may be lower)."""
    retry: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_RETRY))
    """Seconds before the next attempt, by the result of the last one."""
    ring_timeout: float = 25.0
    amd: Amd = field(default_factory=Amd)
    safe_harbor: tuple[str, ...] = SAFE_HARBOR
    """Prompts a human hears when no agent is free within the rule set's connect time."""
    pacing: Pacing = field(default_factory=Pacing)
    priority: int = 0
    """Against inbound in the queue: outbound contacts wait behind inbound callers of the
    queue's priority unless this is higher (0-9, as queue priorities)."""
    opt_out_key: str = ""
    """Agentless: a key the callee presses to be put on the do-not-call list at once."""
    dispositions: tuple[str, ...] = ()
    """Wrap-up codes the agent may give (queues.yaml's); empty: the queue's."""
    dnc_dispositions: tuple[str, ...] = ("do_not_call",)
    """Codes that put the number on the internal do-not-call list."""
    callback_dispositions: tuple[str, ...] = ("callback",)
    """Codes that book a callback in the queue on the callback service."""


@dataclass(frozen=True, slots=True)
class Campaigns:
    """Everything campaigns.yaml holds, checked."""

    campaigns: Mapping[str, CampaignConfig] = field(default_factory=dict)
    rules: Mapping[str, RuleSet] = field(default_factory=dict)
    """Every rule set a campaign may name: the shipped ones and the file's own."""

    def rules_of(self, campaign: CampaignConfig) -> RuleSet:
        return self.rules[campaign.rules]


def policy_of(campaign: CampaignConfig, rules: RuleSet) -> PacingPolicy:
    """The campaign's pacing as decide() takes it: the same for the live dialler and for
    `ivr campaign simulate`."""
    pacing = campaign.pacing
    return PacingPolicy(
        mode=campaign.mode, max_abandon_rate=rules.abandon.max_rate,
        min_predictive_agents=pacing.min_predictive_agents,
        max_dial_ratio=pacing.max_dial_ratio, reserve_inbound=pacing.reserve_inbound,
        inbound_wait_limit=pacing.inbound_wait_limit,
        # the agents bound the agent modes; `max_channels` is agentless's only limit
        max_channels=pacing.max_channels if campaign.mode == "agentless" else 0)
