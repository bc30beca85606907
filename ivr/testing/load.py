"""`ivr load`: many callers at once on one extension, measured from a packet capture.

SIPp places the calls and sends the keys (load_sipp.py); tcpdump captures SIP and the calls'
RTP on loopback; this process reads the capture as it grows (load_pcap.py) and judges each
call (load_calls.py), so the live line and the final report come from the same numbers. CPU
and memory of the app, Asterisk and the generator itself (SIPp, tcpdump, this reader) are read
from /proc (load_proc.py): a result is only worth something if the generator's share is small.

Needs root (tcpdump) and the Debian packages sip-tester and tcpdump (the Makefile's deps).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .load_calls import (
    ANSWER_STEP,
    KEY_STEP,
    SPEECH_STEP,
    CallBook,
    Expected,
    Summary,
    percentile,
)
from .load_media import write_media
from .load_pcap import PcapReader
from .load_proc import ProcSampler, find_pids
from .load_sipp import CallerScript, SippRun, media_ports, scenario_xml, sipp_counters
from .ports import SIPP_MEDIA_BASES

GENERATOR = "generator"


@dataclass(frozen=True)
class LoadPlan:
    """A run: who calls, how many at once, for how long."""

    script: CallerScript
    callers: int
    ramp: float = 10.0
    """Seconds to reach `callers` calls at once (the start rate is callers / ramp)."""
    hold: float | None = 30.0
    """Seconds to keep starting calls after the ramp; None: stop after `calls`."""
    calls: int | None = None
    work: Path = Path("load-run")
    roles: dict[str, list[int]] = field(default_factory=dict)
    """Processes to measure besides the generator, e.g. {"app": [pid], "asterisk": [pid]}."""
    sip_target: str = "127.0.0.1:5060"
    local_sip_port: int | None = None
    """SIPp's SIP port; None: one free now (two runs, each on its own Asterisk, can share the
    machine: see capture_filter)."""
    media_port: int | None = None
    """SIPp's -mp base; None: SIPP_MEDIA's first or, if another run holds it, the next."""


@dataclass
class LoadReport:
    plan: LoadPlan
    summary: Summary
    wall: float
    cpu: dict[str, float]
    rss_mb: dict[str, tuple[float, float, float]]
    """Per role: resident MB at the start, the peak and the end."""
    machine_cpu: float
    capture_dropped: str

    def step_ms(self, step: str) -> dict[str, float | None]:
        values = self.summary.steps.get(step, [])
        out: dict[str, float | None] = {}
        for name, pct in (("p50", 50.0), ("p95", 95.0), ("p99", 99.0), ("max", 100.0)):
            value = percentile(values, pct)
            out[name] = None if value is None else round(value * 1000, 1)
        return out

    def shown_steps(self) -> list[str]:
        """The answer and each measured press or utterance; all presses together, and all
        utterances together, where there are several."""
        measured = [s for s in Expected.of(self.plan.script).steps if s.prompt_after]
        hidden = {KEY_STEP} if sum(not s.speech for s in measured) < 2 else set()
        hidden |= {SPEECH_STEP} if sum(s.speech for s in measured) < 2 else set()
        return [name for name in self.summary.steps if name not in hidden]

    def as_dict(self) -> dict[str, Any]:
        done = max(self.summary.completed, 1)
        return {
            "extension": self.plan.script.extension, "scenario": self.plan.script.name or None,
            "callers": self.plan.callers,
            "attempted": self.summary.attempted, "completed": self.summary.completed,
            "failed": self.summary.failed_total, "failed_by_reason": self.summary.failed,
            "steps_ms": {step: self.step_ms(step) for step in self.summary.steps},
            "wall_s": round(self.wall, 1),
            "cpu_s": {k: round(v, 2) for k, v in self.cpu.items()},
            "cpu_per_call_s": {k: round(v / done, 4) for k, v in self.cpu.items()},
            "rss_mb": self.rss_mb, "machine_cpu_s": round(self.machine_cpu, 1),
            "capture": self.capture_dropped,
        }

    def text(self) -> str:
        s = self.summary
        lines = [f"{self.plan.script.label}, {self.plan.callers} callers at once, "
                 f"{self.wall:.0f} s",
                 f"calls: attempted {s.attempted}, completed {s.completed}, "
                 f"failed {s.failed_total}"]
        lines += [f"  failed: {reason}: {n}" for reason, n in sorted(s.failed.items())]
        shown = self.shown_steps()
        width = max(14, *(len(step) for step in shown))
        for step in shown:
            ms = self.step_ms(step)
            cells = "  ".join(f"{k} {_ms(v)}" for k, v in ms.items())
            lines.append(f"{step:{width}} n={len(s.steps.get(step, [])):5}  {cells}")
        busy = max(self.wall, 1e-9)
        for role, cpu in self.cpu.items():
            start, peak, end = self.rss_mb.get(role, (0.0, 0.0, 0.0))
            lines.append(f"{role:10} CPU {cpu:7.1f} s ({100 * cpu / busy:5.1f} % of a core, "
                         f"{cpu / max(s.completed, 1) * 1000:6.1f} ms per completed call)  "
                         f"RSS {start:.0f} -> peak {peak:.0f} -> {end:.0f} MB")
        cores = os.cpu_count() or 1
        lines.append(f"machine    CPU {self.machine_cpu:7.1f} s "
                     f"({100 * self.machine_cpu / busy / cores:.0f} % of {cores} cores)")
        lines.append(f"capture    {self.capture_dropped}")
        return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def default_roles() -> dict[str, list[int]]:
    """The app (`ivr serve`) and Asterisk as found among the running processes."""
    asterisk = [p for p in find_pids("asterisk", "-f")
                if Path(f"/proc/{p}/comm").read_text().strip() == "asterisk"]
    return {"app": find_pids("ivr", "serve"), "asterisk": asterisk}


def progress_line(elapsed: float, summary: Summary) -> str:
    figures = "  ".join(
        f"{step} p95 {_ms(None if p95 is None else p95 * 1000)}"
        for step in (ANSWER_STEP, KEY_STEP, SPEECH_STEP) if step in summary.steps
        for p95 in [percentile(summary.steps[step], 95.0)])
    return (f"{elapsed:6.0f} s  in progress {summary.in_progress:4}  completed "
            f"{summary.completed:5}  failed {summary.failed_total:4}  {figures}")


def run_load(plan: LoadPlan, progress: Callable[[str], None] | None = None,
             stop: threading.Event | None = None) -> LoadReport:
    """One run, start to end; raises RuntimeError if SIPp or tcpdump cannot run. Setting
    ``stop`` ends the hold early (no new calls; those in progress finish), as its end would."""
    for tool in ("sipp", "tcpdump"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (Debian: sip-tester, tcpdump)")
    work = plan.work
    work.mkdir(parents=True, exist_ok=True)
    scenario, capture, stats = work / "scenario.xml", work / "capture.pcap", work / "sipp.csv"
    for old in (capture, stats):
        old.unlink(missing_ok=True)
    silence, plays = write_media(plan.script, work / "media")
    scenario.write_text(scenario_xml(plan.script, silence.resolve(), plays))
    rate = max(plan.callers / max(plan.ramp, 0.1), 0.1)
    local_port = plan.local_sip_port or _free_udp_port()
    sipp = SippRun(scenario, stats, plan.callers, rate,
                   plan.calls or plan.callers * 1000, plan.sip_target,
                   local_port, plan.media_port or _free_media_base(), _free_udp_port())
    low, high = media_ports(sipp)
    target_host, _, port = plan.sip_target.rpartition(":")
    sip_port = int(port)
    dump_err = open(work / "tcpdump.err", "wb")
    dump = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-n", "-U", "-B", "32768", "-s", "2048", "-w", str(capture),
         capture_filter(target_host, sipp.local_ip, sip_port, low, high)],
        stdout=subprocess.DEVNULL, stderr=dump_err)
    sampler = ProcSampler(plan.roles)
    sampler.add(GENERATOR, dump.pid)
    own_start = sum(os.times()[:2])
    book = CallBook(sip_port=sip_port, caller_port=local_port,
                    expected=Expected.of(plan.script))
    reader = PcapReader(capture)
    try:
        _until(lambda: capture.exists() and capture.stat().st_size >= 24, 5.0, dump,
               "tcpdump did not start: " + (work / "tcpdump.err").read_text()[-300:])
        with open(work / "sipp.log", "wb") as sipp_log:
            caller = subprocess.Popen(sipp.command(), stdout=sipp_log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)
        sampler.add(GENERATOR, caller.pid)
        start = time.monotonic()
        call_length = plan.script.answer_timeout + plan.script.end_at + 10
        quit_at = None if plan.hold is None else start + plan.ramp + plan.hold
        # A run that outlives its calls by a minute is stuck (SIPp waiting on a lost reply).
        busy = plan.hold if plan.hold is not None else \
            (plan.calls or 0) / max(plan.callers, 1) * call_length
        deadline = start + plan.ramp + busy + call_length + 60
        paused = False
        while caller.poll() is None:
            time.sleep(1.0)
            book.feed(reader.read())
            sampler.sample()
            now = time.monotonic()
            if progress is not None:
                progress(progress_line(now - start, book.summary()))
            ending = (quit_at is not None and now >= quit_at) or \
                (stop is not None and stop.is_set())
            if ending and not paused:
                sipp.command_key(b"p")
                paused = True
            elif paused and sipp_counters(stats).get("CurrentCall", 1) == 0:
                sipp.command_key(b"Q")
            if now > deadline:
                caller.send_signal(signal.SIGINT)
                caller.wait(10)
        wall = time.monotonic() - start
        time.sleep(0.5)
    finally:
        if dump.poll() is None:
            dump.send_signal(signal.SIGINT)
            try:
                dump.wait(10)
            except subprocess.TimeoutExpired:
                dump.kill()
        dump_err.close()
    book.feed(reader.read())
    sampler.sample()
    summary = book.summary()
    if summary.attempted == 0 and caller.returncode:
        raise RuntimeError(f"SIPp placed no call (exit code {caller.returncode}): "
                           + _sipp_errors(work / "sipp.log"))
    if summary.in_progress:
        summary.failed["unfinished"] = summary.in_progress
        summary = Summary(summary.attempted, summary.completed, 0, summary.failed,
                          summary.steps)
    cpu = {role: usage.cpu for role, usage in sampler.roles.items()}
    cpu[GENERATOR] = cpu.get(GENERATOR, 0.0) + sum(os.times()[:2]) - own_start
    rss = {role: (u.rss[0] / 2**20, max(u.rss) / 2**20, u.rss[-1] / 2**20)
           for role, u in sampler.roles.items() if u.rss}
    dropped = next((line for line in (work / "tcpdump.err").read_text().splitlines()
                    if "dropped by kernel" in line), "drops unknown")
    return LoadReport(plan, summary, wall, cpu, rss, sampler.machine,
                      f"{reader.packets} packets, {dropped}")


def capture_filter(target_host: str, caller_host: str, sip_port: int, low: int,
                   high: int) -> str:
    """tcpdump's filter: the run's SIP and media ports, and only between its callers' address
    and its Asterisk's. Two runs at once share the SIP port 5060 and interleave in the same
    media port range, so a second run against another Asterisk instance (e.g. the load e2e
    test beside a soak on instance 0) would otherwise land in this run's capture."""
    hosts = (f"(src host {target_host} and dst host {caller_host}) or "
             f"(src host {caller_host} and dst host {target_host})")
    return f"udp and ({hosts}) and (port {sip_port} or portrange {low}-{high})"


