"""`ivr campaign import|simulate CAMPAIGN ...`: a contact list into a campaign of
campaigns.yaml, or the campaign's pacing tried on a model before a number is dialled.

    ivr campaign import card-payment contacts.csv
    ivr campaign import card-payment contacts.csv --strict   # any bad row: import nothing
    ivr campaign simulate card-payment --agents 20 --human 0.3 --talk 180 --days 30

Import: every refused row is printed as `FILE:LINE: reason`. The good rows are imported in one
transaction, and a number the campaign already has is left alone, so running it twice adds
nothing the second time.

Simulate: the campaign's own pacing (the `decide()` the dialler runs, with its rule set's
abandon cap and connect time) on the seeded model of simulator.py, beside the same model
dialled progressively; prints utilisation, abandonment (over the run and the worst day),
contacts per agent hour and the CPU it took.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import sys
from pathlib import Path

from ..flow.loader import FlowError
from ..media.prompts import PromptLibrary
from ..services.acd.config import EMPTY
from ..services.acd.config_reader import load_acd_config
from ..services.db import DatabaseError, connect
from ..services.outbound.campaign import CampaignConfig, policy_of
from ..services.outbound.config_campaigns import CAMPAIGNS_FILE, load_campaigns
from ..services.outbound.contacts_csv import ContactListError, ParsedList, parse_contacts
from ..services.outbound.gate import valid_number
from ..services.outbound.rules import RuleSet
from ..services.outbound.simulator import CallModel, Dist, SimCampaign, simulate
from ..services.outbound.store import ImportResult, OutboundStore
from . import paths
from .config import database_url
from .flows import QUEUES_FILE


def add_national_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("national-dnc", help="import the national do-not-call list (it replaces "
                                            "the last one)")
    p.add_argument("file", help="one number a line; blank lines and # comments are skipped")
    p.add_argument("--date", required=True, help="the list's date, YYYY-MM-DD (the rule sets "
                                                 "refuse dialling on a list too old)")
    p.add_argument("--source", default="", help="where the list came from")
    p.add_argument("--url", help="database URL (default: IVR_DATABASE_URL or the state folder)")
    p.set_defaults(func=run_national)


def read_national(text: str) -> tuple[list[str], list[tuple[int, str]]]:
    """The numbers of a national list file, and its bad lines (line, text)."""
    numbers: list[str] = []
    bad: list[tuple[int, str]] = []
    for line_no, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip().replace(" ", "").replace("-", "")
        if not entry:
            continue
        if valid_number(entry):
            numbers.append(entry)
        else:
            bad.append((line_no, line.strip()))
    return numbers, bad


def run_national(args: argparse.Namespace) -> int:
    try:
        list_date = dt.date.fromisoformat(args.date)
    except ValueError:
        print(f"ivr national-dnc: --date {args.date!r} is not YYYY-MM-DD", file=sys.stderr)
        return 2
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{args.file}: error: {exc}", file=sys.stderr)
        return 1
    numbers, bad = read_national(text)
    for line_no, line in bad:
        print(f"{args.file}:{line_no}: {line!r} is not a phone number", file=sys.stderr)
    if bad:
        print(f"refused: {len(bad)} bad line(s); the last list stays", file=sys.stderr)
        return 1

    async def store() -> str:
        async with await connect(args.url or database_url()) as db:
            await db.migrate()
            return await OutboundStore(db).import_national(numbers, list_date, args.source)

    try:
        list_id = asyncio.run(store())
    except (DatabaseError, OSError) as exc:
        print(f"ivr national-dnc: {exc}", file=sys.stderr)
        return 1
    print(f"national do-not-call list of {list_date}: {len(set(numbers))} number(s) ({list_id})")
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("campaign", help="outbound campaigns: import a contact list, or "
                                        "simulate a campaign's pacing")
    p.add_argument("action", choices=["import", "simulate"])
    p.add_argument("campaign", help="a campaign of flows/campaigns.yaml")
    p.add_argument("file", nargs="?", help="import: the contact list (CSV with a header)")
    p.add_argument("--strict", action="store_true", help="import nothing if any row is bad")
    p.add_argument("--agents", type=int, default=20, help="simulate: agents logged in")
    p.add_argument("--days", type=int, default=30, help="simulate: calling days")
    p.add_argument("--hours", type=float, default=8.0, help="simulate: hours a day")
    p.add_argument("--human", type=float, default=0.30,
                   help="simulate: share of dials a human answers")
    p.add_argument("--machine", type=float, default=0.15,
                   help="simulate: share of dials a machine answers")
    p.add_argument("--talk", type=float, default=180.0, help="simulate: mean talk seconds")
    p.add_argument("--seed", type=int, default=1, help="simulate: the run's seed")
    p.add_argument("--flows", help="the flows folder (default: the project's flows/)")
    p.add_argument("--url", help="database URL (default: IVR_DATABASE_URL or the state folder)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "import" and not args.file:
        print("ivr campaign import: give the contact list's file", file=sys.stderr)
        return 2
    folder = Path(args.flows) if args.flows else paths.project_root() / "flows"
    prompts = paths.project_root() / "prompts"
    library = PromptLibrary(prompts) if prompts.is_dir() else None
    try:
        queues = folder / QUEUES_FILE
        acd = load_acd_config(queues) if queues.exists() else EMPTY
        campaigns = load_campaigns(folder / CAMPAIGNS_FILE, acd, None, library)
    except FlowError as exc:
        for detail in exc.details:
            print(detail.report_line(), file=sys.stderr)
        return 1
    campaign = campaigns.campaigns.get(args.campaign)
    if campaign is None:
        print(f"ivr campaign: no campaign {args.campaign!r} in {folder / CAMPAIGNS_FILE} "
              f"(campaigns: {', '.join(sorted(campaigns.campaigns)) or 'none'})",
              file=sys.stderr)
        return 1
    if args.action == "simulate":
        return simulate_campaign(args, campaign, campaigns.rules_of(campaign))
    try:
        data = Path(args.file).read_bytes()
        parsed = parse_contacts(data, campaign, library.languages() if library else ())
    except (OSError, ContactListError) as exc:
        print(f"{args.file}: error: {exc}", file=sys.stderr)
        return 1
    for rejected in parsed.rejected:
        print(f"{args.file}:{rejected.line}: {rejected.reason}")
    if args.strict and parsed.rejected:
        print(f"refused: {len(parsed.rejected)} bad row(s); nothing imported (--strict)")
        return 1
    try:
        result = asyncio.run(_import(args.url or database_url(), args.campaign, parsed,
                                     args.file))
    except (DatabaseError, OSError) as exc:
        print(f"ivr campaign: {exc}", file=sys.stderr)
        return 1
    again = " (this file was imported before)" if result.seen_before else ""
    print(f"{args.campaign}: {result.added} contact(s) added, {result.present} already "
          f"there, {result.rejected} refused{again}")
    return 0


async def _import(url: str, campaign: str, parsed: ParsedList, file: str) -> ImportResult:
    async with await connect(url) as db:
        await db.migrate()
        return await OutboundStore(db).import_contacts(campaign, parsed, file)


def simulate_campaign(args: argparse.Namespace, campaign: CampaignConfig,
                      rules: RuleSet) -> int:
    if campaign.mode not in ("progressive", "predictive"):
        print(f"ivr campaign simulate: {campaign.name} is {campaign.mode}; only progressive "
              "and predictive campaigns are paced", file=sys.stderr)
        return 1
    if not (0 < args.human <= 1 and 0 <= args.machine <= 1 - args.human and args.agents > 0
            and args.days > 0 and 0 < args.hours <= 24 and args.talk > 0):
        print("ivr campaign simulate: --human and --machine are shares of dials (their sum "
              "at most 1), --agents, --days, --hours and --talk positive", file=sys.stderr)
        return 2
    model = CallModel(human=args.human, machine=args.machine,
                      talk=Dist("lognormal", args.talk, args.talk * 2 / 3))
    policy = policy_of(campaign, rules)
    runs = [("this campaign", policy)]
    if policy.mode != "progressive":
        runs.append(("progressive", dataclasses.replace(policy, mode="progressive")))
    print(f"{campaign.name}: {args.agents} agents, {args.days} day(s) of {args.hours:g} h, "
          f"{args.human:.0%} human, {args.machine:.0%} machine, {args.talk:g} s talk, "
          f"abandon cap {rules.abandon.max_rate:.1%} ({rules.name}), seed {args.seed}")
    for label, run_policy in runs:
        report = simulate(SimCampaign(run_policy, agents=args.agents, days=args.days,
                                      window_hours=args.hours, calls=model,
                                      connect_seconds=rules.abandon.connect_seconds,
                                      window_days=int(rules.abandon.window_days)), args.seed)
        worst = max(report.daily_abandon_rates, default=0.0)
        print(f"  {label:<14} ({run_policy.mode}): utilisation {report.talk_utilisation:.1%}, "
              f"abandoned {report.abandon_rate:.2%} (worst day {worst:.2%}), "
              f"{report.contacts_per_agent_hour:.2f} contacts per agent hour, "
              f"{report.dials} dials, {report.cpu_seconds:.1f} s CPU")
    return 0
