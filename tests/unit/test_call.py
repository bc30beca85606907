"""One call (ivr/app/call.py) on the fake ARI, with the demo flow.

The flow is flows/demo.yaml (as dataclasses, see test_flow.demo_flow) with a 0.3 s menu
timeout; prompts are dummy files in a temporary folder; the fake plays each prompt for 30 ms
unless a test makes one longer. `CallHost` hands each new channel to the real CallSupervisor,
as IvrService does, with one flow built in code instead of a flow folder (IvrService itself is
covered by test_service.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr.app.call import Call, CallState, flow_outcome
from ivr.app.calls import CallSupervisor
from ivr.ari import AriClient, Event, StasisStart, channel_key
from ivr.flow.interpreter import FlowContext
from ivr.flow.model import (
    CollectNode,
    Escalation,
    Flow,
    HandoffNode,
    HangupNode,
    PlayNode,
)
from ivr.flow.runtime import DECLINED, TAKEN, Listen
from ivr.media.prompts import PromptLibrary
from ivr.services.acd.results import Left, QueueResult, Served, TransferredOut, UnknownQueue
from tests.fakeari import FakeAri
from tests.unit.test_flow import demo_flow, make_flow, says

ROOT = Path(__file__).resolve().parents[2]
MENU_TIMEOUT = 0.3


def media(prompt_id: str) -> str:
    return f"sound:ivr/en/{prompt_id}"


WELCOME, MENU, GOODBYE = media("welcome"), media("main-menu"), media("goodbye")


class DeafEars:
    """Ears that listen (so a speech menu does not ask for the keypad) and hear nothing:
    these tests are about keys and the channel; speech has its own (test_speech_ears.py)."""

    def __init__(self) -> None:
        self.requests: list[Listen] = []

    @contextlib.asynccontextmanager
    async def listen(self, call: Any, request: Listen, heard: Any) -> AsyncIterator[bool]:
        self.requests.append(request)
        yield True


class CallHost:
    """IvrService's call handling, and nothing else: the real CallSupervisor, one flow."""

    def __init__(self, client: AriClient, flow: Flow, prompts: PromptLibrary,
                 trace_dir: Path) -> None:
        self.client = client
        self.flow = flow
        self.ctx = FlowContext(flows={flow.name: flow})
        self.supervisor = CallSupervisor(client, prompts, trace_dir)
        self.ears = DeafEars()

    @property
    def calls(self) -> dict[str, Call]:
        return self.supervisor.calls

    @property
    def finished_calls(self) -> int:
        return self.supervisor.finished_calls

    async def start(self) -> None:
        self.client.on_unclaimed(self._on_unclaimed)
        await self.client.start(wait=5.0)

    async def stop(self) -> None:
        await self.supervisor.stop()
        await self.client.close()

    def _on_unclaimed(self, event: Event) -> None:
        if isinstance(event, StasisStart):
            self.supervisor.start(event.channel, self.flow, self.ctx, resumed=event.synthetic,
                                  ears=self.ears)

    def subscriptions(self) -> int:
        return len(self.client.router.subscribed_keys())


