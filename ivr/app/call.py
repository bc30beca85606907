"""One call: a channel in Stasis, its event pump, its flow, and an explicit state.

The call owns two tasks: the pump (reads the channel's ordered event queue) and the flow. A
hangup seen by the pump cancels the flow; when either ends, everything the call owns is
cancelled and released, so a caller who hangs up mid-prompt leaves nothing behind.

Keys are traced when the flow reads them (`dtmf`), not when they arrive: only then is it known
whether they belong to a `secure` collect, whose digits are traced as `***`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, assert_never

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
from ..ari.models import Channel
from ..flow.expr import Value
from ..flow.interpreter import FlowContext, FlowState, run_flow
from ..flow.model import Flow, HandoffNode
from ..flow.runtime import DECLINED, TAKEN, Listen
from ..media.prompts import PromptLibrary
from ..services.acd.desktop import IvrOrigin
from ..services.acd.engine import Acd
from ..services.acd.results import Left, QueueResult, Served, TransferredOut, UnknownQueue
from ..services.acd.session import QueueRequest
from ..services.acd.session import wait as queue_wait
from ..services.acd.store import EntryRow
from ..services.callback.booking import book_callback
from ..services.callback.service import Callbacks
from ..services.voicemail.session import SENT, Voicemail, VoicemailRequest, leave_message
from .ears import Ears
from .logs import call_id_var
from .trace import CallTrace

log = logging.getLogger(__name__)


HANGUP_GRACE = 0.5
"""Seconds between the last prompt and the IVR's hangup, so the caller hears it whole."""


class CallState(enum.Enum):
    RINGING = "ringing"
    ANSWERED = "answered"
    PLAYING = "playing"
    WAITING_INPUT = "waiting_input"
    HANGING_UP = "hanging_up"
    ENDED = "ended"


MASK = "***"


VERIFY_PIN = "accounts.verify_pin"
"""An `ok` from it makes the account a verified one for the agent's screen pop."""


def _int(text: str | None) -> int | None:
    return int(text) if text not in (None, "") else None


def _float(text: str | None) -> float | None:
    return float(text) if text not in (None, "") else None


def _text(value: Value) -> str | None:
    """A flow variable as the text a desktop shows (an account kept as a number too)."""
    return None if value is None else str(value)


def flow_outcome(result: QueueResult) -> str:
    """A queue wait as the flow's handoff answers it: taken once an agent had the call (the
    flow is over), the outcome the node routes with `on`, or declined (its `next`) when the
    queue does not exist."""
    match result:
        case Served() | TransferredOut():
            return TAKEN
        case Left(outcome=outcome):
            return outcome
        case UnknownQueue():
            return DECLINED
        case _:
            assert_never(result)


class CallerHungUp(Exception):
    """The channel went away while the flow needed it."""


