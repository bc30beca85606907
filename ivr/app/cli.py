"""The `ivr` command: serve, run (Asterisk + app), asterisk, call, load, prompts, check, db,
mailbox, user, models."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from . import paths

if TYPE_CHECKING:
    from ..flow.actions import Action

log = logging.getLogger("ivr")


async def _serve() -> int:
    from .config import ConfigError, load_config
    from .logs import setup_logging
    from .memory_watch import keep_heap_trimmed, watch_memory
    from .service import IvrService
    from .web import build_app

    try:
        config = load_config()
    except ConfigError as exc:
        print(f"ivr: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_format)
    service = IvrService(config)
    await service.start()
    runner = web.AppRunner(build_app(service))
    await runner.setup()
    await web.TCPSite(runner, config.http_host, config.http_port).start()
    log.info("ready: call sip:100@127.0.0.1 ; status on http://%s:%d/health",
             config.http_host, config.http_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    watch_memory(os.environ, loop)
    trimming = keep_heap_trimmed(os.environ)
    await stop.wait()
    log.info("stopping")
    if trimming is not None:
        trimming.cancel()
    await runner.cleanup()
    await service.stop()
    return 0


def cmd_serve(_: argparse.Namespace) -> int:
    return asyncio.run(_serve())


def cmd_run(_: argparse.Namespace) -> int:
    """Everything up for a person to call: prompts, Asterisk, the app; Ctrl-C stops both."""
    from ..media.prompts import PromptLibrary
    from ..media.render import build
    from ..services.accounts import init_database
    from . import asterisk
    from .config import database_url
    from .user_cli import first_admin

    build(PromptLibrary(paths.project_root() / "prompts"))
    asyncio.run(init_database(database_url(), demo=True))
    password_file = paths.state_dir() / "admin-password"
    if asyncio.run(first_admin(database_url(), password_file)):
        print(f"web console and API: user admin, password in {password_file} "
              "(ivr user passwd admin to change it)", flush=True)
    runtime = asterisk.up()
    print(f"Asterisk ({runtime.mode}) is up; SIP on {runtime.sip_uri_host}", flush=True)
    try:
        return asyncio.run(_serve())
    except KeyboardInterrupt:
        return 0
    finally:
        asterisk.down()


def cmd_asterisk(args: argparse.Namespace) -> int:
    from . import asterisk_cli

    return asterisk_cli.cli(args.rest)


def cmd_prompts(args: argparse.Namespace) -> int:
    from ..media.prompts import PromptError, PromptLibrary
    from ..media.render import RenderError, build

    try:
        library = PromptLibrary(Path(args.dir) if args.dir else paths.project_root() / "prompts")
        result = build(library, force=args.force)
    except (PromptError, RenderError) as exc:
        print(f"ivr prompts: {exc}", file=sys.stderr)
        return 1
    print(result.summary())
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from ..flow.check_cli import run_check
    from ..flow.loader import FlowError, FlowErrorDetail
    from ..media.prompts import PromptLibrary
    from ..services.accounts import ACCOUNT_ACTION_SPECS
    from ..services.acd.config import EMPTY
    from ..services.acd.config_reader import load_acd_config
    from ..services.outbound.config_campaigns import CAMPAIGNS_FILE, load_campaigns
    from .flows import QUEUES_FILE, announcement_findings

    prompts_dir = paths.project_root() / "prompts"
    targets = [Path(p) for p in args.paths] or [paths.project_root() / "flows"]
    # The queues beside the flows, as the service reads them: none means no queue exists.
    queue_files = {t / QUEUES_FILE if t.is_dir() else t.parent / QUEUES_FILE for t in targets}
    targets = [t for t in targets if t.is_dir() or t.name != QUEUES_FILE]
    findings: list[FlowErrorDetail] = []
    queues: dict[str, frozenset[str]] | None = {}
    acd_configs = []
    for file in sorted(f for f in queue_files if f.is_file()):
        try:
            config = load_acd_config(file)
        except FlowError as exc:
            findings += exc.details
            queues = None  # queue nodes cannot be judged against a broken queue file
            continue
        acd_configs.append(config)
        findings += [*config.warnings, *announcement_findings(config, file, prompts_dir)]
        if queues is not None:
            queues.update({name: q.outcomes() for name, q in config.queues.items()})
    campaign_files = {t / CAMPAIGNS_FILE if t.is_dir() else t.parent / CAMPAIGNS_FILE
                      for t in targets}
    targets = [t for t in targets if t.is_dir() or t.name != CAMPAIGNS_FILE]
    # Campaigns name queues: judged against the one queues file (none: no queue exists).
    acd = None if queues is None or len(acd_configs) > 1 else (
        acd_configs[0] if acd_configs else EMPTY)

    def campaign_findings(flows: Collection[str]) -> list[FlowErrorDetail]:
        """campaigns.yaml against the queues and flows beside it."""
        out: list[FlowErrorDetail] = []
        library = PromptLibrary(prompts_dir) if prompts_dir.is_dir() else None
        for file in sorted(f for f in campaign_files if f.is_file()):
            try:
                load_campaigns(file, acd, flows, library)
            except FlowError as exc:
                out += exc.details
        return out

    return run_check(targets, prompts_dir, actions=ACCOUNT_ACTION_SPECS,
                     queues=queues, data_findings=findings, flow_data_check=campaign_findings)


def cmd_db(args: argparse.Namespace) -> int:
    from ..services.accounts import DEMO_ACCOUNTS, init_database
    from ..services.db import DatabaseError, redact_url
    from ..services.voicemail.mailboxes import DEMO_MAILBOXES
    from .config import database_url

    url = args.url or database_url()
    try:
        done = asyncio.run(init_database(url, demo=args.demo, reset=args.reset))
    except (DatabaseError, OSError) as exc:
        print(f"ivr db: {exc}", file=sys.stderr)
        return 1
    print(f"{redact_url(url)}: migrations applied now: {done['migrations'] or 'none'}")
    if args.demo or args.reset:
        print(f"demo accounts created now: {done['accounts'] or 'none (already there)'}")
        for demo in DEMO_ACCOUNTS:
            state = " (locked)" if demo.locked else ""
            phones = f", caller {', '.join(demo.phones)}" if demo.phones else ""
            print(f"  {demo.account_no}  PIN {demo.pin}  {demo.currency} {demo.balance}"
                  f"{phones}{state}")
        print(f"demo mailboxes created now: {done['mailboxes'] or 'none (already there)'}")
        for mailbox, number, pin in DEMO_MAILBOXES:
            print(f"  {mailbox}  number {number}  PIN {pin}  (call 102)")
    return 0


def cmd_mailbox(args: argparse.Namespace) -> int:
    from ..services.db import DatabaseError, connect
    from ..services.voicemail.mailboxes import MailboxStore
    from .config import database_url

    if args.action != "list" and not args.name:
        print(f"ivr mailbox {args.action}: name the mailbox", file=sys.stderr)
        return 2
    pin = sys.stdin.readline().strip() if args.pin == "-" else args.pin

    async def run() -> int:
        async with await connect(args.url or database_url()) as db:
            await db.migrate()
            store = MailboxStore(db)
            if args.action == "set":
                box = await store.set(args.name, number=args.number, pin=pin)
                print(f"mailbox {box.mailbox}: number {box.number}"
                      f"{', new PIN (unlocked)' if pin else ''}")
            elif args.action == "unlock":
                if not await store.unlock(args.name):
                    print(f"ivr mailbox: no mailbox {args.name}", file=sys.stderr)
                    return 1
                print(f"mailbox {args.name}: unlocked")
            else:
                for box in await store.list():
                    lock = f", locked until {box.locked_until:%Y-%m-%d %H:%M} UTC" \
                        if box.locked_until else ""
                    print(f"{box.mailbox}  number {box.number}  "
                          f"failed PINs {box.failed_attempts}{lock}")
        return 0

    try:
        return asyncio.run(run())
    except (ValueError, DatabaseError, OSError) as exc:
        print(f"ivr mailbox: {exc}", file=sys.stderr)
        return 1


def cmd_graph(args: argparse.Namespace) -> int:
    from ..flow.graph import render
    from ..flow.library import load_folder
    from ..flow.loader import FlowError, load_flow

    target = Path(args.flow)
    try:
        if target.exists():
            flow = load_flow(target)
        else:
            flows = load_folder(Path(args.flows_dir), None).flows
            if args.flow not in flows:
                print(f"ivr graph: no flow named {args.flow!r} in {args.flows_dir}",
                      file=sys.stderr)
                return 2
            flow = flows[args.flow]
    except FlowError as exc:
        print(exc, file=sys.stderr)
        return 1
    output = Path(args.output or f"{flow.name}.svg")
    try:
        render(flow, output)
    except RuntimeError as exc:
        print(f"ivr graph: {exc}", file=sys.stderr)
        return 2
    print(f"{output}: {flow.name} v{flow.version}, {len(flow.nodes)} nodes")
    return 0


@contextlib.asynccontextmanager
async def _account_actions() -> AsyncIterator[Mapping[str, Action]]:
    """The real accounts service on the configured database (the demo one by default)."""
    from ..services.accounts import account_actions, open_account_store
    from ..services.db import connect
    from .config import database_url

    db = await connect(database_url())
    try:
        await db.migrate()
        store = open_account_store(db, os.environ.get("IVR_ACCOUNTS", ""),
                                   token=os.environ.get("IVR_ACCOUNTS_TOKEN") or None)
        try:
            yield account_actions(store)
        finally:
            await store.close()
    finally:
        await db.close()


def cmd_simulate(args: argparse.Namespace) -> int:
    from ..flow import simulate_cli

    return simulate_cli.main(args, open_actions=_account_actions)


def cmd_models(args: argparse.Namespace) -> int:
    from ..media.speech import vosk_models as vm
    from .config import vosk_setting

    if args.action != "check":
        print(vm.catalog_text(vosk_setting))
        return 0
    if not args.path:
        print("ivr models check: give a model folder or its .zip", file=sys.stderr)
        return 2
    path = Path(args.path)
    if path.is_file():
        report = vm.check_zip(path, args.sha256)
    else:
        report = vm.check_dir(path)
    print("\n".join(vm.report_text(report)))
    return 0 if report.ok else 1


def cmd_call(args: argparse.Namespace) -> int:
    from ..testing import call_cli

    return call_cli.main(args)


def cmd_test(args: argparse.Namespace) -> int:
    from ..testing import scenario_cli

    return scenario_cli.main(args)


def cmd_load(args: argparse.Namespace) -> int:
    from ..testing import load_cli

    return load_cli.main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ivr", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the IVR app against a configured Asterisk"
                   ).set_defaults(func=cmd_serve)
    sub.add_parser("run", help="Asterisk + the app + demo flow, ready for a call"
                   ).set_defaults(func=cmd_run)
    p = sub.add_parser("asterisk", help="provision and control the project's Asterisk 22")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="up | down | status | cli CMD")
    p.set_defaults(func=cmd_asterisk)
    p = sub.add_parser("prompts", help="render missing prompts (espeak-ng)")
    p.add_argument("action", choices=["build"])
    p.add_argument("--force", action="store_true", help="re-render prompts we rendered before")
    p.add_argument("--dir", help="prompts folder (default: the project's)")
    p.set_defaults(func=cmd_prompts)
    p = sub.add_parser("check", help="validate flow files")
    p.add_argument("paths", nargs="*")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("db", help="create or migrate the database; seed the demo accounts")
    p.add_argument("action", choices=["init"])
    p.add_argument("--demo", action="store_true", help="add the demo accounts (idempotent)")
    p.add_argument("--reset", action="store_true", help="re-create the demo accounts")
    p.add_argument("--url", help="database URL (default: IVR_DATABASE_URL or the state folder)")
    p.set_defaults(func=cmd_db)
    p = sub.add_parser("mailbox", help="mailboxes callers dial into (extension 102)")
    p.add_argument("action", choices=["set", "unlock", "list"])
    p.add_argument("name", nargs="?", help="the mailbox, as flows name it (e.g. general)")
    p.add_argument("--number", help="the digits callers key for it (1-10)")
    p.add_argument("--pin", help="4-10 digits; '-' reads it from stdin (keeps it out of the "
                   "shell's history and the process list)")
    p.add_argument("--url", help="database URL (default: IVR_DATABASE_URL or the state folder)")
    p.set_defaults(func=cmd_mailbox)
    from . import user_cli

    user_cli.add_parser(sub)
    from . import campaign_cli

    campaign_cli.add_parser(sub)
    campaign_cli.add_national_parser(sub)
    p = sub.add_parser("graph", help="draw a flow (Graphviz): nodes, keys, fallbacks")
    p.add_argument("flow", help="a flow file, or the name of a flow in --flows-dir")
    p.add_argument("-o", "--output", help="flow.svg (default <name>.svg), .png, .pdf or .dot")
    p.add_argument("--flows-dir", default=str(paths.project_root() / "flows"))
    p.set_defaults(func=cmd_graph)
    p = sub.add_parser("simulate", help="walk a call through a flow without telephony")
    from ..flow import simulate_cli

    simulate_cli.build_parser(p, paths.project_root())
    p.set_defaults(func=cmd_simulate)
    p = sub.add_parser("models", help="Vosk models: which, where from; check a downloaded one")
    p.add_argument("action", nargs="?", choices=["list", "check"], default="list")
    p.add_argument("path", nargs="?", help="a model folder, or its .zip (check)")
    p.add_argument("--sha256", help="the zip's expected SHA-256 (check)")
    p.set_defaults(func=cmd_models)
    p = sub.add_parser("call", help="place a real SIP call with the test softphone")
    with contextlib.suppress(ImportError):
        from ..testing import call_cli

        call_cli.build_parser(p)
    p.set_defaults(func=cmd_call)
    p = sub.add_parser("test", help="run scenario files, headless or over real SIP")
    with contextlib.suppress(ImportError):
        from ..testing import scenario_cli

        scenario_cli.build_parser(p, paths.project_root())
    p.set_defaults(func=cmd_test)
    p = sub.add_parser("load", help="many SIPp callers at once, measured from a packet capture")
    from ..testing import load_cli

    load_cli.build_parser(p, paths.project_root())
    p.set_defaults(func=cmd_load)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
