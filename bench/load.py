"""Load benchmark: extension 101's menu through the app, against the same menu in dialplan.

    flock /tmp/ivr-asterisk.lock .venv/bin/python bench/load.py --levels 10,50 --hold 20
    flock /tmp/ivr-asterisk.lock .venv/bin/python bench/load.py --levels 10,50,100,200 --hold 60
    flock /tmp/ivr-asterisk.lock .venv/bin/python bench/load.py --variants "app spoken" --hold 30
    flock /tmp/ivr-asterisk.lock .venv/bin/python bench/load.py --levels 200 --rounds 3 \
        --variants "dialplan,app keys"

Five variants at each level, one after the other in the same run on the same Asterisk (the
machine is noisy: compare only within one run):
- dialplan: extension 901, Background/WaitExten/Playback with the app's prompt files;
- app keys: extension 902, the demo flow with speech off (bench/load_app.py writes it);
- app listening: extension 101, the shipped demo, whose menu also listens for speech, with the
  app's defaults (IVR_SPEECH_EAGER: beyond that many listening callers, a caller's audio path
  opens when Asterisk hears them talk);
- app listening (all at once): the same with IVR_SPEECH_EAGER=all (every listening caller
  gets an audio path as the menu starts: what the app did before), the app restarted for it;
- app listening (all on talk): IVR_SPEECH_EAGER=0 (no caller's path opens before Asterisk
  hears them talk; these callers never talk);
and, when asked for (`--variants`), app spoken: extension 101 again, every caller saying "two"
(`--say`, a recorded digit) instead of pressing 2, timed from the end of speech.
Every caller waits for the welcome and the menu, presses 2 (or speaks), and expects the read-back
and goodbye and the IVR's hang-up within 8 s (`ivr load`'s defaults). The app is started here
(its own folder, database and log); Asterisk is brought up with the project's configuration.
Needs root (tcpdump). Prints a Markdown table with the ratios to the dialplan's numbers.
`--rounds N` runs the variants N times at each level, interleaved, each compared with the
dialplan of its round, and sums up Asterisk's CPU per call against the dialplan's over the
rounds: the figure this machine's noise moves most (-3 % to +15 % in single runs).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load_app import start_app  # noqa: E402

from ivr.app import asterisk  # noqa: E402
from ivr.testing.load import LoadPlan, print_progress, run_load  # noqa: E402
from ivr.testing.load_calls import ANSWER_STEP, KEY_STEP, SPEECH_STEP  # noqa: E402
from ivr.testing.load_sipp import CallerScript  # noqa: E402

VARIANTS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("dialplan", "901", {}), ("app keys", "902", {}), ("app listening", "101", {}),
    ("app listening (all at once)", "101", {"IVR_SPEECH_EAGER": "all"}),
    ("app listening (all on talk)", "101", {"IVR_SPEECH_EAGER": "0"}),
    ("app spoken", "101", {}))
"""(name, extension, what the app's environment adds for it)."""
SPOKEN = "app spoken"
TWO = ROOT / "tests/data/fsdd/2_jackson_0.wav"
"""Jackson saying "two" (the Free Spoken Digit Dataset, CC BY-SA 4.0: tests/data/fsdd)."""


def _channels(runtime: asterisk.AsteriskRuntime) -> int:
    """Channels Asterisk still has (from its CLI): a run starts only on an idle Asterisk."""
    out = asterisk.rx("core show channels count")
    for line in out.splitlines():
        if "active channel" in line:
            return int(line.split()[0])
    return 0


def _settle(runtime: asterisk.AsteriskRuntime, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while _channels(runtime) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(2.0)


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "-"
    return f"{value / base:.2f}x"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _served(result: dict[str, Any]) -> float:
    """CPU seconds of what serves the calls: the app and Asterisk (the dialplan runs count the
    idle app too, so the comparison is of the same processes)."""
    cpu = result["cpu_s"]
    return float(cpu.get("app", 0.0) + cpu.get("asterisk", 0.0))


def table(results: list[dict[str, Any]]) -> str:
    """One row per level and variant; ratios against the dialplan at the same level. A spoken
    variant's latency is from the end of speech, not comparable to a key's: no ratio."""
    rows = ["| callers | variant | calls | failed | answer→audio p95 (ms) | key (or end of "
            "speech)→prompt p50 / p95 / max (ms) | key p95 vs dialplan | Asterisk CPU per call "
            "(ms) | app CPU per call (ms) | app + Asterisk CPU per call vs dialplan | "
            "generator CPU (% of a core) |",
            "|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    base: dict[tuple[int, int], dict[str, Any]] = {}
    for r in results:
        if r["variant"] == "dialplan":
            base[r["callers"], r.get("round", 1)] = r
    for r in results:
        b = base.get((r["callers"], r.get("round", 1)), {})
        spoken = SPEECH_STEP in r["steps_ms"]
        key = r["steps_ms"][SPEECH_STEP if spoken else KEY_STEP]
        answer = r["steps_ms"][ANSWER_STEP]
        done = max(r["completed"], 1)
        machine = _served(r) / done
        b_machine = _served(b) / max(b["completed"], 1) if b else None
        b_key = b["steps_ms"][KEY_STEP]["p95"] if b and not spoken else None
        reasons = ", ".join(f"{k}: {v}" for k, v in r["failed_by_reason"].items())
        failed = f"{r['failed']}" + (f" ({reasons})" if reasons else "")
        rows.append(
            f"| {r['callers']} | {r['variant']} | {r['attempted']} | {failed} | "
            f"{_ms(answer['p95'])} | {_ms(key['p50'])} / {_ms(key['p95'])} / "
            f"{_ms(key['max'])} | {_ratio(key['p95'], b_key)} | "
            f"{r['cpu_per_call_s'].get('asterisk', 0) * 1000:.0f} | "
            f"{r['cpu_per_call_s'].get('app', 0) * 1000:.0f} | {_ratio(machine, b_machine)} | "
            f"{100 * r['cpu_s'].get('generator', 0) / max(r['wall_s'], 1):.0f} |")
    return "\n".join(rows)


def asterisk_cpu_summary(results: list[dict[str, Any]]) -> str:
    """Asterisk's CPU per call against the dialplan's in the same round, per level and variant,
    over the rounds: the one figure this machine's noise blurs most, so it is repeated."""
    base = {(r["callers"], r.get("round", 1)): r["cpu_per_call_s"].get("asterisk", 0.0)
            for r in results if r["variant"] == "dialplan"}
    ratios: dict[tuple[int, str], list[float]] = {}
    for r in results:
        b = base.get((r["callers"], r.get("round", 1)))
        if r["variant"] != "dialplan" and b:
            ratios.setdefault((r["callers"], r["variant"]), []).append(
                r["cpu_per_call_s"].get("asterisk", 0.0) / b)
    lines = ["| callers | variant | rounds | Asterisk CPU per call vs dialplan: mean (min-max) |",
             "|---:|---|---:|---|"]
    for (callers, variant), values in ratios.items():
        mean = sum(values) / len(values)
        lines.append(f"| {callers} | {variant} | {len(values)} | {100 * (mean - 1):+.1f} % "
                     f"({100 * (min(values) - 1):+.1f} to {100 * (max(values) - 1):+.1f} %) |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", default="10,50", help="callers at once, comma-separated")
    parser.add_argument("--hold", type=float, default=20.0, help="seconds per level and variant")
    parser.add_argument("--ramp", type=float, default=10.0)
    parser.add_argument("--variants",
                        default=",".join(n for n, _, _ in VARIANTS if n != SPOKEN),
                        help=f"comma-separated, of: {', '.join(n for n, _, _ in VARIANTS)}")
    parser.add_argument("--say", type=Path, default=TWO,
                        help="the WAV the app spoken variant's callers say (default: two)")
    parser.add_argument("--work", help="folder for the app and the captures (default: temp)")
    parser.add_argument("--json", help="write every run's report here")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the variants this many times at each level, interleaved")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",") if x]
    wanted = [v.strip() for v in args.variants.split(",")]
    work = Path(args.work or tempfile.mkdtemp(prefix="ivr-load-"))
    work.mkdir(parents=True, exist_ok=True)
    unknown = set(wanted) - {name for name, _, _ in VARIANTS}
    if unknown:
        parser.error(f"no such variant: {', '.join(sorted(unknown))}")
    runtime = asterisk.up()
    app_env: dict[str, str] = {}
    app = start_app(runtime, work / "app")
    results: list[dict[str, Any]] = []
    try:
        pid = asterisk.status().get("pid")
        runs = [(level, n, variant) for level in levels for n in range(1, args.rounds + 1)
                for variant in VARIANTS if variant[0] in wanted]
        for level, round_no, (name, extension, env) in runs:
            if env != app_env:  # another setting: another app, on the same database
                app.stop()
                app_env = env
                app = start_app(runtime, work / "app", env)
            roles = {"app": [app.proc.pid], "asterisk": [int(str(pid))] if pid else []}
            _settle(runtime)
            print(f"== {level} callers, {name} (extension {extension}), round {round_no}",
                  file=sys.stderr)
            script = CallerScript.says_every(extension, [args.say]) if name == SPOKEN \
                else CallerScript.keys_every(extension, "2")
            folder = f"{level}-{extension}-{[n for n, _, _ in VARIANTS].index(name)}" \
                f"-{round_no}"
            plan = LoadPlan(script, level, args.ramp, args.hold, work=work / folder,
                            roles=roles)
            report = run_load(plan, print_progress)
            print(file=sys.stderr)
            print(report.text(), file=sys.stderr)
            results.append({"variant": name, "round": round_no, **report.as_dict()})
            if args.json:
                Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    finally:
        app.stop()
    print(f"app log: {app.log_file}", file=sys.stderr)
    print(table(results))
    if "dialplan" in wanted and len(wanted) > 1:
        print()
        print(asterisk_cpu_summary(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