class Call:
    def __init__(
        self,
        channel: Channel,
        handle: ChannelHandle,
        events: Subscription,
        flow: Flow,
        prompts: PromptLibrary,
        ctx: FlowContext,
        *,
        resumed: bool = False,
        acd: Acd | None = None,
        voicemail: Voicemail | None = None,
        callbacks: Callbacks | None = None,
        ears: Ears | None = None,
    ) -> None:
        self.id = channel.id
        self.call_id = channel.id
        self.caller = channel.caller.number
        self.ctx = ctx
        self.channel = channel
        self.handle = handle
        self.events = events
        self.flow = flow
        self.prompts = prompts
        self.resumed = resumed
        self.language = flow.default_language
        self.state = CallState.RINGING
        self.trace_log = CallTrace(channel.id)
        self.flow_state = FlowState()
        self.hangup_by = ""
        self.left_place: EntryRow | None = None
        self.acd = acd
        self.voicemail = voicemail
        self.callbacks = callbacks
        self.ears = ears
        self.booked_callback = ""
        self.left_message = False
        """A recording was made for a mailbox: the call counts as voicemail however it ends."""
        self.verified_account = False
        self.reached_agent = False
        """An agent answered: the call counts as handed to the queue however it ends."""
        self.parked = False
        """Left in its queue by an app that is stopping: not hung up, the next process
        resumes it."""
        self._digits: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        """(key, where it came from: "dtmf", or "speech" for what the ears heard)."""
        self._digit_arrived = asyncio.Event()
        self._forgiven: tuple[str, float] | None = None
        """A key to drop if it is the next to come, until a loop time (CallIO.forgive)."""
        self._gone = asyncio.Event()

    # CallIO -----------------------------------------------------------------------------

    def trace(self, event: str, **fields: Any) -> None:
        self.trace_log.add(event, **fields)
        if event == "action" and fields.get("action") == VERIFY_PIN \
                and fields.get("outcome") == "ok":
            self.verified_account = True
        elif event == "queue_connected":
            self.reached_agent = True
        elif event == "voicemail_recording":
            self.left_message = True

    async def play(self, prompt_ids: Sequence[str], *, barge_in: bool,
                   secure: bool = False) -> None:
        for prompt_id in prompt_ids:
            if barge_in and not self._digits.empty():
                self.trace("skipped", prompt=MASK if secure else prompt_id, reason="type-ahead")
                return
            if not await self._play_one(prompt_id, barge_in, secure):
                return

    async def _play_one(self, prompt_id: str, barge_in: bool, secure: bool) -> bool:
        """Play one prompt; False if a key interrupted it. A secure prompt is traced masked."""
        self._ensure_alive()
        shown = MASK if secure else prompt_id
        if not self.prompts.has(prompt_id, self.language):
            self.trace("missing_prompt", prompt=shown, language=self.language)
            return True
        self.state = CallState.PLAYING
        self._digit_arrived.clear()
        playback = await self.handle.play(self.prompts.media_uri(prompt_id, self.language))
        self.trace("play", prompt=shown, language=self.language, playback=playback.id)
        finished = asyncio.create_task(playback.finished())
        keyed = asyncio.create_task(self._digit_arrived.wait()) if barge_in else None
        try:
            waiters = {finished} | ({keyed} if keyed else set())
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if finished in done:
                finished.result()
                self.trace("played", prompt=shown)
                return True
            self.trace("barge_in", prompt=shown)
            with contextlib.suppress(ResourceGone, NotInStasis):
                await playback.stop()
            return False
        finally:
            for task in (finished, keyed):
                if task is not None and not task.done():
                    task.cancel()
            if playback.events is not None:
                playback.events.close()

    async def read_digit(self, timeout: float, *, secure: bool = False) -> str | None:
        self._ensure_alive()
        self.state = CallState.WAITING_INPUT
        try:
            digit, source = await asyncio.wait_for(self._digits.get(), timeout)
        except TimeoutError:
            return None
        if source == "dtmf":  # what speech stood for is in its own `speech` event
            self.trace("dtmf", digit=MASK if secure else digit)
        return digit

    async def handoff(self, node: HandoffNode, variables: Mapping[str, Value]) -> str:
        """Queues wait here, in the flow task (a hangup cancels the wait); a service that is
        not there (transfer has none yet) declines."""
        if node.kind == "voicemail" and self.voicemail is not None:
            return await self._leave_message(node)
        if node.kind == "callback" and self.callbacks is not None:
            return await self._book_callback(node)
        if node.kind != "queue" or self.acd is None:
            self.trace("handoff_unavailable", node=node.id, kind=node.kind, target=node.target)
            return DECLINED
        request = QueueRequest(
            queue=node.target, priority=_int(node.options.get("priority")),
            max_wait=_float(node.options.get("max_wait")),
            flow=self.flow_state.flow or self.flow.name, node=node.id, variables=variables,
            screen=IvrOrigin(path=tuple(self.flow_state.path),
                             account=_text(variables.get("account"))
                             if self.verified_account else None))
        try:
            result = await queue_wait(self.acd, self, request)
        except asyncio.CancelledError:
            self.parked = self.acd.stopping  # the next process takes the caller back
            raise
        return flow_outcome(result)

    async def _leave_message(self, node: HandoffNode) -> str:
        assert self.voicemail is not None
        options = node.options
        request = VoicemailRequest(
            mailbox=node.target, max_length=_int(options.get("max_length")) or 120,
            max_silence=_int(options.get("max_silence")) or 5,
            review=options.get("review", "true") != "false", queue=options.get("queue", ""))
        if await leave_message(self.voicemail, self, request) != SENT:
            return DECLINED
        await self.play(["vm-sent"], barge_in=False)
        await self.hangup()
        return TAKEN

    async def _book_callback(self, node: HandoffNode) -> str:
        """The place kept is the one the caller just left in that queue (key 2 while
        waiting, or a limit that routed here)."""
        assert self.callbacks is not None
        place = self.left_place if self.left_place and \
            self.left_place.queue == node.target else None
        booked = await book_callback(self.callbacks, self, node.target, place=place,
                                     source="queue" if place else "node")
        if booked is None:
            return DECLINED
        self.booked_callback = booked.id
        await self.hangup()
        return TAKEN

    @contextlib.asynccontextmanager
    async def listening(self, request: Listen) -> AsyncIterator[bool]:
        """While a node waits, what the caller says comes in as keys (see CallIO.listening);
        without ears (no speech configured) or an engine for the language: keys only."""
        if self.ears is None or not request.engine:
            yield False
            return
        async with self.ears.listen(self, request, self.heard) as listening:
            yield listening

    def heard(self, keys: str, **fields: Any) -> None:
        """Speech the ears matched, as the keys it stands for; like a key it stops a
        barge-in prompt."""
        self.trace("speech", keys=keys, **fields)
        self._forgiven = None
        for key in keys:
            self._digits.put_nowait((key, "speech"))
        self._digit_arrived.set()

    def forgive(self, key: str, within: float) -> None:
        waiting = [self._digits.get_nowait() for _ in range(self._digits.qsize())]
        if waiting and waiting[0][0] == key:
            self.trace("key_forgiven", key=key, source=waiting.pop(0)[1])
        elif not waiting:
            self._forgiven = (key, asyncio.get_running_loop().time() + within)
        for item in waiting:
            self._digits.put_nowait(item)

    def _is_forgiven(self, key: str) -> bool:
        """Whether this arriving key is the one forgiven; any key ends the forgiveness."""
        forgiven, self._forgiven = self._forgiven, None
        return forgiven is not None and forgiven[0] == key \
            and asyncio.get_running_loop().time() <= forgiven[1]

    def speech_started(self) -> None:
        """The caller started talking: a barge-in prompt stops as for a key."""
        self._digit_arrived.set()

    def discard_typeahead(self) -> None:
        while not self._digits.empty():
            self._digits.get_nowait()

    async def hangup(self) -> None:
        if self._gone.is_set():
            return
        self.state = CallState.HANGING_UP
        self.hangup_by = self.hangup_by or "ivr"
        self.trace("hangup", by="ivr")
        # PlaybackFinished means Asterisk sent the last frame, not that the caller heard it:
        # hanging up at once cuts the goodbye's tail in the network and the phone's jitter
        # buffer. A short grace lets it drain (the dialplan habit of Playback() then Wait()).
        # The caller hanging up meanwhile ends the wait (the pump cancels this task).
        await asyncio.sleep(HANGUP_GRACE)
        with contextlib.suppress(ResourceGone, NotInStasis):
            await self.handle.hangup()

    # lifecycle --------------------------------------------------------------------------

    def _ensure_alive(self) -> None:
        if self._gone.is_set():
            raise CallerHungUp

    async def _pump(self) -> None:
        """Consume this channel's events in order until it leaves the application."""
        async for event in self.events:
            if isinstance(event, ChannelDtmfReceived):
                if self._is_forgiven(event.digit):
                    self.trace("key_forgiven", key=event.digit, source="dtmf")
                    continue
                self._digits.put_nowait((event.digit, "dtmf"))
                self._digit_arrived.set()
            elif isinstance(event, ChannelHangupRequest | StasisEnd | ChannelDestroyed):
                if not self.hangup_by:
                    self.hangup_by = "caller"
                    self.trace("hangup", by="caller", synthetic=event.synthetic)
                self._gone.set()
                return

    async def run(self) -> None:
        call_id_var.set(self.id)
        self.trace("start", caller=self.channel.caller.number, channel=self.channel.name,
                   flow=self.flow.name, version=self.flow.version, resumed=self.resumed)
        pump = asyncio.create_task(self._pump(), name=f"pump-{self.id}")
        flow_task: asyncio.Task[FlowState] | None = None
        try:
            already_up = self.channel.state == "Up"
            if not already_up:
                await self.handle.answer()
            self.state = CallState.ANSWERED
            self.trace("answered", already_up=already_up)
            flow_task = asyncio.create_task(
                run_flow(self.flow, self, self.ctx, self.flow_state), name=f"flow-{self.id}"
            )
            await asyncio.wait({pump, flow_task}, return_when=asyncio.FIRST_COMPLETED)
            if flow_task.done() and not flow_task.cancelled():
                if isinstance(flow_task.exception(), ResourceGone | NotInStasis):
                    self.hangup_by = self.hangup_by or "caller"  # gone before its events came
                self._log_flow_error(flow_task)
        except (ResourceGone, NotInStasis):
            self.hangup_by = self.hangup_by or "caller"
        except AriError as exc:
            log.warning("ARI error, ending call: %s", exc)
        finally:
            for task in (flow_task, pump):
                if task is not None and not task.done():
                    task.cancel()
            for task in (flow_task, pump):
                if task is not None:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            handed_off = self.flow_state.outcome.startswith("handoff:")
            if not self._gone.is_set() and not self.hangup_by and not handed_off \
                    and not self.parked:
                await self.hangup()  # a service that took the call owns the channel now
            self.events.close()
            if not self._digits.empty():  # pressed but never read: counted, not shown
                self.trace("unread_dtmf", count=self._digits.qsize())
            self.state = CallState.ENDED
            ended_by = self.hangup_by or ("service" if handed_off else "caller")
            self.trace("end", outcome=self.flow_state.outcome or "abandoned",
                       hangup_by=ended_by, path=self.flow_state.path)

    def _log_flow_error(self, task: asyncio.Task[FlowState]) -> None:
        exc = task.exception()
        if exc is None or isinstance(exc, CallerHungUp | ResourceGone | NotInStasis):
            return
        log.error("flow failed", exc_info=exc)
        self.flow_state.outcome = self.flow_state.outcome or "error"
        self.trace("error", error=type(exc).__name__)
