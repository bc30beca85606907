"""flows/campaigns.yaml: the demo file loads; each mistake is refused at its file:line with the
campaign as the node; the registry reloads it with the flows and queues, all or nothing."""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path

import pytest

from ivr.app.cli import cmd_check
from ivr.app.flows import FlowRegistry
from ivr.flow.loader import FlowError
from ivr.media.prompts import PromptLibrary
from ivr.services.acd.config_reader import load_acd_config
from ivr.services.outbound.config_campaigns import CAMPAIGNS_FILE, load_campaigns, parse_campaigns

from ..queue_flows import ROOT, project
from ..test_flow_registry_queues import edit

ACD = load_acd_config(ROOT / "flows" / "queues.yaml")
PROMPTS = PromptLibrary(ROOT / "prompts")

GOOD = """\
rules:
  mine:
    extends: us
    window: "09:00-20:00"
campaigns:
  dunning:
    mode: predictive
    queue: general
    rules: mine
    timezone: America/New_York
    retry: {busy: 600}
    pacing: {min_predictive_agents: 5, reserve_inbound: 1}
  reminder:
    mode: agentless
    flow: demo
    rules: kr
    timezone: Asia/Seoul
    opt_out_key: "9"
"""


def parse(text: str) -> object:
    return parse_campaigns(text, "campaigns.yaml", ACD, {"demo", "bank"}, PROMPTS)


def errors(text: str) -> list[str]:
    with pytest.raises(FlowError) as caught:
        parse(text)
    return [str(d) for d in caught.value.details]


def test_the_demo_campaigns_load() -> None:
    loaded = load_campaigns(ROOT / "flows" / CAMPAIGNS_FILE, ACD, {"bank", "demo", "reminder"},
                            PROMPTS)
    assert set(loaded.campaigns) == {"card-payment", "card-reminder", "billing-follow-up"}
    reminder = loaded.campaigns["card-reminder"]
    assert (reminder.mode, reminder.flow, reminder.opt_out_key) == ("agentless", "reminder", "9")
    card = loaded.campaigns["card-payment"]
    assert card.mode == "progressive" and card.queue == "general"
    rules = loaded.rules_of(card)
    assert rules.window == ("09:00", "20:00") and rules.night_window == ("21:00", "08:00")
    assert rules.limits.per_day == 2 and rules.limits.per_24h == 3  # the rest from kr


def test_a_good_file_reads_every_field() -> None:
    loaded = parse(GOOD)
    dunning = loaded.campaigns["dunning"]  # type: ignore[attr-defined]
    assert dunning.retry["busy"] == 600 and dunning.retry["no_answer"] == 3600
    assert dunning.pacing.reserve_inbound == 1 and dunning.pacing.min_predictive_agents == 5
    assert loaded.rules["mine"].national_list_max_age_days == 31  # type: ignore[attr-defined]


@pytest.mark.parametrize("change, message", [
    (("queue: general", "queue: generl"), "campaigns.yaml:8:5: node 'dunning': "
                                          "unknown queue 'generl'"),
    (("mode: predictive", "mode: predictiv"), "unknown mode 'predictiv'"),
    (("flow: demo", "flow: remind"), "unknown flow 'remind'"),
    (("rules: mine", "rules: mien"), "unknown rule set 'mien'"),
    (("extends: us", "extends: usa"), "extends 'usa', which is not a rule set"),
    (('window: "09:00-20:00"', 'window: "9-20"'), "window '9-20' must be 'HH:MM-HH:MM'"),
    (("retry: {busy: 600}", "retry: {bussy: 600}"), "retry for 'bussy'"),
    (("retry: {busy: 600}", "retry: {busy: 5}"), "'retry.busy' must be 60 to 2592000"),
    (('opt_out_key: "9"', 'opt_out_key: "99"'), "opt_out_key '99' must be one key"),
    (("timezone: Asia/Seoul", "timezone: Asia/Seol"), "unknown time zone 'Asia/Seol'"),
    (("reserve_inbound: 1", "reserve_inbound: -1"), "must be 0 to 1000"),
    (("mode: agentless\n    flow: demo", "mode: agentless"), "mode agentless needs 'flow'"),
    (("    queue: general\n", ""), "mode predictive needs 'queue'"),
])
def test_each_mistake_is_refused_in_its_place(change: tuple[str, str], message: str) -> None:
    assert change[0] in GOOD
    found = errors(GOOD.replace(*change))
    assert any(message in line for line in found), found


def test_a_missing_prompt_and_an_unknown_disposition_are_refused() -> None:
    text = GOOD + "    amd: {on_machine: message, message: [no-such-prompt]}\n" \
                  "    dispositions: [resolved, sael]\n"
    found = errors(text)
    assert any("prompt 'no-such-prompt' is missing in en, ko" in f for f in found), found
    assert any("unknown disposition 'sael'" in f for f in found), found
    assert any("on_machine" not in f for f in found)


def test_a_shipped_rule_set_cannot_be_redefined() -> None:
    found = errors("rules:\n  us:\n    window: '00:00-00:00'\n")
    assert any("rule set 'us' is shipped" in f for f in found)


def test_ivr_check_reports_campaign_errors_with_the_flows(tmp_path: Path) -> None:
    folder = project(tmp_path)
    (folder / CAMPAIGNS_FILE).write_text(
        "campaigns:\n  c:\n    mode: progressive\n    queue: nowhere\n", encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cmd_check(argparse.Namespace(paths=[str(folder)]))
    assert code == 1
    assert f"{folder / CAMPAIGNS_FILE}:4:5: error: node 'c': unknown queue 'nowhere'" \
        in out.getvalue()


async def test_the_registry_reloads_campaigns_all_or_nothing(tmp_path: Path) -> None:
    folder = project(tmp_path)
    campaigns = folder / CAMPAIGNS_FILE
    edit(campaigns, "campaigns:\n  c:\n    mode: progressive\n    queue: general\n")
    registry = FlowRegistry(folder, PROMPTS)
    registry.load_initial()
    good = registry.campaigns
    assert list(good.campaigns) == ["c"]
    edit(campaigns, "campaigns:\n  c:\n    mode: progresive\n    queue: general\n")
    assert await registry.reload_if_changed() is False
    assert registry.refused == 1 and registry.campaigns is good
    edit(campaigns, "campaigns:\n  c:\n    mode: preview\n    queue: general\n")
    assert await registry.reload_if_changed() is True
    assert registry.campaigns.campaigns["c"].mode == "preview"
