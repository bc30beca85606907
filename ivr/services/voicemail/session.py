"""Leaving a message: greeting, beep, recording, review (1 listen, 2 record again, 3 send).

A message must survive its caller. The recording is finished, fetched and stored by a *keeper*
task that the caller's flow does not own: the caller hanging up (which cancels the flow)
mid-message or during the review still leaves the message, above the minimum length. Only an
explicit "record again" discards a take. The keepers belong to `Voicemail`, which a stopping app
waits for, so a graceful stop loses nothing either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ...ari import AriClient, AriError, LiveRecordingHandle, ResourceGone
from ...ari.events import RecordingFinished
from ..place import LeavingMessage
from ..seam import CallerLeg
from .store import Message, MessageStore, wav_duration

log = logging.getLogger(__name__)

SENT = "sent"
STORE_ATTEMPTS = 3
NOTHING = ""
REVIEW_KEYS = {"1": "listen", "2": "again", "3": "send"}


VoicemailCaller = CallerLeg
"""What leaving a message needs from the call: the seam's CallerLeg."""


@dataclass(frozen=True, slots=True)
class VoicemailRequest:
    mailbox: str
    max_length: int = 120
    """Seconds; the recording stops there."""
    max_silence: int = 5
    """Seconds of silence that end the recording."""
    min_length: float = 1.0
    """Shorter takes are not messages (a caller who hung up at the beep)."""
    review: bool = True
    greeting: tuple[str, ...] = ("vm-greeting",)
    queue: str = ""


Saved = Callable[[Message], Awaitable[None]]


class Voicemail:
    """The service: stores messages and owns the keepers of the takes in progress."""

    def __init__(self, client: AriClient, store: MessageStore,
                 on_saved: Saved | None = None) -> None:
        self.client = client
        self.store = store
        self.on_saved = on_saved
        self.keepers: set[asyncio.Task[Message | None]] = set()
        self.retry_delay = 2.0
        """Seconds before the first retry of a take that could not be stored; doubles."""

    async def stop(self, timeout: float = 10.0) -> None:
        """Let the takes in progress finish and be stored (a caller mid-message is hung up by
        the stopping app, which ends the recording)."""
        if self.keepers:
            await asyncio.wait(self.keepers, timeout=timeout)

    def keep(self, recording: LiveRecordingHandle, caller: VoicemailCaller,
             request: VoicemailRequest) -> Take:
        take = Take(recording)
        task = asyncio.create_task(self._keeper(take, caller.id, caller.caller,
                                                caller.language, request),
                                   name=f"voicemail-{recording.name}")
        self.keepers.add(task)
        task.add_done_callback(self.keepers.discard)
        return take

    async def _keeper(self, take: Take, call_id: str, caller: str, language: str,
                      request: VoicemailRequest) -> Message | None:
        """Store the take unless discarded. Asterisk's copy is deleted only once it is no
        longer needed (stored, discarded, too short, unusable); a take that could not be
        stored stays in Asterisk's recordings, named in the error log, for an operator."""
        name = take.recording.name
        done_with_copy = False
        try:
            try:
                ended = await take.recording.done(timeout=request.max_length + 30)
            except TimeoutError:
                ended = None
            if not take.recorded.done():
                take.recorded.set_result(isinstance(ended, RecordingFinished))
            if not await take.decision:
                done_with_copy = True
                return None
            message, done_with_copy = await self._store(name, call_id, caller, language,
                                                        request)
            return message
        except Exception:
            log.exception("voicemail recording %s could not be stored; it stays in "
                          "Asterisk's recordings", name)
            return None
        finally:
            if not take.recorded.done():
                take.recorded.set_result(False)
            if done_with_copy:
                with contextlib.suppress(AriError):
                    await self.client.recordings.delete_stored(name)

    async def _store(self, name: str, call_id: str, caller: str, language: str,
                     request: VoicemailRequest) -> tuple[Message | None, bool]:
        """(message, whether Asterisk's copy may go); retried: a database or Asterisk that
        hiccups must not cost a message."""
        for attempt in range(STORE_ATTEMPTS):
            if attempt:
                await asyncio.sleep(self.retry_delay * 2 ** (attempt - 1))
            try:
                audio = await self.client.recordings.stored_file(name)
            except ResourceGone:
                log.warning("recording %s is not in Asterisk's recordings", name)
                return None, False
            except AriError as exc:
                log.warning("fetching recording %s: %s", name, exc)
                continue
            try:
                seconds = wav_duration(audio)
            except ValueError as exc:
                log.warning("recording %s is not a WAV file: %s", name, exc)
                return None, True
            if seconds < request.min_length:
                log.info("recording %s of %.1f s is too short to be a message", name, seconds)
                return None, True
            try:
                message = await self.store.save(request.mailbox, audio, caller=caller,
                                                language=language, call_id=call_id,
                                                queue=request.queue)
            except Exception:
                log.exception("saving voicemail from recording %s", name)
                continue
            log.info("voicemail %s saved in %s (%.1f s)", message.id, message.mailbox,
                     message.duration_s)
            if self.on_saved is not None:
                try:
                    await self.on_saved(message)
                except Exception:
                    log.exception("after saving voicemail %s", message.id)
            return message, True
        log.error("voicemail recording %s not stored after %d attempts; it stays in "
                  "Asterisk's recordings", name, STORE_ATTEMPTS)
        return None, False


