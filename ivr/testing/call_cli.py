"""``ivr call``: place (or answer) one real SIP call from the command line.

Examples::

    ivr call 100 --dtmf 1 --record heard.wav
    ivr call 100 --caller 5551234 --script "wait 3; dtmf 1; wait-hangup 15"
    ivr call --answer --port 5090 --play hello.wav          # a phone that picks up
    ivr call --answer --register sip:agent1001@127.0.0.1 --password secret

Exit codes: 0 connected and script ran; 1 a script step failed; 2 bad usage;
3 not connected (rejected, no answer, no incoming call); 4 internal error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ivr.testing.phonespec import DEFAULT_HOST, SIP_HOST_ENV
from ivr.testing.report import EXIT_USAGE
from ivr.testing.script import Dtmf, Play, ScriptError, Step, Wait, WaitHangup, parse_script
from ivr.testing.softphone import normalize_target, run_call


def build_parser(p: argparse.ArgumentParser) -> None:
    """Add ``ivr call`` arguments to ``p`` (so the main CLI can mount it as a subcommand)."""
    p.description = "Place (or answer) one real SIP call with a scripted softphone."
    p.add_argument(
        "target", nargs="?", help="extension (100 -> sip:100@HOST:5060), user@host, or a sip: URI"
    )
    p.add_argument(
        "--host",
        default=None,
        help=f"SIP server for short targets, host[:port] (default ${SIP_HOST_ENV}, else "
        f"{DEFAULT_HOST})",
    )
    p.add_argument("--script", help='steps, e.g. "wait 3; dtmf 1; wait-hangup 15"')
    p.add_argument("--dtmf", help="digits to press after --dtmf-delay (when no --script)")
    p.add_argument(
        "--dtmf-delay",
        type=float,
        default=2.0,
        metavar="S",
        help="seconds after answer before --dtmf (default %(default)s)",
    )
    p.add_argument(
        "--play",
        type=Path,
        metavar="WAV",
        help="WAV (8 kHz mono) to use as microphone from the start of the call",
    )
    p.add_argument(
        "--listen",
        type=float,
        default=8.0,
        metavar="S",
        help="without --script: seconds to stay on the call at the end "
        "(ends early if the remote side hangs up; default %(default)s)",
    )
    p.add_argument(
        "--record",
        type=Path,
        metavar="WAV",
        help="record what we hear (8 kHz mono 16-bit) from media start",
    )
    p.add_argument("--caller", help="From user of the call, e.g. 5551234 (no registration)")
    p.add_argument("--caller-name", help="the From header's display name (caller ID name)")
    p.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds to get connected / to receive a call (default %(default)s)",
    )
    p.add_argument("--report", type=Path, metavar="JSON", help="write the JSON report here")
    p.add_argument("--json", action="store_true", help="print the JSON report on stdout")
    p.add_argument("--quiet", action="store_true", help="print nothing on stdout")
    p.add_argument("--verbose", action="store_true", help="pjsip logs and events on stderr")
    g = p.add_argument_group("answering / agent phone")
    g.add_argument(
        "--answer",
        action="store_true",
        help="wait for one incoming call and answer it (instead of dialing)",
    )
    g.add_argument(
        "--answer-after", type=float, default=0.0, metavar="S", help="ring S seconds first"
    )
    g.add_argument("--reject", type=int, metavar="CODE", help="refuse the call (486, 603...)")
    g.add_argument("--bind", default=DEFAULT_HOST, help="local address (default %(default)s)")
    g.add_argument("--port", type=int, default=0, help="local SIP UDP port (default ephemeral)")
    g.add_argument("--register", metavar="AOR", help="register first, e.g. sip:agent1001@HOST")
    g.add_argument("--username", help="auth user (default: the AOR's user)")
    g.add_argument("--password", help="auth password for --register")
    g.add_argument("--registrar", help="registrar URI (default: sip:<AOR host>)")
    g.add_argument("--ready-file", type=Path, help=argparse.SUPPRESS)


def script_from_args(args: argparse.Namespace) -> list[Step]:
    """The steps to run: ``--script`` as given, else built from the shortcut options."""
    steps: list[Step] = []
    if args.play is not None:
        steps.append(Play(args.play, background=True))
    if args.script is not None:
        return steps + parse_script(args.script)
    if args.dtmf:
        steps += parse_script(f"wait {args.dtmf_delay:g}; dtmf {args.dtmf}")
        assert isinstance(steps[-1], Dtmf)
    if args.answer:
        steps.append(WaitHangup(args.timeout + args.listen))
    else:
        steps.append(Wait(args.listen))
    return steps


def main(args: argparse.Namespace) -> int:
    """Run ``ivr call`` with parsed arguments; returns the process exit code."""
    if bool(args.target) == bool(args.answer):
        print("ivr call: give a target to dial, or --answer to wait for a call", file=sys.stderr)
        return EXIT_USAGE
    if args.reject is not None and not (args.answer and 400 <= args.reject <= 699):
        print("ivr call: --reject needs --answer and a code 400-699", file=sys.stderr)
        return EXIT_USAGE
    try:
        steps = script_from_args(args)
    except ScriptError as exc:
        print(f"ivr call: bad script: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.record is not None and not args.record.parent.is_dir():
        print(f"ivr call: no folder for --record: {args.record.parent}", file=sys.stderr)
        return EXIT_USAGE
    for step in steps:
        if isinstance(step, Play) and not step.path.is_file():
            print(f"ivr call: no such WAV file: {step.path}", file=sys.stderr)
            return EXIT_USAGE
    target = normalize_target(args.target, args.host) if args.target else None
    report = run_call(
        target,
        steps,
        record=args.record,
        caller=args.caller,
        caller_name=args.caller_name,
        timeout=args.timeout,
        answer=args.answer,
        answer_after=args.answer_after,
        reject=args.reject,
        bind=args.bind,
        port=args.port,
        register=args.register,
        username=args.username,
        password=args.password,
        registrar=args.registrar,
        ready_file=args.ready_file,
        verbose=args.verbose,
    )
    if args.report is not None:
        report.write(args.report)
    if args.json:
        print(report.dumps(), flush=True)
    elif not args.quiet:
        print(report.summary(), flush=True)
    if report.error and (args.quiet or args.json):
        print(f"ivr call: {report.error}", file=sys.stderr)
    return report.exit_code


def _standalone() -> int:
    parser = argparse.ArgumentParser(prog="python -m ivr.testing.call_cli")
    build_parser(parser)
    return main(parser.parse_args())


if __name__ == "__main__":
    sys.exit(_standalone())
