"""`ivr campaign simulate`: a campaign of campaigns.yaml paced on the simulator's model, with
the campaign's own pacing beside progressive; bad arguments refused with what is wrong."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from pathlib import Path

import pytest

from ivr.app.cli import main
from ivr.app.paths import project_root
from ivr.services.db import connect
from ivr.services.outbound.gate import DncHits
from ivr.services.outbound.store import OutboundStore

PREDICTIVE = """
campaigns:
  collections:
    mode: predictive
    queue: general
    rules: us
    pacing: {min_predictive_agents: 5}
"""


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    shutil.copytree(project_root() / "flows", folder)
    (folder / "campaigns.yaml").write_text(PREDICTIVE, encoding="utf-8")
    return folder


def test_a_predictive_campaign_is_simulated_beside_progressive(
        flows: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["campaign", "simulate", "collections", "--flows", str(flows), "--agents",
                 "10", "--days", "1", "--seed", "7"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("collections: 10 agents, 1 day(s) of 8 h, 30% human")
    assert "abandon cap 3.0% (us)" in out[0]
    assert out[1].lstrip().startswith("this campaign  (predictive): utilisation ")
    assert out[2].lstrip().startswith("progressive    (progressive): utilisation ")
    again = main(["campaign", "simulate", "collections", "--flows", str(flows), "--agents",
                  "10", "--days", "1", "--seed", "7"])
    assert again == 0
    rerun = capsys.readouterr().out.splitlines()
    strip = [line.rsplit(",", 1)[0] for line in out]  # all but the CPU time
    assert [line.rsplit(",", 1)[0] for line in rerun] == strip, "a seed is a run"


def test_bad_shares_are_refused(flows: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["campaign", "simulate", "collections", "--flows", str(flows),
                 "--human", "0.8", "--machine", "0.5"]) == 2
    assert "--human and --machine are shares of dials" in capsys.readouterr().err


def test_import_needs_a_file(flows: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["campaign", "import", "collections", "--flows", str(flows)]) == 2
    assert "give the contact list's file" in capsys.readouterr().err


def test_the_national_list_is_imported_whole_and_read_by_the_gate(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/n.db"
    good = tmp_path / "national.txt"
    good.write_text("# the national register\n12125550101\n+1 212 555 0102\n\n12125550101\n",
                    encoding="utf-8")
    assert main(["national-dnc", str(good), "--date", "2026-12-01", "--url", url]) == 0
    assert "national do-not-call list of 2026-12-01: 2 number(s)" in capsys.readouterr().out
    bad = tmp_path / "bad.txt"
    bad.write_text("12125550103\nnot a number\n", encoding="utf-8")
    assert main(["national-dnc", str(bad), "--date", "2026-12-05", "--url", url]) == 1
    err = capsys.readouterr().err
    assert "bad.txt:2: 'not a number' is not a phone number" in err
    assert main(["national-dnc", str(good), "--date", "12/05", "--url", url]) == 2

    async def hits() -> tuple[DncHits, DncHits]:
        async with await connect(url) as db:
            store = OutboundStore(db)
            return (await store.dnc_hits("c", "+12125550102"),
                    await store.dnc_hits("c", "12125550103"))

    listed, other = asyncio.run(hits())
    assert (listed.national, listed.national_list_date) == (True, dt.date(2026, 12, 1))
    # "12125550101" is on the list without its +: found with it too
    async def plus() -> DncHits:
        async with await connect(url) as db:
            return await OutboundStore(db).dnc_hits("c", "+12125550101")
    assert asyncio.run(plus()).national
    assert not other.national, "the refused file changed nothing"
