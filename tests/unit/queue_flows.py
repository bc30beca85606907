"""What the tests of queue nodes against flows/queues.yaml share (test_check_queue_nodes.py,
test_check_queues_cli.py, test_flow_registry_queues.py): the queues and their outcomes, a
queues.yaml, flows made of one queue node, and ways to check a flow and read the findings.
"""

from __future__ import annotations

from pathlib import Path

from ivr.app.flows import QUEUES_FILE
from ivr.flow.library import inspect_files
from ivr.flow.loader import FlowErrorDetail
from ivr.media.prompts import PromptLibrary

ROOT = Path(__file__).resolve().parents[2]

QUEUES = {
    "general": frozenset({"timeout", "full", "no_agents", "voicemail", "callback"}),
    "billing": frozenset({"timeout"}),
}
"""Queue name -> outcomes, as the service derives them from queues.yaml."""

QUEUES_YAML = """\
pause_reasons:
  "1": break
agents:
  a1: {name: Ann, endpoint: PJSIP/a1}
  a2: {name: Bob, endpoint: PJSIP/a2}
queues:
  general:
    strategy: longest_idle
    members: [a1, a2]
    ring_timeout: 15
    max_wait: 60
    keys: {"1": voicemail}
"""
"""One queue whose waits can end with timeout, no_agents and voicemail."""

FLOW_HEAD = """\
name: shop
version: "1"
languages: [en]
default_language: en
entry: start
nodes:
"""

BYE = """\
  bye:
    type: hangup
    prompts: [goodbye]
"""


def queue_flow(queue: str = "general", on: dict[str, str] | None = None,
               next_: str | None = "bye") -> str:
    """A flow whose entry is one queue node; `on` and `next` lead to a hangup node."""
    text = FLOW_HEAD + f"  start:\n    type: queue\n    queue: {queue}\n"
    if on:
        text += "    on:\n" + "".join(f"      {k}: {v}\n" for k, v in on.items())
    if next_:
        text += f"    next: {next_}\n"
    return text + BYE


def position(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column where `needle` first starts in `text`."""
    index = text.index(needle)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def inspect(tmp_path: Path, text: str, prompts: PromptLibrary,
            queues: dict[str, frozenset[str]] | None = QUEUES,
            name: str = "shop.yaml") -> tuple[Path, list[FlowErrorDetail]]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path, inspect_files([path], prompts, None, queues).details


def found(details: list[FlowErrorDetail]) -> list[tuple[int, int, str, str | None]]:
    return [(d.line, d.column, d.severity, d.node) for d in details]


def project(tmp_path: Path, flow: str | None = None, queues: str | None = QUEUES_YAML) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir(parents=True)
    (folder / "shop.yaml").write_text(flow or queue_flow(on={"voicemail": "bye"}),
                                      encoding="utf-8")
    if queues is not None:
        (folder / QUEUES_FILE).write_text(queues, encoding="utf-8")
    return folder
