"""The one line engine: a channel the app talks to, with keys, prompts and barge-in.

Every leg the app drives sits on a `Line`: an IVR call (app/call.py), the dial-in mailbox menu,
a callback's customer leg. The simulator (flow/simulate.py) offers the same operations on a
virtual clock, and one contract suite (tests/unit/line_contract) runs the same scenarios over
both, so the rules below cannot drift apart again:

- `pump()` reads the channel's ordered events: keys go to the type-ahead queue, a hangup ends
  the pump (and marks the line gone). Its owner runs it beside the dialogue and cancels the
  dialogue when it ends.
- `play()`: prompts in the line's language, in order. With barge-in a key, typed now or
  before, stops them and stays queued for the next read; so does the caller starting to speak
  (`speech_started`). A prompt without a file in the language is skipped and traced.
- `read_digit()`: the next key, waiting up to a timeout. Keys are traced (`dtmf`) when read, not
  when they arrive: only then is it known whether they are a secret (masked `***`).
- `forgive()`: the habit terminator after an entry that was already full is dropped.
- `hangup()`: after a short grace, so the caller hears the last prompt whole.
- Entries (`read_entry`, in entry.py) are built on `read_digit` and `forgive` alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal

from ..ari import (
    AriError,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHandle,
    ChannelHangupRequest,
    NotInStasis,
    ResourceGone,
    StasisEnd,
    Subscription,
)
from .prompts import PromptLibrary

log = logging.getLogger(__name__)

MASK = "***"
HANGUP_GRACE = 0.5
"""Seconds between the last prompt and the IVR's hangup, so the caller hears it whole."""
SPEECH_RESULT_LIMIT = 25.0
"""Seconds after a caller starts talking that input waits for the recognizer's answer: the
longest segment the VAD cuts (media/vad.py, 20 s) plus time to decode it."""

Played = Literal["done", "failed", "interrupted"]
Trace = Callable[..., None]
"""trace(event, **fields): where the line's events go (a call's trace; nowhere by default)."""


class LineActivity(enum.StrEnum):
    """What the line does right now (the caller's place is the call's business)."""

    IDLE = "idle"
    PLAYING = "playing"
    WAITING_INPUT = "waiting_input"
    HANGING_UP = "hanging_up"
    GONE = "gone"


class LineGone(Exception):
    """The channel went away while the dialogue needed it."""


def _no_trace(event: str, **fields: Any) -> None:
    del event, fields


