"""A folder of flows, loaded and checked as one set: what the service serves and `ivr check` reads.

The set is all-or-nothing. Subflows refer to each other by name, so a flow that is fine alone can
be broken by an edit to another file; checking the set together and refusing it whole means the
service never runs a half-updated set. Loading is synchronous file IO and CPU work: the service
calls it in a worker thread.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..media.prompts import PromptLibrary
from .actions import ActionSpec
from .check_handoffs import QueueOutcomes
from .checker import check_flows
from .loader import FlowError, FlowErrorDetail, Positions, parse_flow_positions
from .model import Flow

FLOW_PATTERNS = ("*.yaml", "*.yml")
DATA_FILES = frozenset({"queues.yaml", "campaigns.yaml"})
"""Files beside the flows that are not flows (the ACD's queues and agents, the campaigns)."""


@dataclass(frozen=True, slots=True)
class FlowSet:
    """A checked set of flows. Immutable: a reload builds a new one and swaps it in."""

    flows: dict[str, Flow]
    """Flow name -> flow."""
    warnings: list[FlowErrorDetail]
    fingerprint: str
    """sha256 over the files' names and contents: equal fingerprints, identical flows."""


@dataclass(frozen=True, slots=True)
class Inspection:
    """Everything known about a set of files, whether or not it is usable (for `ivr check`)."""

    flows: dict[str, Flow]
    """Flow name -> flow, for the files that loaded (the first file wins a duplicate name)."""
    details: list[FlowErrorDetail]
    """Errors and warnings, sorted by file and position."""
    fingerprint: str
    files: int

    @property
    def errors(self) -> list[FlowErrorDetail]:
        return [d for d in self.details if d.is_error]

    @property
    def warnings(self) -> list[FlowErrorDetail]:
        return [d for d in self.details if not d.is_error]


def flow_files(folder: Path) -> list[Path]:
    """The flow files of a folder, in a stable order (the order duplicate names are judged in)."""
    return sorted({p for pattern in FLOW_PATTERNS for p in folder.glob(pattern)
                   if p.is_file() and p.name not in DATA_FILES})


Specs = Mapping[str, ActionSpec] | None
"""Action name -> spec of every action the service offers; None: action nodes are checked
only for what needs no spec (see checker.check_flows)."""


def inspect_files(files: Sequence[Path], prompts: PromptLibrary | None,
                  actions: Specs = None, queues: QueueOutcomes | None = None) -> Inspection:
    """Load and check `files` together; never raises for a problem in the flows themselves."""
    digest = hashlib.sha256()
    loaded: dict[str, Flow] = {}
    positions: dict[str, Positions] = {}
    details: list[FlowErrorDetail] = []
    for path in files:
        file = str(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            details.append(FlowErrorDetail(file, 1, 1, None, f"cannot read: {exc.strerror}"))
            continue
        digest.update(f"{path.name}\0{len(data)}\0".encode())
        digest.update(data)
        try:
            flow, where = parse_flow_positions(data.decode("utf-8"), file)
        except UnicodeDecodeError as exc:
            details.append(FlowErrorDetail(file, 1, 1, None, f"not UTF-8 text ({exc.reason} at "
                                                             f"byte {exc.start})"))
            continue
        except FlowError as exc:
            details += exc.details
            continue
        loaded[file] = flow
        positions[file] = where
    complete = len(loaded) == len(files)
    details += check_flows(loaded, prompts, positions=positions, complete=complete,
                           actions=actions, queues=queues)
    flows: dict[str, Flow] = {}
    for flow in loaded.values():
        flows.setdefault(flow.name, flow)
    details.sort(key=lambda d: (d.file, d.line, d.column, d.severity, d.message))
    return Inspection(flows, details, digest.hexdigest(), len(files))


def load_files(files: Sequence[Path], prompts: PromptLibrary | None,
               actions: Specs = None, queues: QueueOutcomes | None = None) -> FlowSet:
    """Load and check a set of files; FlowError lists every error of every file."""
    inspection = inspect_files(files, prompts, actions, queues)
    if inspection.errors:
        raise FlowError(inspection.errors)
    return FlowSet(inspection.flows, inspection.warnings, inspection.fingerprint)


def load_folder(folder: Path, prompts: PromptLibrary | None,
                actions: Specs = None, queues: QueueOutcomes | None = None) -> FlowSet:
    """Every flow file in `folder` as one checked set (the service's load and hot reload).

    Raises FlowError (all errors of all files) if anything is wrong, OSError if the folder
    cannot be read. An empty folder is an error: a service with no flows answers no call.
    Pass `actions` (the specs of the actions the service offers) so a flow naming an action
    the service lacks, or misusing one, is refused here rather than failing on calls.
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"flow folder {folder} does not exist")
    files = flow_files(folder)
    if not files:
        raise FlowError([FlowErrorDetail(str(folder), 1, 1, None,
                                         "no flow files (*.yaml) in this folder")])
    return load_files(files, prompts, actions, queues)
