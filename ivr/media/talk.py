"""Asterisk's own talk detection on a caller's channel: the sign to open the audio path.

A menu that listens costs a snoop channel, an externalMedia channel, a bridge and a stream of
50 RTP packets a second into the app (and a voice activity detector on every one of them), for
every caller in that menu, most of whom press a key or say nothing at all. `TALK_DETECT`
(func_talkdetect) is an audiohook on the caller's READ side that raises
`ChannelTalkingStarted` on the first 20 ms frame louder than dsp.conf's `silencethreshold`
(mean absolute sample 256 of 32768); it costs Asterisk an energy sum per frame and the app
nothing. So a listening node sets it, waits for that event, and only then opens the path
(ivr/media/stream.py); the caller who never talks never costs more than a keys-only one.

The price is the start of the first word: the path opens some tens of milliseconds after the
event, with no pre-roll before it (bench/speech.py variants p-t measure what that loses).

`remove` when the node is done, behind the call (the caller waits for the next prompt): an
audiohook left on a channel keeps a later agent bridge out of native RTP. Asterisk drops it
with the channel, so a caller who hangs up needs nothing removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..ari import (
    AriClient,
    AriError,
    ChannelDestroyed,
    ChannelHangupRequest,
    StasisEnd,
    Subscription,
    SubscriptionClosed,
    channel_key,
)
from ..ari.events import ChannelTalkingStarted

log = logging.getLogger(__name__)

SET, REMOVE = "TALK_DETECT(set)", "TALK_DETECT(remove)"
TALK_DETECT_MODULE = "func_talkdetect.so"
"""Without it Asterisk takes SET as a plain variable: no error, and no event ever."""
_GONE = (ChannelHangupRequest, StasisEnd, ChannelDestroyed)


class CallerGone(AriError):
    """The caller hung up (or left the application) before talking."""


class TalkDetector:
    """TALK_DETECT on one channel, from `start()` until `release()`. Single use."""

    def __init__(self, client: AriClient, channel_id: str) -> None:
        self.client = client
        self.channel_id = channel_id
        self._events: Subscription | None = None
        self._set = False

    async def start(self) -> None:
        """Subscribe, then set (so no event is missed); raises AriError if Asterisk refuses
        (the caller gone, most likely)."""
        self._events = self.client.subscribe(channel_key(self.channel_id))
        try:
            await self.client.channels.handle(self.channel_id).set_var(SET, "")
        except BaseException:
            self._events.close()
            raise
        self._set = True

    async def talking(self) -> None:
        """Return when the caller starts talking; raise CallerGone if the caller goes first."""
        if self._events is None:
            raise RuntimeError("TalkDetector.talking() before start()")
        try:
            async for event in self._events:
                if isinstance(event, ChannelTalkingStarted):
                    self._events.close()  # nothing more to wait for: queue no more events
                    return
                if isinstance(event, _GONE):
                    self._set = False  # nothing left to remove
                    raise CallerGone(f"{self.channel_id} went before talking")
        except SubscriptionClosed:
            pass
        raise CallerGone(f"{self.channel_id}: stopped before talking")

    def release(self) -> asyncio.Task[None] | None:
        """Stop listening to events now and remove the detector behind the caller; the task
        (None if there is nothing to remove) ends once Asterisk answered."""
        if self._events is not None:
            self._events.close()
        if not self._set:
            return None
        self._set = False
        return asyncio.create_task(self._remove(), name=f"talk-off-{self.channel_id}")

    async def _remove(self) -> None:
        with contextlib.suppress(AriError):  # the caller went meanwhile: so did the hook
            await self.client.channels.handle(self.channel_id).set_var(REMOVE, "")
