"""Importing a contact list: good rows once (a re-import adds nothing), the import recorded,
and `ivr campaign import` printing every refused row and refusing all with --strict."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ivr.app import campaign_cli
from ivr.services.db import connect
from ivr.services.outbound.campaign import CampaignConfig
from ivr.services.outbound.contacts_csv import parse_contacts
from ivr.services.outbound.store import OutboundStore

CAMPAIGN = CampaignConfig("c", queue="general", timezone="Asia/Seoul")
CSV = "number,name,account\n01012345678,Minji,1001\nnot-a-number,x,1\n0212345678,Bo,1002\n"


async def test_an_import_adds_good_rows_once(tmp_path: Path) -> None:
    async with await connect(f"sqlite:///{tmp_path}/o.db") as db:
        await db.migrate()
        store = OutboundStore(db)
        parsed = parse_contacts(CSV, CAMPAIGN)
        first = await store.import_contacts("c", parsed, "list.csv")
        assert (first.added, first.present, first.rejected, first.seen_before) == (2, 0, 1,
                                                                                   False)
        again = await store.import_contacts("c", parsed, "list.csv")
        assert (again.added, again.present, again.seen_before) == (0, 2, True)
        assert await store.count("c") == 2
        rows = await store.contacts("c")
        assert [(r["number"], r["fields"], r["state"], r["line"]) for r in rows] == [
            ("01012345678", {"account": "1001"}, "pending", 2),
            ("0212345678", {"account": "1002"}, "pending", 4)]
        assert await store.count("other") == 0  # per campaign


def run_cli(tmp_path: Path, *extra: str) -> int:
    file = tmp_path / "list.csv"
    file.write_text(CSV, encoding="utf-8")
    args = argparse.Namespace(action="import", campaign="card-payment", file=str(file),
                              strict="--strict" in extra, flows=None,
                              url=f"sqlite:///{tmp_path}/cli.db")
    return campaign_cli.run(args)


def test_the_cli_prints_refused_rows_and_imports_the_rest(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(tmp_path, "--strict") == 1
    out = capsys.readouterr().out
    assert "list.csv:3: 'not-a-number' is not a phone number" in out
    assert "nothing imported" in out
    assert run_cli(tmp_path) == 0
    assert "card-payment: 2 contact(s) added, 0 already there, 1 refused" in \
        capsys.readouterr().out
