"""``ivr load``: N callers at once on one extension, with a live line and a final report.

Examples::

    ivr load 101 --callers 50 --keys 2 --hold 30          # the demo menu, key 2
    ivr load 101 --callers 50 --say two.wav --hold 30     # the same menu, "two" said
    ivr load 901 --callers 200 --ramp 20 --calls 1000 --json out.json
    ivr load --scenario scenarios/bank-en-wrong-key.yaml --callers 20 --hold 60

With --say every caller says these WAVs, --key-wait apart, instead of pressing --keys. With
--scenario every caller dials the scenario's extension with its caller id, presses its keys and
says its words at the times its plan gives and hangs up where it does (or waits for the IVR
to); the extension and --keys, --say, --key-wait, --patience, --caller-id are then the
scenario's.

Needs root (tcpdump captures on lo). Exit codes: 0 every call completed; 1 some failed;
2 bad usage or the tools are missing.
"""

from __future__ import annotations

import argparse
import json
import sys
import wave
from pathlib import Path

from ..media.prompts import PromptLibrary
from ..media.render import RenderError
from .load import LoadPlan, default_roles, print_progress, run_load
from .load_scenario import scenario_script
from .load_sipp import CallerScript
from .scenario import ScenarioError, load_scenario


def build_parser(p: argparse.ArgumentParser, project_root: Path | None = None) -> None:
    p.description = "Many SIPp callers at once; latency judged from a packet capture on lo."
    p.add_argument("extension", nargs="?",
                   help="the extension every caller dials, e.g. 101 (or give --scenario)")
    p.add_argument("--scenario", type=Path, metavar="FILE",
                   help="a scenario file every caller runs (its dial, caller, keys, hang-up)")
    p.add_argument("--prompts-dir", type=Path,
                   default=(project_root or Path.cwd()) / "prompts",
                   help="the prompts whose lengths time a scenario's keys")
    p.add_argument("--callers", type=int, default=10, help="calls at once (default 10)")
    p.add_argument("--ramp", type=float, default=10.0, metavar="S",
                   help="seconds to reach --callers (default 10)")
    p.add_argument("--hold", type=float, default=30.0, metavar="S",
                   help="seconds to keep starting calls after the ramp (default 30)")
    p.add_argument("--calls", type=int, help="stop after this many calls instead of --hold")
    p.add_argument("--keys", help="keys each caller presses, in order (default 2)")
    p.add_argument("--say", type=Path, action="append", metavar="FILE",
                   help="a WAV each caller says instead of pressing keys (8 kHz mono; other "
                   "rates are resampled); again for more, in order")
    p.add_argument("--key-wait", type=float, default=10.0, metavar="S",
                   help="seconds from the answer to the first key or WAV, and between them "
                   "(default 10: after the demo's welcome and menu)")
    p.add_argument("--patience", type=float, default=8.0, metavar="S",
                   help="seconds after the last key or WAV within which the IVR must hang up")
    p.add_argument("--caller-id", default="5550100")
    p.add_argument("--target", default="127.0.0.1:5060", help="Asterisk's SIP address")
    p.add_argument("--work", default="load-run", help="folder for the capture and SIPp's files")
    p.add_argument("--json", help="write the report as JSON here too")
    p.add_argument("--app-pid", type=int, action="append",
                   help="the app's process (default: found by its command line)")
    p.add_argument("--asterisk-pid", type=int, action="append",
                   help="Asterisk's process (default: found by its command line)")


def caller_script(args: argparse.Namespace) -> CallerScript | None:
    """What every caller does: the scenario's script, or the extension and keys or WAVs; None
    (after saying why on stderr) when the options contradict each other or the scenario
    cannot be run."""
    if (args.scenario is None) == (args.extension is None):
        print("ivr load: give an extension or --scenario FILE (one of them)", file=sys.stderr)
        return None
    if args.say and args.keys is not None:
        print("ivr load: give --keys or --say (the callers press or speak)", file=sys.stderr)
        return None
    if args.scenario is None:
        if not args.say:
            return CallerScript.keys_every(args.extension, args.keys or "2", args.key_wait,
                                           args.patience, args.caller_id)
        try:
            return CallerScript.says_every(args.extension, args.say, args.key_wait,
                                           args.patience, args.caller_id)
        except (OSError, EOFError, wave.Error) as exc:
            print(f"ivr load: --say: {exc}", file=sys.stderr)
            return None
    try:
        prompts = PromptLibrary(args.prompts_dir)
        return scenario_script(load_scenario(args.scenario, prompts), prompts,
                               Path(args.work) / "speech")
    except ScenarioError as exc:
        print(f"ivr load: cannot run {args.scenario}:\n{exc}", file=sys.stderr)
    except (OSError, RenderError) as exc:
        print(f"ivr load: {exc}", file=sys.stderr)
    return None


def main(args: argparse.Namespace) -> int:
    script = caller_script(args)
    if script is None:
        return 2
    roles = default_roles()
    if args.app_pid:
        roles["app"] = args.app_pid
    if args.asterisk_pid:
        roles["asterisk"] = args.asterisk_pid
    for role, pids in roles.items():
        if len(pids) != 1:  # e.g. the parallel e2e suite's several Asterisk instances
            print(f"ivr load: {len(pids)} processes found as {role} ({pids}), all measured "
                  f"as one; name it with --{role}-pid", file=sys.stderr)
    plan = LoadPlan(script, args.callers, args.ramp, None if args.calls else args.hold,
                    args.calls, Path(args.work), roles, args.target)
    try:
        report = run_load(plan, print_progress)
    except RuntimeError as exc:
        print(f"ivr load: {exc}")
        return 2
    print()
    print(report.text())
    if args.json:
        Path(args.json).write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    return 0 if report.summary.failed_total == 0 else 1