class Take:
    """One recording: `recorded` resolves when it ends; `decision` says keep or discard."""

    def __init__(self, recording: LiveRecordingHandle) -> None:
        loop = asyncio.get_running_loop()
        self.recording = recording
        self.recorded: asyncio.Future[bool] = loop.create_future()
        self.decision: asyncio.Future[bool] = loop.create_future()

    def decide(self, keep: bool) -> None:
        if not self.decision.done():
            self.decision.set_result(keep)


async def leave_message(service: Voicemail, caller: VoicemailCaller,
                        request: VoicemailRequest) -> str:
    """SENT once a take is kept (the caller pressed 3, or hung up: the keeper stores it);
    NOTHING if no recording could be made."""
    takes = 0
    caller.move(LeavingMessage(request.mailbox))
    while True:
        await caller.play(request.greeting, barge_in=True)
        takes += 1
        try:
            recording = await caller.handle.record(
                f"vm-{caller.id}-{takes}", fmt="wav", max_duration_seconds=request.max_length,
                max_silence_seconds=request.max_silence, if_exists="overwrite", beep=True,
                terminate_on="#")
        except AriError as exc:
            log.warning("cannot record %s: %s", caller.id, exc)
            caller.trace("voicemail_failed", mailbox=request.mailbox, error=str(exc))
            return NOTHING
        take = service.keep(recording, caller, request)
        caller.trace("voicemail_recording", mailbox=request.mailbox, take=takes)
        caller.move(LeavingMessage(request.mailbox, recording=True))
        try:
            recorded = await asyncio.shield(take.recorded)
            caller.discard_typeahead()
            choice = "send"
            if recorded and request.review:
                choice = await _review(caller, recording.name)
        except BaseException:
            take.decide(True)  # the caller hung up: the message is kept
            raise
        take.decide(choice != "again")
        if choice == "again":
            continue
        return SENT if recorded else NOTHING


async def _review(caller: VoicemailCaller, name: str) -> str:
    """'send' or 'again'; three silent turns send (the caller is probably done)."""
    silent = 0
    while silent < 3:
        await caller.play(["vm-review"], barge_in=True)
        digit = await caller.read_digit(5.0)
        choice = REVIEW_KEYS.get(digit or "")
        caller.trace("voicemail_review", choice=choice or digit)
        if choice == "listen":
            with contextlib.suppress(AriError):
                playback = await caller.handle.play(f"recording:{name}")
                await playback.finished()
            continue
        if choice is not None:
            return choice
        silent += digit is None
    return "send"