def _free_media_base() -> int:
    """SIPp binds its -mp base and base + 2 and advertises base + 4k: with bases 20000 and
    20001 two runs bind different ports and advertise disjoint ones (0 and 1 modulo 4), all
    inside SIPP_MEDIA. A third run at once has no base left and says so."""
    for base in SIPP_MEDIA_BASES:
        with contextlib.ExitStack() as held:
            try:
                for port in (base, base + 2):
                    sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return base
    raise RuntimeError(f"SIPp's media ports {', '.join(map(str, SIPP_MEDIA_BASES))} are all "
                       "taken: two load runs are already using this machine")


def _free_udp_port() -> int:
    """A UDP port free now on 127.0.0.1, for SIPp's SIP and control sockets: fixed ones
    would make a second run fail to bind, or take the first one's pause and quit keys."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sipp_errors(log: Path) -> str:
    """What SIPp said went wrong (e.g. "Unable to bind main socket, errno = 98 (Address
    already in use)": another load run holds its SIP port), once each."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    said = [line.rpartition(": ")[2].strip() for line in lines
            if "unable" in line.lower()
            or ("error" in line.lower() and "UDP errors" not in line)]
    return "; ".join(dict.fromkeys(said)) or f"see {log}"


def _until(check: Callable[[], bool], timeout: float, proc: subprocess.Popen[bytes],
           message: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(message)
        time.sleep(0.05)


def print_progress(line: str) -> None:
    """The live line, rewritten in place on a terminal, one per update otherwise."""
    if sys.stderr.isatty():
        sys.stderr.write("\r" + line + "\033[K")
    else:
        sys.stderr.write(line + "\n")
    sys.stderr.flush()
