"""What the end-to-end test modules share, so none of them imports another: the rendered
prompts and how long they last, what a caller heard, a call's trace read back, the key scripts
through the bank demo, what a side of a call says, and the app's HTTP API and agent phones.

Scripts wait into a prompt and key with barge-in, so timings come from the rendered prompts
(`seconds`), not from numbers that would go stale when a prompt is rendered again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from ivr.app import asterisk
from ivr.app.paths import project_root
from ivr.services.accounts import SqlAccountStore
from ivr.services.db import connect
from ivr.testing.audio import HEARD_WHOLE, heard_sequence, load_wav, save_wav
from ivr.testing.phonespec import asterisk_host
from ivr.testing.softphone import AnsweringPhone, start_answerer

from .running_app import RunningApp

PROMPTS = project_root() / "prompts"
"""The rendered prompts, a folder per language."""
FSDD = project_root() / "tests" / "data" / "fsdd"
"""Recorded human speech (a CC BY-SA sample, see tests/data/fsdd/README.md)."""


def seconds(prompt: str, language: str = "en") -> float:
    """How long the rendered `prompt` plays, in seconds."""
    return len(load_wav(PROMPTS / language / f"{prompt}.wav")) / 8000


# --- the demo flow: what the caller heard ---------------------------------------------------

LISTENED_FOR = ["welcome", "main-menu", "you-pressed", "no-input", "invalid", "goodbye",
                *[f"digit-{d}" for d in range(10)]]
"""Every prompt the demo flow can play, in English."""


def heard(recording: Path) -> list[str]:
    """The demo prompts heard whole in what the caller's phone received, in order.

    Over loopback a prompt heard whole scores about 0.99. A digit said inside the menu prompt
    matches there too, and heard_sequence leaves it out as part of the menu.
    """
    sequence = heard_sequence(recording, {p: PROMPTS / "en" / f"{p}.wav" for p in LISTENED_FOR},
                              threshold=HEARD_WHOLE)
    return [name for name, _ in sequence]


# --- callers and their traces ---------------------------------------------------------------


def new_caller() -> str:
    """A caller id no other call of the session has, to find this call's trace by."""
    return "555" + str(uuid.uuid4().int)[:7]


def events(trace: list[dict[str, object]], name: str) -> list[dict[str, object]]:
    return [e for e in trace if e["event"] == name]


def played(trace: list[dict[str, object]]) -> list[object]:
    """The prompts the app started to play, in order (heard whole or not)."""
    return [e["prompt"] for e in events(trace, "play")]


def actions(trace: list[dict[str, object]]) -> list[tuple[object, object]]:
    """(action, outcome) of each backend action the flow ran."""
    return [(e["action"], e["outcome"]) for e in events(trace, "action")]


# --- the bank demo (extension 100), by key ---------------------------------------------------

STEP = "wait 1.5"
"""How far into the prompt that asks for it each key is sent."""
TO_AGENT = "wait 1.5; dtmf 2; wait 1.5; dtmf 3"
"""English, then 3 (agent) in the bank's main menu, each key 1.5 s into its prompt."""
TO_VOICEMAIL = "wait 1.5; dtmf 2; wait 1.5; dtmf 4"
"""English, then 4 (leave a message) in the bank's main menu."""


def add_account(app: RunningApp, account: str, pin: str, currency: str, balance: str) -> None:
    """An account of the test's own in the app's database (the demo PINs are substrings of
    their account numbers, which would make 'the PIN appears nowhere' untestable)."""
    async def create() -> None:
        async with await connect(f"sqlite:///{app.database()}") as db:
            store = SqlAccountStore(db)
            if not await store.exists(account):
                await store.create_account(account, pin, currency=currency,
                                           balance=Decimal(balance))
    asyncio.run(create())


# --- what a side of the call says -------------------------------------------------------------


def spoken(tmp_path: Path, prompt: str = "branch-location") -> tuple[Path, np.ndarray]:
    """What the caller says: a sentence twice with a pause."""
    one = load_wav(PROMPTS / "en" / f"{prompt}.wav")
    voice = np.concatenate([one, np.zeros(4000), one])
    path = tmp_path / "said.wav"
    save_wav(path, voice)
    return path, one


def voice(tmp_path: Path, language: str, prompt: str, repeats: int = 8) -> Path:
    """A prompt said again and again with pauses: what one side 'says' during the call."""
    one = load_wav(PROMPTS / language / f"{prompt}.wav")
    gap = np.zeros(4000)
    out = tmp_path / f"voice-{language}-{prompt}.wav"
    save_wav(out, np.concatenate([np.concatenate([one, gap]) for _ in range(repeats)]))
    return out


