"""`ivr check <folder>` with queues: it reads the folder's queues.yaml beside the flows,
reports a broken queues.yaml (and then judges no queue node against it) and its warnings, judges
queue nodes by the folder's queues, reads a queues.yaml named as a file as the queues, passes the
project's own flows, and agrees with the service about a folder without queues.yaml.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.app.cli import main
from ivr.app.flows import QUEUES_FILE, FlowRegistry
from ivr.flow.loader import FlowError
from ivr.media.prompts import PromptLibrary

from .queue_flows import QUEUES_YAML, ROOT, position, project, queue_flow


@pytest.fixture(scope="module")
def prompts() -> PromptLibrary:
    return PromptLibrary(ROOT / "prompts")


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["check", *args])
    return code, capsys.readouterr().out.splitlines()


def test_ivr_check_a_folder_with_queues(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    folder = project(tmp_path)
    code, lines = check(capsys, str(folder))
    assert code == 0, lines
    assert lines == ["ok: 1 file(s), flows: shop v1; 0 error(s), 0 warning(s)"]


def test_ivr_check_reports_a_broken_queues_yaml(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    queues = QUEUES_YAML.replace("strategy: longest_idle", "strategy: longest_idel")
    folder = project(tmp_path, queues=queues)
    code, lines = check(capsys, str(folder))
    assert code == 1
    line, column = position(queues, "strategy: longest_idel")
    assert lines[0].startswith(f"{folder / QUEUES_FILE}:{line}:{column}: error: node "
                               "'general': unknown strategy 'longest_idel'"), lines
    assert "did you mean 'longest_idle'?" in lines[0]
    assert lines[-1].startswith("failed: 1 file(s), flows: shop v1; 1 error(s), 0 warning(s)")
    assert len(lines) == 2, "queue nodes are not judged against a broken queues.yaml"


def test_ivr_check_reports_a_flow_naming_an_unknown_queue(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flow = queue_flow("genral")
    folder = project(tmp_path, flow=flow)
    code, lines = check(capsys, str(folder))
    assert code == 1
    line, column = position(flow, "queue: genral")
    assert lines[0] == (f"{folder / 'shop.yaml'}:{line}:{column}: error: node 'start': unknown "
                        "queue 'genral'; did you mean 'general'? (queues: general)")
    assert lines[-1] == "failed: 1 file(s), flows: shop v1; 1 error(s), 0 warning(s)"


def test_ivr_check_judges_outcomes_by_the_folders_queues(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = project(tmp_path, flow=queue_flow(on={"full": "bye"}))  # no max_length: no full
    code, lines = check(capsys, str(folder))
    assert code == 1
    assert "queue 'general' never ends a wait with 'full'" in lines[0]


def test_ivr_check_named_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """queues.yaml named as a file is read as the queues, not as a flow."""
    folder = project(tmp_path, flow=queue_flow("genral"))
    code, lines = check(capsys, str(folder / QUEUES_FILE), str(folder / "shop.yaml"))
    assert code == 1
    assert "unknown queue 'genral'" in lines[0]
    assert lines[-1].startswith("failed: 1 file(s)")


def test_ivr_check_reports_queues_yaml_warnings(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    queues = QUEUES_YAML + "  rare:\n    strategy: skills\n    skills: [klingon]\n"
    folder = project(tmp_path, queues=queues)
    code, lines = check(capsys, str(folder))
    assert code == 0, lines
    assert "warning: node 'rare': no agent has all of klingon" in lines[0]
    assert lines[-1] == "ok: 1 file(s), flows: shop v1; 0 error(s), 1 warning(s)"


def test_the_projects_flows_pass_ivr_check(capsys: pytest.CaptureFixture[str]) -> None:
    for args in ((), (str(ROOT / "flows"),)):
        code, lines = check(capsys, *args)
        assert code == 0, lines
        assert lines[-1].startswith("ok: ") and "; 0 error(s)" in lines[-1], lines
        assert not any(": error:" in line for line in lines)


def test_ivr_check_agrees_with_the_service_without_queues_yaml(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], prompts: PromptLibrary) -> None:
    folder = project(tmp_path, queues=None)
    service_refuses = False
    try:
        FlowRegistry(folder, prompts).load_initial()
    except FlowError:
        service_refuses = True
    code, lines = check(capsys, str(folder))
    assert (code == 1) == service_refuses, (service_refuses, lines)
