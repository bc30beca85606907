"""The line implementations the contract suite (test_line_contract.py) runs over.

Each driver gives the suite the same few things: the line (play, read_digit, forgive, hangup,
as a flow's CallIO uses them), a way to press a key at a time from the scenario's start, and
what the caller heard and pressed in one vocabulary:
- `heard()`: (prompt, "whole" | "cut" | "skipped") for every prompt the line was asked to play;
- `keys_read()`: the keys as the line traced them when read ("***" when secure);
- `forgiven()`: the keys dropped as a habit terminator.

`AriLine` is the real media.Line on a channel of the fake Asterisk (tests/fakeari.py), in real
time; `SimulatorLine` is the simulator's SimulatedCall, on its virtual clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from ivr.ari import AriClient, channel_key
from ivr.flow.simulate import SimulatedCall, SimulatedHangup
from ivr.media.line import Line, LineGone
from ivr.media.prompts import PromptLibrary
from tests.fakeari import FakeAri

PROMPT_SECONDS = 0.4
"""How long every prompt of the suite plays, on both lines."""

Heard = list[tuple[str, str]]


class LineUnderTest(Protocol):
    gone_errors: tuple[type[BaseException], ...]

    async def play(self, prompt_ids: Sequence[str], *, barge_in: bool,
                   secure: bool = False) -> None: ...

    async def read_digit(self, timeout: float, *, secure: bool = False) -> str | None: ...

    def forgive(self, key: str, within: float) -> None: ...

    async def hangup(self) -> None: ...

    async def press(self, key: str, at: float) -> None:
        """The caller presses `key` at `at` seconds after the scenario started (returns at
        once; the key arrives then)."""

    async def settle(self) -> None:
        """Let keys pressed by now reach the line (real time needs a moment)."""

    def heard(self) -> Heard: ...

    def keys_read(self) -> list[str]: ...

    def forgiven(self) -> list[str]: ...


class AriLine:
    gone_errors: tuple[type[BaseException], ...] = (LineGone,)

    def __init__(self, fake: FakeAri, client: AriClient, prompts: PromptLibrary) -> None:
        self.fake = fake
        self.client = client
        self.events: list[tuple[str, dict[str, Any]]] = []
        channel = fake.add_channel("line-1")
        handle = client.channels.handle(channel.id)
        handle.events = client.subscribe(channel_key(channel.id))
        self.channel_id = channel.id
        self.line = Line(handle, handle.events, prompts, "en", trace=self._trace,
                         hangup_grace=0.01)
        for prompt_id in ("first", "second", "third"):
            fake.durations[prompts.media_uri(prompt_id, "en")] = PROMPT_SECONDS
        self.start = asyncio.get_running_loop().time()
        self._pump = asyncio.create_task(self.line.pump())
        self._presses: set[asyncio.Task[None]] = set()

    def _trace(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))

    async def close(self) -> None:
        for task in (self._pump, *self._presses):
            task.cancel()
        await asyncio.gather(self._pump, *self._presses, return_exceptions=True)

    async def play(self, prompt_ids: Sequence[str], *, barge_in: bool,
                   secure: bool = False) -> None:
        await self.line.play(prompt_ids, barge_in=barge_in, secure=secure)

    async def read_digit(self, timeout: float, *, secure: bool = False) -> str | None:
        return await self.line.read_digit(timeout, secure=secure)

    def forgive(self, key: str, within: float) -> None:
        self.line.forgive(key, within)

    async def hangup(self) -> None:
        await self.line.hangup()
        await asyncio.wait_for(self.line.gone.wait(), 2.0)

    async def press(self, key: str, at: float) -> None:
        async def later() -> None:
            delay = self.start + at - asyncio.get_running_loop().time()
            await asyncio.sleep(max(0.0, delay))
            await self.fake.send_dtmf(self.channel_id, key)

        task = asyncio.create_task(later())
        self._presses.add(task)

    async def settle(self) -> None:
        pending = [t for t in self._presses if not t.done()]
        await asyncio.gather(*pending)
        await asyncio.sleep(0.05)

    def heard(self) -> Heard:
        out: Heard = []
        for event, fields in self.events:
            if event == "played":
                out.append((fields["prompt"], "whole"))
            elif event == "barge_in":
                out.append((fields["prompt"], "cut"))
            elif event == "skipped":
                out.append((fields["prompt"], "skipped"))
        return out

    def keys_read(self) -> list[str]:
        return [fields["digit"] for event, fields in self.events if event == "dtmf"]

    def forgiven(self) -> list[str]:
        return [fields["key"] for event, fields in self.events if event == "key_forgiven"]


class SimulatorLine:
    gone_errors: tuple[type[BaseException], ...] = (SimulatedHangup,)

    def __init__(self, prompts: PromptLibrary) -> None:
        self.call = SimulatedCall(prompts, language="en")
        for prompt_id in ("first", "second", "third"):
            self.call._durations[(prompt_id, "en")] = PROMPT_SECONDS

    async def play(self, prompt_ids: Sequence[str], *, barge_in: bool,
                   secure: bool = False) -> None:
        await self.call.play(prompt_ids, barge_in=barge_in, secure=secure)

    async def read_digit(self, timeout: float, *, secure: bool = False) -> str | None:
        return await self.call.read_digit(timeout, secure=secure)

    def forgive(self, key: str, within: float) -> None:
        self.call.forgive(key, within)

    async def hangup(self) -> None:
        await self.call.hangup()

    async def press(self, key: str, at: float) -> None:
        self.call.script.extend([f"{key}@{at}"])

    async def settle(self) -> None:
        await self.call.sleep(0.0)

    def heard(self) -> Heard:
        out: Heard = []
        for event in self.call.events:
            if event["event"] == "play":
                out.append((event["prompt"], "cut" if "stopped" in event else "whole"))
            elif event["event"] == "skipped":
                out.append((event["prompt"], "skipped"))
        return out

    def keys_read(self) -> list[str]:
        return [e["key"] for e in self.call.events if e["event"] == "key"]

    def forgiven(self) -> list[str]:
        return [e["key"] for e in self.call.events if e["event"] == "key_forgiven"]


def contract_prompts(folder: Path) -> PromptLibrary:
    """Three prompts, first/second/third, in English (the suite gives them their length)."""
    (folder / "en").mkdir(parents=True)
    (folder / "prompts.yaml").write_text(
        "first: {en: First.}\nsecond: {en: Second.}\nthird: {en: Third.}\n", encoding="utf-8")
    for prompt_id in ("first", "second", "third"):
        (folder / "en" / f"{prompt_id}.wav").write_bytes(b"RIFF-dummy")
    return PromptLibrary(folder)


@contextlib.asynccontextmanager
async def ari_line(prompts: PromptLibrary) -> AsyncIterator[AriLine]:
    async with FakeAri() as fake:
        client = AriClient(fake.config())
        await client.start(wait=2.0)
        line = AriLine(fake, client, prompts)
        try:
            yield line
        finally:
            await line.close()
            await client.close()
