"""Soak: one level of callers for a long time; do the app's and Asterisk's memory stay flat?

    flock /tmp/ivr-asterisk.lock .venv/bin/python bench/soak.py --callers 150 --hold 3600

The callers are bench/load.py's (extension 101 by default: the shipped demo, whose menu listens;
each waits for the menu, presses 2 and expects the read-back, goodbye and the IVR's hang-up).
`ivr load` gives the calls' figures; beside it a sampler reads the resident memory of the app
(with its speech worker processes) and of Asterisk every `--every` seconds into a CSV, and the
report compares the median of the first window after the ramp (`--window`, default five
minutes: the caches and pools have filled by then) with the median of the last: the issue's
"memory flat" is within +-5 %. A steady climb shows up as a slope in MB per hour as well;
`--trace-memory 0` then says what (memory_watch.py): the object types that grew from the end of
the first window to the end of the run, when the calls are over (what a finished call leaves
behind), and malloc's bytes in use against those it holds free (fragmentation, not a leak);
`--trace-memory 1` adds the source lines that allocated them. Tracing is costly: with 10
frames the app could not serve 150 callers here (2026-12-07), so trace with 1 frame or fewer
callers.
Needs root (tcpdump); Asterisk is brought up with the project's configuration, the app started
here with its own folder and database.
"""

from __future__ import annotations

import argparse
import csv
import json
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load_app import start_app  # noqa: E402

from ivr.app import asterisk  # noqa: E402
from ivr.testing.load import LoadPlan, print_progress, run_load  # noqa: E402
from ivr.testing.load_proc import ProcSampler  # noqa: E402
from ivr.testing.load_sipp import CallerScript  # noqa: E402


class MemorySampler(threading.Thread):
    """(seconds since start, app MB, Asterisk MB) every `every` seconds until stopped."""

    def __init__(self, roles: dict[str, int], every: float) -> None:
        super().__init__(daemon=True)
        self.roles, self.every = roles, every
        self.rows: list[tuple[float, dict[str, float]]] = []
        self.stopping = threading.Event()
        self.began = time.monotonic()

    def run(self) -> None:
        sampler = ProcSampler({role: [pid] for role, pid in self.roles.items()})
        while not self.stopping.is_set():
            sampler.sample()  # the roles' process trees, as ivr load measures them
            self.rows.append((time.monotonic() - self.began,
                              {role: (u.rss[-1] if u.rss else 0) / 2**20
                               for role, u in sampler.roles.items()}))
            self.stopping.wait(self.every)


def flatness(rows: list[tuple[float, dict[str, float]]], role: str, start: float, end: float,
             window: float) -> dict[str, float]:
    """Median MB in the first and the last `window` of [start, end], their change in %, and
    the least-squares slope over [start, end] in MB per hour."""
    inside = [(t, mb[role]) for t, mb in rows if start <= t <= end]
    first = [mb for t, mb in inside if t < start + window]
    last = [mb for t, mb in inside if t > end - window]
    if len(inside) < 2 or not first or not last:
        return {}
    a, b = statistics.median(first), statistics.median(last)
    ts, ms = [t for t, _ in inside], [mb for _, mb in inside]
    slope = statistics.linear_regression(ts, ms).slope * 3600
    return {"first_mb": round(a, 1), "last_mb": round(b, 1),
            "change_pct": round(100 * (b - a) / a, 2), "slope_mb_per_h": round(slope, 1)}


def _wait_for_reports(log: Path, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while log.read_text().count('"memory: python ') < count and time.monotonic() < deadline:
        time.sleep(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--callers", type=int, default=150)
    parser.add_argument("--hold", type=float, default=3600.0, help="seconds")
    parser.add_argument("--ramp", type=float, default=10.0)
    parser.add_argument("--extension", default="101")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--window", type=float, default=300.0, help="seconds compared")
    parser.add_argument("--work", help="folder for the app, the capture and the CSV")
    parser.add_argument("--trace-memory", type=int, metavar="FRAMES",
                        help="run the app with IVR_TRACEMALLOC=FRAMES and print what grew "
                             "between the end of the first window and the end of the run")
    parser.add_argument("--app-env", action="append", default=[], metavar="NAME=VALUE",
                        help="set in the app's environment (e.g. IVR_MALLOC_TRIM_S=60)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="ivr-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    runtime = asterisk.up()
    app_env = dict(item.split("=", 1) for item in args.app_env)
    if args.trace_memory is not None:
        app_env["IVR_TRACEMALLOC"] = str(args.trace_memory)
    app = start_app(runtime, work / "app", extra_env=app_env or None)
    pid = int(str(asterisk.status().get("pid")))
    sampler = MemorySampler({"app": app.proc.pid, "asterisk": pid}, args.every)
    mark: threading.Timer | None = None
    if args.trace_memory is not None:  # SIGUSR1 after the first window, and at the end
        mark = threading.Timer(args.ramp + args.window, app.proc.send_signal,
                               (signal.SIGUSR1,))
        mark.daemon = True
        mark.start()
    try:
        sampler.start()
        plan = LoadPlan(CallerScript.keys_every(args.extension, "2"), args.callers, args.ramp,
                        args.hold, work=work / "load",
                        roles={"app": [app.proc.pid], "asterisk": [pid]})
        report = run_load(plan, print_progress)
        if args.trace_memory is not None:
            app.proc.send_signal(signal.SIGUSR1)
            _wait_for_reports(app.log_file, 2, timeout=120)  # a big heap's snapshot is slow
    finally:
        if mark is not None:
            mark.cancel()
        sampler.stopping.set()
        sampler.join()
        app.stop()
    with open(work / "memory.csv", "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["seconds", "app_mb", "asterisk_mb"])
        for t, mb in sampler.rows:
            writer.writerow([round(t, 1), round(mb["app"], 1), round(mb["asterisk"], 1)])
    start, end = args.ramp, args.ramp + args.hold
    memory = {role: flatness(sampler.rows, role, start, end, args.window)
              for role in ("app", "asterisk")}
    print(file=sys.stderr)
    print(report.text())
    print(json.dumps({"memory": memory, "failed": report.summary.failed_total,
                      "completed": report.summary.completed}, indent=2))
    print(f"memory samples: {work / 'memory.csv'}; app log: {app.log_file}")
    if args.trace_memory is not None:
        grown = [json.loads(line)["msg"] for line in app.log_file.read_text().splitlines()
                 if '"memory: ' in line]
        last = max((n for n, line in enumerate(grown) if line.startswith("memory: python ")),
                   default=None)
        print("\n".join(grown[last:]) if last is not None and last > 0 else
              "no second memory report in the app log (is the app overloaded? tracing costs "
              "CPU on every allocation: fewer callers or frames)")
    return 0 if report.summary.failed_total == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
