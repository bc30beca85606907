"""What a waiting caller hears between the music: the join message, then position and
expected wait at the queue's interval.

The announcer owns its task and the playback in progress, so that an agent answering can stop
it at once (`stop()`) and the caller goes from the announcement straight to the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

from ...ari import AriError, ChannelHandle, PlaybackHandle
from ...media.prompts import PromptLibrary
from ...media.say import say
from .config import QueueConfig
from .erlang import announceable_minutes, estimate_wait

WAIT_CAP_MINUTES = 30
"""Longer estimates are said as 'thirty minutes or more': precision there helps nobody."""


def announcement(queue: QueueConfig, language: str, position: int, staffed: int, free: int,
                 handle_times: Sequence[float]) -> list[str]:
    """Prompt ids: 'you are number N in the queue', 'about M minutes' when it means something
    (erlang.estimate_wait / announceable_minutes), then the queue's own extra prompts."""
    ids: list[str] = []
    if queue.announce.position:
        ids += ["queue-position", *say("number", str(position), language), "queue-position-end"]
    if queue.announce.wait:
        minutes = announceable_minutes(estimate_wait(position, staffed, free, handle_times),
                                       cap_minutes=WAIT_CAP_MINUTES)
        if minutes == WAIT_CAP_MINUTES:
            ids += ["queue-wait-long", *say("number", str(minutes), language),
                    "queue-wait-long-end"]
        elif minutes is not None:
            ids += ["queue-wait", *say("number", str(minutes), language), "queue-wait-end"]
    return [*ids, *queue.announce.prompts]


class Announcer:
    def __init__(self, channel: ChannelHandle, prompts: PromptLibrary, language: str) -> None:
        self.channel = channel
        self.prompts = prompts
        self.language = language
        self._task: asyncio.Task[None] | None = None
        self._playback: PlaybackHandle | None = None

    def start(self, join: Sequence[str], first_in: float, every: float,
              compose: Callable[[], list[str]]) -> None:
        """`join` now (may be empty), then `compose()` after `first_in` s and every `every`
        s (0: once)."""
        self._task = asyncio.create_task(self._run(join, first_in, every, compose))

    async def _run(self, join: Sequence[str], first_in: float, every: float,
                   compose: Callable[[], list[str]]) -> None:
        loop = asyncio.get_running_loop()
        first_at = loop.time() + first_in  # counted from joining, not from the join message's end
        await self.play(join)
        await asyncio.sleep(max(0.0, first_at - loop.time()))
        while True:
            await self.play(compose())
            if every <= 0:
                return
            await asyncio.sleep(every)

    async def play(self, prompt_ids: Sequence[str]) -> None:
        """On the caller's channel (the holding bridge's music pauses for it)."""
        for prompt_id in prompt_ids:
            if not self.prompts.has(prompt_id, self.language):
                continue
            try:
                self._playback = await self.channel.play(
                    self.prompts.media_uri(prompt_id, self.language))
                await self._playback.finished()
            except AriError:
                return
            finally:
                self._playback = None

    async def stop(self) -> None:
        task, self._task = self._task, None
        playback = self._playback
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if playback is not None:
            with contextlib.suppress(AriError):
                await playback.stop()
