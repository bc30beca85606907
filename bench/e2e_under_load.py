"""The end-to-end suite under load: how often does each e2e test fail while callers load the
machine? A test that fails one run in fifty is a broken test; this finds them.

    flock /tmp/ivr-asterisk.lock .venv/bin/python bench/e2e_under_load.py --callers 50 --runs 10

`ivr load` keeps `--callers` callers on extension 101 of Asterisk instance 0 (127.0.0.1, the
app started here, as bench/soak.py does) for as long as the runs take; meanwhile the e2e suite
runs `--runs` times, as `make test` runs it (xdist workers on instances 1-3, 127.0.0.2-4). The
port plan (ivr/testing/ports.py) and the capture filter keep the two apart. The report: each
run's failures (from its JUnit XML), the tests that failed in any run with how often, and the
load's own figures (a failed load call counts too: the suite must not break the callers).
Needs root (tcpdump); a quiet machine otherwise, or the numbers mean little.
"""

from __future__ import annotations

import argparse
import collections
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load_app import start_app  # noqa: E402

from ivr.app import asterisk  # noqa: E402
from ivr.testing.load import LoadPlan, LoadReport, run_load  # noqa: E402
from ivr.testing.load_sipp import CallerScript  # noqa: E402


def failures(junit: Path) -> list[str]:
    """The ids (file::name) of the tests that failed or errored in one JUnit XML report."""
    if not junit.exists():
        return ["(no report: pytest did not finish)"]
    out = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            path = str(case.get("classname", "")).replace(".", "/")
            out.append(f"{path}.py::{case.get('name')}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--callers", type=int, default=50)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--extension", default="101")
    parser.add_argument("--workers", default="3", help="pytest -n (xdist workers)")
    parser.add_argument("--tests", default="tests/e2e", help="what pytest runs")
    parser.add_argument("--work", help="folder for the app, the capture and the reports")
    parser.add_argument("--watch-memory", action="store_true",
                        help="run the load's app with IVR_TRACEMALLOC=0 and print its memory "
                             "report after every run (memory_watch.py)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="ivr-e2e-load-"))
    work.mkdir(parents=True, exist_ok=True)
    runtime = asterisk.up()
    app = start_app(runtime, work / "app",
                    {"IVR_TRACEMALLOC": "0"} if args.watch_memory else None)
    pid = int(str(asterisk.status().get("pid")))
    stop = threading.Event()
    result: dict[str, LoadReport | BaseException] = {}

    def load() -> None:
        plan = LoadPlan(CallerScript.keys_every(args.extension, "2"), args.callers, 10.0,
                        hold=7 * 24 * 3600.0, work=work / "load",
                        roles={"app": [app.proc.pid], "asterisk": [pid]})
        try:
            result["load"] = run_load(plan, stop=stop)
        except BaseException as exc:  # reported below, after the runs
            result["load"] = exc

    loader = threading.Thread(target=load, daemon=True)
    runs: list[tuple[float, list[str]]] = []
    try:
        loader.start()
        time.sleep(20)  # the ramp, and a few calls through
        for n in range(1, args.runs + 1):
            junit = work / f"run-{n}.xml"
            began = time.monotonic()
            subprocess.run([sys.executable, "-m", "pytest", args.tests, "-n", args.workers,
                            "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
                            f"--basetemp={work / f'run-{n}'}"], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            runs.append((time.monotonic() - began, failures(junit)))
            print(f"run {n}: {len(runs[-1][1])} failed in {runs[-1][0]:.0f} s "
                  f"{runs[-1][1]}", flush=True)
            if args.watch_memory:
                app.proc.send_signal(signal.SIGUSR1)
    finally:
        stop.set()
        loader.join(120)
        app.stop()
    counts = collections.Counter(test for _, failed in runs for test in failed)
    print(f"\n{args.runs} runs of {args.tests} beside {args.callers} callers on "
          f"{args.extension}; reports in {work}")
    for test, times in counts.most_common():
        print(f"  {times}/{args.runs}  {test}")
    if not counts:
        print("  no test failed")
    if args.watch_memory:
        print("the load's app, memory after each run:")
        for line in app.log_file.read_text().splitlines():
            if '"memory: python ' in line or '"memory: malloc ' in line:
                print("  " + json.loads(line)["msg"])
    load_result = result.get("load")
    if isinstance(load_result, LoadReport):
        print(load_result.text())
    else:
        print(f"the load did not finish: {load_result!r}")
    return 0 if not counts and isinstance(load_result, LoadReport) else 1


if __name__ == "__main__":
    raise SystemExit(main())
