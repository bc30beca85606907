"""CPU and memory of the processes a load run involves, from /proc.

Each role (the app, Asterisk, the load generator) is a set of process trees: a process counts
with all its descendants, since the app may run speech workers and the generator is SIPp plus
tcpdump plus our own reader. CPU is utime + stime; memory is resident set size, sampled
about once a second so that "flat" and "peak" mean something over the run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> tuple[int, float, int] | None:
    """(parent pid, CPU seconds, resident bytes) of one process, None if it is gone."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15, rss 24.
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS, int(fields[21]) * PAGE


def find_pids(*needles: str) -> list[int]:
    """Processes whose command line contains every needle (e.g. "asterisk", "-f")."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmdline and all(n in cmdline for n in needles):
            found.append(int(entry.name))
    return sorted(found)


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine (all cores) since boot."""
    values = [int(v) for v in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / TICKS


@dataclass
class RoleUsage:
    """One role's CPU over the run and its memory samples."""

    roots: list[int]
    cpu_start: float = 0.0
    cpu_end: float = 0.0
    rss: list[int] = field(default_factory=list)
    _seen: dict[int, float] = field(default_factory=dict)
    """Last CPU seen per pid of the tree: a child that exits keeps what it used."""

    @property
    def cpu(self) -> float:
        return self.cpu_end - self.cpu_start


class ProcSampler:
    """Samples the roles' process trees; `sample()` once a second, `stop()` at the end."""

    def __init__(self, roles: dict[str, list[int]]) -> None:
        self.roles = {name: RoleUsage(list(pids)) for name, pids in roles.items()}
        self.machine_start = machine_cpu()
        self.machine_end = self.machine_start
        self.sample(first=True)

    def add(self, role: str, pid: int) -> None:
        """A process that started after the sampler did (the generator's own children)."""
        self.roles.setdefault(role, RoleUsage([])).roots.append(pid)

    def sample(self, first: bool = False) -> None:
        table: dict[int, tuple[int, float, int]] = {}
        for entry in PROC.iterdir():
            if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
                table[int(entry.name)] = stat
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        for usage in self.roles.values():
            tree, stack = set(), list(usage.roots)
            while stack:
                pid = stack.pop()
                if pid in table and pid not in tree:
                    tree.add(pid)
                    stack += children.get(pid, [])
            for pid in tree:
                usage._seen[pid] = table[pid][1]
            total = sum(usage._seen.values())
            if first:
                usage.cpu_start = total
            usage.cpu_end = total
            if tree:
                usage.rss.append(sum(table[pid][2] for pid in tree))
        self.machine_end = machine_cpu()

    @property
    def machine(self) -> float:
        return self.machine_end - self.machine_start
