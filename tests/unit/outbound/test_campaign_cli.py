"""`ivr campaign simulate`: a campaign of campaigns.yaml paced on the simulator's model, with
the campaign's own pacing beside progressive; bad arguments refused with what is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ivr.app.cli import main
from ivr.app.paths import project_root

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
