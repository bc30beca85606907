"""Asterisk's AMD() on labelled greetings: accuracy, false positives, time to verdict, the beep.

    flock /tmp/ivr-asterisk.lock env IVR_ASTERISK_INSTANCE=0 .venv/bin/python bench/amd.py

Every greeting of bench/amd_greetings.py is a call made the way the outbound dialler makes one,
on the project's real Asterisk: POST /channels/create (a Local channel whose far end,
bench-amd-callee, answers and plays the greeting; ulaw, as a phone line), /dial, and on the
answer /continue into ivr-outbound-amd, whose AMD() sends it back into Stasis with the verdict.
Each configuration is AMD()'s arguments in IVR_AMD_PARAMS ("" is amd.conf as shipped); all
run in the one Asterisk, interleaved. For one of them (--beep-config) a machine's call goes on
to the beep extension and the message is played when it comes back: when that message starts is
measured against the end of the beep. Times come from Asterisk's own event timestamps.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import sys
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from amd_greetings import OUT, Greeting, load

from ivr.app import asterisk
from ivr.ari.client import basic_authorization

APP = "ivr"
# Asterisk's sample amd.conf, as AMD()'s positional arguments: initial silence, greeting, after
# greeting silence, total analysis time, min word length, between words silence, max words,
# silence threshold, max word length.
SAMPLE = "2500,1500,800,5000,100,50,2,256,5000"
CONFIGS = {"default": SAMPLE, "tuned": ""}
SEEN_AS = "/tmp/ivr-amd-bench"  # where bench-amd-callee plays from, as Asterisk sees it


@dataclass
class Trial:
    """One greeting through one configuration, and what came of it."""

    config: str
    greeting: int
    label: str
    kind: str
    status: str = ""
    cause: str = ""
    verdict_s: float | None = None  # from the answer
    after_speech_s: float | None = None  # from the end of the speech heard before the verdict
    beep_how: str = ""
    message_s: float | None = None  # message start minus end of beep
    error: str = ""


def stamp(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(event["timestamp"])).timestamp()


class Ari:
    """The REST calls and one event reader routing by channel id to per-trial queues."""

    def __init__(self, url: str, user: str, password: str) -> None:
        self.url = url.rstrip("/") + "/ari"
        self.http = aiohttp.ClientSession(
            headers={"Authorization": basic_authorization(user, password)})
        self.queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.reader: asyncio.Task[None] | None = None
        self.dial_retries = 0

    async def start(self) -> None:
        ws_url = self.url.replace("http", "ws", 1) + f"/events?app={APP}&subscribeAll=false"
        ws = await self.http.ws_connect(ws_url)
        self.reader = asyncio.create_task(self._read(ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            event = json.loads(msg.data)
            cid = (event.get("channel") or event.get("peer") or {}).get("id", "")
            if not cid and "playback" in event:
                cid = str(event["playback"].get("target_uri", "")).removeprefix("channel:")
            queue = self.queues.get(cid)
            if queue is not None:
                queue.put_nowait(event)

    async def post(self, path: str, body: dict[str, Any] | None = None, **params: str | int
                   ) -> int:
        async with self.http.post(f"{self.url}/{path}", params=params, json=body) as r:
            if r.status >= 300:
                raise RuntimeError(f"POST {path}: {r.status} {await r.text()}")
            return r.status

    async def hangup(self, cid: str) -> None:
        async with self.http.delete(f"{self.url}/channels/{cid}"):
            pass

    async def close(self) -> None:
        if self.reader:
            self.reader.cancel()
        await self.http.close()


async def next_event(q: asyncio.Queue[dict[str, Any]], *types: str, deadline: float = 30.0
                     ) -> dict[str, Any]:
    """The next event of one of these types; a ChannelDestroyed ends the wait early."""
    while True:
        event = await asyncio.wait_for(q.get(), deadline)
        if event["type"] in types or event["type"] == "ChannelDestroyed":
            return event
        if event["type"] == "Dial" and event.get("dialstatus") not in ("", "ANSWER", None):
            return event


def answer(ev: dict[str, Any]) -> bool:
    return ev.get("dialstatus") == "ANSWER" or (
        ev["type"] == "ChannelStateChange" and ev["channel"].get("state") == "Up")


async def run_trial(ari: Ari, g: Greeting, config: str, params: str, beep: bool) -> Trial:
    t = Trial(config, g.id, g.label, g.kind)
    cid = f"amd-{config}-{g.id}-{uuid.uuid4().hex[:6]}"
    q: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    ari.queues[cid] = q  # before the POST: events can come before its answer
    try:
        await ari.post("channels/create", {"variables": {"IVR_AMD_PARAMS": params}},
                       endpoint=f"Local/{g.id}@bench-amd-callee/n", app=APP,
                       appArgs="bench-amd", channelId=cid, formats="ulaw")
        for attempt in range(50):  # create answers before the channel is in Stasis: 409
            try:
                await ari.post(f"channels/{cid}/dial", timeout=10)
                break
            except RuntimeError as e:
                if " 409 " not in str(e) or attempt == 49:
                    raise
                ari.dial_retries += 1
                await asyncio.sleep(0.01)
        ev = await next_event(q, "Dial", "ChannelStateChange")
        while not answer(ev):  # Dial ANSWER or the state Up, whichever comes first
            if ev["type"] == "ChannelDestroyed" or ev.get("dialstatus"):
                break
            ev = await next_event(q, "Dial", "ChannelStateChange")
        if not answer(ev):
            raise RuntimeError(f"not answered: {ev.get('dialstatus') or ev.get('cause_txt')}")
        answered = stamp(ev)
        await ari.post(f"channels/{cid}/continue", context="ivr-outbound-amd", extension="s",
                       priority=1)
        ev = await next_event(q, "ChannelVarset")
        while ev["type"] == "ChannelVarset" and ev.get("variable") != "AMDSTATUS":
            ev = await next_event(q, "ChannelVarset")
        t.verdict_s = round(stamp(ev) - answered, 3)  # AMD() sets it as it ends
        t.status = str(ev.get("value", "")) if ev["type"] == "ChannelVarset" else "GONE"
        ev = await next_event(q, "StasisStart")
        if ev["type"] == "StasisStart":
            _, t.status, t.cause = (ev["args"] + ["", "", ""])[:3]
        heard = [end for _, end in g.speech if end <= t.verdict_s]
        if heard:
            t.after_speech_s = round(t.verdict_s - heard[-1], 3)
        if ev["type"] == "StasisStart" and beep and t.status == "MACHINE" and g.beep:
            await ari.post(f"channels/{cid}/continue", context="ivr-outbound-amd",
                           extension="beep", priority=1)
            ev = await next_event(q, "StasisStart")
            if ev["type"] == "StasisStart":
                t.beep_how = ev["args"][2] if len(ev["args"]) > 2 else ""
                await ari.post(f"channels/{cid}/play", media="sound:hello-world")
                ev = await next_event(q, "PlaybackStarted")
                if ev["type"] == "PlaybackStarted":
                    t.message_s = round(stamp(ev) - answered - g.beep[1], 3)
    except (RuntimeError, TimeoutError, aiohttp.ClientError) as e:
        t.error = str(e) or type(e).__name__
    finally:
        await ari.hangup(cid)
        ari.queues.pop(cid, None)
    return t


async def run_all(runtime: asterisk.AsteriskRuntime, greetings: list[Greeting],
                  configs: dict[str, str], beep_config: str, jobs: int) -> list[Trial]:
    ari = Ari(runtime.ari_url, runtime.ari_username, runtime.ari_password)
    await ari.start()
    gate = asyncio.Semaphore(jobs)
    work = [(g, name) for g in greetings for name in configs]
    random.Random(16).shuffle(work)  # configurations interleaved: same load for each
    done: list[Trial] = []

    async def one(g: Greeting, name: str) -> None:
        async with gate:
            done.append(await run_trial(ari, g, name, configs[name], name == beep_config))
            if len(done) % 50 == 0:
                print(f"  {len(done)}/{len(work)}", file=sys.stderr)

    try:
        await asyncio.gather(*(one(g, name) for g, name in work))
    finally:
        print(f"dial answered 409 (not yet in Stasis) and was tried again: {ari.dial_retries}"
              " times", file=sys.stderr)
        await ari.close()
    return done


def pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f} %" if d else "-"


def quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * len(xs) + 0.5) - 1))] if xs else float("nan")


def report(trials: list[Trial], configs: dict[str, str]) -> str:
    lines = ["| config | AMD() arguments | accuracy | humans called MACHINE | machines called "
             "MACHINE | machines called HUMAN | NOTSURE (humans / machines) | human verdict from "
             "answer, median / p95 | after the human's speech, median / p95 | machine verdict, "
             "median | errors |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, params in configs.items():
        mine = [t for t in trials if t.config == name and not t.error]
        hum = [t for t in mine if t.label == "human"]
        mac = [t for t in mine if t.label == "machine"]
        right = sum(t.status == t.label.upper() for t in mine)
        fp = sum(t.status == "MACHINE" for t in hum)
        fn = sum(t.status == "HUMAN" for t in mac)
        ns_h, ns_m = (sum(t.status == "NOTSURE" for t in x) for x in (hum, mac))
        v = [t.verdict_s for t in hum if t.status == "HUMAN" and t.verdict_s is not None]
        a = [t.after_speech_s for t in hum if t.status == "HUMAN" and t.after_speech_s is not None]
        found = sum(t.status == "MACHINE" for t in mac)
        m = [t.verdict_s for t in mac if t.status == "MACHINE" and t.verdict_s is not None]
        errors = sum(1 for t in trials if t.config == name and t.error)
        lines.append(
            f"| {name} | {params or 'amd.conf'} | {pct(right, len(mine))} | {fp}/{len(hum)} "
            f"({pct(fp, len(hum))}) | {pct(found, len(mac))} | {fn}/{len(mac)} "
            f"({pct(fn, len(mac))}) | {pct(ns_h, len(hum))}"
            f" / {pct(ns_m, len(mac))} | {quantile(v, .5):.2f} / {quantile(v, .95):.2f} s | "
            f"{quantile(a, .5):.2f} / {quantile(a, .95):.2f} s | {quantile(m, .5):.2f} s | "
            f"{errors} |")
    lines.append("")
    for name in configs:
        for label in ("human", "machine"):
            causes = Counter(f"{t.status} {t.cause.split('-')[0]}".strip() for t in trials
                             if t.config == name and t.label == label and not t.error)
            wrong = Counter(t.kind for t in trials if t.config == name and t.label == label
                            and t.status not in (label.upper(), "") and not t.error)
            lines.append(f"- {name}, {label}s: " + ", ".join(
                f"{k} {n}" for k, n in causes.most_common()) + (
                f"; wrong or unsure by kind: {dict(wrong)}" if wrong else ""))
    return "\n".join(lines)


def beep_report(trials: list[Trial], greetings: dict[int, Greeting], beep_config: str) -> str:
    mine = [t for t in trials if t.config == beep_config and t.message_s is not None]
    if not mine:
        return f"(no machine reached the beep wait with {beep_config})"
    lines = ["| beep | calls | how it was found | message start after the beep's end: "
             "median / p95 / min / max | started before the beep ended |",
             "|---|---:|---|---:|---:|"]
    for title, one_k in (("1 kHz", True), ("other (440-1400 Hz)", False)):
        rows = [t for t in mine if (beep_hz(greetings[t.greeting]) == 1000) == one_k]
        xs = [t.message_s for t in rows if t.message_s is not None]
        if not xs:
            continue
        how = Counter(t.beep_how for t in rows)
        early = sum(x < 0 for x in xs)
        lines.append(f"| {title} | {len(rows)} | {', '.join(f'{k} {n}' for k, n in how.items())} "
                     f"| {quantile(xs, .5):.2f} / {quantile(xs, .95):.2f} / {min(xs):.2f} / "
                     f"{max(xs):.2f} s | {early} |")
    return "\n".join(lines)


def beep_hz(g: Greeting) -> int:
    return g.beep[2] if g.beep else 0


def stage(greetings: Path) -> None:
    """Copy the greetings where bench-amd-callee plays them from (inside the chroot)."""
    st = asterisk.status()
    root = Path(str(st["root"])) if st["mode"] == "chroot" else Path("/")
    target = root / SEEN_AS.lstrip("/")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    target.chmod(0o755)
    for wav in greetings.glob("*.wav"):
        shutil.copyfile(wav, target / wav.name)
        (target / wav.name).chmod(0o644)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--greetings", type=Path, default=OUT,
                        help="made by bench/amd_greetings.py (default: the cache)")
    parser.add_argument("--config", action="append", metavar="NAME=ARGS",
                        help="AMD() arguments to try, '' for amd.conf (default: default=the "
                             "sample amd.conf's values, tuned=amd.conf)")
    parser.add_argument("--beep-config", default="tuned",
                        help="the configuration whose machines go on to the beep")
    parser.add_argument("--jobs", type=int, default=30, help="calls at once")
    parser.add_argument("--limit", type=int, help="only the first N of each kind")
    parser.add_argument("--json", type=Path, help="write every trial here")
    parser.add_argument("--keep-up", action="store_true", help="leave Asterisk running")
    args = parser.parse_args()
    configs = dict(c.split("=", 1) for c in args.config) if args.config else dict(CONFIGS)
    if not (args.greetings / "labels.json").exists():
        parser.error(f"no greetings in {args.greetings}: run bench/amd_greetings.py first")
    greetings = load(args.greetings)
    if args.limit:
        greetings = [g for g in greetings if g.id % 1000 < args.limit]
    runtime = asterisk.up()
    try:
        stage(args.greetings)
        trials = asyncio.run(run_all(runtime, greetings, configs, args.beep_config, args.jobs))
    finally:
        if not args.keep_up:
            asterisk.down()
    if args.json:
        args.json.write_text(json.dumps([asdict(t) for t in trials], indent=1) + "\n")
    by_id = {g.id: g for g in greetings}
    humans = sum(g.label == "human" for g in greetings)
    print(f"{humans} humans, {len(greetings) - humans} machines, {len(configs)} configurations\n")
    print(report(trials, configs))
    print()
    print(beep_report(trials, by_id, args.beep_config))
    for t in trials:
        if t.error:
            print(f"error: {t.config} {t.greeting}: {t.error}", file=sys.stderr)
    spread = [t.verdict_s for t in trials if t.verdict_s is not None]
    print(f"\nverdicts from {min(spread):.2f} to {max(spread):.2f} s after the answer; median "
          f"{statistics.median(spread):.2f} s" if spread else "")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
