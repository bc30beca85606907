"""Importing a contact list: good rows once (a re-import adds nothing), the import recorded,
and `ivr campaign import` printing every refused row and refusing all with --strict."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pytest

from ivr.app import campaign_cli
from ivr.services.db import connect
from ivr.services.outbound.campaign import CampaignConfig
from ivr.services.outbound.contacts_csv import parse_contacts
from ivr.services.outbound.store import AttemptRow, OutboundStore

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


async def test_due_history_and_dnc_lookups_on_both_databases(db_url: str) -> None:
    """What the dialler asks each pass, the same on SQLite and PostgreSQL: due contacts in
    order (a retry due earlier first, then the file's order), a number's dials (callbacks'
    too, the gate's refusals left out), the do-not-call lists with or without the +."""
    async with await connect(db_url) as db:
        await db.migrate()
        store = OutboundStore(db)
        now = dt.datetime(2026, 12, 8, 12, 0, tzinfo=dt.UTC)
        text = "number,name\n+821011112222,A\n821033334444,B\n821055556666,C\n"
        await store.import_contacts("c", parse_contacts(text, CAMPAIGN), now=now)
        first, second, third = await store.due("c", now, 10)
        assert [c.number for c in (first, second, third)] == [
            "+821011112222", "821033334444", "821055556666"]
        await store.settle(third, state="retry", outcome="busy", dialled=True, now=now,
                           next_attempt_at=now - dt.timedelta(minutes=1))
        await store.settle(second, state="retry", outcome="busy", dialled=True, now=now,
                           next_attempt_at=now + dt.timedelta(hours=1))
        assert [c.number for c in await store.due("c", now, 10)] == [
            "821055556666", "+821011112222"]
        assert [c.number for c in await store.due("c", now, 1)] == ["821055556666"]
        for result in ("busy", "dnc"):
            await store.record_attempt(AttemptRow(
                contact_id=first.id, campaign="c", number=first.number, attempt=1,
                started_at=now, ended_at=now, result=result))
        await db.execute(
            "INSERT INTO callbacks (id, queue, number, entered_at, source, timezone, state,"
            " next_attempt_at, expires_at, created_at, updated_at) VALUES ('cb-1', 'general',"
            " '821011112222', ?, 'api', 'Asia/Seoul', 'completed', ?, ?, ?, ?)",
            now, now, now, now, now)
        await db.execute(
            "INSERT INTO callback_attempts (callback_id, attempt, started_at, ended_at, result)"
            " VALUES ('cb-1', 1, ?, ?, 'no_answer')", now - dt.timedelta(hours=1), now)
        assert [(a.result, a.campaign) for a in await store.history("821011112222")] == [
            ("no_answer", ""), ("busy", "c")]
        await store.opt_out("821011112222", "asked")
        hits = await store.dnc_hits("c", "+821011112222")
        assert (hits.internal, hits.campaign, hits.national, hits.national_list_date) == (
            True, False, False, None)
        await store.add_campaign_dnc("c", "+821033334444")
        assert (await store.dnc_hits("c", "821033334444")).campaign
        assert not (await store.dnc_hits("other", "821033334444")).campaign
        await store.import_national(["821055556666"], dt.date(2026, 12, 1))
        hits = await store.dnc_hits("c", "+821055556666")
        assert (hits.national, hits.national_list_date) == (True, dt.date(2026, 12, 1))
