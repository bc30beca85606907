"""`ivr campaign import CAMPAIGN FILE.csv`: a contact list into a campaign of campaigns.yaml.

    ivr campaign import card-payment contacts.csv
    ivr campaign import card-payment contacts.csv --strict   # any bad row: import nothing

Every refused row is printed as `FILE:LINE: reason`. The good rows are imported in one
transaction, and a number the campaign already has is left alone, so running it twice adds
nothing the second time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from ..flow.loader import FlowError
from ..media.prompts import PromptLibrary
from ..services.acd.config import EMPTY
from ..services.acd.config_reader import load_acd_config
from ..services.db import DatabaseError, connect
from ..services.outbound.config_campaigns import CAMPAIGNS_FILE, load_campaigns
from ..services.outbound.contacts_csv import ContactListError, ParsedList, parse_contacts
from ..services.outbound.store import ImportResult, OutboundStore
from . import paths
from .config import database_url
from .flows import QUEUES_FILE


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("campaign", help="outbound campaigns: import a contact list")
    p.add_argument("action", choices=["import"])
    p.add_argument("campaign", help="a campaign of flows/campaigns.yaml")
    p.add_argument("file", help="the contact list (CSV with a header line)")
    p.add_argument("--strict", action="store_true", help="import nothing if any row is bad")
    p.add_argument("--flows", help="the flows folder (default: the project's flows/)")
    p.add_argument("--url", help="database URL (default: IVR_DATABASE_URL or the state folder)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