# --- the app's HTTP API and the agents' phones -------------------------------------------------


def post(app: RunningApp, path: str, body: dict[str, Any] | None = None) -> Any:
    with app.open(path, "POST", json.dumps(body or {}).encode()) as resp:
        return json.loads(resp.read())


def wait_for(check: Callable[[], object], timeout: float, what: str) -> None:
    """Poll `check` until it is true; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def cancel_active_callbacks(app: RunningApp) -> None:
    """A message left in a queue's voicemail is a callback of that queue; cancelled, it cannot
    ring the next test's agent."""
    for cb in app.get("/callbacks?state=active"):
        post(app, f"/callbacks/{cb['id']}/cancel")


async def agent_phone(app: RunningApp, agent: str, script: str = "", *,
                      record: Path | None = None, answer_after: float = 0.0,
                      timeout: float = 60.0) -> AnsweringPhone:
    """A registered agent softphone that auto-answers one call; returns when registered."""
    phone = await start_answerer(script, record=record, timeout=timeout,
                                 answer_after=answer_after,
                                 register=f"sip:{agent}@{asterisk_host()}", username=agent,
                                 password=asterisk.agent_credentials()[agent])
    deadline = time.monotonic() + 10
    while app.ari(f"/endpoints/PJSIP/{agent}")["state"] != "online":
        assert time.monotonic() < deadline, f"{agent} never registered"
        await asyncio.sleep(0.1)
    return phone


async def place_of(app: RunningApp, caller: str, state: str, timeout: float = 20.0,
                   **place: object) -> dict[str, Any]:
    """Poll GET /calls until the call from `caller` is in `state` (in_queue, ringing_agent,
    with_agent, leaving_message...) with these `place` fields; that entry of /calls."""
    deadline = time.monotonic() + timeout
    seen: list[object] = []
    while True:
        for call in app.get("/calls"):
            if call["caller"] != caller:
                continue
            if not seen or seen[-1] != (call["state"], call["place"]):
                seen.append((call["state"], call["place"]))
            if call["state"] == state and all(call["place"].get(k) == v
                                              for k, v in place.items()):
                return dict(call)
        assert time.monotonic() < deadline, f"never {state} {place}; /calls showed {seen}"
        await asyncio.sleep(0.1)


def places(trace: list[dict[str, object]]) -> list[object]:
    """The kinds of place the caller went through, in order (the trace's `place` events)."""
    return [e["place"] for e in events(trace, "place")]


def expect_events(trace: list[dict[str, object]], *, happen: Sequence[str],
                  never: Sequence[str] = ()) -> None:
    """As Asterisk's testsuite states a scenario: these trace events must happen, in this
    order (others may come between), and these must not happen at all."""
    names = [str(e["event"]) for e in trace]
    at = 0
    for name in happen:
        assert name in names[at:], f"{name!r} never came after {happen[:happen.index(name)]}; " \
                                   f"the trace had {names}"
        at = names.index(name, at) + 1
    present = sorted(set(never) & set(names))
    assert not present, f"{present} must not happen; the trace had {names}"


@contextlib.contextmanager
def restarted_with(app: RunningApp, files: Mapping[str, str],
                   env: dict[str, str]) -> Iterator[RunningApp]:
    """The app restarted with these files of its flows folder (written in order) and `env`
    added; afterwards the originals back in the reverse order and their reload waited for.

    A module with queues of its own writes queues.yaml first, then a campaigns.yaml that fits
    them (the demo's campaigns name queues it does not have: the app would refuse to start).
    Restored campaigns first, the demo's campaigns with the module's queues are refused, so
    the one reload waited for is of both demo files together."""
    paths = {app.flows_dir / name: text for name, text in files.items()}
    originals = {path: path.read_text() for path in paths}
    for path, text in paths.items():
        path.write_text(text)
    assert app.restart is not None
    app.restart(env)
    try:
        yield app
    finally:
        reloads = app.get("/health")["flows"]["reloads"]
        for path, text in reversed(originals.items()):
            path.write_text(text)
        wait_for(lambda: app.get("/health")["flows"]["reloads"] != reloads, 10,
                 "the flows folder not restored")


def add_user(app: RunningApp, user: str, password: str, *role: str) -> str:
    """A console user added with `ivr user add` as an operator would (`role`: its options,
    e.g. "--role", "agent", "--agent", "agent1002")."""
    subprocess.run([sys.executable, "-m", "ivr.app.cli", "user", "add", user, *role,
                    "--password", "-", "--url", f"sqlite:///{app.database()}"],
                   input=password, text=True, check=True, capture_output=True)
    return user
