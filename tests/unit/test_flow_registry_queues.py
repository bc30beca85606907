"""The service's FlowRegistry (ivr/app/flows.py) loads and reloads queues.yaml with the
flows as one set: a broken start is refused; a broken edit of either file (or a queues.yaml edit
that breaks a flow) is refused and the last good pair keeps serving; a good edit is swapped in,
even one of the same size (seen by its mtime).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ivr.app.flows import QUEUES_FILE, FlowRegistry
from ivr.flow.loader import FlowError
from ivr.media.prompts import PromptLibrary

from .queue_flows import QUEUES_YAML, ROOT, project, queue_flow


@pytest.fixture(scope="module")
def prompts() -> PromptLibrary:
    return PromptLibrary(ROOT / "prompts")


def edit(path: Path, text: str) -> None:
    """Write and move the mtime on, so the signature changes even at the same size."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    stamp = max(path.stat().st_mtime_ns, before + 1_000_000_000)
    os.utime(path, ns=(stamp, stamp))


def test_the_registry_loads_queues_with_the_flows(tmp_path: Path,
                                                  prompts: PromptLibrary) -> None:
    registry = FlowRegistry(project(tmp_path), prompts)
    registry.load_initial()
    assert list(registry.acd_config.queues) == ["general"]
    assert list(registry.acd_config.agents) == ["a1", "a2"]
    assert registry.acd_config.pause_reasons == {"1": "break"}
    assert registry.versions() == {"shop": "1"}


def test_the_registry_refuses_a_broken_start(tmp_path: Path, prompts: PromptLibrary) -> None:
    folder = project(tmp_path, flow=queue_flow("genral"))
    with pytest.raises(FlowError, match="unknown queue 'genral'"):
        FlowRegistry(folder, prompts).load_initial()
    queues = QUEUES_YAML.replace("ring_timeout: 15", "ring_timeout: 0")
    folder = project(tmp_path / "2", queues=queues)
    with pytest.raises(FlowError, match="'ring_timeout' must be 1 to 120 seconds"):
        FlowRegistry(folder, prompts).load_initial()


async def test_a_broken_queues_edit_is_refused_and_a_good_one_swapped_in(
        tmp_path: Path, prompts: PromptLibrary) -> None:
    folder = project(tmp_path)
    registry = FlowRegistry(folder, prompts)
    registry.load_initial()
    good_config, good_flows = registry.acd_config, registry.current
    queues = folder / QUEUES_FILE
    assert await registry.reload_if_changed() is False  # nothing changed

    edit(queues, QUEUES_YAML.replace("strategy: longest_idle", "strategy: longest_idel"))
    assert await registry.reload_if_changed() is False
    assert (registry.refused, registry.reloads) == (1, 0)
    assert registry.acd_config is good_config
    assert registry.current is good_flows
    assert await registry.reload_if_changed() is False, "a refused edit is not retried"
    assert registry.refused == 1

    edit(queues, QUEUES_YAML.replace("ring_timeout: 15", "ring_timeout: 25"))
    assert await registry.reload_if_changed() is True
    assert (registry.refused, registry.reloads) == (1, 1)
    assert registry.acd_config.queues["general"].ring_timeout == 25.0
    assert registry.current.fingerprint == good_flows.fingerprint  # flows unchanged


async def test_a_queues_edit_that_breaks_a_flow_is_refused(tmp_path: Path,
                                                           prompts: PromptLibrary) -> None:
    """The flow routes `voicemail`; a queues.yaml without that key breaks it: both refused."""
    folder = project(tmp_path)
    registry = FlowRegistry(folder, prompts)
    registry.load_initial()
    good = registry.acd_config
    edit(folder / QUEUES_FILE, QUEUES_YAML.replace('    keys: {"1": voicemail}\n', ""))
    assert await registry.reload_if_changed() is False
    assert (registry.refused, registry.reloads) == (1, 0)
    assert registry.acd_config is good
    assert registry.acd_config.queues["general"].keys == {"1": "voicemail"}


async def test_a_flow_edit_naming_an_unknown_queue_is_refused(tmp_path: Path,
                                                              prompts: PromptLibrary) -> None:
    folder = project(tmp_path)
    registry = FlowRegistry(folder, prompts)
    registry.load_initial()
    good_flows, good_config = registry.current, registry.acd_config
    edit(folder / "shop.yaml", queue_flow("billing", on={"voicemail": "bye"}))
    assert await registry.reload_if_changed() is False
    assert registry.refused == 1
    assert registry.current is good_flows and registry.acd_config is good_config

    # Adding the queue (and the flow already naming it) makes the set good again.
    edit(folder / QUEUES_FILE, QUEUES_YAML + "  billing:\n    members: [a2]\n"
                                             '    keys: {"1": voicemail}\n')
    assert await registry.reload_if_changed() is True
    assert sorted(registry.acd_config.queues) == ["billing", "general"]
    assert registry.reloads == 1


async def test_the_same_size_edit_is_seen_by_mtime(tmp_path: Path,
                                                   prompts: PromptLibrary) -> None:
    folder = project(tmp_path)
    registry = FlowRegistry(folder, prompts)
    registry.load_initial()
    edit(folder / QUEUES_FILE, QUEUES_YAML.replace("ring_timeout: 15", "ring_timeout: 16"))
    assert await registry.reload_if_changed() is True
    assert registry.acd_config.queues["general"].ring_timeout == 16.0
