"""`ivr test PATH...`: run scenario files headless (the default) or over real SIP.

    ivr test scenarios/                      # headless: the simulator, milliseconds a call
    ivr test scenarios/ --sip --app http://127.0.0.1:8090 -j 2 --junit out.xml --html out.html

Headless is the default because it needs nothing running and answers in a second: it is what
a flow editor runs on every change; `--sip` calls the running app through Asterisk, one
softphone process per call. Exit status: 0 all passed, 1 a scenario failed, 2 a file or an
option is wrong (nothing ran).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

from ..flow.actions import Action
from ..flow.library import load_folder
from ..flow.loader import FlowError
from ..flow.model import Flow
from ..media.prompts import PromptLibrary
from .headless import run_headless
from .outcome import Observed, ScenarioResult, judge, plan, render_speech
from .phonespec import asterisk_host
from .scenario import Scenario, ScenarioError, find_scenarios, load_scenario
from .scenario_report import failure_text, html_report, junit_xml, summary_line
from .sip import SipTarget, run_sip

EXTEN = re.compile(r"^\s*exten\s*=>\s*([^,\s]+)\s*,")
STASIS = re.compile(r"Stasis\(\s*ivr\s*,\s*([^,)\s]+)")


def build_parser(p: argparse.ArgumentParser, project_root: Path) -> None:
    p.description = "Run scenario files: headless against the simulator, or over real SIP."
    p.add_argument("paths", nargs="+", type=Path, help="scenario files or folders of them")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--headless", action="store_true", help="the flow simulator (default)")
    how.add_argument("--sip", action="store_true", help="real calls through Asterisk to --app")
    p.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                   help="scenarios at once (default 1)")
    p.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML here")
    p.add_argument("--html", type=Path, metavar="FILE", help="write an HTML report here")
    p.add_argument("--out", type=Path, default=Path("ivr-test-results"),
                   help="where recordings and traces are kept (default %(default)s)")
    p.add_argument("--app", default=f"http://127.0.0.1:{os.environ.get('IVR_HTTP_PORT', 8090)}",
                   help="the running app's base URL, for --sip (default %(default)s); its "
                        "API token (a reporting user's will do) comes from $IVR_API_TOKEN, "
                        "never from an argument, which every process listing shows")
    p.add_argument("--traces", type=Path,
                   help="the app's trace folder, for --sip (default: IVR_TRACE_DIR, else the "
                        "app's state folder)")
    p.add_argument("--host", default=None,
                   help="the SIP server, host[:port] (default $IVR_SIP_HOST, else 127.0.0.1)")
    p.add_argument("--flows-dir", type=Path, default=project_root / "flows")
    p.add_argument("--prompts-dir", type=Path, default=project_root / "prompts")
    p.add_argument("--dialplan", type=Path,
                   default=project_root / "asterisk-conf" / "extensions.conf",
                   help="where an extension's flow is read (Stasis(ivr,FLOW))")


def dialplan_flows(conf: Path) -> dict[str, str]:
    """Extension -> the flow its Stasis(ivr,NAME) runs, from extensions.conf."""
    out: dict[str, str] = {}
    extension = ""
    if not conf.is_file():
        return out
    for line in conf.read_text(encoding="utf-8").splitlines():
        line = line.split(";", 1)[0]
        exten = EXTEN.match(line)
        if exten:
            extension = exten.group(1)
        stasis = STASIS.search(line)
        if stasis and extension:
            out.setdefault(extension, stasis.group(1))
    return out


async def seed_bank(folder: Path) -> Path:
    """A database with the demo accounts, made once per run (hashing their PINs takes half a
    second) and copied for each scenario."""
    from ..services.accounts import init_database

    path = folder / "bank.db"
    await init_database(f"sqlite:///{path}", demo=True)
    return path


@contextlib.asynccontextmanager
async def demo_bank(template: Path) -> AsyncIterator[Mapping[str, Action]]:
    """The accounts actions on a fresh copy of the demo bank: every headless scenario starts
    from the same accounts (a wrong PIN in one cannot lock an account in another)."""
    from ..services.accounts import SqlAccountStore, account_actions
    from ..services.db import connect

    with tempfile.TemporaryDirectory(prefix="ivr-test-") as tmp:
        copy = Path(tmp) / "bank.db"
        shutil.copyfile(template, copy)
        db = await connect(f"sqlite:///{copy}")
        try:
            yield account_actions(SqlAccountStore(db))
        finally:
            await db.close()


def _stem(scenario: Scenario, index: int) -> str:
    return f"{index:02d}-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(scenario.file).stem)


class Progress:
    """One line, rewritten in place on a terminal (a line per scenario elsewhere)."""

    def __init__(self, total: int, stream: object = sys.stderr) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self.running: list[str] = []
        self.tty = bool(getattr(stream, "isatty", lambda: False)())

    def show(self, last: str = "") -> None:
        line = (f"[{self.done}/{self.total}] {self.done - self.failed} passed, "
                f"{self.failed} failed; running: {', '.join(self.running) or '-'}")
        if self.tty:
            sys.stderr.write("\r\033[K" + line[:150])
        elif last:
            sys.stderr.write(f"[{self.done}/{self.total}] {last}\n")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.tty:
            sys.stderr.write("\r\033[K")


async def run_one(scenario: Scenario, index: int, args: argparse.Namespace,
                  flows: Mapping[str, Flow], prompts: PromptLibrary,
                  extensions: Mapping[str, str], bank: Path | None = None) -> ScenarioResult:
    started = time.monotonic()
    stem = _stem(scenario, index)
    flow_name = scenario.flow or extensions.get(scenario.dial)
    flow = flows.get(flow_name) if flow_name else None
    speech = render_speech(scenario, args.out, stem)
    planned = plan(scenario, prompts, speech)
    if args.sip:
        target = SipTarget(args.app, args.traces, args.host or asterisk_host(), args.out,
                           token=os.environ.get("IVR_API_TOKEN", ""))
        seen = await run_sip(scenario, planned, prompts, target, speech, flow, stem)
    elif flow_name is None or flow is None:
        seen = Observed("headless", error=f"no flow for extension {scenario.dial} (give the "
                                          f"scenario a 'flow:'; known: {', '.join(flows)})")
    else:
        async with contextlib.AsyncExitStack() as stack:
            if bank is None:
                bank = await seed_bank(Path(stack.enter_context(tempfile.TemporaryDirectory())))
            actions = await stack.enter_async_context(demo_bank(bank))
            seen = await run_headless(scenario, planned, flows, prompts, flow_name, actions)
        args.out.mkdir(parents=True, exist_ok=True)
        kept = args.out / f"{stem}.trace.jsonl"
        kept.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in seen.events),
                        encoding="utf-8")
        seen.trace = str(kept)
    steps = judge(scenario, planned, seen)
    return ScenarioResult(scenario, seen.runner, steps, seen,
                          round(time.monotonic() - started, 3))


async def run_all(scenarios: Sequence[Scenario], args: argparse.Namespace,
                  flows: Mapping[str, Flow], prompts: PromptLibrary) -> list[ScenarioResult]:
    """At most -j at once; over SIP two calls from one caller id never overlap (the caller
    id is how the call's record is found)."""
    extensions = dialplan_flows(args.dialplan)
    progress = Progress(len(scenarios))
    progress.show()
    with tempfile.TemporaryDirectory(prefix="ivr-test-") as tmp:
        bank = None if args.sip else await seed_bank(Path(tmp))
        return await _gather(scenarios, args, flows, prompts, extensions, bank, progress)


async def _gather(scenarios: Sequence[Scenario], args: argparse.Namespace,
                  flows: Mapping[str, Flow], prompts: PromptLibrary,
                  extensions: Mapping[str, str], bank: Path | None,
                  progress: Progress) -> list[ScenarioResult]:
    gate = asyncio.Semaphore(max(1, args.jobs))
    callers: dict[str, asyncio.Lock] = {}

    async def one(index: int, scenario: Scenario) -> ScenarioResult:
        lock = callers.setdefault(scenario.caller if args.sip else str(index), asyncio.Lock())
        async with lock, gate:
            progress.running.append(scenario.name)
            progress.show()
            result = await run_one(scenario, index, args, flows, prompts, extensions, bank)
            progress.running.remove(scenario.name)
            progress.done += 1
            progress.failed += not result.ok
            progress.show(f"{'ok  ' if result.ok else 'FAIL'} {scenario.name}")
            return result

    try:
        return list(await asyncio.gather(*(one(i, s) for i, s in enumerate(scenarios))))
    finally:
        progress.finish()


def main(args: argparse.Namespace) -> int:
    from ..app.paths import state_dir

    if args.sip and args.traces is None:
        trace_dir = os.environ.get("IVR_TRACE_DIR")
        args.traces = Path(trace_dir) if trace_dir else state_dir() / "traces"
    prompts = PromptLibrary(args.prompts_dir)
    scenarios: list[Scenario] = []
    problems: list[str] = []
    for path in find_scenarios(args.paths):
        try:
            scenarios.append(load_scenario(path, prompts))
        except ScenarioError as exc:
            problems.append(str(exc))
        except OSError as exc:
            problems.append(f"{path}: {exc.strerror or exc}")
    if not scenarios and not problems:
        problems.append(f"no scenario files in {' '.join(map(str, args.paths))}")
    try:
        flows = dict(load_folder(args.flows_dir, prompts).flows)
    except (FlowError, OSError) as exc:
        problems.append(f"the flows in {args.flows_dir} cannot be loaded: {exc}")
        flows = {}
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    started = time.monotonic()
    results = asyncio.run(run_all(scenarios, args, flows, prompts))
    for result in results:
        if not result.ok:
            print(failure_text(result))
    print(summary_line(results, time.monotonic() - started))
    if args.junit is not None:
        args.junit.write_text(junit_xml(results), encoding="utf-8")
    if args.html is not None:
        args.html.write_text(html_report(results, args.html.parent), encoding="utf-8")
    return 0 if all(r.ok for r in results) else 1
