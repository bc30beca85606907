"""`ivr check`: every error and warning of a set of flow files, one line each, like a compiler.

The files are checked together (subflows resolve across them), so checking one file of a folder
that calls subflows in another reports them as unknown: check the folder.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from ..media.prompts import PromptLibrary
from .actions import ActionSpec
from .check_handoffs import QueueOutcomes
from .library import flow_files, inspect_files
from .loader import FlowErrorDetail
from .model import ActionNode


def run_check(paths: list[Path], prompts_dir: Path, out: TextIO | None = None,
              actions: Mapping[str, ActionSpec] | None = None,
              queues: QueueOutcomes | None = None,
              data_findings: Sequence[FlowErrorDetail] = (),
              flow_data_check: Callable[[Collection[str]], Sequence[FlowErrorDetail]]
              | None = None) -> int:
    """Check flow files and folders; print findings and a summary; 1 if any error, else 0.

    A missing `prompts_dir` skips the prompt check (with a note) rather than reporting every
    prompt as missing. `actions` (name -> spec) checks action nodes against the actions the
    service offers; without it only what needs no spec is checked (with a note). `queues`
    does the same for queue nodes; `data_findings` are the caller's findings in data files
    beside the flows (queues.yaml), reported and counted with the flows' own;
    `flow_data_check` is asked for those of data files that name flows (campaigns.yaml), given
    the names of the flows that loaded.
    """
    stream = out or sys.stdout
    files: list[Path] = []
    problems = 0
    for path in paths:
        if path.is_dir():
            found = flow_files(path)
            if not found:
                print(f"{path}: error: no flow files (*.yaml) in this folder", file=stream)
                problems += 1
            files += found
        elif path.exists():
            files.append(path)
        else:
            print(f"{path}: error: no such file or folder", file=stream)
            problems += 1
    prompts: PromptLibrary | None = None
    if prompts_dir.is_dir():
        prompts = PromptLibrary(prompts_dir)
    else:
        print(f"note: prompts folder {prompts_dir} not found; prompts not checked", file=stream)
    unique = list(dict.fromkeys(files))  # a file named twice
    inspection = inspect_files(unique, prompts, actions, queues)
    if actions is None and any(isinstance(node, ActionNode) for flow in inspection.flows.values()
                               for node in flow.nodes.values()):
        print("note: no action specs given; action names, args, outcomes and results "
              "not checked", file=stream)
    if flow_data_check is not None:
        data_findings = [*data_findings, *flow_data_check(set(inspection.flows))]
    for detail in [*data_findings, *inspection.details]:
        print(detail.report_line(), file=stream)
    errors = len(inspection.errors) + problems + sum(d.is_error for d in data_findings)
    warnings = len(inspection.warnings) + sum(not d.is_error for d in data_findings)
    flows = ", ".join(f"{f.name} v{f.version}" for f in inspection.flows.values()) or "none"
    verdict = "failed" if errors else "ok"
    print(f"{verdict}: {inspection.files} file(s), flows: {flows}; "
          f"{errors} error(s), {warnings} warning(s)", file=stream)
    return 1 if errors else 0
