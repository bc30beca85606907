"""The flows the service serves, reloaded when operations staff edit them.

A valid edit is swapped in whole (new calls get it; calls in progress keep the Flow objects they
started with). An invalid edit is refused with the checker's messages in the log, and the last
good set keeps serving. Loading and checking run in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path

from ..flow.actions import ActionSpec
from ..flow.library import FlowSet, load_folder
from ..flow.loader import FlowError, FlowErrorDetail
from ..flow.model import Flow
from ..media.prompts import PromptLibrary
from ..services.acd.config import EMPTY, AcdConfig
from ..services.acd.config_reader import load_acd_config
from ..services.outbound.campaign import Campaigns
from ..services.outbound.config_campaigns import CAMPAIGNS_FILE, load_campaigns

QUEUES_FILE = "queues.yaml"


def announcement_findings(config: AcdConfig, file: Path,
                          prompts_dir: Path) -> list[FlowErrorDetail]:
    """Warnings for queue announcement prompts some language lacks (a caller in it would hear
    music where the message should be)."""
    if not prompts_dir.is_dir():
        return []
    library = PromptLibrary(prompts_dir)
    out: list[FlowErrorDetail] = []
    for queue in config.queues.values():
        for prompt_id in dict.fromkeys([*queue.announce.join, *queue.announce.prompts]):
            missing = [lang for lang in library.languages() if not library.has(prompt_id, lang)]
            if missing:
                out.append(FlowErrorDetail(
                    str(file), 1, 1, queue.name,
                    f"announcement prompt {prompt_id!r} missing in {', '.join(missing)}",
                    "warning"))
    return out

log = logging.getLogger(__name__)

Signature = tuple[tuple[str, int, int], ...]


def folder_signature(folder: Path) -> Signature:
    """Cheap change detection: name, size and mtime of every flow file."""
    out: list[tuple[str, int, int]] = []
    for path in sorted(folder.glob("*.y*ml")):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        out.append((path.name, stat.st_size, stat.st_mtime_ns))
    return tuple(out)


class FlowRegistry:
    def __init__(self, folder: Path, prompts: PromptLibrary, poll_interval: float = 1.0,
                 actions: Mapping[str, ActionSpec] | None = None) -> None:
        self.folder = folder
        self.actions = actions
        self.prompts = prompts
        self.poll_interval = poll_interval
        self.reloads = 0
        self.refused = 0
        self._signature: Signature = ()
        self._current: FlowSet | None = None
        self.acd_config: AcdConfig = EMPTY
        """The ACD's queues and agents (flows/queues.yaml): checked and swapped with the flows,
        since flows name queues and route their outcomes."""
        self.campaigns: Campaigns = Campaigns()
        """The outbound campaigns (flows/campaigns.yaml), which name queues and flows: checked
        and swapped with them."""

    @property
    def current(self) -> FlowSet:
        if self._current is None:
            raise RuntimeError("flows not loaded")
        return self._current

    def load_initial(self) -> FlowSet:
        """At start-up a broken flow folder is fatal: there is no last good version yet."""
        self._signature = folder_signature(self.folder)
        self._current, self.acd_config, self.campaigns = self._load()
        self._log_warnings(self._current)
        return self._current

    def _load(self) -> tuple[FlowSet, AcdConfig, Campaigns]:
        """Queues first (flows are checked against them), campaigns last (they name both);
        all three or none."""
        path = self.folder / QUEUES_FILE
        acd = load_acd_config(path) if path.exists() else EMPTY
        outcomes = {name: queue.outcomes() for name, queue in acd.queues.items()}
        flows = load_folder(self.folder, self.prompts, actions=self.actions, queues=outcomes)
        campaigns = load_campaigns(self.folder / CAMPAIGNS_FILE, acd, set(flows.flows),
                                   self.prompts)
        return flows, acd, campaigns

    def get(self, name: str) -> Flow | None:
        return self.current.flows.get(name)

    def versions(self) -> dict[str, str]:
        return {name: flow.version for name, flow in self.current.flows.items()}

    async def reload_if_changed(self) -> bool:
        signature = await asyncio.to_thread(folder_signature, self.folder)
        if signature == self._signature:
            return False
        self._signature = signature
        try:
            fresh, acd, campaigns = await asyncio.to_thread(self._load)
        except FlowError as exc:
            self.refused += 1
            log.error(
                "flow edit refused; the last good version keeps serving",
                extra={"fields": {"errors": [str(d) for d in exc.details],
                                  "serving": self.versions()}},
            )
            for detail in exc.details:
                log.error("refused: %s", detail)
            return False
        except OSError as exc:
            self.refused += 1
            log.error("flow folder unreadable, keeping the last good version: %s", exc)
            return False
        if self._current is not None and fresh.fingerprint == self._current.fingerprint \
                and acd == self.acd_config and campaigns == self.campaigns:
            return False
        self._current, self.acd_config, self.campaigns = fresh, acd, campaigns
        self.reloads += 1
        self._log_warnings(fresh)
        log.info("flows reloaded", extra={"fields": {"versions": self.versions()}})
        return True

    def _log_warnings(self, flows: FlowSet) -> None:
        for detail in flows.warnings:
            log.warning("flow check: %s", detail)