class Line:
    def __init__(self, handle: ChannelHandle, events: Subscription, prompts: PromptLibrary,
                 language: str, *, trace: Trace = _no_trace, trace_keys: bool = True,
                 hangup_grace: float | None = None) -> None:
        self.handle = handle
        self.events = events
        self.prompts = prompts
        self.language = language
        self.trace = trace
        self.trace_keys = trace_keys
        """Trace each key read as `dtmf` (masked when secure); a dialogue that traces what
        keys meant instead (the mailbox menu: a PIN) turns it off."""
        self.hangup_grace = hangup_grace
        """Seconds before hanging up; None: HANGUP_GRACE as it is at the time."""
        self.activity = LineActivity.IDLE
        self.gone = asyncio.Event()
        self.ended_by = ""
        """Who ended the line: "caller" (seen by the pump), "ivr" (hangup()), or what its owner
        said before ending it another way (an agent, a transfer); the first one wins."""
        self._keys: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        """(key, where it came from: "dtmf", or "speech" for what the ears heard)."""
        self._keyed = asyncio.Event()
        self._forgiven: tuple[str, float] | None = None
        """A key to drop if it is the next to come, until a loop time (see forgive)."""
        self._talking_since: float | None = None
        """Loop time the caller started talking, until the ears say what it meant (heard)."""

    # events -------------------------------------------------------------------------------

    async def pump(self) -> None:
        """Until the caller hangs up (or the channel leaves the application)."""
        async for event in self.events:
            if isinstance(event, ChannelDtmfReceived):
                if self._is_forgiven(event.digit):
                    self.trace("key_forgiven", key=event.digit, source="dtmf")
                    continue
                self._keys.put_nowait((event.digit, "dtmf"))
                self._talking_since = None  # a key: whatever was said is not waited for
                self._keyed.set()
            elif isinstance(event, ChannelHangupRequest | StasisEnd | ChannelDestroyed):
                if not self.ended_by:
                    self.ended_by = "caller"
                    self.trace("hangup", by="caller", synthetic=event.synthetic)
                self._gone()
                return

    def _gone(self) -> None:
        self.activity = LineActivity.GONE
        self.gone.set()

    def ensure_alive(self) -> None:
        if self.gone.is_set():
            raise LineGone

    # keys ---------------------------------------------------------------------------------

    def typed_ahead(self) -> bool:
        return not self._keys.empty()

    def unread(self) -> int:
        return self._keys.qsize()

    def discard_typeahead(self) -> None:
        while not self._keys.empty():
            self._keys.get_nowait()

    async def read_digit(self, timeout: float, *, secure: bool = False) -> str | None:
        """The next key (one typed ahead at once), or None after `timeout` seconds."""
        self.ensure_alive()
        self.activity = LineActivity.WAITING_INPUT
        try:
            key, source = await self._next_key(timeout)
        except TimeoutError:
            return None
        finally:
            if self.activity is LineActivity.WAITING_INPUT:
                self.activity = LineActivity.IDLE
        if source == "dtmf" and self.trace_keys:  # what speech stood for: its `speech` event
            self.trace("dtmf", digit=MASK if secure else key)
        return key

    async def _next_key(self, timeout: float) -> tuple[str, str]:
        """The next key within `timeout`; while the caller is talking, until the ears decide.

        A no-input timer is for a caller who says nothing: one still talking when it runs out
        (eight digits said slowly outlast a 6 s first-digit timeout) waits for the
        recognizer's answer, up to SPEECH_RESULT_LIMIT after the speech began. Under load the
        answer comes later, and without this the caller's words were thrown away as no input.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                return await asyncio.wait_for(self._keys.get(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                if self._talking_since is None:
                    raise
                deadline = self._talking_since + SPEECH_RESULT_LIMIT
                if loop.time() >= deadline:
                    self._talking_since = None
                    raise

    def forgive(self, key: str, within: float) -> None:
        """Drop the next key if it is `key` and is waiting already or comes within `within`
        seconds: the terminator a caller adds out of habit to an entry that was already full,
        which would otherwise cut the next prompt and answer the next question."""
        waiting = [self._keys.get_nowait() for _ in range(self._keys.qsize())]
        if waiting and waiting[0][0] == key:
            self.trace("key_forgiven", key=key, source=waiting.pop(0)[1])
        elif not waiting:
            self._forgiven = (key, asyncio.get_running_loop().time() + within)
        for item in waiting:
            self._keys.put_nowait(item)

    def _is_forgiven(self, key: str) -> bool:
        """Whether this arriving key is the one forgiven; any key ends the forgiveness."""
        forgiven, self._forgiven = self._forgiven, None
        return forgiven is not None and forgiven[0] == key \
            and asyncio.get_running_loop().time() <= forgiven[1]

    def heard(self, keys: str, **fields: Any) -> None:
        """Speech the ears matched, as the keys it stands for; like a key it stops a
        barge-in prompt."""
        self.trace("speech", keys=keys, **fields)
        self._forgiven = None
        self._talking_since = None
        for key in keys:
            self._keys.put_nowait((key, "speech"))
        self._keyed.set()

    def speech_started(self) -> None:
        """The caller started talking: a barge-in prompt stops as for a key, and no-input
        waits for what the ears make of it (see _next_key)."""
        self._talking_since = asyncio.get_running_loop().time()
        self._keyed.set()

    # prompts ------------------------------------------------------------------------------

    async def play(self, prompt_ids: Sequence[str], *, barge_in: bool,
                   secure: bool = False) -> bool:
        """Prompts in order; False as soon as a key cuts them (or was already waiting).
        `secure`: the ids speak a secret, so they are traced masked."""
        for prompt_id in prompt_ids:
            shown = MASK if secure else prompt_id
            if barge_in and self.typed_ahead():
                self.trace("skipped", prompt=shown, reason="type-ahead")
                return False
            self.ensure_alive()
            if not self.prompts.has(prompt_id, self.language):
                self.trace("missing_prompt", prompt=shown, language=self.language)
                log.warning("prompt %s has no %s file", shown, self.language)
                continue
            played = await self.play_media(self.prompts.media_uri(prompt_id, self.language),
                                           barge_in=barge_in, shown=shown)
            if played == "interrupted":
                return False
        return True

    async def play_media(self, media: str, *, barge_in: bool = True,
                         shown: str = "") -> Played:
        """One media URI: 'done', 'failed' (Asterisk could not play it) or 'interrupted'.
        `shown`: the prompt id to trace (nothing is traced without one)."""
        self._keyed.clear()
        if barge_in and self.typed_ahead():
            return "interrupted"
        self.activity = LineActivity.PLAYING
        playback = await self.handle.play(media)
        if shown:
            self.trace("play", prompt=shown, language=self.language, playback=playback.id)
        finished = asyncio.ensure_future(playback.finished())
        keyed = asyncio.ensure_future(self._keyed.wait()) if barge_in else None
        try:
            waiters = {finished} if keyed is None else {finished, keyed}
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if finished.done():
                ended = finished.result()
                if shown:
                    self.trace("played", prompt=shown)
                return "failed" if ended.playback.state == "failed" else "done"
            if shown:
                self.trace("barge_in", prompt=shown)
            with contextlib.suppress(AriError):
                await playback.stop()
            return "interrupted"
        finally:
            for task in (finished, keyed):
                if task is not None and not task.done():
                    task.cancel()
            if playback.events is not None:
                playback.events.close()
            if self.activity is LineActivity.PLAYING:
                self.activity = LineActivity.IDLE

    # the end ------------------------------------------------------------------------------

    async def hangup(self) -> None:
        """Hang up from the IVR's side (once). PlaybackFinished means Asterisk sent the last
        frame, not that the caller heard it: hanging up at once cuts the goodbye's tail in the
        network and the phone's jitter buffer. A short grace lets it drain (the dialplan habit
        of Playback() then Wait()); the caller hanging up meanwhile ends it (the owner's pump
        cancels the dialogue)."""
        if self.gone.is_set() or self.activity is LineActivity.HANGING_UP:
            return
        self.ended_by = self.ended_by or "ivr"
        self.activity = LineActivity.HANGING_UP
        self.trace("hangup", by="ivr")
        await asyncio.sleep(HANGUP_GRACE if self.hangup_grace is None else self.hangup_grace)
        with contextlib.suppress(ResourceGone, NotInStasis):
            await self.handle.hangup()
