"""`ivr simulate FLOW`: walk a call through a flow in the terminal, no telephony.

    ivr simulate bank --input "1 2 - 1234#" --lang ko --now 2026-11-23T10:00+09:00
    ivr simulate flows/bank.yaml --interactive

Prints the transcript as the call goes: each prompt with its text in the caller's current
language, each key, each node, and the outcome. Exit status 1 when the call ends in a flow
error, so a script of calls can guard a flow edit in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

from ..media.prompts import PromptLibrary
from .action_node import specs_of
from .actions import Action
from .http import AiohttpClient
from .library import load_folder
from .loader import FlowError, load_flow
from .model import Flow
from .simulate import KeyScript, format_event, parse_keys, simulate


def build_parser(p: argparse.ArgumentParser, project_root: Path) -> None:
    """The options of `ivr simulate`; --flows-dir and --prompts-dir default to the flows/ and
    prompts/ of `project_root`, which the caller (the app's CLI) knows and flow/ does not."""
    p.add_argument("flow", help="a flow name (in --flows-dir) or a flow file")
    p.add_argument("--input", "-i", default="",
                   help='keys, space-separated: "1 2 - 1234#"; - is a read left unanswered; '
                        "3@12.5 presses 3 at 12.5 s (barge-in, type-ahead)")
    p.add_argument("--lang", help="the caller's language at the start (default: the flow's)")
    p.add_argument("--caller", default="01012345678", help="the caller's number")
    p.add_argument("--now", help="virtual start time, ISO 8601 (2026-11-23T10:00+09:00); "
                                 "without an offset, the local zone")
    p.add_argument("--flows-dir", default=str(project_root / "flows"),
                   help="where subflows are found (default: the project's flows/)")
    p.add_argument("--prompts-dir", default=str(project_root / "prompts"))
    p.add_argument("--interactive", action="store_true",
                   help="when the keys run out, read more from the terminal (empty: no key)")
    p.add_argument("--accept-handoff", action="store_true",
                   help="pretend queue/voicemail/callback/transfer services take the call")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def load_flows(target: str, folder: Path, prompts: PromptLibrary,
               actions: Mapping[str, Action] | None = None) -> tuple[str, dict[str, Flow]]:
    """The flow to run (by name) and every flow it may call.

    The folder is loaded and checked as a set (as the service does; against the specs of
    `actions` when given). When the target is a file, it wins over a flow of the same name in
    the folder (simulate an edited copy before installing it), and a broken folder only costs
    its subflows, with a warning.
    """
    file = Path(target)
    flows: dict[str, Flow] = {}
    specs = specs_of(actions) if actions is not None else None
    try:
        flows = dict(load_folder(folder, prompts, specs).flows) if folder.is_dir() else {}
    except FlowError as exc:
        if not file.is_file():
            raise
        print(f"warning: {folder} has errors; subflows from it are unavailable:\n{exc}",
              file=sys.stderr)
    if file.is_file():
        flow = load_flow(file)
        flows[flow.name] = flow
        return flow.name, flows
    return target, flows


def _parse_now(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.astimezone()


async def _ask() -> str | None:
    """The next keys from the terminal; asked again until they parse; None at end of input."""
    while True:
        try:
            line = await asyncio.to_thread(input, "keys> ")
        except EOFError:
            return None
        try:
            KeyScript(parse_keys(line))
        except ValueError as exc:
            print(f"  {exc}", file=sys.stderr, flush=True)
            continue
        return line


def _echo(entry: dict[str, Any]) -> None:
    line = format_event(entry)
    if line is not None:
        print(line, flush=True)


async def _run(args: argparse.Namespace, actions: Mapping[str, Action] | None = None) -> int:
    prompts = PromptLibrary(Path(args.prompts_dir))
    try:
        name, flows = load_flows(args.flow, Path(args.flows_dir), prompts, actions)
        keys = parse_keys(args.input)
        now = _parse_now(args.now)
    except FlowError as exc:
        print(exc, file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"ivr simulate: {exc}", file=sys.stderr)
        return 2
    if name not in flows:
        known = ", ".join(sorted(flows)) or "none"
        print(f"ivr simulate: no flow named {name!r} in {args.flows_dir} (known: {known})",
              file=sys.stderr)
        return 2
    flow = flows[name]
    if not args.json:
        print(f"flow {flow.name} v{flow.version} · language {args.lang or flow.default_language}"
              f" · caller {args.caller}" + (f" · now {now.isoformat()}" if now else ""))
    http = AiohttpClient()
    try:
        result = await simulate(
            name, flows, prompts, keys, language=args.lang, caller=args.caller, http=http,
            now=now, ask=_ask if args.interactive else None,
            echo=None if args.json else _echo, accept_handoff=args.accept_handoff,
            actions=actions)
    except ValueError as exc:
        print(f"ivr simulate: {exc}", file=sys.stderr)
        return 2
    finally:
        await http.close()
    if args.json:
        print(result.to_json())
    return 1 if result.outcome == "error" else 0


OpenActions = Callable[[], AbstractAsyncContextManager[Mapping[str, Action]]]


def main(args: argparse.Namespace, actions: Mapping[str, Action] | None = None,
         open_actions: OpenActions | None = None) -> int:
    """Run the command. `actions`: the implementations action nodes call, or `open_actions`,
    which opens them (and their database) inside the simulation's event loop; without either,
    every action node takes its fallback."""
    try:
        return asyncio.run(_with_actions(args, actions, open_actions))
    except KeyboardInterrupt:
        return 130


async def _with_actions(args: argparse.Namespace, actions: Mapping[str, Action] | None,
                        open_actions: OpenActions | None) -> int:
    if open_actions is None:
        return await _run(args, actions)
    async with open_actions() as opened:
        return await _run(args, opened)