class Harness:
    def __init__(self, fake: FakeAri, service: CallHost) -> None:
        self.fake = fake
        self.service = service

    async def call(self, state: str = "Up") -> tuple[str, Call]:
        channel = self.fake.add_channel(state=state)
        await self.fake.emit_stasis_start(channel)
        call = await self.fake.wait_until(lambda: self.service.calls.get(channel.id))
        return channel.id, call

    async def ended(self, call: Call, timeout: float) -> float:
        """Wait for the call to be completely over; the seconds it took."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        await self.fake.wait_until(
            lambda: call.id not in self.service.calls and not self.tasks_of(call), timeout)
        return loop.time() - start

    @staticmethod
    def tasks_of(call: Call) -> list[asyncio.Task[Any]]:
        names = {f"pump-{call.id}", f"flow-{call.id}", f"call-{call.id}"}
        return [t for t in asyncio.all_tasks() if t.get_name() in names and not t.done()]

    def hangups(self, channel_id: str) -> int:
        return len(self.fake.requests_to("DELETE", f"/channels/{channel_id}"))

    def assert_released(self, call: Call) -> None:
        keys = self.service.client.router.subscribed_keys()
        assert channel_key(call.id) not in keys
        assert not [k for k in keys if k.startswith("playback:")]
        assert not self.tasks_of(call) and call.state is CallState.ENDED


def events(call: Call, name: str) -> list[dict[str, Any]]:
    return call.trace_log.events(name)


@pytest.fixture(autouse=True)
def quick_hangup(monkeypatch: pytest.MonkeyPatch) -> None:
    """The e2e tests check the grace before the IVR hangs up; here it would only slow tests."""
    monkeypatch.setattr("ivr.app.call.HANGUP_GRACE", 0.01)


@pytest.fixture
def prompts_dir(tmp_path: Path) -> Path:
    root = tmp_path / "prompts"
    (root / "en").mkdir(parents=True)
    manifest = (ROOT / "prompts" / "prompts.yaml").read_text(encoding="utf-8")
    (root / "prompts.yaml").write_text(manifest, encoding="utf-8")
    for prompt_id in yaml.safe_load(manifest):
        (root / "en" / f"{prompt_id}.wav").write_bytes(b"RIFF-dummy")
    return root


Start = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def start(tmp_path: Path, prompts_dir: Path) -> AsyncIterator[Start]:
    """start(menu_timeout=..., flow=..., **welcome_overrides) -> Harness: fake ARI + a host."""
    running: list[tuple[FakeAri, CallHost]] = []

    async def _start(menu_timeout: float = MENU_TIMEOUT, flow: Flow | None = None,
                     **welcome: Any) -> Harness:
        fake = FakeAri()
        await fake.start()
        host = CallHost(AriClient(fake.config()), flow or demo_flow(menu_timeout, **welcome),
                        PromptLibrary(prompts_dir), tmp_path / "traces")
        running.append((fake, host))
        await host.start()
        return Harness(fake, host)

    yield _start
    for fake, host in running:
        await host.stop()
        await fake.close()


async def test_caller_hangs_up_during_a_prompt(start: Start, tmp_path: Path) -> None:
    h = await start()
    h.fake.durations[MENU] = 5.0
    cid, call = await h.call()
    await h.fake.wait_for_playback(cid, MENU)
    requests_before = len(h.fake.requests)

    await h.fake.hangup_from_caller(cid)
    took = await h.ended(call, timeout=1.0)

    assert took < 1.0  # did not sit out the 5 s prompt
    after = h.fake.requests[requests_before:]
    assert not [r for r in after if r.method == "DELETE" and r.path.startswith("/channels/")]
    assert not [r for r in after if r.method == "POST"]  # nothing more was played either
    assert h.hangups(cid) == 0
    h.assert_released(call)
    last = call.trace_log.entries[-1]
    assert last["event"] == "end" and last["hangup_by"] == "caller"
    assert last["outcome"] == "abandoned" and last["path"] == ["welcome", "main_menu"]
    assert [e["by"] for e in events(call, "hangup")] == ["caller"]
    assert not events(call, "error") and not events(call, "choice")
    saved = (tmp_path / "traces" / f"{cid}.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(saved[-1])["event"] == "end"
    assert h.service.finished_calls == 1 and h.service.subscriptions() == 0


async def test_caller_hangs_up_while_the_menu_waits_for_a_key(start: Start) -> None:
    h = await start(menu_timeout=5.0)
    cid, call = await h.call()
    await h.fake.wait_until(lambda: call.state is CallState.WAITING_INPUT)
    await h.fake.hangup_from_caller(cid)
    took = await h.ended(call, timeout=1.0)

    assert took < 1.0  # did not sit out the 5 s menu timeout
    assert h.hangups(cid) == 0 and not events(call, "no_input")
    assert h.fake.played_media(cid) == [WELCOME, MENU]  # no no-input prompt after the hangup
    assert call.trace_log.entries[-1]["hangup_by"] == "caller"
    h.assert_released(call)


async def test_barge_in_stops_the_menu_prompt_and_reads_the_key_back(start: Start) -> None:
    h = await start()
    h.fake.durations[MENU] = 5.0
    cid, call = await h.call()
    menu_playback = await h.fake.wait_for_playback(cid, MENU)

    await h.fake.send_dtmf(cid, "2")
    took = await h.ended(call, timeout=2.0)

    assert took < 1.0  # the 5 s prompt was cut short
    assert [r.path for r in h.fake.requests_to("DELETE", "/playbacks/")] == [
        f"/playbacks/{menu_playback}"]
    assert h.fake.playbacks[menu_playback].state == "done"
    assert h.fake.played_media(cid) == [WELCOME, MENU, media("you-pressed"), media("digit-2"),
                                        GOODBYE]
    assert [e["prompt"] for e in events(call, "barge_in")] == ["main-menu"]
    assert [(e["key"], e["attempt"]) for e in events(call, "choice")] == [("2", 1)]
    assert not events(call, "no_input") and not events(call, "no_match")
    assert call.flow_state.variables == {"key": "2"}
    assert h.hangups(cid) == 1  # the flow's hangup node: once, by the app
    last = call.trace_log.entries[-1]
    assert (last["event"], last["hangup_by"], last["outcome"]) == ("end", "ivr", "completed")
    h.assert_released(call)


async def test_no_key_retries_then_says_goodbye_and_hangs_up(start: Start) -> None:
    h = await start()
    cid, call = await h.call(state="Ring")
    await h.ended(call, timeout=3.0)

    ours = [(r.method, r.path) for r in h.fake.requests if r.path.startswith(f"/channels/{cid}")]
    assert ours[0] == ("POST", f"/channels/{cid}/answer")  # a ringing channel: answered first
    assert ours[-1] == ("DELETE", f"/channels/{cid}")  # and hung up last, after the goodbye
    assert h.fake.played_media(cid) == [WELCOME, MENU, media("no-input"), MENU,
                                        media("no-input"), MENU, GOODBYE]
    assert [e["attempt"] for e in events(call, "no_input")] == [1, 2, 3]
    assert len(events(call, "attempts_exhausted")) == 1
    assert not events(call, "choice") and not events(call, "barge_in")
    assert h.hangups(cid) == 1
    assert call.trace_log.entries[-1]["hangup_by"] == "ivr"
    assert call.flow_state.path == ["welcome", "main_menu", "goodbye", "end"]
    h.assert_released(call)


async def test_wrong_key_is_no_match_then_the_menu_again(start: Start) -> None:
    h = await start()
    h.fake.durations[MENU] = 1.0
    cid, call = await h.call()
    await h.fake.wait_for_playback(cid, MENU)
    await h.fake.send_dtmf(cid, "9")
    await h.fake.wait_for_playback(cid, MENU, occurrence=2)
    await h.fake.send_dtmf(cid, "1")
    await h.ended(call, timeout=2.0)

    assert [(e["key"], e["attempt"]) for e in events(call, "no_match")] == [("9", 1)]
    assert [(e["key"], e["attempt"]) for e in events(call, "choice")] == [("1", 2)]
    assert not events(call, "no_input")
    played = h.fake.played_media(cid)
    assert played == [WELCOME, MENU, media("invalid"), MENU, media("you-pressed"),
                      media("digit-1"), GOODBYE]
    assert media("digit-9") not in played and media("no-input") not in played
    assert call.flow_state.variables == {"key": "1"}
    h.assert_released(call)


@pytest.mark.parametrize("welcome_barge_in", [True, False])
async def test_type_ahead_skips_the_menu_prompt(start: Start, welcome_barge_in: bool) -> None:
    h = await start(barge_in=welcome_barge_in)
    h.fake.durations[WELCOME] = 0.3
    cid, call = await h.call()
    welcome = await h.fake.wait_for_playback(cid, WELCOME)
    await h.fake.send_dtmf(cid, "3")  # typed before the menu prompt starts
    await h.ended(call, timeout=2.0)

    assert h.fake.played_media(cid) == [WELCOME, media("you-pressed"), media("digit-3"),
                                        GOODBYE]  # main-menu never requested
    assert [(e["prompt"], e["reason"]) for e in events(call, "skipped")] == [
        ("main-menu", "type-ahead")]
    assert [(e["key"], e["attempt"]) for e in events(call, "choice")] == [("3", 1)]
    stops = h.fake.requests_to("DELETE", "/playbacks/")
    if welcome_barge_in:  # the key also cut the welcome short
        assert [r.path for r in stops] == [f"/playbacks/{welcome}"]
        assert [e["prompt"] for e in events(call, "barge_in")] == ["welcome"]
    else:  # the welcome could not be interrupted: the key waited in the buffer
        assert stops == [] and not events(call, "barge_in")
        assert "welcome" in [e["prompt"] for e in events(call, "played")]
    h.assert_released(call)


async def test_channel_gone_without_events_is_a_caller_hangup(start: Start) -> None:
    """The caller hangs up as the app asks for the next prompt: Asterisk answers 404 before
    the hangup events arrive. The call ends, blames the caller, and does not DELETE."""
    h = await start()
    h.fake.durations[WELCOME] = 0.2
    cid, call = await h.call()
    await h.fake.wait_for_playback(cid, WELCOME)
    h.fake.remove_channel(cid)  # no event will ever say so
    await h.ended(call, timeout=1.0)

    assert h.fake.requests_to("POST", f"/channels/{cid}/play/")[-1].query["media"] == MENU
    assert h.hangups(cid) == 0
    last = call.trace_log.entries[-1]
    assert (last["event"], last["hangup_by"]) == ("end", "caller")
    assert not events(call, "error")
    h.assert_released(call)


def pin_flow() -> Flow:
    return make_flow(
        CollectNode("pin", prompt=says("enter-account"), store="pin", secure=True,
                    min_length=4, max_length=4, first_digit_timeout=2.0,
                    inter_digit_timeout=1.0,
                    readback=says("you-entered", {"digits": "${pin}"}), next="agent",
                    escalation=Escalation(attempts=1, fallback="end")),
        HandoffNode("agent", kind="queue", target="general", next="sorry"),
        PlayNode("sorry", prompts=says("agent-unavailable"), next="end"),
        HangupNode("end", prompts=says("goodbye")),
        name="pin")


async def test_secure_digits_are_masked_in_the_trace_and_handoffs_are_declined(
    start: Start, tmp_path: Path
) -> None:
    h = await start(flow=pin_flow())
    cid, call = await h.call()
    assert (call.caller, call.language, call.call_id) == ("1001", "en", cid)
    await h.fake.wait_for_playback(cid, media("enter-account"))
    for digit in "7391":  # typed during the prompt: barge-in, then type-ahead
        await h.fake.send_dtmf(cid, digit)
    await h.ended(call, timeout=3.0)

    assert call.flow_state.variables == {"pin": "7391"}
    assert [e["digit"] for e in events(call, "dtmf")] == ["***"] * 4
    readback = [e["prompt"] for e in events(call, "play")]
    assert readback.count("***") == 4  # the read-back digits, masked
    assert h.fake.played_media(cid)[2:6] == [media(f"digit-{d}") for d in "7391"]
    assert [(e["kind"], e["target"]) for e in events(call, "handoff_unavailable")] == [
        ("queue", "general")]
    assert call.flow_state.path == ["pin", "agent", "sorry", "end"]
    saved = (tmp_path / "traces" / f"{cid}.jsonl").read_text(encoding="utf-8")
    assert "7391" not in saved and "digit-7" not in saved
    last = json.loads(saved.splitlines()[-1])
    assert (last["event"], last["outcome"], last["hangup_by"]) == ("end", "completed", "ivr")
    h.assert_released(call)


@pytest.mark.parametrize("hash_comes", ["with_the_digits", "during_the_readback"])
async def test_a_terminator_after_a_full_entry_is_forgiven(start: Start, hash_comes: str) -> None:
    """"7391#" into a 4-digit PIN: the '#' ends nothing and cuts nothing, whether it is in the
    buffer as the entry fills or comes a moment later."""
    h = await start(flow=pin_flow())
    h.fake.durations[media("you-entered")] = 0.3
    cid, call = await h.call()
    await h.fake.wait_for_playback(cid, media("enter-account"))
    for digit in "7391" if hash_comes == "during_the_readback" else "7391#":
        await h.fake.send_dtmf(cid, digit)
    if hash_comes == "during_the_readback":
        await h.fake.wait_for_playback(cid, media("you-entered"))
        await h.fake.send_dtmf(cid, "#")
    await h.ended(call, timeout=3.0)

    assert [e["key"] for e in events(call, "key_forgiven")] == ["#"]
    assert [e["prompt"] for e in events(call, "barge_in")] == ["enter-account"]
    assert "you-entered" in [e["prompt"] for e in events(call, "played")]
    assert call.flow_state.path == ["pin", "agent", "sorry", "end"]
    assert not events(call, "unread_dtmf")
    h.assert_released(call)


@pytest.mark.parametrize(("result", "answer"), [
    (Served(), TAKEN),
    (TransferredOut("1234"), TAKEN),
    (Left("timeout"), "timeout"),
    (Left("callback"), "callback"),
    (UnknownQueue("nosuch"), DECLINED),
])
def test_a_queue_wait_answers_the_flow(result: QueueResult, answer: str) -> None:
    """Call.handoff's contract with the flow: an agent who had the call takes it (also when
    transferring it out of the IVR), an outcome goes to the node's `on`, a queue the config
    does not have declines (the node's `next`)."""
    assert flow_outcome(result) == answer
