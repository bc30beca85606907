"""The bank's shipped scenarios (scenarios/bank-*.yaml) over real SIP: `ivr test --sip`.

A module of their own (the demo's are in test_scenarios.py) so that a parallel run gives them
to another worker: they are the longest calls of the suite.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .running_app import RunningApp
from .scenario_runs import check_shipped_scenarios_pass

pytestmark = pytest.mark.e2e


def test_shipped_bank_scenarios_pass_over_sip(ivr_app: RunningApp, tmp_path: Path) -> None:
    check_shipped_scenarios_pass(ivr_app, tmp_path, "bank-*.yaml")
